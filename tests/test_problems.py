"""Problems through HTTP: creation, reading, editing, the lifecycle, lists, GeoJSON,
timeline and comments, as a facilitator's front end and the partners use them."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.api import Api, Caller, World, every_page, expect, problem_of, resource

PARIS = ZoneInfo("Europe/Paris")
REFERENCE = re.compile(r"^P-(\d{4})-(\d{6})$")
METZ = {"lat": 49.1193, "lon": 6.1757}
WOIPPY = {"lat": 49.1519, "lon": 6.1522}


# --- helpers ---------------------------------------------------------------------------


def moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, f"{value} has no offset"
    return parsed


def today_in_paris() -> date:
    return datetime.now(PARIS).date()


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


def creation_body(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "gpo_id": world.gpo["id"],
        "title": "Regroupements dans le hall 4",
        "description": "Regroupements nocturnes, nuisances sonores.",
        "category": "hall_occupation",
        "commune_code": "57463",
        "priority": "normal",
        **overrides,
    }


async def read(api: Api, caller: Caller, problem: dict[str, Any]) -> dict[str, Any]:
    return dict(expect(await api.get(caller, f"/problems/{problem['id']}"), 200))


async def listed_ids(api: Api, caller: Caller, **params: Any) -> list[str]:
    query: list[tuple[str, str]] = []
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        query.extend((name, str(v)) for v in values)
    return [item["id"] for item in await every_page(api, caller, "/problems", query)]


async def bring_to(api: Api, facilitator: Caller, problem: dict[str, Any], status: str) -> None:
    steps = {
        "new": [],
        "open": [{"to": "open"}],
        "monitoring": [{"to": "open"}, {"to": "monitoring"}],
        "closed": [{"to": "open"}, {"to": "closed", "outcome": "better_handled"}],
    }[status]
    for step in steps:
        expect(
            await api.post(facilitator, f"/problems/{problem['id']}/transitions", json=step), 200
        )


async def set_action_status(api: Api, caller: Caller, action: dict[str, Any], status: str) -> None:
    expect(await api.patch(caller, f"/actions/{action['id']}", json={"status": status}), 200)


# --- creation --------------------------------------------------------------------------


async def test_create_returns_a_new_problem_with_its_fields(world: World) -> None:
    api = world.api
    body = creation_body(
        world,
        priority="high",
        objective="Faire cesser les regroupements d'ici l'été.",
        time_pattern="Soirs de semaine, 22 h - 2 h",
        location={"address": "12 rue de Toul, Metz", "sector": "Borny", **METZ},
    )
    response = await api.post(world.facilitator, "/problems", json=body)
    created = expect(response, 201)

    assert created["status"] == "new"
    assert uuid.UUID(created["id"])
    for name in ("gpo_id", "title", "description", "category", "commune_code", "priority"):
        assert created[name] == body[name]
    assert created["objective"] == body["objective"]
    assert created["time_pattern"] == body["time_pattern"]
    assert created["location"]["address"] == "12 rue de Toul, Metz"
    assert created["location"]["sector"] == "Borny"
    assert created["location"]["lat"] == pytest.approx(METZ["lat"])
    assert created["location"]["lon"] == pytest.approx(METZ["lon"])
    assert created["visibility"] == "partners"  # hall_occupation's default
    assert created["outcome"] is None
    assert created["outcome_note"] is None
    assert created["closed_at"] is None
    assert created["displacement"] == "unknown"
    assert created["report_count"] == 0
    assert created["open_action_count"] == 0
    assert created["overdue_action_count"] == 0
    assert response.headers["ETag"] == f'"{created["version"]}"'
    assert moment(created["created_at"]) <= moment(created["updated_at"])

    # What was created is what is read back.
    assert await read(api, world.facilitator, created) == resource(created)


async def test_references_follow_the_pattern_are_unique_and_increase(world: World) -> None:
    api = world.api
    problems = [await api.problem(world.facilitator, world.gpo) for _ in range(4)]
    other_gpo = await api.gpo(world.other_facilitator, members=[world.landlord])
    problems.append(await api.problem(world.other_facilitator, other_gpo))

    numbers = []
    for problem in problems:
        match = REFERENCE.match(problem["reference"])
        assert match, problem["reference"]
        assert int(match[1]) == moment(problem["created_at"]).astimezone(PARIS).year
        numbers.append(int(match[2]))
    assert len(set(numbers)) == len(numbers)
    assert numbers == sorted(numbers)


@pytest.mark.parametrize(
    ("category", "given", "expected"),
    [
        ("drug_dealing", None, "restricted"),
        ("hall_occupation", None, "partners"),
        ("hall_occupation", "police", "police"),
        ("wrecked_vehicle", "restricted", "restricted"),
    ],
)
async def test_visibility_defaults_to_the_category_default(
    world: World, category: str, given: str | None, expected: str
) -> None:
    extra = {"visibility": given} if given else {}
    problem = await world.api.problem(world.facilitator, world.gpo, category=category, **extra)
    assert problem["visibility"] == expected
    assert (await read(world.api, world.facilitator, problem))["visibility"] == expected


async def test_categories_say_drug_dealing_is_restricted_by_default(world: World) -> None:
    categories = await every_page(world.api, world.facilitator, "/categories")
    by_code = {category["code"]: category for category in categories}
    assert by_code["drug_dealing"]["default_visibility"] == "restricted"
    problem = await world.api.problem(world.facilitator, world.gpo, category="drug_dealing")
    assert problem["visibility"] == by_code["drug_dealing"]["default_visibility"]


@pytest.mark.parametrize(
    "location",
    [{"lat": 49.1193}, {"lon": 6.1757}, {"address": "rue de Toul", "lat": 49.1193}],
)
async def test_location_needs_both_coordinates_or_neither(
    world: World, location: dict[str, Any]
) -> None:
    response = await world.api.post(
        world.facilitator, "/problems", json=creation_body(world, location=location)
    )
    body = problem_of(response, 422)
    assert any(loc[:2] == ["body", "location"] for loc in locs(body)), body
    assert await listed_ids(world.api, world.admin) == []


async def test_location_without_coordinates_is_accepted(world: World) -> None:
    problem = await world.api.problem(
        world.facilitator, world.gpo, location={"address": "Place de la gare", "station": "Metz"}
    )
    assert problem["location"]["address"] == "Place de la gare"
    assert problem["location"]["lat"] is None
    assert problem["location"]["lon"] is None


@pytest.mark.parametrize(
    ("coordinates", "field"),
    [
        ({"lat": 40.5, "lon": 6.17}, "lat"),  # Mediterranean, south of France
        ({"lat": 52.5, "lon": 6.17}, "lat"),  # North Sea
        ({"lat": -49.1, "lon": 6.17}, "lat"),
        ({"lat": 49.11, "lon": 20.0}, "lon"),  # Poland
    ],
)
async def test_coordinates_outside_france_are_refused(
    world: World, coordinates: dict[str, float], field: str
) -> None:
    response = await world.api.post(
        world.facilitator, "/problems", json=creation_body(world, location=coordinates)
    )
    body = problem_of(response, 422)
    assert ["body", "location", field] in locs(body)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category": "unicorn_sighting"}, "category"),
        ({"commune_code": "75056"}, "commune_code"),  # Paris: not a signatory commune
        ({"commune_code": "Metz"}, "commune_code"),
        ({"priority": "critical"}, "priority"),
        ({"visibility": "secret"}, "visibility"),
        ({"title": "   "}, "title"),
    ],
)
async def test_invalid_fields_are_named(
    world: World, overrides: dict[str, Any], field: str
) -> None:
    response = await world.api.post(
        world.facilitator, "/problems", json=creation_body(world, **overrides)
    )
    body = problem_of(response, 422)
    assert ["body", field] in locs(body), body
    assert await listed_ids(world.api, world.admin) == []


@pytest.mark.parametrize("field", ["status", "reference", "version", "created_at", "colour"])
async def test_server_owned_and_unknown_fields_are_refused(world: World, field: str) -> None:
    values = {"status": "open", "reference": "P-2020-000001", "version": 7}
    body = creation_body(world, **{field: values.get(field, "2020-01-01T00:00:00+01:00")})
    response = await world.api.post(world.facilitator, "/problems", json=body)
    assert ["body", field] in locs(problem_of(response, 422))
    assert await listed_ids(world.api, world.admin) == []


async def test_a_gpo_the_caller_cannot_see_is_an_invalid_gpo_id(world: World) -> None:
    api = world.api
    for gpo_id in (world.gpo["id"], str(uuid.uuid4())):
        response = await api.post(
            world.other_facilitator, "/problems", json=creation_body(world, gpo_id=gpo_id)
        )
        assert ["body", "gpo_id"] in locs(problem_of(response, 422))
    assert await listed_ids(api, world.admin) == []


async def test_admin_may_create_a_problem_in_any_gpo(world: World) -> None:
    created = expect(await world.api.post(world.admin, "/problems", json=creation_body(world)), 201)
    assert created["status"] == "new"
    assert created["id"] in await listed_ids(world.api, world.facilitator)


@pytest.mark.parametrize("who", ["police_partner", "landlord_partner", "commander"])
async def test_members_and_commanders_may_not_create_problems(world: World, who: str) -> None:
    caller: Caller = getattr(world, who)
    response = await world.api.post(caller, "/problems", json=creation_body(world))
    problem_of(response, 403)
    assert await listed_ids(world.api, world.admin) == []


# --- reading -------------------------------------------------------------------------


async def test_read_counts_open_and_overdue_actions(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    other = await api.problem(world.facilitator, world.gpo)
    fresh = await read(api, world.facilitator, problem)
    assert (fresh["report_count"], fresh["open_action_count"], fresh["overdue_action_count"]) == (
        0,
        0,
        0,
    )

    past = (today_in_paris() - timedelta(days=10)).isoformat()
    future = (today_in_paris() + timedelta(days=10)).isoformat()
    planned_future = await api.action(world.facilitator, problem, world.landlord, due_date=future)
    planned_past = await api.action(world.facilitator, problem, world.landlord, due_date=past)
    running_past = await api.action(world.facilitator, problem, world.landlord, due_date=past)
    done_past = await api.action(world.facilitator, problem, world.landlord, due_date=past)
    cancelled_past = await api.action(world.facilitator, problem, world.landlord, due_date=past)
    await api.action(world.facilitator, other, world.landlord, due_date=past)
    await set_action_status(api, world.facilitator, running_past, "in_progress")
    await set_action_status(api, world.facilitator, done_past, "done")
    await set_action_status(api, world.facilitator, cancelled_past, "cancelled")
    assert planned_future["overdue"] is False
    assert planned_past["overdue"] is True

    seen = await read(api, world.facilitator, problem)
    assert seen["report_count"] == 0
    assert seen["open_action_count"] == 3  # planned future, planned past, in progress past
    assert seen["overdue_action_count"] == 2  # planned past, in progress past

    listed = {p["id"]: p for p in await every_page(api, world.facilitator, "/problems")}
    assert listed[problem["id"]]["open_action_count"] == 3
    assert listed[problem["id"]]["overdue_action_count"] == 2
    assert listed[other["id"]]["overdue_action_count"] == 1


async def test_read_unknown_problem_is_404(world: World) -> None:
    problem_of(await world.api.get(world.admin, f"/problems/{uuid.uuid4()}"), 404)


# --- editing -------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_given(world: World) -> None:
    api = world.api
    problem = await api.problem(
        world.facilitator,
        world.gpo,
        objective="Faire cesser les regroupements.",
        time_pattern="Week-ends",
        location={"address": "rue de Toul", **METZ},
    )
    response = await api.patch(
        world.facilitator,
        f"/problems/{problem['id']}",
        json={"title": "Regroupements hall 4, rue de Toul", "priority": "urgent"},
    )
    patched = expect(response, 200)
    assert patched["title"] == "Regroupements hall 4, rue de Toul"
    assert patched["priority"] == "urgent"
    untouched = ("description", "category", "commune_code", "objective", "time_pattern")
    for name in (*untouched, "location", "visibility", "status", "reference", "created_at"):
        assert patched[name] == problem[name], name
    assert patched["version"] == problem["version"] + 1
    assert response.headers["ETag"] == f'"{patched["version"]}"'
    assert moment(patched["updated_at"]) >= moment(problem["updated_at"])
    assert await read(api, world.facilitator, problem) == resource(patched)


async def test_patch_null_clears_nullable_fields(world: World) -> None:
    api = world.api
    problem = await api.problem(
        world.facilitator,
        world.gpo,
        objective="Réduire les appels au 17.",
        time_pattern="Nuits",
        location={"address": "rue de Toul", **METZ},
    )
    patched = expect(
        await api.patch(
            world.facilitator,
            f"/problems/{problem['id']}",
            json={"objective": None, "time_pattern": None, "location": None},
        ),
        200,
    )
    assert patched["objective"] is None
    assert patched["time_pattern"] is None
    assert patched["location"] is None or all(v is None for v in patched["location"].values())
    assert patched["title"] == problem["title"]
    assert patched["version"] == problem["version"] + 1
    again = await read(api, world.facilitator, problem)
    assert again["objective"] is None
    assert again["time_pattern"] is None


@pytest.mark.parametrize("field", ["title", "description", "category", "priority", "displacement"])
async def test_patch_null_on_a_required_field_is_refused(world: World, field: str) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await api.patch(world.facilitator, f"/problems/{problem['id']}", json={field: None})
    assert ["body", field] in locs(problem_of(response, 422))
    assert await read(api, world.facilitator, problem) == resource(problem)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "open"},
        {"reference": "P-2020-000001"},
        {"outcome": "reduced"},
        {"version": 9},
        {"unknown": 1},
        {"category": "unicorn_sighting"},
        {"commune_code": "99999"},
        {"location": {"lat": 49.1}},
    ],
)
async def test_patch_refuses_server_owned_and_invalid_fields(
    world: World, body: dict[str, Any]
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await api.patch(world.facilitator, f"/problems/{problem['id']}", json=body)
    field = next(iter(body))
    assert any(loc[:2] == ["body", field] for loc in locs(problem_of(response, 422)))
    assert await read(api, world.facilitator, problem) == resource(problem)


@pytest.mark.parametrize("value", ["none", "displacement", "diffusion", "unknown"])
async def test_patch_sets_displacement(world: World, value: str) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    if value == "unknown":  # from another value back to unknown
        expect(
            await api.patch(
                world.facilitator, f"/problems/{problem['id']}", json={"displacement": "none"}
            ),
            200,
        )
    patched = expect(
        await api.patch(
            world.facilitator, f"/problems/{problem['id']}", json={"displacement": value}
        ),
        200,
    )
    assert patched["displacement"] == value
    assert (await read(api, world.facilitator, problem))["displacement"] == value


async def test_version_and_etag_rise_with_each_change(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    path = f"/problems/{problem['id']}"
    versions = [problem["version"]]
    for title in ("Premier titre", "Deuxième titre", "Troisième titre"):
        response = await api.patch(world.facilitator, path, json={"title": title})
        versions.append(expect(response, 200)["version"])
        assert response.headers["ETag"] == f'"{versions[-1]}"'
    assert versions == list(range(versions[0], versions[0] + 4))
    response = await api.get(world.facilitator, path)
    assert response.headers["ETag"] == f'"{versions[-1]}"'


async def test_if_match_current_version_is_accepted(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await api.patch(
        world.facilitator,
        f"/problems/{problem['id']}",
        json={"title": "Titre revu"},
        headers={"If-Match": f'"{problem["version"]}"'},
    )
    assert expect(response, 200)["title"] == "Titre revu"


async def test_stale_if_match_gives_412_and_changes_nothing(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    path = f"/problems/{problem['id']}"
    stale = f'"{problem["version"]}"'
    expect(await api.patch(world.facilitator, path, json={"title": "Titre A"}), 200)
    current = await read(api, world.facilitator, problem)

    response = await api.patch(
        world.facilitator, path, json={"title": "Titre B"}, headers={"If-Match": stale}
    )
    problem_of(response, 412)
    response = await api.post(
        world.facilitator, f"{path}/transitions", json={"to": "open"}, headers={"If-Match": stale}
    )
    problem_of(response, 412)
    assert await read(api, world.facilitator, problem) == current


# --- lifecycle -------------------------------------------------------------------------


LEGAL_MOVES = [
    ("new", {"to": "open"}),
    ("open", {"to": "monitoring"}),
    ("monitoring", {"to": "open"}),
    ("open", {"to": "closed", "outcome": "better_handled"}),
    ("open", {"to": "closed", "outcome": "responsibility_shifted"}),
    ("monitoring", {"to": "closed", "outcome": "no_improvement"}),
    ("closed", {"to": "open", "note": "Les regroupements ont repris."}),
    ("new", {"to": "closed", "outcome": "duplicate"}),
    ("new", {"to": "closed", "outcome": "not_in_scope"}),
]


@pytest.mark.parametrize(
    ("start", "move"), LEGAL_MOVES, ids=[f"{s}->{m['to']}" for s, m in LEGAL_MOVES]
)
async def test_every_legal_move(world: World, start: str, move: dict[str, Any]) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    await bring_to(api, world.facilitator, problem, start)
    before = await read(api, world.facilitator, problem)
    assert before["status"] == start

    response = await api.post(
        world.facilitator, f"/problems/{problem['id']}/transitions", json=move
    )
    moved = expect(response, 200)
    assert moved["status"] == move["to"]
    assert moved["version"] == before["version"] + 1
    assert response.headers["ETag"] == f'"{moved["version"]}"'
    if move["to"] == "closed":
        assert moved["outcome"] == move["outcome"]
        assert moved["closed_at"] is not None
    else:
        assert moved["outcome"] is None
        assert moved["closed_at"] is None
    assert await read(api, world.facilitator, problem) == resource(moved)


ILLEGAL_MOVES = [
    ("new", {"to": "monitoring"}),
    ("new", {"to": "new"}),
    ("open", {"to": "new"}),
    ("open", {"to": "open"}),
    ("monitoring", {"to": "new"}),
    ("monitoring", {"to": "monitoring"}),
    ("closed", {"to": "monitoring"}),
    ("closed", {"to": "new"}),
    ("closed", {"to": "closed", "outcome": "better_handled"}),
]


@pytest.mark.parametrize(
    ("start", "move"), ILLEGAL_MOVES, ids=[f"{s}->{m['to']}" for s, m in ILLEGAL_MOVES]
)
async def test_illegal_moves_are_409_and_change_nothing(
    world: World, start: str, move: dict[str, Any]
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    await bring_to(api, world.facilitator, problem, start)
    before = await read(api, world.facilitator, problem)
    response = await api.post(
        world.facilitator, f"/problems/{problem['id']}/transitions", json=move
    )
    problem_of(response, 409)
    assert await read(api, world.facilitator, problem) == before


@pytest.mark.parametrize("outcome", ["better_handled", "no_improvement", "responsibility_shifted"])
async def test_a_new_problem_closes_only_as_duplicate_or_not_in_scope(
    world: World, outcome: str
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await api.move(world.facilitator, problem, "closed", outcome=outcome)
    problem_of(response, 409)
    assert await read(api, world.facilitator, problem) == resource(problem)


@pytest.mark.parametrize("start", ["new", "open", "monitoring"])
async def test_closing_needs_an_outcome(world: World, start: str) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    await bring_to(api, world.facilitator, problem, start)
    before = await read(api, world.facilitator, problem)
    response = await api.move(world.facilitator, problem, "closed", note="Fini.")
    assert ["body", "outcome"] in locs(problem_of(response, 422))
    assert await read(api, world.facilitator, problem) == before


@pytest.mark.parametrize("extra", [{}, {"note": "   "}])
async def test_reopening_needs_a_note(world: World, extra: dict[str, Any]) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    await bring_to(api, world.facilitator, problem, "closed")
    before = await read(api, world.facilitator, problem)
    response = await api.move(world.facilitator, problem, "open", **extra)
    assert ["body", "note"] in locs(problem_of(response, 422))
    assert await read(api, world.facilitator, problem) == before


async def test_closing_records_outcome_note_closed_at_and_displacement(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    await bring_to(api, world.facilitator, problem, "monitoring")
    closed = expect(
        await api.move(
            world.facilitator,
            problem,
            "closed",
            outcome="responsibility_shifted",
            note="Confié au bailleur, qui a fermé le hall.",
            displacement="diffusion",
        ),
        200,
    )
    assert closed["status"] == "closed"
    assert closed["outcome"] == "responsibility_shifted"
    assert closed["outcome_note"] == "Confié au bailleur, qui a fermé le hall."
    assert closed["displacement"] == "diffusion"
    assert closed["closed_at"] is not None
    assert moment(closed["closed_at"]) >= moment(problem["created_at"])
    assert resource(closed) == await read(api, world.facilitator, problem)


async def test_closing_without_displacement_keeps_the_one_recorded(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    path = f"/problems/{problem['id']}"
    expect(await api.patch(world.facilitator, path, json={"displacement": "none"}), 200)
    await bring_to(api, world.facilitator, problem, "open")
    closed = expect(
        await api.move(world.facilitator, problem, "closed", outcome="better_handled"), 200
    )
    assert closed["displacement"] == "none"
    assert closed["outcome_note"] is None


async def test_reopening_clears_outcome_and_closed_at_but_the_timeline_keeps_them(
    world: World,
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    await bring_to(api, world.facilitator, problem, "open")
    closed = expect(
        await api.move(
            world.facilitator, problem, "closed", outcome="better_handled", note="Traité."
        ),
        200,
    )
    reopened = expect(
        await api.move(world.facilitator, problem, "open", note="Les troubles ont repris."), 200
    )
    assert reopened["status"] == "open"
    assert reopened["outcome"] is None
    assert reopened["outcome_note"] is None
    assert reopened["closed_at"] is None
    assert reopened["version"] == closed["version"] + 1

    events = await every_page(api, world.facilitator, f"/problems/{problem['id']}/timeline")
    transitions = [e for e in events if e["kind"] == "problem.transition"]
    closing, reopening = transitions[-2], transitions[-1]
    assert closing["changes"]["status"] == ["open", "closed"]
    assert closing["changes"]["outcome"] == [None, "better_handled"]
    assert reopening["changes"]["status"] == ["closed", "open"]
    assert reopening["changes"]["outcome"] == ["better_handled", None]
    assert reopening["changes"]["closed_at"][0] is not None
    assert reopening["changes"]["closed_at"][1] is None
    assert "Les troubles ont repris." in reopening["summary"]


async def test_a_closed_problem_can_be_closed_again_after_reopening(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    await bring_to(api, world.facilitator, problem, "closed")
    expect(await api.move(world.facilitator, problem, "open", note="Reprise."), 200)
    again = expect(
        await api.move(world.facilitator, problem, "closed", outcome="no_improvement"), 200
    )
    assert again["outcome"] == "no_improvement"
    assert again["closed_at"] is not None


# --- lists -----------------------------------------------------------------------------


async def test_list_filters(world: World) -> None:
    api = world.api
    fac = world.facilitator
    second_gpo = await api.gpo(fac, communes=["57751"], members=[world.landlord])
    a = await api.problem(fac, world.gpo, category="wrecked_vehicle", priority="high")
    b = await api.problem(fac, world.gpo, commune_code="57480", priority="low")
    c = await api.problem(fac, second_gpo, commune_code="57751", category="wrecked_vehicle")
    d = await api.problem(fac, world.gpo, priority="high")
    await bring_to(api, fac, b, "open")
    await bring_to(api, fac, c, "monitoring")
    await bring_to(api, fac, d, "closed")

    def same(found: list[str], *expected: dict[str, Any]) -> None:
        assert sorted(found) == sorted(p["id"] for p in expected)

    same(await listed_ids(api, fac), a, b, c, d)
    same(await listed_ids(api, fac, status="new"), a)
    same(await listed_ids(api, fac, status=["open", "monitoring"]), b, c)
    same(await listed_ids(api, fac, status=["new", "closed"]), a, d)
    same(await listed_ids(api, fac, gpo_id=world.gpo["id"]), a, b, d)
    same(await listed_ids(api, fac, gpo_id=second_gpo["id"]), c)
    same(await listed_ids(api, fac, commune_code="57463"), a, d)
    same(await listed_ids(api, fac, commune_code="57480"), b)
    same(await listed_ids(api, fac, commune_code="57412"))
    same(await listed_ids(api, fac, category="wrecked_vehicle"), a, c)
    same(await listed_ids(api, fac, priority="high"), a, d)
    same(await listed_ids(api, fac, priority="high", status="new"), a)
    same(await listed_ids(api, fac, priority="urgent"))


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending"},
        {"priority": "critical"},
        {"gpo_id": "not-a-uuid"},
        {"has_overdue_actions": "perhaps"},
        {"sort": "title"},
        {"limit": "0"},
        {"limit": "201"},
        {"created_from": "yesterday"},
        {"created_to": "2026-13-45"},
        {"created_from": "2026-03-14T18:30:00"},  # no offset
        {"bbox": "6.1,49.1,6.2"},
        {"bbox": "6.2,49.1,6.1,49.2"},  # min above max
    ],
)
async def test_invalid_list_parameters_are_422_naming_them(
    world: World, params: dict[str, str]
) -> None:
    response = await world.api.get(world.facilitator, "/problems", params=params)
    name = next(iter(params))
    assert any(loc[:2] == ["query", name] for loc in locs(problem_of(response, 422)))


async def test_filter_by_assignee_organisation_and_overdue_actions(world: World) -> None:
    api = world.api
    fac = world.facilitator
    past = (today_in_paris() - timedelta(days=3)).isoformat()
    overdue = await api.problem(fac, world.gpo)
    done_late = await api.problem(fac, world.gpo)
    on_time = await api.problem(fac, world.gpo)
    bare = await api.problem(fac, world.gpo)
    await api.action(fac, overdue, world.landlord, due_date=past)
    late = await api.action(fac, done_late, world.municipal_police, due_date=past)
    await set_action_status(api, fac, late, "done")
    await api.action(fac, on_time, world.landlord, due_date="2099-12-31")

    def ids(*problems: dict[str, Any]) -> list[str]:
        return sorted(p["id"] for p in problems)

    assert sorted(await listed_ids(api, fac, has_overdue_actions="true")) == ids(overdue)
    assert sorted(await listed_ids(api, fac, has_overdue_actions="false")) == ids(
        done_late, on_time, bare
    )
    assert sorted(await listed_ids(api, fac, assignee_organisation_id=world.landlord["id"])) == ids(
        overdue, on_time
    )
    assert sorted(
        await listed_ids(api, fac, assignee_organisation_id=world.municipal_police["id"])
    ) == ids(done_late)
    assert await listed_ids(api, fac, assignee_organisation_id=world.national_police["id"]) == []


async def test_q_ignores_case_and_accents_and_finds_references(world: World) -> None:
    api = world.api
    fac = world.facilitator
    wreck = await api.problem(fac, world.gpo, title="Epave rue des Allemands")
    described = await api.problem(
        fac,
        world.gpo,
        title="Stationnement gênant",
        description="Une Épave calcinée bloque l'accès pompiers.",
    )
    other = await api.problem(fac, world.gpo, title="Rodéos de quads", description="Bruit.")
    for q in ("ÉPAVE", "epave", "Épave", "EPAVE", "épave"):
        assert sorted(await listed_ids(api, fac, q=q)) == sorted([wreck["id"], described["id"]]), q
    assert await listed_ids(api, fac, q="rodeos") == [other["id"]]
    assert await listed_ids(api, fac, q="GÊNANT") == [described["id"]]
    assert await listed_ids(api, fac, q="nothing like this") == []

    for q in (other["reference"], other["reference"].lower()):
        assert await listed_ids(api, fac, q=q) == [other["id"]]
    # Wildcards are taken literally.
    assert await listed_ids(api, fac, q="%") == []
    assert await listed_ids(api, fac, q="_") == []


async def test_q_follows_edits_of_title_and_description(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, title="Rodéos de motos")
    expect(
        await api.patch(
            world.facilitator, f"/problems/{problem['id']}", json={"title": "Dépôts sauvages"}
        ),
        200,
    )
    assert await listed_ids(api, world.facilitator, q="depots") == [problem["id"]]
    assert await listed_ids(api, world.facilitator, q="rodeos") == []


async def test_created_from_and_created_to_accept_paris_days(world: World) -> None:
    api = world.api
    fac = world.facilitator
    problem = await api.problem(fac, world.gpo)
    day = moment(problem["created_at"]).astimezone(PARIS).date()
    before, after = day - timedelta(days=1), day + timedelta(days=1)

    assert await listed_ids(api, fac, created_from=day.isoformat()) == [problem["id"]]
    assert await listed_ids(api, fac, created_to=day.isoformat()) == [problem["id"]]
    assert await listed_ids(api, fac, created_from=day.isoformat(), created_to=day.isoformat()) == [
        problem["id"]
    ]
    assert await listed_ids(api, fac, created_from=before.isoformat()) == [problem["id"]]
    assert await listed_ids(api, fac, created_to=after.isoformat()) == [problem["id"]]
    assert await listed_ids(api, fac, created_from=after.isoformat()) == []
    assert await listed_ids(api, fac, created_to=before.isoformat()) == []


async def test_created_from_and_created_to_accept_rfc3339_datetimes(world: World) -> None:
    api = world.api
    fac = world.facilitator
    first = await api.problem(fac, world.gpo)
    await asyncio.sleep(0.02)
    second = await api.problem(fac, world.gpo)
    start, end = moment(first["created_at"]), moment(second["created_at"])
    assert start < end
    middle = start + (end - start) / 2

    for offset in (PARIS, ZoneInfo("UTC"), ZoneInfo("America/New_York")):
        bound = middle.astimezone(offset).isoformat()
        assert await listed_ids(api, fac, created_from=bound) == [second["id"]], bound
        assert await listed_ids(api, fac, created_to=bound) == [first["id"]], bound
    zulu = middle.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert await listed_ids(api, fac, created_from=zulu) == [second["id"]]
    early = (start - timedelta(hours=1)).astimezone(PARIS).isoformat(timespec="seconds")
    late = (end + timedelta(hours=1)).astimezone(PARIS).isoformat(timespec="seconds")
    assert sorted(await listed_ids(api, fac, created_from=early, created_to=late)) == sorted(
        [first["id"], second["id"]]
    )
    assert await listed_ids(api, fac, created_from=late) == []
    assert await listed_ids(api, fac, created_to=early) == []


async def test_bbox_keeps_located_problems_inside_the_box(world: World) -> None:
    api = world.api
    fac = world.facilitator
    metz = await api.problem(fac, world.gpo, location=METZ)
    woippy = await api.problem(fac, world.gpo, commune_code="57751", location=WOIPPY)
    await api.problem(fac, world.gpo, location={"address": "Place Saint-Louis"})
    await api.problem(fac, world.gpo)

    assert await listed_ids(api, fac, bbox="6.17,49.11,6.18,49.13") == [metz["id"]]
    assert await listed_ids(api, fac, bbox="6.15,49.14,6.16,49.16") == [woippy["id"]]
    assert sorted(await listed_ids(api, fac, bbox="6.0,49.0,6.3,49.2")) == sorted(
        [metz["id"], woippy["id"]]
    )
    assert await listed_ids(api, fac, bbox="5.0,48.0,5.5,48.5") == []


async def create_in_order(world: World, priorities: list[str]) -> list[dict[str, Any]]:
    created = []
    for priority in priorities:
        created.append(await world.api.problem(world.facilitator, world.gpo, priority=priority))
        await asyncio.sleep(0.002)
    return created


async def test_default_sort_is_newest_first(world: World) -> None:
    problems = await create_in_order(world, ["normal"] * 5)
    newest_first = [p["id"] for p in reversed(problems)]
    assert await listed_ids(world.api, world.facilitator) == newest_first
    assert await listed_ids(world.api, world.facilitator, sort="-created_at") == newest_first
    assert await listed_ids(world.api, world.facilitator, sort="created_at") == newest_first[::-1]


async def test_sort_by_last_update(world: World) -> None:
    api = world.api
    a, b, c = await create_in_order(world, ["normal"] * 3)
    expect(await api.patch(world.facilitator, f"/problems/{a['id']}", json={"title": "Revu"}), 200)
    await asyncio.sleep(0.002)
    expect(await api.move(world.facilitator, b, "open"), 200)
    assert await listed_ids(api, world.facilitator, sort="-updated_at") == [
        b["id"],
        a["id"],
        c["id"],
    ]


async def test_sort_by_priority_most_urgent_first_then_newest(world: World) -> None:
    low, urgent_old, normal, high, urgent_new = await create_in_order(
        world, ["low", "urgent", "normal", "high", "urgent"]
    )
    assert await listed_ids(world.api, world.facilitator, sort="-priority") == [
        urgent_new["id"],
        urgent_old["id"],
        high["id"],
        normal["id"],
        low["id"],
    ]


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "-updated_at", "-priority"])
async def test_pages_follow_each_other_in_order(world: World, sort: str) -> None:
    api = world.api
    problems = await create_in_order(
        world, ["low", "urgent", "normal", "high", "urgent", "normal", "low"]
    )
    expect(
        await api.patch(world.facilitator, f"/problems/{problems[2]['id']}", json={"title": "X"}),
        200,
    )
    whole = expect(await api.get(world.facilitator, "/problems", params={"sort": sort}), 200)
    assert whole["next_cursor"] is None
    assert len(whole["items"]) == len(problems)

    pages = []
    cursor = None
    while True:
        params = {"sort": sort, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = expect(await api.get(world.facilitator, "/problems", params=params), 200)
        assert len(page["items"]) <= 2
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert [p["id"] for page in pages for p in page] == [p["id"] for p in whole["items"]]


async def test_a_cursor_is_bound_to_its_sort_and_filters(world: World) -> None:
    api = world.api
    await create_in_order(world, ["normal"] * 3)
    first = expect(await api.get(world.facilitator, "/problems", params={"limit": "1"}), 200)
    cursor = first["next_cursor"]
    assert cursor
    # The cursor works with the list it came from...
    second = expect(
        await api.get(world.facilitator, "/problems", params={"limit": "1", "cursor": cursor}), 200
    )
    assert [p["id"] for p in second["items"]] != [p["id"] for p in first["items"]]
    # ...and nowhere else.
    for params in (
        {"sort": "created_at", "cursor": cursor},
        {"status": "new", "cursor": cursor},
        {"cursor": cursor[:-2] + ("00" if not cursor.endswith("00") else "11")},
        {"cursor": "not-a-cursor"},
    ):
        problem_of(await api.get(world.facilitator, "/problems", params=params), 400)


# --- GeoJSON ---------------------------------------------------------------------------


GEO = {"Accept": "application/geo+json"}


async def test_geojson_lists_located_problems_as_points(world: World) -> None:
    api = world.api
    fac = world.facilitator
    metz = await api.problem(fac, world.gpo, location={"address": "rue de Toul", **METZ})
    woippy = await api.problem(fac, world.gpo, commune_code="57751", location=WOIPPY)
    await api.problem(fac, world.gpo, location={"address": "Sans coordonnées"})
    await api.problem(fac, world.gpo)

    response = await api.get(fac, "/problems", headers=GEO)
    body = expect(response, 200)
    assert response.headers["content-type"].startswith("application/geo+json")
    assert body["type"] == "FeatureCollection"
    assert "next_cursor" in body
    assert body["next_cursor"] is None
    by_id = {feature["properties"]["id"]: feature for feature in body["features"]}
    assert sorted(by_id) == sorted([metz["id"], woippy["id"]])
    for problem, place in ((metz, METZ), (woippy, WOIPPY)):
        feature = by_id[problem["id"]]
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert lon == pytest.approx(place["lon"])
        assert lat == pytest.approx(place["lat"])
        properties = feature["properties"]
        assert properties["reference"] == problem["reference"]
        assert properties["title"] == problem["title"]
        assert properties["status"] == "new"

    # Newest first, as the JSON list.
    assert [f["properties"]["id"] for f in body["features"]] == [woippy["id"], metz["id"]]


async def test_geojson_honours_filters_and_cursor(world: World) -> None:
    api = world.api
    fac = world.facilitator
    located = [await api.problem(fac, world.gpo, location=METZ) for _ in range(3)]
    await api.problem(fac, world.gpo)  # not located: never a feature
    woippy = await api.problem(fac, world.gpo, commune_code="57751", location=WOIPPY)

    filtered = expect(
        await api.get(fac, "/problems", params={"commune_code": "57751"}, headers=GEO), 200
    )
    assert [f["properties"]["id"] for f in filtered["features"]] == [woippy["id"]]
    boxed = expect(
        await api.get(fac, "/problems", params={"bbox": "6.17,49.11,6.18,49.13"}, headers=GEO),
        200,
    )
    assert sorted(f["properties"]["id"] for f in boxed["features"]) == sorted(
        p["id"] for p in located
    )

    features = await every_page(api, fac, "/problems", limit=2, headers=GEO, items="features")
    assert [f["properties"]["id"] for f in features] == [
        woippy["id"],
        *(p["id"] for p in reversed(located)),
    ]


async def test_geojson_shows_only_what_the_caller_may_see(world: World) -> None:
    api = world.api
    police_only = await api.problem(
        world.facilitator, world.gpo, visibility="police", location=METZ
    )
    shared = await api.problem(world.facilitator, world.gpo, location=WOIPPY)
    for caller, expected in (
        (world.landlord_partner, [shared["id"]]),
        (world.municipal_partner, [shared["id"], police_only["id"]]),
        (world.outsider_partner, []),
    ):
        body = expect(await api.get(caller, "/problems", headers=GEO), 200)
        assert [f["properties"]["id"] for f in body["features"]] == expected


# --- timeline --------------------------------------------------------------------------


async def test_timeline_tells_the_story_oldest_first(world: World) -> None:
    api = world.api
    fac = world.facilitator
    problem = await api.problem(fac, world.gpo, title="Rodéos rue de Toul")
    path = f"/problems/{problem['id']}"
    expect(await api.patch(fac, path, json={"title": "Rodéos motorisés rue de Toul"}), 200)
    expect(await api.move(fac, problem, "open"), 200)
    expect(
        await api.post(world.landlord_partner, f"{path}/comments", json={"body": "Vu hier soir."}),
        201,
    )
    action = await api.action(fac, problem, world.landlord, title="Fermer l'accès au parking")
    expect(
        await api.patch(
            world.landlord_partner,
            f"/actions/{action['id']}",
            json={"status": "done", "result_note": "Barrière posée."},
        ),
        200,
    )

    events = await every_page(api, fac, f"{path}/timeline")
    assert [e["kind"] for e in events] == [
        "problem.create",
        "problem.update",
        "problem.transition",
        "comment.create",
        "action.create",
        "action.update",
    ]
    times = [moment(e["at"]) for e in events]
    assert times == sorted(times)
    assert len({e["id"] for e in events}) == len(events)

    created, updated, moved, commented, assigned, progressed = events
    for event in (created, updated, moved, assigned):
        assert event["actor_id"] == fac.id
        assert event["actor_name"] == "Claire Martin"
    for event in (commented, progressed):
        assert event["actor_id"] == world.landlord_partner.id
        assert event["actor_name"] == "Sophie Leroy"
    assert problem["reference"] in created["summary"]
    assert updated["changes"] == {"title": ["Rodéos rue de Toul", "Rodéos motorisés rue de Toul"]}
    assert moved["changes"]["status"] == ["new", "open"]
    assert "Vu hier soir." in commented["summary"]
    assert "Fermer l'accès au parking" in assigned["summary"]
    assert progressed["changes"]["status"] == ["planned", "done"]
    assert progressed["changes"]["result_note"] == [None, "Barrière posée."]
    assert all(e["summary"] for e in events)


async def test_the_timeline_speaks_french(world: World) -> None:
    """Summaries name statuses, outcomes and dates as the minutes do, never the API's codes."""
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    path = f"/problems/{problem['id']}"
    expect(await api.move(fac, problem, "open"), 200)
    expect(
        await api.move(fac, problem, "closed", outcome="no_improvement", note="Rien n'a changé."),
        200,
    )
    expect(await api.move(fac, problem, "open", note="Les troubles ont repris."), 200)
    action = await api.action(
        fac, problem, world.landlord, title="Courrier aux locataires", due_date="2030-04-15"
    )
    expect(await api.patch(fac, f"/actions/{action['id']}", json={"status": "in_progress"}), 200)

    summaries = [e["summary"] for e in await every_page(api, fac, f"{path}/timeline")]
    assert summaries[1] == "Statut : nouveau → ouvert"
    assert summaries[2] == "Statut : ouvert → clos (sans amélioration). Rien n'a changé."
    assert summaries[3] == "Statut : clos → ouvert. Les troubles ont repris."
    assert summaries[4].endswith("échéance le 15/04/2030")
    assert summaries[5] == "Action « Courrier aux locataires » : prévue → en cours"
    for code in ("new", "open", "closed", "no_improvement", "planned", "in_progress"):
        assert all(code not in summary.split() for summary in summaries), code


async def test_timeline_starts_with_the_creation(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    events = await every_page(api, world.facilitator, f"/problems/{problem['id']}/timeline")
    assert [e["kind"] for e in events] == ["problem.create"]
    created = events[0]
    assert created["actor_id"] == world.facilitator.id
    assert created["actor_name"] == "Claire Martin"
    assert problem["reference"] in created["summary"]
    assert moment(created["at"]) >= moment(problem["created_at"]) - timedelta(seconds=1)
    # The landlord, a member, sees the same creation event.
    landlord_view = await every_page(
        api, world.landlord_partner, f"/problems/{problem['id']}/timeline"
    )
    assert [e["id"] for e in landlord_view] == [created["id"]]


async def test_timeline_pages_keep_the_order(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    path = f"/problems/{problem['id']}"
    for index in range(5):
        expect(await api.patch(world.facilitator, path, json={"title": f"Titre {index}"}), 200)
    whole = await every_page(api, world.facilitator, f"{path}/timeline")
    paged = await every_page(api, world.facilitator, f"{path}/timeline", limit=2)
    assert [e["id"] for e in paged] == [e["id"] for e in whole]
    updates = [e for e in whole if e["kind"] == "problem.update"]
    assert [e["changes"]["title"][1] for e in updates] == [f"Titre {i}" for i in range(5)]


async def test_a_refused_change_leaves_no_trace_in_the_timeline(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    path = f"/problems/{problem['id']}"
    problem_of(await api.patch(world.landlord_partner, path, json={"title": "Piraté"}), 403)
    problem_of(await api.move(world.facilitator, problem, "monitoring"), 409)
    problem_of(await api.patch(world.facilitator, path, json={"title": None}), 422)
    events = await every_page(api, world.facilitator, f"{path}/timeline")
    assert [e["kind"] for e in events if e["kind"] != "problem.create"] == []


# --- comments --------------------------------------------------------------------------


async def comment(
    api: Api, caller: Caller, problem: dict[str, Any], body: str, visibility: str | None = None
) -> httpx.Response:
    payload: dict[str, Any] = {"body": body}
    if visibility is not None:
        payload["visibility"] = visibility
    return await api.post(caller, f"/problems/{problem['id']}/comments", json=payload)


async def comment_bodies(api: Api, caller: Caller, problem: dict[str, Any]) -> list[str]:
    items = await every_page(api, caller, f"/problems/{problem['id']}/comments")
    return [item["body"] for item in items]


async def test_anyone_who_sees_the_problem_may_comment(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    authors = [
        (world.facilitator, "Claire Martin"),
        (world.landlord_partner, "Sophie Leroy"),
        (world.municipal_partner, "Karim Benali"),
        (world.police_partner, "Agent Dupont"),
        (world.commander, "Paul Durand"),
        (world.admin, None),
    ]
    for index, (caller, name) in enumerate(authors):
        created = expect(await comment(api, caller, problem, f"Commentaire {index}"), 201)
        assert created["body"] == f"Commentaire {index}"
        assert created["problem_id"] == problem["id"]
        assert created["visibility"] == "partners"
        if name is not None:
            assert created["author_name"] == name
            assert created["author_id"] == caller.id

    listed = await every_page(api, world.landlord_partner, f"/problems/{problem['id']}/comments")
    assert [c["body"] for c in listed] == [f"Commentaire {i}" for i in range(len(authors))]
    assert [c["author_name"] for c in listed[:5]] == [name for _, name in authors[:5]]

    for outsider in (world.outsider_partner, world.other_facilitator):
        problem_of(await comment(api, outsider, problem, "Intrus"), 404)
    assert "Intrus" not in await comment_bodies(api, world.facilitator, problem)


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   "}, {}, {"body": "x", "pinned": True}])
async def test_invalid_comments_are_refused(world: World, body: dict[str, Any]) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await api.post(world.facilitator, f"/problems/{problem['id']}/comments", json=body)
    problem_of(response, 422)
    assert await comment_bodies(api, world.facilitator, problem) == []


@pytest.mark.parametrize("visibility", ["police", "restricted"])
async def test_a_landlord_may_not_post_a_comment_it_could_not_read(
    world: World, visibility: str
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await comment(api, world.landlord_partner, problem, "Info sensible", visibility)
    assert ["body", "visibility"] in locs(problem_of(response, 422))
    assert await comment_bodies(api, world.facilitator, problem) == []


async def test_a_municipal_partner_may_post_police_but_not_restricted(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    police = expect(await comment(api, world.municipal_partner, problem, "Police", "police"), 201)
    assert police["visibility"] == "police"
    response = await comment(api, world.municipal_partner, problem, "Secret", "restricted")
    assert ["body", "visibility"] in locs(problem_of(response, 422))


async def test_police_comment_is_hidden_from_a_landlord_in_comments_and_timeline(
    world: World,
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    expect(await comment(api, world.landlord_partner, problem, "Hall squatté ce soir."), 201)
    secret = "Point de deal signalé à la CROSS."
    police = expect(await comment(api, world.facilitator, problem, secret, "police"), 201)
    assert police["visibility"] == "police"
    restricted = "Surveillance en cours."
    expect(await comment(api, world.police_partner, problem, restricted, "restricted"), 201)

    assert await comment_bodies(api, world.landlord_partner, problem) == ["Hall squatté ce soir."]
    assert await comment_bodies(api, world.municipal_partner, problem) == [
        "Hall squatté ce soir.",
        secret,
    ]
    everything = ["Hall squatté ce soir.", secret, restricted]
    for reader in (world.police_partner, world.facilitator, world.commander, world.admin):
        assert await comment_bodies(api, reader, problem) == everything

    def timeline_text(events: list[dict[str, Any]]) -> str:
        return " ".join(e["summary"] + str(e.get("changes")) for e in events)

    path = f"/problems/{problem['id']}/timeline"
    landlord_view = await every_page(api, world.landlord_partner, path)
    assert [e["kind"] for e in landlord_view].count("comment.create") == 1
    assert secret not in timeline_text(landlord_view)
    assert restricted not in timeline_text(landlord_view)
    municipal_view = await every_page(api, world.municipal_partner, path)
    assert secret in timeline_text(municipal_view)
    assert restricted not in timeline_text(municipal_view)
    police_view = await every_page(api, world.police_partner, path)
    assert restricted in timeline_text(police_view)
    assert [e["kind"] for e in police_view].count("comment.create") == 3


async def test_a_comment_is_at_least_as_strict_as_its_problem(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, visibility="police")
    default = expect(await comment(api, world.municipal_partner, problem, "Par défaut"), 201)
    assert default["visibility"] == "police"
    looser = expect(
        await comment(api, world.municipal_partner, problem, "Pour tous ?", "partners"), 201
    )
    assert looser["visibility"] == "police"

    # The problem is later opened to every partner: its earlier comments stay police-only.
    expect(
        await api.patch(
            world.facilitator, f"/problems/{problem['id']}", json={"visibility": "partners"}
        ),
        200,
    )
    assert await comment_bodies(api, world.landlord_partner, problem) == []
    assert await comment_bodies(api, world.municipal_partner, problem) == [
        "Par défaut",
        "Pour tous ?",
    ]


# --- sensitive categories: never downgraded ----------------------------------------------


async def timeline_kinds(api: Api, caller: Caller, problem: dict[str, Any]) -> list[str]:
    events = await every_page(api, caller, f"/problems/{problem['id']}/timeline")
    return [event["kind"] for event in events]


@pytest.mark.parametrize("asked", ["partners", "police"])
async def test_a_sensitive_problem_is_created_restricted_whatever_is_asked(
    world: World, asked: str
) -> None:
    api = world.api
    problem = await api.problem(
        world.facilitator, world.gpo, category="drug_dealing", visibility=asked
    )
    assert problem["visibility"] == "restricted"
    assert (await read(api, world.facilitator, problem))["visibility"] == "restricted"
    problem_of(await api.get(world.landlord_partner, f"/problems/{problem['id']}"), 404)
    problem_of(await api.get(world.municipal_partner, f"/problems/{problem['id']}"), 404)
    assert problem["id"] not in await listed_ids(api, world.landlord_partner)
    # The timeline says it was raised, and from what.
    events = await every_page(api, world.facilitator, f"/problems/{problem['id']}/timeline")
    raised = [e for e in events if e["kind"] == "problem.visibility_raised"]
    assert [e["changes"] for e in raised] == [{"visibility": [asked, "restricted"]}]
    assert "sensible" in raised[0]["summary"]


async def test_a_sensitive_category_keeps_restricted_even_when_its_default_is_edited(
    world: World,
) -> None:
    api = world.api
    expect(
        await api.patch(
            world.admin, "/categories/drug_dealing", json={"default_visibility": "partners"}
        ),
        200,
    )
    problem = await api.problem(world.facilitator, world.gpo, category="drug_dealing")
    assert problem["visibility"] == "restricted"


async def test_changing_the_category_to_a_sensitive_one_raises_the_visibility(
    world: World,
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, visibility="partners")
    path = f"/problems/{problem['id']}"
    patched = expect(
        await api.patch(world.facilitator, path, json={"category": "drug_dealing"}), 200
    )
    assert (patched["category"], patched["visibility"]) == ("drug_dealing", "restricted")
    assert patched["version"] == problem["version"] + 1
    problem_of(await api.get(world.landlord_partner, path), 404)
    events = await every_page(api, world.facilitator, f"{path}/timeline")
    update = [e for e in events if e["kind"] == "problem.update"]
    assert [e["changes"] for e in update] == [
        {"category": ["hall_occupation", "drug_dealing"], "visibility": ["partners", "restricted"]}
    ]
    assert "visibilité relevée" in update[0]["summary"]


async def test_making_a_category_sensitive_raises_its_problems(world: World) -> None:
    """An admin marks `rodeo` sensitive: its problems open to partners become restricted,
    each with its audit event; other categories' problems are left alone."""
    api = world.api
    rodeo = await api.problem(world.facilitator, world.gpo, category="rodeo", visibility="partners")
    other = await api.problem(world.facilitator, world.gpo, visibility="partners")
    expect(await api.get(world.landlord_partner, f"/problems/{rodeo['id']}"), 200)
    expect(await api.patch(world.admin, "/categories/rodeo", json={"sensitive": True}), 200)
    stored = await read(api, world.facilitator, rodeo)
    assert (stored["visibility"], stored["version"]) == ("restricted", rodeo["version"] + 1)
    problem_of(await api.get(world.landlord_partner, f"/problems/{rodeo['id']}"), 404)
    events = await every_page(api, world.facilitator, f"/problems/{rodeo['id']}/timeline")
    raised = [e for e in events if e["kind"] == "problem.visibility_raised"]
    assert [e["changes"] for e in raised] == [{"visibility": ["partners", "restricted"]}]
    assert (await read(api, world.facilitator, other))["visibility"] == "partners"
    # Once sensitive, the rule holds for it as for drug_dealing.
    refusal = await api.patch(
        world.facilitator, f"/problems/{rodeo['id']}", json={"visibility": "partners"}
    )
    problem_of(refusal, 409)


async def test_a_patch_asking_less_with_a_new_sensitive_category_is_raised(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, visibility="police")
    patched = expect(
        await api.patch(
            world.facilitator,
            f"/problems/{problem['id']}",
            json={"category": "drug_dealing", "visibility": "partners"},
        ),
        200,
    )
    assert patched["visibility"] == "restricted"


@pytest.mark.parametrize(
    "body",
    [
        {"visibility": "partners"},
        {"visibility": "police"},
        # Re-filing and lowering in one request is refused too: a downgrade is a second step.
        {"category": "hall_occupation", "visibility": "partners"},
    ],
)
async def test_lowering_a_sensitive_problem_is_409_and_writes_nothing(
    world: World, body: dict[str, Any]
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, category="drug_dealing")
    path = f"/problems/{problem['id']}"
    before = await timeline_kinds(api, world.facilitator, problem)
    refusal = problem_of(await api.patch(world.facilitator, path, json=body), 409)
    assert "restricted" in refusal["detail"]
    assert "drug_dealing" in refusal["detail"]
    assert locs(refusal) == [["body", "visibility"]]
    stored = await read(api, world.facilitator, problem)
    assert (stored["visibility"], stored["category"]) == ("restricted", "drug_dealing")
    assert stored["version"] == problem["version"]
    assert await timeline_kinds(api, world.facilitator, problem) == before


async def test_a_sensitive_problem_may_still_be_edited_and_kept_restricted(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, category="drug_dealing")
    path = f"/problems/{problem['id']}"
    patched = expect(
        await api.patch(
            world.facilitator,
            path,
            json={"title": "Point de deal hall C", "visibility": "restricted"},
        ),
        200,
    )
    assert (patched["title"], patched["visibility"]) == ("Point de deal hall C", "restricted")
    # Re-filed under a category that is not sensitive, it stays restricted until lowered.
    refiled = expect(
        await api.patch(world.facilitator, path, json={"category": "hall_occupation"}), 200
    )
    assert refiled["visibility"] == "restricted"
    lowered = expect(await api.patch(world.facilitator, path, json={"visibility": "partners"}), 200)
    assert lowered["visibility"] == "partners"
