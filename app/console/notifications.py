"""The bell: what is due, late or new for the signed-in person (`app.reminders`).

Every page's header has a link to /console/notifications; with htmx, the link is redrawn
once the page has loaded with the count (/console/notifications/cloche), so that no page
waits for the counts. Without JavaScript it stays a plain link to the same page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app import access
from app.console.auth import MaybePerson, Person
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.db import DbSession
from app.reference import service as reference
from app.reference.models import Category
from app.reminders import service as reminders

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/console/notifications"


@router.get(PAGE)
async def page(request: Request, session: DbSession, me: Person) -> Response:
    principal = me.principal
    since = await reminders.last_visit(session, principal.user_id, me.session_id)
    found = await reminders.bell(session, principal, since)
    return render(
        request,
        "notifications/page.html",
        me=me,
        page_title="Notifications",
        bell=found,
        partner=access.member_organisation(principal) is not None,
        triage=reminders.hears_of_triage(principal),
        cadence=reminders.hears_of_cadence(principal),
        categories={c.code: c.label_fr for c in await reference.all_coded(session, Category)},
        communes=await reference.commune_names(session),
    )


@router.get(PAGE + "/cloche")
async def bell_link(request: Request, session: DbSession, me: MaybePerson) -> Response:
    """The header's link with its count (an htmx fragment). Signed out meanwhile: nothing
    to swap (204), the plain link stays."""
    if me is None:
        return Response(status_code=204)
    since = await reminders.last_visit(session, me.principal.user_id, me.session_id)
    counts = await reminders.counts(session, me.principal, since)
    return render(request, "notifications/_bell.html", me=me, counts=counts)
