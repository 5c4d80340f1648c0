"""Every console address that names a record: an unknown one is the same 404 page as an
address that does not exist, whatever the route (GET and POST), for a person who may use the
screen. Records that exist but are hidden from the reader answer that page too: each
screen's tests show it for its own records."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.console.routing import ConsoleRoute
from app.main import create_app
from tests.api import Caller, World, expect
from tests.console import Person, csrf_of, text_of

Console = Callable[[Caller | None], Awaitable[Person]]


def every_route(routes: list[Any]) -> Iterator[APIRoute]:
    """The app's routes, and those of any router it includes."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from every_route(route.original_router.routes)


def console_routes() -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in every_route(create_app().routes)
        if route.path.startswith("/console") and "{" in route.path and "{anything" not in route.path
        for method in route.methods
    )


ROUTES = console_routes()


def fill(template: str) -> str:
    """The address with every id unknown (and the form name of `formulaires` valid)."""
    path = template.replace("{which}", "action")
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_an_unknown_record_is_the_404_page(
    world: World, console: Console, app: FastAPI, method: str, template: str
) -> None:
    admin = Caller(world.admin.token, expect(await world.api.get(world.admin, "/me"), 200)["user"])
    # The screen's own people: partners for their organisation's, the admin for the rest.
    caller = world.landlord_partner if "/mon-organisation" in template else admin
    if template.startswith("/console/invitation"):
        caller = None  # an invitation link is opened before any session
    person = await console(caller)
    nowhere = await person.get("/console/nulle-part") if caller else None
    if method == "GET":
        response = await person.get(fill(template))
    else:
        if caller is None:
            person.csrf = csrf_of((await person.get("/console/login")).text)
        response = await person.post(fill(template), {})
    assert response.status_code == 404, (template, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    if nowhere is not None:
        assert text_of(response.text) == text_of(nowhere.text)


def test_every_console_route_that_changes_something_checks_csrf() -> None:
    """The route class refuses a POST without the CSRF check; this lists them to be sure
    none slipped through another route class."""
    posts = [
        route
        for route in every_route(create_app().routes)
        if route.path.startswith("/console") and "POST" in route.methods
    ]
    assert posts
    assert all(isinstance(route, ConsoleRoute) for route in posts)
