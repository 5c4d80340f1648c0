"""Who may do what to a thing named by its id: a table of routes and callers.

For each route: a caller allowed to (2xx), a member without the right (403, where one
exists), outsiders (404: existence is never revealed) and a commander (reads, but writes
nothing except comments). Then the three visibility levels of problems against landlord,
municipal-police and national-police members.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api import Api, Caller, World, expect, problem_of

Ids = dict[str, str]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: Callable[[Ids], dict[str, Any]] | None = None
    # What a write changes, as the admin reads it: unchanged after a refusal.
    state: str | None = None
    expected: dict[str, int] = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        return self.method != "GET"


READ_PROBLEM = {
    "facilitator": 200,
    "admin": 200,
    "landlord_partner": 200,
    "police_partner": 200,
    "other_facilitator": 404,
    "outsider_partner": 404,
    "commander": 200,
}
RUN_PROBLEM = {
    "facilitator": 200,
    "admin": 200,
    "landlord_partner": 403,
    "police_partner": 403,
    "other_facilitator": 404,
    "outsider_partner": 404,
    "commander": 403,
}

ROUTES: dict[str, Route] = {
    "GET /gpos/{id}": Route(
        "GET",
        "/gpos/{gpo}",
        expected={
            "facilitator": 200,
            "admin": 200,
            "landlord_partner": 200,
            "other_facilitator": 404,
            "outsider_partner": 404,
            "commander": 200,
        },
    ),
    "PATCH /gpos/{id}": Route(
        "PATCH",
        "/gpos/{gpo}",
        body=lambda ids: {"name": "GPO Borny renommé"},
        state="/gpos/{gpo}",
        expected={
            "facilitator": 200,
            "admin": 200,
            "police_partner": 403,
            "landlord_partner": 403,
            "other_facilitator": 404,
            "outsider_partner": 404,
            "commander": 403,
        },
    ),
    "GET /problems/{id}": Route("GET", "/problems/{problem}", expected=READ_PROBLEM),
    "PATCH /problems/{id}": Route(
        "PATCH",
        "/problems/{problem}",
        body=lambda ids: {"title": "Titre modifié", "priority": "urgent"},
        state="/problems/{problem}",
        expected=RUN_PROBLEM,
    ),
    "POST /problems/{id}/transitions": Route(
        "POST",
        "/problems/{problem}/transitions",
        body=lambda ids: {"to": "open"},
        state="/problems/{problem}",
        expected=RUN_PROBLEM,
    ),
    "GET /problems/{id}/timeline": Route(
        "GET", "/problems/{problem}/timeline", expected=READ_PROBLEM
    ),
    "GET /problems/{id}/comments": Route(
        "GET", "/problems/{problem}/comments", expected=READ_PROBLEM
    ),
    "POST /problems/{id}/comments": Route(
        "POST",
        "/problems/{problem}/comments",
        body=lambda ids: {"body": "Passage constaté hier soir."},
        state="/problems/{problem}/comments",
        expected={
            "facilitator": 201,
            "admin": 201,
            "landlord_partner": 201,
            "police_partner": 201,
            "other_facilitator": 404,
            "outsider_partner": 404,
            "commander": 201,
        },
    ),
    "POST /problems/{id}/actions": Route(
        "POST",
        "/problems/{problem}/actions",
        body=lambda ids: {
            "title": "Éclairage du parking",
            "kind": "lighting",
            "assignee_organisation_id": ids["organisation"],
            "due_date": "2030-06-30",
        },
        state="/actions?problem_id={problem}",
        expected={
            "facilitator": 201,
            "admin": 201,
            "landlord_partner": 403,
            "police_partner": 403,
            "other_facilitator": 404,
            "outsider_partner": 404,
            "commander": 403,
        },
    ),
    "GET /actions/{id}": Route(
        "GET",
        "/actions/{action}",
        expected={
            "facilitator": 200,
            "admin": 200,
            "municipal_partner": 200,  # its organisation is the assignee
            "landlord_partner": 200,  # a member who sees the problem
            "other_facilitator": 404,
            "outsider_partner": 404,
            "commander": 200,
        },
    ),
    "PATCH /actions/{id}": Route(
        "PATCH",
        "/actions/{action}",
        body=lambda ids: {"result_note": "Deux patrouilles effectuées."},
        state="/actions/{action}",
        expected={
            "facilitator": 200,
            "admin": 200,
            "municipal_partner": 200,
            "landlord_partner": 403,
            "police_partner": 403,
            "other_facilitator": 404,
            "outsider_partner": 404,
            "commander": 403,
        },
    ),
    "GET /users/{id}": Route(
        "GET",
        "/users/{user}",
        expected={
            "admin": 200,
            "landlord_partner": 200,  # the user itself
            "municipal_partner": 404,
            "facilitator": 404,
            # Users are not among what commanders read (problems, actions, figures).
            "commander": 404,
        },
    ),
    "PATCH /users/{id}": Route(
        "PATCH",
        "/users/{user}",
        body=lambda ids: {"display_name": "Sophie Leroy-Martin"},
        state="/users/{user}",
        expected={
            "admin": 200,
            "landlord_partner": 403,  # sees itself, may not edit itself
            "municipal_partner": 404,
            "commander": 404,
        },
    ),
    "GET /users/{id}/tokens": Route(
        "GET",
        "/users/{user}/tokens",
        expected={
            "admin": 200,
            "landlord_partner": 200,
            "municipal_partner": 404,
            "facilitator": 404,
            "commander": 404,
        },
    ),
    "GET /organisations/{id}": Route(
        "GET",
        "/organisations/{organisation}",
        # Reference data: every authenticated caller reads organisations.
        expected={
            "admin": 200,
            "landlord_partner": 200,
            "outsider_partner": 200,
            "facilitator": 200,
            "commander": 200,
        },
    ),
    "PATCH /organisations/{id}": Route(
        "PATCH",
        "/organisations/{organisation}",
        body=lambda ids: {"name": "Metz Habitat Territoire (MHT)"},
        state="/organisations/{organisation}",
        expected={
            "admin": 200,
            "landlord_partner": 403,  # a member of that very organisation
            "outsider_partner": 403,
            "facilitator": 403,
            "commander": 403,
        },
    ),
}

MATRIX = [
    pytest.param(name, caller, status, id=f"{name} as {caller} -> {status}")
    for name, route in ROUTES.items()
    for caller, status in route.expected.items()
]


@dataclass
class Scene:
    world: World
    ids: Ids

    @property
    def api(self) -> Api:
        return self.world.api

    def caller(self, name: str) -> Caller:
        return self.world.admin if name == "admin" else getattr(self.world, name)

    def path(self, template: str, ids: Ids | None = None) -> str:
        return template.format(**(ids or self.ids))

    async def call(self, route: Route, caller: Caller, ids: Ids | None = None) -> Any:
        ids = ids or self.ids
        kwargs: dict[str, Any] = {}
        if route.body is not None:
            kwargs["json"] = route.body(ids)
        return await self.api.call(caller, route.method, self.path(route.path, ids), **kwargs)

    async def state(self, route: Route) -> Any:
        assert route.state is not None
        return expect(await self.api.get(self.world.admin, self.path(route.state)), 200)


@pytest.fixture
async def scene(world: World) -> Scene:
    problem = await world.api.problem(world.facilitator, world.gpo)
    action = await world.api.action(world.facilitator, problem, world.municipal_police)
    return Scene(
        world,
        {
            "gpo": world.gpo["id"],
            "problem": problem["id"],
            "action": action["id"],
            "user": world.landlord_partner.id,
            "organisation": world.landlord["id"],
        },
    )


@pytest.mark.parametrize(("name", "who", "status"), MATRIX)
async def test_access_matrix(scene: Scene, name: str, who: str, status: int) -> None:
    route = ROUTES[name]
    before = await scene.state(route) if route.writes else None
    response = await scene.call(route, scene.caller(who))
    if status >= 400:
        problem_of(response, status)
        if route.writes:
            assert await scene.state(route) == before, "a refused write changed something"
        return
    body = expect(response, status)
    if "items" in body:
        assert isinstance(body["items"], list)
    elif route.method == "GET":
        own_id = re.search(r"\{(\w+)\}", route.path)
        assert own_id
        assert body["id"] == scene.ids[own_id[1]]
    if route.writes:
        assert await scene.state(route) != before, "an accepted write changed nothing"


@pytest.mark.parametrize("name", list(ROUTES))
async def test_unknown_ids_are_404_even_for_an_admin(scene: Scene, name: str) -> None:
    route = ROUTES[name]
    own_id = re.search(r"\{(\w+)\}", route.path)
    assert own_id
    ids = {**scene.ids, own_id[1]: str(uuid.uuid4())}
    problem_of(await scene.call(route, scene.world.admin, ids), 404)


async def test_a_facilitator_sees_the_gpos_it_runs_not_its_organisations(world: World) -> None:
    """The other facilitator belongs to the national police, a member of the GPO; that
    alone shows it nothing. Made a facilitator of the GPO, it sees and runs it."""
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    other = world.other_facilitator
    problem_of(await api.get(other, f"/problems/{problem['id']}"), 404)
    assert expect(await api.get(other, "/problems"), 200)["items"] == []
    assert expect(await api.get(other, "/gpos"), 200)["items"] == []

    expect(
        await api.patch(
            world.facilitator,
            f"/gpos/{world.gpo['id']}",
            json={"facilitator_user_ids": [world.facilitator.id, other.id]},
        ),
        200,
    )
    assert expect(await api.get(other, f"/problems/{problem['id']}"), 200)["id"] == problem["id"]
    moved = expect(await api.move(other, problem, "open"), 200)
    assert moved["status"] == "open"


# --- visibility levels ---------------------------------------------------------------

SEES = {
    "partners": {"landlord_partner": True, "municipal_partner": True, "police_partner": True},
    "police": {"landlord_partner": False, "municipal_partner": True, "police_partner": True},
    "restricted": {"landlord_partner": False, "municipal_partner": False, "police_partner": True},
}
LEVELS = [
    pytest.param(level, who, sees, id=f"{level}-{who}-{'sees' if sees else 'hidden'}")
    for level, readers in SEES.items()
    for who, sees in readers.items()
]


@pytest.mark.parametrize(("visibility", "who", "sees"), LEVELS)
async def test_visibility_levels_for_members(
    world: World, visibility: str, who: str, sees: bool
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, visibility=visibility)
    before = expect(await api.get(world.admin, f"/problems/{problem['id']}"), 200)
    caller: Caller = getattr(world, who)
    path = f"/problems/{problem['id']}"
    readable = 200 if sees else 404

    response = await api.get(caller, path)
    if sees:
        assert expect(response, 200)["id"] == problem["id"]
    else:
        problem_of(response, 404)
    for sub in ("/timeline", "/comments"):
        response = await api.get(caller, path + sub)
        assert response.status_code == readable, (sub, response.text)
    listed = expect(await api.get(caller, "/problems"), 200)["items"]
    assert [p["id"] for p in listed] == ([problem["id"]] if sees else [])
    filtered = expect(await api.get(caller, "/problems", params={"q": problem["reference"]}), 200)
    assert len(filtered["items"]) == (1 if sees else 0)

    # Writing: a member who sees the problem is refused (403); one who does not, 404.
    refused = 403 if sees else 404
    problem_of(await api.patch(caller, path, json={"title": "Modifié"}), refused)
    problem_of(await api.post(caller, f"{path}/transitions", json={"to": "open"}), refused)
    response = await api.post(caller, f"{path}/comments", json={"body": "Un mot"})
    assert response.status_code == (201 if sees else 404), response.text
    if not sees:
        problem_of(response, 404)
    after = expect(await api.get(world.admin, path), 200)
    assert after == before


@pytest.mark.parametrize("visibility", ["partners", "police", "restricted"])
@pytest.mark.parametrize("who", ["facilitator", "commander", "admin"])
async def test_runners_and_commanders_see_every_level(
    world: World, visibility: str, who: str
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, visibility=visibility)
    caller = world.admin if who == "admin" else getattr(world, who)
    assert expect(await api.get(caller, f"/problems/{problem['id']}"), 200)["id"] == problem["id"]
    assert [p["id"] for p in expect(await api.get(caller, "/problems"), 200)["items"]] == [
        problem["id"]
    ]
    expect(await api.get(caller, f"/problems/{problem['id']}/timeline"), 200)


@pytest.mark.parametrize("visibility", ["partners", "police", "restricted"])
async def test_clearance_without_membership_shows_nothing(world: World, visibility: str) -> None:
    """A national police partner whose organisation is not a member of the GPO."""
    api = world.api
    foreign_police = await api.organisation("national_police", "Commissariat de Thionville")
    officer = await api.user("partner", foreign_police, "Agent Hors GPO")
    problem = await api.problem(world.facilitator, world.gpo, visibility=visibility)
    problem_of(await api.get(officer, f"/problems/{problem['id']}"), 404)
    assert expect(await api.get(officer, "/problems"), 200)["items"] == []
    problem_of(await api.get(officer, f"/gpos/{world.gpo['id']}"), 404)


async def test_changing_visibility_changes_who_sees(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    path = f"/problems/{problem['id']}"
    expect(await api.get(world.landlord_partner, path), 200)

    expect(await api.patch(world.facilitator, path, json={"visibility": "restricted"}), 200)
    problem_of(await api.get(world.landlord_partner, path), 404)
    problem_of(await api.get(world.municipal_partner, path), 404)
    expect(await api.get(world.police_partner, path), 200)

    expect(await api.patch(world.facilitator, path, json={"visibility": "police"}), 200)
    problem_of(await api.get(world.landlord_partner, path), 404)
    expect(await api.get(world.municipal_partner, path), 200)

    expect(await api.patch(world.facilitator, path, json={"visibility": "partners"}), 200)
    expect(await api.get(world.landlord_partner, path), 200)


async def test_leaving_the_gpo_hides_its_problems(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    path = f"/problems/{problem['id']}"
    expect(await api.get(world.landlord_partner, path), 200)
    expect(
        await api.patch(
            world.facilitator,
            f"/gpos/{world.gpo['id']}",
            json={
                "member_organisation_ids": [
                    world.national_police["id"],
                    world.municipal_police["id"],
                ]
            },
        ),
        200,
    )
    problem_of(await api.get(world.landlord_partner, path), 404)
    problem_of(await api.get(world.landlord_partner, f"/gpos/{world.gpo['id']}"), 404)
    expect(await api.get(world.municipal_partner, path), 200)
