"""Charte: the GPO information-sharing charter, accepted before a person's first read
(`app.identity.charter`); every other page sends here until then (`auth.charter_accepted`),
and comes back to the page asked once it is accepted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from app.console.auth import CHARTER_PAGE, CsrfChecked, SignedInOnly, _next
from app.console.forms import read_form
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.db import DbSession
from app.core.errors import Conflict
from app.identity import charter
from app.identity.charter import Charter

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@dataclass
class Block:
    """A block of the charter's Markdown: a heading, a paragraph or a list."""

    kind: str  # "h1", "h2", "p" or "ul"
    text: str = ""
    items: list[str] = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    """The few Markdown forms a charter is written in (headings, paragraphs, lists); any
    other text shows as written, escaped by the template."""
    found = []
    for chunk in text.split("\n\n"):
        lines = [line.strip() for line in chunk.strip().splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.startswith("- ") for line in lines):
            found.append(Block("ul", items=[line[2:] for line in lines]))
        elif len(lines) == 1 and lines[0].startswith(("# ", "## ")):
            level, _, title = lines[0].partition(" ")
            found.append(Block(f"h{len(level)}", title))
        else:
            found.append(Block("p", " ".join(lines)))
    return found


def _page(
    request: Request,
    me: SignedInOnly,
    current: Charter,
    accepted_at: datetime | None,
    error: str | None,
) -> Response:
    return render(
        request,
        "auth/charter.html",
        me=me,
        status=409 if error else 200,
        page_title="Charte de partage de l'information",
        blocks=blocks(current.text),
        version=current.version,
        accepted_at=accepted_at,
        error=error,
        next=_next(request.query_params.get("next")),
    )


@router.get(CHARTER_PAGE)
async def charter_page(request: Request, session: DbSession, me: SignedInOnly) -> Response:
    current: Charter = request.app.state.charter
    at = await charter.accepted_at(session, me.principal.user_id, current.version)
    return _page(request, me, current, at, None)


@router.post(CHARTER_PAGE, dependencies=[CsrfChecked])
async def accept(request: Request, session: DbSession, me: SignedInOnly) -> Response:
    form = await read_form(request)
    current: Charter = request.app.state.charter
    try:
        await charter.accept(session, me.principal, current, form.get("version") or None)
    except Conflict as refused:  # the charter changed while the person read it
        return _page(request, me, current, None, refused.fr)
    return RedirectResponse(_next(form.get("next")), status_code=303)
