from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app import access
from app.access import Reporter
from app.core.concurrency import IfMatch, precondition_if_match, set_etag
from app.core.db import DbSession
from app.core.pagination import Page, PageParams
from app.core.schemas import Code, CommuneCode, Name
from app.governance import screening
from app.identity.dependencies import API_PREFIX, ApiRoute, CurrentUser, Idempotent
from app.reports import service
from app.reports.models import Report, ReportStatus
from app.reports.schemas import (
    ReportCreate,
    ReportCreated,
    ReportOut,
    ReportUpdate,
    ReportWritten,
    TriageIn,
)

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["reports"])


async def report_to_route(
    report_id: uuid.UUID, session: DbSession, principal: CurrentUser, if_match: IfMatch = None
) -> Report:
    """The report, locked: 404 unless the caller sees it, 403 unless an admin, 412 on a
    stale If-Match."""
    report = await service.get_report(session, principal, report_id, for_update=True)
    access.require_report_router(principal)
    precondition_if_match(if_match, report.version)
    return report


async def report_to_triage(
    report_id: uuid.UUID, session: DbSession, principal: CurrentUser, if_match: IfMatch = None
) -> Report:
    """The report, locked: 404 unless the caller sees it, 403 unless it runs the GPO the
    report is routed to (an unrouted one: admins), 412 on a stale If-Match."""
    report = await service.get_report(session, principal, report_id, for_update=True)
    await access.require_runner(session, principal, report.gpo_id)
    precondition_if_match(if_match, report.version)
    return report


ReportToRoute = Annotated[Report, Depends(report_to_route)]
ReportToTriage = Annotated[Report, Depends(report_to_triage)]


@router.post(
    "/reports",
    status_code=201,
    summary="Submit a report (signalement)",
    dependencies=[Idempotent],
)
async def submit_report(
    data: ReportCreate, session: DbSession, principal: Reporter, response: Response
) -> ReportCreated:
    """Partners, for their organisation. The report is routed to the GPO that covers it:
    a transport-family category to the transport GPO, others to the oldest general GPO
    whose communes include `commune_code` (none: `gpo_id` null, an admin routes it later).
    Retries are safe with `Idempotency-Key`."""
    created = await service.intake(session, principal, data)
    set_etag(response, created.version)
    response.headers["Location"] = f"/api/v1/reports/{created.id}"
    return created


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
    return await service.list_reports(session, principal, filters, paging)


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
    report: ReportToRoute,
    data: ReportUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ReportWritten:
    """Admins set `gpo_id` on a report awaiting triage."""
    await service.reroute(session, principal, report, data)
    out = await service.view(session, principal, report.id)
    set_etag(response, out.version)
    return screening.answer(ReportWritten, out, session)


@router.post("/reports/{report_id}/triage", summary="Triage a report", dependencies=[Idempotent])
async def triage_report(
    report: ReportToTriage,
    data: TriageIn,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ReportWritten:
    """Facilitators of the routed GPO (and admins): `create_problem` makes a `new` problem
    from the report, `attach` links it to a problem of the same GPO, `reject` needs a
    `public_note`. A report is triaged once (409 after). `warnings` also names what the
    title and description of a problem made from the report held."""
    await service.triage(session, principal, report, data)
    out = await service.view(session, principal, report.id)
    set_etag(response, out.version)
    return screening.answer(ReportWritten, out, session)
