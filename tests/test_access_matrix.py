"""The specification of `app/access.py`, every access rule of the service, through HTTP.

The matrix is a table of routes and callers, grouped as access.py groups its rules: read
scopes (GPOs, problems, actions, reports, meetings, indicators, users, tokens), then write
permissions (running a GPO, running meetings, changing an action, reports, figures,
admin-only routes). For each route: callers allowed to (2xx), a caller who sees the thing
without the right (403), outsiders (404: existence is never revealed). A refused write
changes nothing; an accepted one changes what it says. Then the clearance of members by
organisation kind, on problems and on comments.
"""

from __future__ import annotations

import inspect
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
    # The field of a JSON answer naming what was asked for (None: a list or no body).
    own: str | None = "id"
    json: bool = True

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def names_an_id(self) -> bool:
        return "{" in self.path


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

RUN_MEETINGS = {
    "facilitator": 200,
    "admin": 200,
    "commander": 200,  # commanders run meetings too
    "landlord_partner": 403,  # a member: sees the GPO, reads the minutes only
    "police_partner": 403,
    "other_facilitator": 404,
    "outsider_partner": 404,
}
READ_FIGURES = {
    "facilitator": 200,
    "other_facilitator": 200,  # figures of its own GPOs (here: none)
    "admin": 200,
    "commander": 200,
    "landlord_partner": 403,
    "police_partner": 403,
}

ROUTES: dict[str, Route] = {
    # --- read scopes ---------------------------------------------------------------------
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
    "GET /reports/{id}": Route(
        "GET",
        "/reports/{report}",
        expected={
            "landlord_partner": 200,  # its organisation's report
            "facilitator": 200,  # routed to its GPO
            "admin": 200,
            "commander": 200,
            "municipal_partner": 404,  # a member of the GPO, not the reporter
            "other_facilitator": 404,
            "outsider_partner": 404,
        },
    ),
    "PATCH /reports/{id}": Route(
        "PATCH",
        "/reports/{report}",
        body=lambda ids: {"gpo_id": ids["other_gpo"]},
        state="/reports/{report}",
        expected={
            "admin": 200,
            "facilitator": 403,  # sees it, routes nothing
            "commander": 403,
            "landlord_partner": 403,
            "other_facilitator": 404,
            "outsider_partner": 404,
        },
    ),
    "POST /reports/{id}/triage": Route(
        "POST",
        "/reports/{report}/triage",
        body=lambda ids: {"decision": "reject", "public_note": "Hors du champ du GPO."},
        state="/reports/{report}",
        expected={
            "facilitator": 200,
            "admin": 200,
            "commander": 403,
            "landlord_partner": 403,  # the reporter reads it, does not triage it
            "other_facilitator": 404,
            "outsider_partner": 404,
        },
    ),
    "GET /meetings/{id}": Route("GET", "/meetings/{meeting}", expected=RUN_MEETINGS),
    "GET /meetings/{id}/agenda": Route(
        "GET", "/meetings/{meeting}/agenda", expected=RUN_MEETINGS, own="meeting_id"
    ),
    "GET /meetings/{id}/minutes": Route(
        "GET",
        "/meetings/{meeting}/minutes",
        json=False,
        expected={
            "facilitator": 200,
            "admin": 200,
            "commander": 200,
            "landlord_partner": 200,  # members read the minutes, within their clearance
            "police_partner": 200,
            "other_facilitator": 404,
            "outsider_partner": 404,
        },
    ),
    "GET /indicators/{id}": Route("GET", "/indicators/{indicator}", expected=READ_PROBLEM),
    # --- running a GPO ---------------------------------------------------------------------
    "POST /problems": Route(
        "POST",
        "/problems",
        body=lambda ids: {
            "gpo_id": ids["gpo"],
            "title": "Dépôts sauvages derrière le gymnase",
            "description": "Encombrants déposés chaque week-end.",
            "category": "rubbish_dumping",
            "commune_code": "57463",
        },
        state="/problems",
        own=None,
        expected={
            "facilitator": 201,
            "admin": 201,
            "commander": 403,  # sees the GPO, runs nothing
            "landlord_partner": 403,
            "other_facilitator": 422,  # a GPO it may not see is an unknown GPO
            "outsider_partner": 422,
        },
    ),
    "POST /problems/{id}/indicators": Route(
        "POST",
        "/problems/{problem}/indicators",
        body=lambda ids: {
            "name": "Appels au 17",
            "unit": "appels",
            "direction": "decrease",
            "baseline": {"value": 12, "period_start": "2026-01-01", "period_end": "2026-01-31"},
        },
        state="/problems/{problem}/indicators",
        own=None,
        expected={**RUN_PROBLEM, "facilitator": 201, "admin": 201},
    ),
    "PATCH /indicators/{id}": Route(
        "PATCH",
        "/indicators/{indicator}",
        body=lambda ids: {"name": "Appels au 17 (soirée)"},
        state="/indicators/{indicator}",
        expected=RUN_PROBLEM,
    ),
    "POST /indicators/{id}/measurements": Route(
        "POST",
        "/indicators/{indicator}/measurements",
        body=lambda ids: {"period_start": "2026-03-01", "period_end": "2026-03-31", "value": 4},
        state="/indicators/{indicator}",
        own=None,
        expected={**RUN_PROBLEM, "facilitator": 201, "admin": 201},
    ),
    # --- running meetings -------------------------------------------------------------------
    "POST /gpos/{id}/meetings": Route(
        "POST",
        "/gpos/{gpo}/meetings",
        body=lambda ids: {"scheduled_at": "2030-03-14T18:30:00+01:00"},
        state="/gpos/{gpo}/meetings",
        own=None,
        expected={**RUN_MEETINGS, "facilitator": 201, "admin": 201, "commander": 201},
    ),
    "PATCH /meetings/{id}": Route(
        "PATCH",
        "/meetings/{meeting}",
        body=lambda ids: {"location": "Mairie de quartier de Borny"},
        state="/meetings/{meeting}",
        expected=RUN_MEETINGS,
    ),
    "POST /meetings/{id}/reviews": Route(
        "POST",
        "/meetings/{meeting}/reviews",
        body=lambda ids: {"problem_id": ids["problem"], "note": "Point fait en réunion."},
        state="/problems/{problem}/timeline",
        own=None,
        expected={**RUN_MEETINGS, "facilitator": 201, "admin": 201, "commander": 201},
    ),
    # --- changing an action -----------------------------------------------------------------
    "PATCH /actions/{id} (beyond status and result)": Route(
        "PATCH",
        "/actions/{action}",
        body=lambda ids: {"due_date": "2031-01-31"},
        state="/actions/{action}",
        expected={
            "facilitator": 200,
            "admin": 200,
            "municipal_partner": 403,  # the assignee: status and result_note only
            "landlord_partner": 403,
            "other_facilitator": 404,
            "outsider_partner": 404,
            "commander": 403,
        },
    ),
    # --- reports, figures, GPOs, admin --------------------------------------------------------
    "POST /reports": Route(
        "POST",
        "/reports",
        body=lambda ids: {
            "category": "wrecked_vehicle",
            "commune_code": "57463",
            "description": "Épave sur le parking de la résidence.",
        },
        state="/reports",
        own=None,
        expected={
            "landlord_partner": 201,
            "outsider_partner": 201,  # any partner reports, for its organisation
            "admin": 403,
            "facilitator": 403,
            "commander": 403,
        },
    ),
    "GET /stats/overview": Route("GET", "/stats/overview", expected=READ_FIGURES, own=None),
    "GET /evaluations/annual": Route("GET", "/evaluations/annual", expected=READ_FIGURES, own=None),
    "POST /gpos": Route(
        "POST",
        "/gpos",
        body=lambda ids: {"name": "GPO Metz-Nord", "kind": "general", "commune_codes": ["57463"]},
        state="/gpos",
        own=None,
        expected={
            "facilitator": 201,
            "admin": 201,
            "commander": 403,
            "landlord_partner": 403,
        },
    ),
    "POST /users": Route(
        "POST",
        "/users",
        body=lambda ids: {
            "email": "nouvel.agent@example.org",
            "display_name": "Nouvel agent",
            "role": "commander",
        },
        state="/users",
        own=None,
        expected={"admin": 201, "facilitator": 403, "commander": 403, "landlord_partner": 403},
    ),
    "DELETE /tokens/{id}": Route(
        "DELETE",
        "/tokens/{token}",
        state="/users/{user}/tokens",
        own=None,
        expected={
            "admin": 204,
            "landlord_partner": 204,  # its own token
            "municipal_partner": 404,
            "facilitator": 404,
            "commander": 404,
        },
    ),
}

MATRIX = [
    pytest.param(name, caller, status, id=f"{name} as {caller} -> {status}")
    for name, route in ROUTES.items()
    for caller, status in route.expected.items()
]


class _Keys(dict[str, str]):
    """Records the ids a body asks for."""

    def __missing__(self, key: str) -> str:
        self[key] = key
        return key


def needed_ids(route: Route) -> set[str]:
    """The ids a route's path, state and body name."""
    names = set(re.findall(r"\{(\w+)\}", route.path + (route.state or "")))
    if route.body is not None:
        keys = _Keys()
        route.body(keys)
        names |= set(keys)
    return names


@dataclass
class Scene:
    """The world, and the things a route acts on, made through the API when a route needs
    them (a problem with an action assigned to the municipal police, a report of the
    landlord routed to the GPO, a planned meeting, an indicator, a second GPO, a token)."""

    world: World
    ids: Ids

    @property
    def api(self) -> Api:
        return self.world.api

    def caller(self, name: str) -> Caller:
        return self.world.admin if name == "admin" else getattr(self.world, name)

    def path(self, template: str, ids: Ids | None = None) -> str:
        return template.format(**(ids or self.ids))

    async def prepare(self, route: Route) -> None:
        needed = needed_ids(route)
        needed |= {"problem"} if needed & {"action", "indicator"} else set()
        for name in sorted(needed, key=list(MAKERS).index):
            if name not in self.ids:
                made = MAKERS[name](self)
                self.ids[name] = await made if inspect.isawaitable(made) else made

    async def call(self, route: Route, caller: Caller, ids: Ids | None = None) -> Any:
        ids = ids or self.ids
        kwargs: dict[str, Any] = {}
        if route.body is not None:
            kwargs["json"] = route.body(ids)
        return await self.api.call(caller, route.method, self.path(route.path, ids), **kwargs)

    async def state(self, route: Route) -> Any:
        assert route.state is not None
        return expect(await self.api.get(self.world.admin, self.path(route.state)), 200)


async def _problem(scene: Scene) -> str:
    problem = await scene.api.problem(scene.world.facilitator, scene.world.gpo)
    return str(problem["id"])


async def _action(scene: Scene) -> str:
    world = scene.world
    problem = {"id": scene.ids["problem"]}
    action = await scene.api.action(world.facilitator, problem, world.municipal_police)
    return str(action["id"])


async def _other_gpo(scene: Scene) -> str:
    return str((await scene.api.gpo(scene.world.other_facilitator, communes=["57463"]))["id"])


async def _report(scene: Scene) -> str:
    world = scene.world
    body = {
        "category": "hall_occupation",
        "commune_code": "57463",
        "description": "Regroupements dans le hall chaque soir.",
    }
    report = expect(await scene.api.post(world.landlord_partner, "/reports", json=body), 201)
    assert report["gpo_id"] == world.gpo["id"]
    return str(report["id"])


async def _meeting(scene: Scene) -> str:
    world = scene.world
    meeting = expect(
        await scene.api.post(
            world.facilitator,
            f"/gpos/{world.gpo['id']}/meetings",
            json={"scheduled_at": "2030-02-14T18:30:00+01:00"},
        ),
        201,
    )
    return str(meeting["id"])


async def _indicator(scene: Scene) -> str:
    indicator = expect(
        await scene.api.post(
            scene.world.facilitator,
            f"/problems/{scene.ids['problem']}/indicators",
            json={
                "name": "Regroupements constatés",
                "unit": "soirs",
                "direction": "decrease",
                "baseline": {"value": 20, "period_start": "2026-01-01", "period_end": "2026-01-31"},
            },
        ),
        201,
    )
    return str(indicator["id"])


async def _token(scene: Scene) -> str:
    token = expect(
        await scene.api.post(
            scene.world.admin, f"/users/{scene.ids['user']}/tokens", json={"name": "SI bailleur"}
        ),
        201,
    )
    return str(token["token_id"])


# In the order they are made: an action and an indicator need their problem.
MAKERS: dict[str, Callable[[Scene], Any]] = {
    "gpo": lambda scene: scene.world.gpo["id"],
    "user": lambda scene: scene.world.landlord_partner.id,
    "organisation": lambda scene: scene.world.landlord["id"],
    "problem": _problem,
    "action": _action,
    "indicator": _indicator,
    "other_gpo": _other_gpo,
    "report": _report,
    "meeting": _meeting,
    "token": _token,
}


@pytest.fixture
def scene(world: World) -> Scene:
    return Scene(
        world,
        {
            "gpo": world.gpo["id"],
            "user": world.landlord_partner.id,
            "organisation": world.landlord["id"],
        },
    )


@pytest.mark.parametrize(("name", "who", "status"), MATRIX)
async def test_access_matrix(scene: Scene, name: str, who: str, status: int) -> None:
    route = ROUTES[name]
    await scene.prepare(route)
    before = await scene.state(route) if route.writes else None
    response = await scene.call(route, scene.caller(who))
    if status >= 400:
        problem_of(response, status)
        if route.writes:
            assert await scene.state(route) == before, "a refused write changed something"
        return
    if not route.json:
        assert response.status_code == status, response.text
        assert response.text
        return
    body = expect(response, status)
    if isinstance(body, dict) and "items" in body:
        assert isinstance(body["items"], list)
    elif route.method == "GET" and route.own is not None and route.names_an_id:
        own_id = re.search(r"\{(\w+)\}", route.path)
        assert own_id
        assert body[route.own] == scene.ids[own_id[1]]
    if route.writes:
        assert await scene.state(route) != before, "an accepted write changed nothing"


@pytest.mark.parametrize("name", [name for name, route in ROUTES.items() if route.names_an_id])
async def test_unknown_ids_are_404_even_for_an_admin(scene: Scene, name: str) -> None:
    route = ROUTES[name]
    await scene.prepare(route)
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


# --- clearance of texts: comments and the timeline ----------------------------------------

# The same clearance as for problems (SEES): national police members read every level,
# municipal police members `partners` and `police`, other members `partners`.
COMMENT_LEVELS = [
    pytest.param(level, who, reads, id=f"{level}-comment-{who}-{'reads' if reads else 'hidden'}")
    for level, readers in SEES.items()
    for who, reads in readers.items()
]


@pytest.mark.parametrize(("level", "who", "reads"), COMMENT_LEVELS)
async def test_a_comment_is_read_within_the_readers_clearance(
    world: World, level: str, who: str, reads: bool
) -> None:
    """On a problem every member sees, a stricter comment shows, in the comments and in the
    timeline, only to members cleared for its level."""
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    path = f"/problems/{problem['id']}"
    body = f"Commentaire {level}"
    comment = expect(
        await api.post(
            world.facilitator, f"{path}/comments", json={"body": body, "visibility": level}
        ),
        201,
    )
    assert comment["visibility"] == level
    caller: Caller = getattr(world, who)
    comments = expect(await api.get(caller, f"{path}/comments"), 200)["items"]
    assert [c["id"] for c in comments] == ([comment["id"]] if reads else [])
    events = expect(await api.get(caller, f"{path}/timeline"), 200)["items"]
    assert any(body in e["summary"] for e in events) is reads
    # A member may write only at a level it could read.
    written = await api.post(caller, f"{path}/comments", json={"body": "Vu.", "visibility": level})
    assert written.status_code == (201 if reads else 422), written.text
