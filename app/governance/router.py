"""The governance routes: the access log and the chains' verification (admins, auditors)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from app.access import GovernanceReader
from app.core import exports
from app.core.db import DbSession
from app.core.pagination import Page, PageParams
from app.core.schemas import Instant, instant_param
from app.governance import service
from app.governance.schemas import AccessLogEntryOut, VerificationOut
from app.identity.dependencies import ApiRoute

router = APIRouter(route_class=ApiRoute, tags=["governance"])

LOG_COLUMNS = (
    "id",
    "at",
    "user_id",
    "organisation_id",
    "session_or_token_id",
    "resource_type",
    "resource_ids",
    "route",
    "purpose",
    "request_id",
    "prev_hash",
    "hash",
)


def _cells(entry: Any) -> dict[str, exports.Cell]:
    out = AccessLogEntryOut.model_validate(entry).model_dump(mode="json")
    out["resource_ids"] = " ".join(out["resource_ids"])
    return out


@router.get(
    "/governance/access-log",
    summary="The log of reads of police data",
    response_model=Page[AccessLogEntryOut],
    responses={200: {"content": {exports.CSV: {"schema": {"type": "string"}}}}},
)
async def access_log(
    session: DbSession,
    principal: GovernanceReader,
    paging: PageParams,
    user_id: Annotated[uuid.UUID | None, Query()] = None,
    resource_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="Entries whose resource_ids hold it."),
    ] = None,
    from_: Annotated[Instant, Query(alias="from")] = None,
    to: Instant = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Admins and auditors. Newest first; `Accept: text/csv` gives every entry the filters
    select (no pages), as French Excel opens it."""
    filters = service.LogFilters(
        user_id=user_id,
        resource_id=resource_id,
        at_from=instant_param(from_, ("query", "from")),
        at_to=instant_param(to, ("query", "to"), end_of_day=True),
    )
    if exports.negotiate(accept, (exports.JSON, exports.CSV)) == exports.CSV:
        rows = await service.log_rows(session, filters)
        return exports.table_file(
            exports.CSV,
            LOG_COLUMNS,
            [_cells(row) for row in rows],
            name="journal-des-acces",
            sheet_title="Journal des accès",
        )
    entries, next_cursor = await service.log_page(session, filters, paging)
    return Page[AccessLogEntryOut](
        items=[AccessLogEntryOut.model_validate(e) for e in entries], next_cursor=next_cursor
    )


@router.get("/governance/verify", summary="Verify the hash chains")
async def verify(session: DbSession, principal: GovernanceReader) -> VerificationOut:
    """Admins and auditors. Recomputes every hash of the access log and of the audit events
    from the first entry; `first_broken_at` names the first entry that does not hold."""
    return VerificationOut.model_validate(await service.verify(session))
