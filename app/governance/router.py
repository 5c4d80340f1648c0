"""The governance routes (admins, auditors): the access log and the chains' verification,
the DPO's subject search and the processing register."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import String, Uuid, column

from app.access import GovernanceReader
from app.config import Settings
from app.core import exports
from app.core.db import DbSession
from app.core.errors import BadRequest, Invalid
from app.core.pagination import Ordering, Page, PageParams, Paginator, SortKey
from app.core.schemas import Instant, instant_param, json_response
from app.core.search import normalise
from app.governance import chain, register, screening, search, service
from app.governance.schemas import (
    AccessLogEntryOut,
    GovernanceReport,
    ProcessingRegister,
    SubjectMatch,
    VerificationOut,
)
from app.identity.dependencies import API_PREFIX, ApiRoute

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["governance"])

# The entry's columns as chained, then its hashes.
LOG_COLUMNS = (*chain.ACCESS_FIELDS, "prev_hash", "hash")


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


@router.get("/governance/report", summary="The governance report")
async def report(
    session: DbSession,
    principal: GovernanceReader,
    from_: Annotated[Instant, Query(alias="from")] = None,
    to: Instant = None,
) -> GovernanceReport:
    """Admins and auditors. Over the period (all history by default): the reads of police
    data logged, by purpose, and what the screening of free texts found, by kind
    (identifiers masked, words revealing sensitive data) — counts only, never a value."""
    since = instant_param(from_, ("query", "from"))
    until = instant_param(to, ("query", "to"), end_of_day=True)
    reads = await service.reads_by_purpose(session, since=since, until=until)
    return GovernanceReport(
        since=since,
        until=until,
        reads=sum(reads.values()),
        reads_by_purpose=reads,
        screenings=await screening.screening_counts(session, since=since, until=until),
    )


@router.get("/governance/verify", summary="Verify the hash chains")
async def verify(session: DbSession, principal: GovernanceReader) -> VerificationOut:
    """Admins and auditors. Recomputes every hash of the access log and of the audit events
    from the first entry; `first_broken_at` names the first entry that does not hold."""
    return VerificationOut.model_validate(await service.verify(session))


# The search reads many tables: its cursor's values are named and typed here, not columns
# of one table.
SEARCH_ORDER = Ordering(
    "subject_search",
    tuple(
        SortKey(cast(Any, column(name, type_)))
        for name, type_ in (
            ("resource_type", String()),
            ("resource_id", Uuid()),
            ("field", String()),
        )
    ),
)
# Matches in one CSV file; past it, a more precise query.
CSV_MAX_MATCHES = 10_000
CSV_COLUMNS = (
    "resource_type",
    "resource_id",
    "problem_id",
    "problem_reference",
    "field",
    "excerpt",
)
CSV_EXAMPLE = (
    "\ufeffresource_type;resource_id;problem_id;problem_reference;field;excerpt\r\n"
    "comment;5d1a7c3e-2b4f-4c6a-9e8d-7f6a5b4c3d2e;9e1c3a5b-7d9f-4b2d-8f4a-6c8e0a2b4d6f;"
    "P-2026-000042;body;…signalé par M. Dupont, gardien…\r\n"
)
MARKDOWN = "text/markdown"


def _item(match: search.Match) -> SubjectMatch:
    return SubjectMatch(
        resource_type=match.position.resource_type,
        resource_id=match.position.row_id,
        problem_id=match.problem_id,
        problem_reference=match.problem_reference,
        field=match.position.field,
        excerpt=match.excerpt,
    )


@router.get(
    "/governance/subject-search",
    summary="Search the records about a data subject",
    response_model=Page[SubjectMatch],
    responses={
        200: {
            "content": {exports.CSV: {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
            "description": "JSON, one page. `Accept: text/csv`: every match from `cursor` on "
            f"(`limit` does not apply; at most {CSV_MAX_MATCHES:,}, else 422), as French "
            "Excel opens it, `subject-search.csv` as attachment, `Cache-Control: no-store`.",
        }
    },
)
async def subject_search(
    request: Request,
    session: DbSession,
    principal: GovernanceReader,
    paging: PageParams,
    q: Annotated[
        str,
        Query(
            min_length=search.MIN_QUERY_LENGTH,
            max_length=200,
            description="A name or an identifier (e-mail, phone number, plate...); case and "
            "accents do not matter, nor the spaces between words.",
            examples=["Dupont"],
        ),
    ],
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Every free text (problems, reports, comments, meeting notes and reviews, actions,
    indicators and measurements, the audit's old and new values) and every person (users'
    names and e-mails, sign-ins, mails) that mentions `q`, to answer a data subject's
    request; in the order of the tables, then of the records' ids. It reads the whole
    history: seconds, not milliseconds. Admins (and auditors). Each search is itself
    audited (`governance.subject_search`: the query's length and the matches' count, never
    the query)."""
    if len(normalise(q)) < search.MIN_QUERY_LENGTH:
        raise Invalid(
            ["query", "q"], f"at least {search.MIN_QUERY_LENGTH} characters besides spaces"
        )
    paginator: Paginator = request.app.state.paginator
    after = None
    if (values := paging.after(SEARCH_ORDER)) is not None:
        try:
            after = search.Position.after(values)
        except ValueError:
            raise BadRequest("The cursor is not valid for this list, sort and filters.") from None
    as_csv = exports.negotiate(accept, (exports.JSON, exports.CSV)) == exports.CSV
    limit = CSV_MAX_MATCHES if as_csv else paging.limit
    matches, more = await search.search(session, q, after=after, limit=limit)
    if as_csv and more:
        raise Invalid(
            ["query", "q"], f"more than {CSV_MAX_MATCHES:,} matches: make the query more precise"
        )
    await search.log_search(session, principal, query=q, matches=len(matches))
    # The DPO read these records' texts: the access log names them (never the query).
    await service.log_read(
        session,
        principal,
        request,
        resource_type="subject_search",
        resource_ids=dict.fromkeys(m.position.row_id for m in matches),
    )
    items = [_item(match) for match in matches]
    if as_csv:
        return exports.table_file(
            exports.CSV,
            CSV_COLUMNS,
            [item.model_dump(mode="json") for item in items],
            name="subject-search",
            sheet_title="subject-search",
        )
    next_cursor = (
        paginator.encode(SEARCH_ORDER, paging.digest, matches[-1].position.sort_values())
        if more
        else None
    )
    return json_response(
        {"items": [item.model_dump(mode="json") for item in items], "next_cursor": next_cursor}
    )


@router.get(
    "/governance/register",
    summary="The processing register",
    response_model=ProcessingRegister,
    responses={
        200: {
            "content": {MARKDOWN: {"schema": {"type": "string"}, "example": "# Registre..."}},
            "description": "JSON; `Accept: text/markdown`: the same register as a document.",
        }
    },
)
async def processing_register(
    request: Request,
    session: DbSession,
    principal: GovernanceReader,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """The register of processing activities (GDPR art. 30, directive 2016/680 art. 24):
    controller, purposes, data categories, problem categories (sensitive ones flagged),
    recipients by organisation kind with their clearance, retention, legal bases and
    security measures, generated from the settings and the reference data. Admins (and
    auditors)."""
    settings: Settings = request.app.state.settings
    document = await register.processing_register(session, settings)
    if exports.negotiate(accept, (exports.JSON, MARKDOWN)) == MARKDOWN:
        return PlainTextResponse(
            register.markdown(document), media_type=f"{MARKDOWN}; charset=utf-8"
        )
    return document
