"""Pages of the console: the Jinja environment, the context every page has, static files.

Templates are rendered from data loaded before (no query runs inside a template), with
the French formats of `app.wording`. Static files are served by the service itself, with a
version in their URL so that browsers keep them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app import access, wording
from app.actions.models import ActionStatus
from app.core.outbox import EventType
from app.core.visibility import Visibility, at_least
from app.governance import screening
from app.governance.masking import IDENTIFIER_KINDS, Kind
from app.identity.sessions import SignedIn
from app.problems.models import Outcome, Priority, ProblemStatus
from app.webhooks.models import DeliveryStatus

HERE = Path(__file__).parent
STATIC = HERE / "static"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@functools.cache
def static_url(path: str) -> str:
    """/static/<path>?v=<digest of the file>: a new version is a new URL."""
    digest = hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:12]
    return f"/static/{path}?v={digest}"


# Coded values that reach templates as plain strings (the agenda's), by their enum's name.
ENUMS: dict[str, type[Enum]] = {
    cls.__name__: cls
    for cls in (
        ProblemStatus,
        Priority,
        Outcome,
        ActionStatus,
        Visibility,
        EventType,
        DeliveryStatus,
    )
}


def label_as(value: Any, enum: str) -> str:
    """The French label of `value`, a value of the enum named `enum`."""
    return wording.label(ENUMS[enum](value))


def choices(items: Iterable[Any]) -> list[tuple[str, str]]:
    """(value, label) pairs for a <select>: coded values, reference rows (code and French
    label), or rows with a name."""
    pairs = []
    for item in items:
        if isinstance(item, Enum):
            pairs.append((str(item.value), wording.label(item)))
        elif hasattr(item, "label_fr"):
            pairs.append((str(item.code), str(item.label_fr)))
        else:
            pairs.append((str(item.id), str(item.name)))
    return pairs


def levels_from(floor: Any) -> list[Visibility]:
    """The levels a text may be written at on a record of level `floor` (its problem's, or
    `partners` for a meeting's notes): that one or stricter."""
    return [level for level in Visibility if at_least(level, Visibility(floor)) == level]


environment.globals["static"] = static_url
environment.globals["priorities"] = list(Priority)
# Shown by base.html first on a page whose context says `classified`.
environment.globals["restricted_notice"] = wording.RESTRICTED_NOTICE
environment.filters |= {
    "label": wording.label,
    "label_as": label_as,
    "choices": choices,
    "levels_from": levels_from,
    "day": wording.day,
    "moment": wording.moment,
    "number": wording.number,
}


# --- What the texts just saved held --------------------------------------------------------

# The query parameter carrying a write's warnings through the redirect after it: a field and
# a kind ("description:phone"), never a value.
NOTICE_PARAM = "signale"


@dataclass(frozen=True)
class TextNotice:
    """A warning as the page tells it: masked (an identifier replaced) or a sensitive word."""

    text: str
    masked: bool


def with_notices(location: str, warnings: Iterable[screening.TextWarning]) -> str:
    """The redirect's address, with the warnings of the write it follows."""
    path, hash_mark, fragment = location.partition("#")
    pairs = "&".join(f"{NOTICE_PARAM}={w.loc[-1]}:{w.kind.value}" for w in warnings)
    return f"{path}{'&' if '?' in path else '?'}{pairs}{hash_mark}{fragment}"


def text_notices(request: Request, status: int) -> list[TextNotice]:
    """What the free texts this request saved held, or the write before its redirect: only
    known fields and kinds are told (the query string is the reader's to forge)."""
    found: list[tuple[str, Kind]] = []
    session = getattr(request.state, "session", None)
    if session is not None and status < 400:
        found += [(str(w.loc[-1]), w.kind) for w in screening.warnings(session)]
    for value in request.query_params.getlist(NOTICE_PARAM):
        field, _, kind = value.partition(":")
        if field in wording.TEXT_FIELDS and kind in Kind.__members__:
            found.append((field, Kind(kind)))
    return [
        TextNotice(wording.text_warning(field, kind), kind in IDENTIFIER_KINDS)
        for field, kind in dict.fromkeys(found)
    ]


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str


def navigation(me: SignedIn) -> list[NavItem]:
    """The menu of a person: only what its role may use."""
    principal = me.principal
    items = []
    if access.member_organisation(principal) is None:
        items.append(NavItem("Mes GPO", "/console"))
    else:
        items.append(NavItem("Mon organisation", "/console/mon-organisation"))
        items.append(NavItem("Mes GPO", "/console/gpo"))
    items.append(NavItem("Problèmes", "/console/problemes"))
    if access.reads_figures(principal):
        items.append(NavItem("Tableau de bord", "/console/tableau-de-bord"))
    if access.is_admin(principal):
        items.append(NavItem("Administration", "/console/administration"))
    return items


def render(
    request: Request,
    template: str,
    *,
    me: SignedIn | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    path = request.url.path
    nav = navigation(me) if me else []
    current = max(
        (item.href for item in nav if path == item.href or path.startswith(item.href + "/")),
        key=len,
        default=None,
    )
    html = environment.get_template(template).render(
        request=request,
        me=me,
        nav=nav,
        current=current,
        # Without a session (the sign-in page), the double-submit token of the form.
        csrf_token=me.csrf_token if me else getattr(request.state, "csrf_token", ""),
        csrf_field=CSRF_FIELD,
        csrf_header=CSRF_HEADER,
        # The maps' tile URL template; empty: markers on a plain ground.
        map_tiles=request.app.state.settings.gpo_map_tiles_url,
        text_notices=text_notices(request, status),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    # Pages hold data of the GPOs: never kept by a shared cache, nor by the browser's.
    response.headers["Cache-Control"] = "no-store"
    return response


class VersionedStaticFiles(StaticFiles):
    """Static files; a URL with its version (`?v=`) is kept a year by browsers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "public, max-age=3600"
        )
        return response
