"""Mes GPO: each GPO the person sees, its cadence and what awaits it; planning a meeting."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from app import access
from app.console.auth import CsrfChecked, Person
from app.console.forms import Form, read_form
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.clock import PARIS
from app.core.db import DbSession
from app.gpos import service as gpos
from app.identity.sessions import SignedIn
from app.meetings import service as meetings
from app.meetings.schemas import MeetingCreate

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/console")
async def home(request: Request, session: DbSession, me: Person) -> Response:
    """Partners start from their organisation; everyone else from their GPOs."""
    if access.member_organisation(me.principal) is not None:
        return RedirectResponse("/console/mon-organisation", status_code=303)
    return await _gpo_page(request, session, me)


@router.get("/console/gpo")
async def gpo_list(request: Request, session: DbSession, me: Person) -> Response:
    return await _gpo_page(request, session, me)


async def _gpo_page(
    request: Request,
    session: DbSession,
    me: SignedIn,
    form: Form | None = None,
    form_gpo: uuid.UUID | None = None,
) -> Response:
    """Each GPO, with the plan-a-meeting form of the one whose form came back refused."""
    summaries = await gpos.summaries(session, me.principal)
    runs = {
        s.gpo.id: await access.runs_meetings(session, me.principal, s.gpo.id) for s in summaries
    }
    extra: dict[str, Any] = {} if form is None else {"form": form, "form_gpo": form_gpo}
    return render(
        request,
        "gpos/index.html",
        me=me,
        status=200 if form is None else 422,
        page_title="Mes GPO",
        summaries=summaries,
        runs=runs,
        now=datetime.now(PARIS),
        **extra,
    )


@router.post("/console/gpo/{gpo_id}/reunions", dependencies=[CsrfChecked])
async def plan_meeting(
    request: Request, gpo_id: uuid.UUID, session: DbSession, me: Person
) -> Response:
    """Plan a meeting (a past date records one already held), then open it."""
    gpo = await gpos.get_gpo(session, me.principal, gpo_id, for_update=True)
    await access.require_meeting_runner(session, me.principal, gpo.id)
    form = await read_form(request)
    data = form.parse(MeetingCreate, scheduled_at=form.instant("date", "heure"))
    if data is None:
        return await _gpo_page(request, session, me, form, gpo_id)
    meeting = await meetings.create_meeting(session, me.principal, gpo, data)
    return RedirectResponse(f"/console/reunions/{meeting.id}", status_code=303)
