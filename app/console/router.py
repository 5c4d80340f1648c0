"""The console at /console: every screen's router, and the service's own static files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.console import (
    admin,
    auth,
    charter,
    dashboard,
    gpos,
    meetings,
    notifications,
    organisation,
    problems,
    purpose,
    webhooks,
)
from app.console.auth import Person
from app.console.routing import ConsoleRoute, error_page
from app.core.routing import add_routes

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
SCREENS = (
    auth.router,
    charter.router,
    purpose.router,
    gpos.router,
    meetings.router,
    problems.router,
    dashboard.router,
    organisation.router,
    notifications.router,
    webhooks.router,
    admin.router,
)
add_routes(router, *SCREENS)


# Last: any other console address is the same 404 page as a record one may not see.
@router.get("/console/{anything:path}", include_in_schema=False)
async def not_found(request: Request, me: Person) -> Response:
    return error_page(request, 404)
