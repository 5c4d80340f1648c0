from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.pagination import Ordering, Page, PageParams, SortKey
from app.core.routing import DbSession
from app.core.schemas import Code, CommuneCode, Name
from app.identity.dependencies import ApiRoute, CurrentUser
from app.reports import service
from app.reports.models import Report, ReportStatus
from app.reports.schemas import ReportCreate, ReportCreated, ReportOut, ReportUpdate, TriageIn

router = APIRouter(route_class=ApiRoute, tags=["reports"])
NEWEST_FIRST = Ordering("-created_at", (SortKey(Report.created_at, True), SortKey(Report.id, True)))


@router.post("/reports", status_code=201, summary="Submit a report (signalement)")
async def submit_report(
    data: ReportCreate, session: DbSession, principal: CurrentUser, response: Response
) -> ReportCreated:
    """Partners, for their organisation. The report is routed to the GPO that covers it:
    a transport-family category to the transport GPO, others to the oldest general GPO
    whose communes include `commune_code` (none: `gpo_id` null, an admin routes it later).
    Retries are safe with `Idempotency-Key`."""
    report = await service.submit(session, principal, data)
    duplicates = await service.possible_duplicates(
        session, principal, report.category, report.commune_code, report.lat, report.lon
    )
    set_etag(response, report.version)
    response.headers["Location"] = f"/api/v1/reports/{report.id}"
    out = service.to_out(report, None, None)
    return ReportCreated(**out.model_dump(), possible_duplicates=duplicates)


@router.get("/reports", summary="List reports")
async def list_reports(
    session: DbSession,
    principal: CurrentUser,
    paging: PageParams,
    status: Annotated[list[ReportStatus] | None, Query(description="Repeatable.")] = None,
    gpo_id: Annotated[uuid.UUID | None, Query()] = None,
    unrouted: Annotated[
        bool | None, Query(description="`true`: only reports no GPO covers yet.")
    ] = None,
    category: Annotated[Code | None, Query()] = None,
    commune_code: Annotated[CommuneCode | None, Query()] = None,
    external_ref: Annotated[Name | None, Query(description="The reporter's reference.")] = None,
    problem_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[ReportOut]:
    """Partners see their organisation's reports; facilitators those routed to their GPOs;
    admins and commanders all. Newest first."""
    filters = service.Filters(
        statuses=status or (),
        gpo_id=gpo_id,
        unrouted=unrouted,
        category=category,
        commune_code=commune_code,
        external_ref=external_ref,
        problem_id=problem_id,
    )
    statement = service.filtered(service.with_problem(principal), filters)
    rows, next_cursor = await paging.fetch(session, statement, NEWEST_FIRST)
    return Page(items=[service.to_out(*row) for row in rows], next_cursor=next_cursor)


@router.get("/reports/{report_id}", summary="Read a report")
async def get_report(
    report_id: uuid.UUID, session: DbSession, principal: CurrentUser, response: Response
) -> ReportOut:
    """`problem_status` and `problem_outcome` tell the reporter what became of it."""
    report = await service.view(session, principal, report_id)
    set_etag(response, report.version)
    return report


@router.patch("/reports/{report_id}", summary="Route a report to a GPO")
async def update_report(
    report_id: uuid.UUID,
    data: ReportUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> ReportOut:
    """Admins set `gpo_id` on a report awaiting triage."""
    report = await service.get_report(session, principal, report_id, for_update=True)
    check_if_match(if_match, report.version)
    await service.reroute(session, principal, report, data)
    out = await service.view(session, principal, report.id)
    set_etag(response, out.version)
    return out


@router.post("/reports/{report_id}/triage", summary="Triage a report")
async def triage_report(
    report_id: uuid.UUID,
    data: TriageIn,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> ReportOut:
    """Facilitators of the routed GPO (and admins): `create_problem` makes a `new` problem
    from the report, `attach` links it to a problem of the same GPO, `reject` needs a
    `public_note`. A report is triaged once (409 after)."""
    report = await service.get_report(session, principal, report_id, for_update=True)
    check_if_match(if_match, report.version)
    await service.triage(session, principal, report, data)
    out = await service.view(session, principal, report.id)
    set_etag(response, out.version)
    return out
