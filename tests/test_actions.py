"""Actions through HTTP: assigning them, who may change what, status moves, the overdue
rule, lists, and the assignee who sees its action without seeing the problem."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.api import Api, Caller, World, expect, problem_of, resource

PARIS = ZoneInfo("Europe/Paris")


def today_in_paris() -> date:
    return datetime.now(PARIS).date()


def day(offset: int) -> str:
    """A date relative to today in Europe/Paris."""
    return (today_in_paris() + timedelta(days=offset)).isoformat()


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


def action_body(assignee: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "title": "Patrouilles pédestres en soirée",
        "kind": "foot_patrol",
        "assignee_organisation_id": assignee["id"],
        "due_date": day(30),
        **overrides,
    }


async def read(api: Api, caller: Caller, action: dict[str, Any]) -> dict[str, Any]:
    return dict(expect(await api.get(caller, f"/actions/{action['id']}"), 200))


async def change(api: Api, caller: Caller, action: dict[str, Any], **values: Any) -> dict[str, Any]:
    return dict(expect(await api.patch(caller, f"/actions/{action['id']}", json=values), 200))


async def listed(api: Api, caller: Caller, **params: Any) -> list[dict[str, Any]]:
    """Every action of GET /actions with these filters, following the cursor."""
    found: list[dict[str, Any]] = []
    query: list[tuple[str, str]] = []
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        query.extend((name, str(v)) for v in values)
    cursor: str | None = None
    for _ in range(100):
        page_query = [*query, ("limit", "200")] + ([("cursor", cursor)] if cursor else [])
        body = expect(await api.get(caller, "/actions", params=page_query), 200)
        found.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("the list never ended")


async def listed_ids(api: Api, caller: Caller, **params: Any) -> list[str]:
    return [action["id"] for action in await listed(api, caller, **params)]


def ids(*actions: dict[str, Any]) -> list[str]:
    return sorted(action["id"] for action in actions)


# --- creation --------------------------------------------------------------------------


async def test_facilitator_assigns_a_planned_action(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    body = action_body(world.landlord, description="Trois passages par semaine.")
    response = await api.post(world.facilitator, f"/problems/{problem['id']}/actions", json=body)
    created = expect(response, 201)
    assert created["status"] == "planned"
    assert created["problem_id"] == problem["id"]
    for name in ("title", "kind", "assignee_organisation_id", "due_date", "description"):
        assert created[name] == body[name]
    assert created["result_note"] is None
    assert created["completed_at"] is None
    assert created["overdue"] is False
    assert response.headers["ETag"] == f'"{created["version"]}"'
    assert await read(api, world.facilitator, created) == resource(created)

    seen = expect(await api.get(world.facilitator, f"/problems/{problem['id']}"), 200)
    assert seen["open_action_count"] == 1


async def test_admin_may_assign_an_action(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    created = await api.action(world.admin, problem, world.municipal_police)
    assert created["status"] == "planned"


async def test_a_due_date_in_the_past_is_accepted_and_overdue(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    created = await api.action(world.facilitator, problem, world.landlord, due_date=day(-20))
    assert created["due_date"] == day(-20)
    assert created["overdue"] is True
    assert (await read(api, world.facilitator, created))["overdue"] is True
    seen = expect(await api.get(world.facilitator, f"/problems/{problem['id']}"), 200)
    assert seen["overdue_action_count"] == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "exorcism"}, "kind"),
        ({"assignee_organisation_id": str(uuid.uuid4())}, "assignee_organisation_id"),
        ({"assignee_organisation_id": "someone"}, "assignee_organisation_id"),
        ({"due_date": "31/01/2030"}, "due_date"),
        ({"due_date": None}, "due_date"),
        ({"title": ""}, "title"),
        ({"status": "done"}, "status"),
        ({"overdue": False}, "overdue"),
    ],
)
async def test_invalid_action_fields_are_named(
    world: World, overrides: dict[str, Any], field: str
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await api.post(
        world.facilitator,
        f"/problems/{problem['id']}/actions",
        json=action_body(world.landlord, **overrides),
    )
    assert ["body", field] in locs(problem_of(response, 422))
    assert await listed_ids(api, world.admin) == []


async def test_a_closed_problem_takes_no_new_action(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    expect(await api.move(world.facilitator, problem, "closed", outcome="duplicate"), 200)
    response = await api.post(
        world.facilitator, f"/problems/{problem['id']}/actions", json=action_body(world.landlord)
    )
    problem_of(response, 409)
    assert await listed_ids(api, world.admin) == []

    # Reopened, it takes actions again.
    expect(await api.move(world.facilitator, problem, "open", note="Pas un doublon."), 200)
    await api.action(world.facilitator, problem, world.landlord)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("police_partner", 403),
        ("landlord_partner", 403),
        ("commander", 403),
        ("other_facilitator", 404),
        ("outsider_partner", 404),
    ],
)
async def test_only_the_gpo_facilitators_assign_actions(
    world: World, who: str, status: int
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await api.post(
        getattr(world, who), f"/problems/{problem['id']}/actions", json=action_body(world.landlord)
    )
    problem_of(response, status)
    assert await listed_ids(api, world.admin) == []


# --- changes ---------------------------------------------------------------------------


async def test_facilitator_changes_any_field(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    values = {
        "title": "Opération conjointe rue de Toul",
        "kind": "joint_operation",
        "assignee_organisation_id": world.municipal_police["id"],
        "due_date": day(45),
        "description": "Avec la police nationale.",
        "status": "in_progress",
        "result_note": "Première opération menée.",
    }
    response = await api.patch(world.facilitator, f"/actions/{action['id']}", json=values)
    changed = expect(response, 200)
    for name, value in values.items():
        assert changed[name] == value, name
    assert changed["version"] == action["version"] + 1
    assert response.headers["ETag"] == f'"{changed["version"]}"'
    assert await read(api, world.facilitator, action) == resource(changed)

    cleared = await change(api, world.facilitator, action, description=None, result_note=None)
    assert cleared["description"] is None
    assert cleared["result_note"] is None
    assert cleared["title"] == values["title"]


async def test_patch_refuses_invalid_values(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    for body, field in (
        ({"kind": "exorcism"}, "kind"),
        ({"assignee_organisation_id": str(uuid.uuid4())}, "assignee_organisation_id"),
        ({"title": None}, "title"),
        ({"due_date": None}, "due_date"),
        ({"status": "finished"}, "status"),
        ({"completed_at": "2026-01-01T00:00:00+01:00"}, "completed_at"),
        ({"problem_id": str(uuid.uuid4())}, "problem_id"),
    ):
        response = await api.patch(world.facilitator, f"/actions/{action['id']}", json=body)
        assert ["body", field] in locs(problem_of(response, 422)), body
    assert await read(api, world.facilitator, action) == resource(action)


async def test_the_assignee_updates_status_and_result_only(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    partner = world.landlord_partner

    started = await change(api, partner, action, status="in_progress")
    assert started["status"] == "in_progress"
    done = await change(api, partner, action, status="done", result_note="Portes réparées.")
    assert done["status"] == "done"
    assert done["result_note"] == "Portes réparées."
    assert done["version"] == action["version"] + 2

    for body in (
        {"title": "Autre chose"},
        {"due_date": day(90)},
        {"assignee_organisation_id": world.municipal_police["id"]},
        {"kind": "lighting"},
        {"description": "…"},
        {"status": "in_progress", "title": "Mélange"},  # one forbidden field spoils it all
    ):
        response = await api.patch(partner, f"/actions/{action['id']}", json=body)
        problem_of(response, 403)
    assert await read(api, world.facilitator, action) == resource(done)


@pytest.mark.parametrize("who", ["municipal_partner", "police_partner", "commander"])
async def test_others_may_not_change_an_action(world: World, who: str) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    for body in ({"status": "done"}, {"result_note": "Fait."}, {"title": "Autre"}):
        problem_of(await api.patch(getattr(world, who), f"/actions/{action['id']}", json=body), 403)
    assert await read(api, world.facilitator, action) == resource(action)


async def test_a_facilitator_of_another_gpo_cannot_reach_the_action(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    problem_of(await api.get(world.other_facilitator, f"/actions/{action['id']}"), 404)
    response = await api.patch(
        world.other_facilitator, f"/actions/{action['id']}", json={"status": "done"}
    )
    problem_of(response, 404)
    assert await listed_ids(api, world.other_facilitator) == []
    assert await read(api, world.facilitator, action) == resource(action)


async def test_stale_if_match_gives_412_and_changes_nothing(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    stale = f'"{action["version"]}"'
    await change(api, world.facilitator, action, title="Nouveau titre")
    current = await read(api, world.facilitator, action)
    response = await api.patch(
        world.landlord_partner,
        f"/actions/{action['id']}",
        json={"status": "done"},
        headers={"If-Match": stale},
    )
    problem_of(response, 412)
    assert await read(api, world.facilitator, action) == current

    response = await api.patch(
        world.landlord_partner,
        f"/actions/{action['id']}",
        json={"status": "done"},
        headers={"If-Match": f'"{current["version"]}"'},
    )
    assert expect(response, 200)["status"] == "done"


# --- status moves ----------------------------------------------------------------------


PATHS = {
    "planned": [],
    "in_progress": ["in_progress"],
    "done": ["done"],
    "cancelled": ["cancelled"],
}

LEGAL = [
    ("planned", "in_progress"),
    ("planned", "done"),
    ("planned", "cancelled"),
    ("in_progress", "done"),
    ("in_progress", "cancelled"),
    ("done", "in_progress"),
    ("cancelled", "in_progress"),
]
ILLEGAL = [
    ("done", "cancelled"),
    ("cancelled", "done"),
    ("in_progress", "planned"),
    ("done", "planned"),
    ("cancelled", "planned"),
]


async def action_in(world: World, status: str) -> dict[str, Any]:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    for step in PATHS[status]:
        action = await change(api, world.facilitator, action, status=step)
    assert action["status"] == status
    return action


@pytest.mark.parametrize(("start", "to"), LEGAL, ids=[f"{s}->{t}" for s, t in LEGAL])
@pytest.mark.parametrize("who", ["facilitator", "landlord_partner"])
async def test_legal_status_moves(world: World, who: str, start: str, to: str) -> None:
    action = await action_in(world, start)
    moved = await change(world.api, getattr(world, who), action, status=to)
    assert moved["status"] == to
    assert moved["version"] == action["version"] + 1
    assert await read(world.api, world.facilitator, action) == resource(moved)


@pytest.mark.parametrize(("start", "to"), ILLEGAL, ids=[f"{s}->{t}" for s, t in ILLEGAL])
async def test_illegal_status_moves_are_409(world: World, start: str, to: str) -> None:
    action = await action_in(world, start)
    for caller in (world.facilitator, world.landlord_partner):
        response = await world.api.patch(caller, f"/actions/{action['id']}", json={"status": to})
        problem_of(response, 409)
    assert await read(world.api, world.facilitator, action) == resource(action)


async def test_completed_at_is_set_on_done_and_cleared_when_work_resumes(world: World) -> None:
    api = world.api
    action = await action_in(world, "in_progress")
    assert action["completed_at"] is None
    done = await change(api, world.landlord_partner, action, status="done")
    assert done["completed_at"] is not None
    completed = datetime.fromisoformat(done["completed_at"].replace("Z", "+00:00"))
    assert completed.tzinfo is not None
    assert abs(datetime.now(PARIS) - completed) < timedelta(minutes=5)
    assert (await read(api, world.facilitator, action))["completed_at"] == done["completed_at"]

    resumed = await change(api, world.landlord_partner, action, status="in_progress")
    assert resumed["completed_at"] is None
    cancelled = await change(api, world.landlord_partner, action, status="cancelled")
    assert cancelled["completed_at"] is None


async def test_done_directly_from_planned_sets_completed_at(world: World) -> None:
    action = await action_in(world, "planned")
    done = await change(world.api, world.facilitator, action, status="done")
    assert done["completed_at"] is not None


# --- overdue ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "due", "overdue"),
    [
        ("planned", -1, True),
        ("planned", -400, True),
        ("planned", 0, False),  # due today is not yet late
        ("planned", 1, False),
        ("in_progress", -1, True),
        ("in_progress", 0, False),
        ("done", -30, False),
        ("cancelled", -30, False),
    ],
)
async def test_overdue_rule(world: World, status: str, due: int, overdue: bool) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord, due_date=day(due))
    if status != "planned":
        action = await change(api, world.facilitator, action, status=status)
    assert action["overdue"] is overdue
    assert (await read(api, world.facilitator, action))["overdue"] is overdue
    assert [a["overdue"] for a in await listed(api, world.facilitator)] == [overdue]
    assert await listed_ids(api, world.facilitator, overdue=str(overdue).lower()) == [action["id"]]
    assert await listed_ids(api, world.facilitator, overdue=str(not overdue).lower()) == []
    seen = expect(await api.get(world.facilitator, f"/problems/{problem['id']}"), 200)
    assert seen["overdue_action_count"] == int(overdue)


async def test_overdue_is_computed_and_does_not_raise_the_version(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord, due_date=day(5))
    assert action["overdue"] is False
    late = await change(api, world.facilitator, action, due_date=day(-5))
    assert late["overdue"] is True
    assert late["version"] == action["version"] + 1
    done = await change(api, world.facilitator, action, status="done")
    assert done["overdue"] is False
    assert done["version"] == late["version"] + 1


# --- lists -----------------------------------------------------------------------------


async def test_list_filters(world: World) -> None:
    api = world.api
    fac = world.facilitator
    second_gpo = await api.gpo(fac, communes=["57751"], members=[world.landlord])
    first = await api.problem(fac, world.gpo)
    second = await api.problem(fac, world.gpo)
    third = await api.problem(fac, second_gpo, commune_code="57751")
    late = await api.action(fac, first, world.landlord, due_date=day(-10))
    running = await api.action(fac, first, world.municipal_police, due_date="2030-01-10")
    running = await change(api, fac, running, status="in_progress")
    finished = await api.action(fac, second, world.landlord, due_date=day(-3))
    finished = await change(api, fac, finished, status="done")
    dropped = await api.action(fac, second, world.national_police, due_date="2030-01-11")
    dropped = await change(api, fac, dropped, status="cancelled")
    elsewhere = await api.action(fac, third, world.landlord, due_date="2031-06-01")

    assert sorted(await listed_ids(api, fac)) == ids(late, running, finished, dropped, elsewhere)
    assert sorted(await listed_ids(api, fac, status="planned")) == ids(late, elsewhere)
    assert sorted(await listed_ids(api, fac, status=["done", "cancelled"])) == ids(
        finished, dropped
    )
    assert sorted(await listed_ids(api, fac, assignee_organisation_id=world.landlord["id"])) == ids(
        late, finished, elsewhere
    )
    assert await listed_ids(api, fac, assignee_organisation_id=world.municipal_police["id"]) == [
        running["id"]
    ]
    assert await listed_ids(api, fac, overdue="true") == [late["id"]]
    assert sorted(await listed_ids(api, fac, overdue="false")) == ids(
        running, finished, dropped, elsewhere
    )
    assert sorted(await listed_ids(api, fac, problem_id=first["id"])) == ids(late, running)
    assert sorted(await listed_ids(api, fac, problem_id=second["id"])) == ids(finished, dropped)
    assert sorted(await listed_ids(api, fac, gpo_id=world.gpo["id"])) == ids(
        late, running, finished, dropped
    )
    assert await listed_ids(api, fac, gpo_id=second_gpo["id"]) == [elsewhere["id"]]
    # due_before is strict.
    assert sorted(await listed_ids(api, fac, due_before="2030-01-10")) == ids(late, finished)
    assert sorted(await listed_ids(api, fac, due_before="2030-01-11")) == ids(
        late, finished, running
    )
    assert sorted(await listed_ids(api, fac, due_before="2030-01-12")) == ids(
        late, finished, running, dropped
    )
    assert await listed_ids(
        api, fac, due_before="2030-01-12", assignee_organisation_id=world.landlord["id"]
    ) == [late["id"], finished["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "finished"},
        {"overdue": "sometimes"},
        {"due_before": "tomorrow"},
        {"problem_id": "123"},
        {"assignee_organisation_id": "x"},
        {"limit": "500"},
    ],
)
async def test_invalid_list_parameters_are_422(world: World, params: dict[str, str]) -> None:
    response = await world.api.get(world.facilitator, "/actions", params=params)
    name = next(iter(params))
    assert any(loc[:2] == ["query", name] for loc in locs(problem_of(response, 422)))


async def test_default_sort_is_soonest_due_first_across_pages(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    dues = ["2030-05-01", "2029-01-15", day(-3), "2030-05-01", "2031-12-31", "2029-06-30"]
    created = [
        await api.action(world.facilitator, problem, world.landlord, due_date=due) for due in dues
    ]
    whole = await listed(api, world.facilitator)
    assert [a["due_date"] for a in whole] == sorted(dues)
    assert sorted(a["id"] for a in whole) == ids(*created)

    paged: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = expect(await api.get(world.facilitator, "/actions", params=params), 200)
        paged.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [a["id"] for a in paged] == [a["id"] for a in whole]


# --- the assignee sees its action even when it may not see the problem ------------------


async def assert_assignee_sees_only_the_action(
    api: Api,
    assignee: Caller,
    action: dict[str, Any],
    problem: dict[str, Any],
    *,
    cleared: bool,
    facilitator: Caller,
) -> None:
    seen = await read(api, assignee, action)
    assert seen["id"] == action["id"]
    assert seen["title"] == action["title"]
    assert seen["problem_id"] == problem["id"]
    assert action["id"] in await listed_ids(api, assignee)
    assert await listed_ids(api, assignee, problem_id=problem["id"]) == [action["id"]]
    for path in ("", "/timeline", "/comments"):
        problem_of(await api.get(assignee, f"/problems/{problem['id']}{path}"), 404)
    problems = expect(await api.get(assignee, "/problems"), 200)
    assert problem["id"] not in [p["id"] for p in problems["items"]]
    # It reports on its action all the same; its note is kept at the action's level (no
    # less than the problem's), which it reads back only when cleared for it.
    done = await change(api, assignee, action, status="done", result_note="Fait.")
    assert done["status"] == "done"
    assert done["result_note"] == ("Fait." if cleared else None)
    assert (await read(api, facilitator, action))["result_note"] == "Fait."


@pytest.mark.parametrize(
    ("visibility", "assignee_org", "assignee"),
    [
        ("police", "landlord", "landlord_partner"),
        ("restricted", "landlord", "landlord_partner"),
        ("restricted", "municipal_police", "municipal_partner"),
    ],
)
async def test_an_assignee_without_clearance_sees_its_action_not_the_problem(
    world: World, visibility: str, assignee_org: str, assignee: str
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, visibility=visibility)
    hidden_from_it = await api.action(world.facilitator, problem, world.national_police)
    action = await api.action(world.facilitator, problem, getattr(world, assignee_org))
    await assert_assignee_sees_only_the_action(
        api, getattr(world, assignee), action, problem, cleared=False, facilitator=world.facilitator
    )
    # Its organisation's action only: the others on that problem stay hidden.
    problem_of(await api.get(getattr(world, assignee), f"/actions/{hidden_from_it['id']}"), 404)
    assert hidden_from_it["id"] not in await listed_ids(api, getattr(world, assignee))


async def test_an_assignee_outside_the_gpo_sees_its_action_not_the_problem(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    other = await api.action(world.facilitator, problem, world.landlord)
    action = await api.action(world.facilitator, problem, world.outsider_org)
    await assert_assignee_sees_only_the_action(
        api, world.outsider_partner, action, problem, cleared=True, facilitator=world.facilitator
    )
    problem_of(await api.get(world.outsider_partner, f"/actions/{other['id']}"), 404)
    assert await listed_ids(api, world.outsider_partner) == [action["id"]]


async def test_a_member_without_clearance_does_not_see_others_actions(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, visibility="police")
    action = await api.action(world.facilitator, problem, world.municipal_police)
    problem_of(await api.get(world.landlord_partner, f"/actions/{action['id']}"), 404)
    response = await api.patch(
        world.landlord_partner, f"/actions/{action['id']}", json={"status": "done"}
    )
    problem_of(response, 404)
    assert await listed_ids(api, world.landlord_partner) == []
    assert await read(api, world.municipal_partner, action) == resource(action)
