"""Why a person reads police data: asked once per console session, before the first page
that shows such data, and written in each of the session's access-log entries
(`app.governance`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import update

from app import wording
from app.console.auth import CsrfChecked, Person, _next
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.db import DbSession
from app.core.errors import SeeOther
from app.governance import service as governance
from app.identity.models import ConsoleSession
from app.identity.sessions import SignedIn
from app.problems.models import Problem

PAGE = "/console/finalite"
router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


async def log_read(
    request: Request,
    session: DbSession,
    me: SignedIn,
    *,
    resource_type: str = "problem",
    resource_ids: Iterable[Any] | None = None,
    problem_ids: Iterable[Any] = (),
) -> None:
    """Log the page's read of police data (`resource_ids`, or those of `problem_ids` that
    hold some); a session that has not said why it reads is asked first."""
    ids = (
        list(resource_ids)
        if resource_ids is not None
        else await governance.logged_among(session, Problem, problem_ids)
    )
    if ids and me.principal.access_purpose is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SeeOther(f"{PAGE}?next={quote(target)}")
    await governance.log_read(
        session, me.principal, request, resource_type=resource_type, resource_ids=ids
    )


def _page(
    request: Request, me: SignedIn, *, status: int = 200, error: str | None = None
) -> Response:
    return render(
        request,
        "auth/purpose.html",
        me=me,
        status=status,
        purposes=wording.ACCESS_PURPOSES,
        chosen=me.principal.access_purpose,
        next=_next(request.query_params.get("next")),
        error=error,
    )


@router.get(PAGE)
async def purpose_form(request: Request, me: Person) -> Response:
    return _page(request, me)


@router.post(PAGE, dependencies=[CsrfChecked])
async def choose_purpose(request: Request, session: DbSession, me: Person) -> Response:
    form = await request.form()
    chosen = str(form.get("purpose") or "")
    if chosen not in wording.ACCESS_PURPOSES:
        return _page(request, me, status=422, error="Choisissez la finalité de votre consultation.")
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == me.session_id)
        .values(access_purpose=chosen)
    )
    return RedirectResponse(_next(str(form.get("next") or "")), status_code=303)
