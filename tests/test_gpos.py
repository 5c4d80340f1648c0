"""GPOs: who creates, sees and runs them, their defaults and the meeting cadence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import update

from app.gpos.models import Gpo
from tests.api import Api, Caller, World, expect, problem_of, unique


def when(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, f"{value} has no offset"
    return moment


def locs(problem: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in problem["errors"]]


def gpo_body(kind: str = "general", **extra: Any) -> dict[str, Any]:
    return {"name": unique(f"GPO {kind}"), "kind": kind, "commune_codes": ["57463"], **extra}


async def listed_ids(api: Api, caller: Caller, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        query = {"limit": 200, **params} | ({"cursor": cursor} if cursor else {})
        page = expect(await api.get(caller, "/gpos", params=query), 200)
        ids += [gpo["id"] for gpo in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def age(app: FastAPI, gpo: dict[str, Any], days: int) -> None:
    """Make the GPO look created `days` ago and never met since (as time would)."""
    created_at = datetime.now(UTC) - timedelta(days=days)
    due = created_at + timedelta(days=gpo["meeting_interval_days"])
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(Gpo)
            .where(Gpo.id == uuid.UUID(gpo["id"]))
            .values(created_at=created_at, next_meeting_due=due)
        )
        await session.commit()


# --- creation ---------------------------------------------------------------------------


async def test_facilitator_creates_a_gpo_and_facilitates_it(world: World) -> None:
    api = world.api
    body = gpo_body(
        "general",
        commune_codes=["57463", "57751"],
        member_organisation_ids=[world.national_police["id"], world.landlord["id"]],
    )
    response = await api.post(world.other_facilitator, "/gpos", json=body)
    created = expect(response, 201)
    assert created["name"] == body["name"]
    assert created["kind"] == "general"
    assert sorted(created["commune_codes"]) == ["57463", "57751"]
    assert sorted(created["member_organisation_ids"]) == sorted(body["member_organisation_ids"])
    assert created["facilitator_user_ids"] == [world.other_facilitator.id]
    assert response.headers["etag"] == f'"{created["version"]}"'

    read = expect(await api.get(world.other_facilitator, f"/gpos/{created['id']}"), 200)
    assert read["facilitator_user_ids"] == [world.other_facilitator.id]
    assert read["id"] == created["id"]


async def test_facilitator_naming_itself_is_listed_once(world: World) -> None:
    body = gpo_body(facilitator_user_ids=[world.other_facilitator.id, world.facilitator.id])
    created = expect(await world.api.post(world.facilitator, "/gpos", json=body), 201)
    assert sorted(created["facilitator_user_ids"]) == sorted(
        [world.facilitator.id, world.other_facilitator.id]
    )


async def test_admin_creates_a_gpo_for_facilitators(world: World) -> None:
    api = world.api
    body = gpo_body("transport", facilitator_user_ids=[world.other_facilitator.id])
    created = expect(await api.post(world.admin, "/gpos", json=body), 201)
    # The admin is not added as a facilitator.
    assert created["facilitator_user_ids"] == [world.other_facilitator.id]
    expect(await api.get(world.other_facilitator, f"/gpos/{created['id']}"), 200)
    problem_of(await api.get(world.facilitator, f"/gpos/{created['id']}"), 404)


async def test_partners_and_commanders_cannot_create_gpos(world: World) -> None:
    api = world.api
    before = await listed_ids(api, world.admin)
    for caller in (world.landlord_partner, world.police_partner, world.commander):
        problem_of(await api.post(caller, "/gpos", json=gpo_body()), 403)
    assert await listed_ids(api, world.admin) == before


async def test_default_meeting_intervals(world: World) -> None:
    api = world.api
    transport = expect(await api.post(world.facilitator, "/gpos", json=gpo_body("transport")), 201)
    general = expect(await api.post(world.facilitator, "/gpos", json=gpo_body("general")), 201)
    assert transport["meeting_interval_days"] == 31
    assert general["meeting_interval_days"] == 60
    chosen = expect(
        await api.post(world.facilitator, "/gpos", json=gpo_body(meeting_interval_days=14)), 201
    )
    assert chosen["meeting_interval_days"] == 14
    for bad in (0, 367, "30", 1.5):
        problem = problem_of(
            await api.post(world.facilitator, "/gpos", json=gpo_body(meeting_interval_days=bad)),
            422,
        )
        assert ["body", "meeting_interval_days"] in locs(problem), bad


async def test_new_gpo_cadence(world: World) -> None:
    for kind, days in (("transport", 31), ("general", 60)):
        created = expect(await world.api.post(world.facilitator, "/gpos", json=gpo_body(kind)), 201)
        assert created["last_meeting_at"] is None
        assert when(created["next_meeting_due"]) == when(created["created_at"]) + timedelta(
            days=days
        )
        assert created["cadence_breached"] is False
        assert abs(when(created["created_at"]) - datetime.now(UTC)) < timedelta(minutes=5)


async def test_gpo_input_is_validated(world: World) -> None:
    api = world.api
    for field, value in [
        ("kind", "thematic"),
        ("name", " "),
        ("commune_codes", "57463"),
        ("commune_codes", ["Metz"]),
        ("member_organisation_ids", ["not-a-uuid"]),
        ("next_meeting_due", "2030-01-01T00:00:00+00:00"),
        ("cadence_breached", True),
    ]:
        response = await api.post(world.facilitator, "/gpos", json=gpo_body() | {field: value})
        problem = problem_of(response, 422)
        assert any(loc[:2] == ["body", field] for loc in locs(problem)), (field, value)


async def test_unknown_references_name_the_list_index(world: World) -> None:
    api = world.api
    stranger = str(uuid.uuid4())
    cases = [
        ("commune_codes", ["57463", "99999"], 1),
        (
            "member_organisation_ids",
            [world.landlord["id"], world.national_police["id"], stranger],
            2,
        ),
        ("facilitator_user_ids", [stranger], 0),
        # A user who is not a facilitator cannot facilitate.
        ("facilitator_user_ids", [world.other_facilitator.id, world.landlord_partner.id], 1),
        ("facilitator_user_ids", [world.commander.id], 0),
    ]
    for field, value, index in cases:
        response = await api.post(world.facilitator, "/gpos", json=gpo_body() | {field: value})
        problem = problem_of(response, 422)
        assert ["body", field, index] in locs(problem), (field, value)
    assert await listed_ids(api, world.facilitator) == [world.gpo["id"]]


# --- visibility -------------------------------------------------------------------------


async def test_who_sees_which_gpo(world: World) -> None:
    api = world.api
    other = await api.gpo(world.other_facilitator, members=[world.outsider_org])
    mine, theirs = world.gpo["id"], other["id"]

    for caller in (world.admin, world.commander):
        assert {mine, theirs} <= set(await listed_ids(api, caller))
        for gpo_id in (mine, theirs):
            expect(await api.get(caller, f"/gpos/{gpo_id}"), 200)

    cases = [
        (world.facilitator, mine, theirs),
        (world.other_facilitator, theirs, mine),
        (world.landlord_partner, mine, theirs),
        (world.police_partner, mine, theirs),
        (world.municipal_partner, mine, theirs),
        (world.outsider_partner, theirs, mine),
    ]
    for caller, visible, hidden in cases:
        assert await listed_ids(api, caller) == [visible], caller.user["display_name"]
        expect(await api.get(caller, f"/gpos/{visible}"), 200)
        problem = problem_of(await api.get(caller, f"/gpos/{hidden}"), 404)
        # A hidden GPO looks exactly like one that does not exist.
        missing = problem_of(await api.get(caller, f"/gpos/{uuid.uuid4()}"), 404)
        assert problem["detail"] == missing["detail"]


async def test_a_facilitator_in_a_member_organisation_still_sees_only_its_gpos(
    world: World,
) -> None:
    # other_facilitator belongs to the national police, a member of world.gpo.
    problem_of(await world.api.get(world.other_facilitator, f"/gpos/{world.gpo['id']}"), 404)


async def test_partner_of_an_organisation_added_later_sees_the_gpo(world: World) -> None:
    api = world.api
    path = f"/gpos/{world.gpo['id']}"
    problem_of(await api.get(world.outsider_partner, path), 404)
    members = [*world.gpo["member_organisation_ids"], world.outsider_org["id"]]
    expect(await api.patch(world.facilitator, path, json={"member_organisation_ids": members}), 200)
    expect(await api.get(world.outsider_partner, path), 200)
    expect(
        await api.patch(
            world.facilitator, path, json={"member_organisation_ids": [world.landlord["id"]]}
        ),
        200,
    )
    problem_of(await api.get(world.outsider_partner, path), 404)
    problem_of(await api.get(world.police_partner, path), 404)
    expect(await api.get(world.landlord_partner, path), 200)


# --- list filters -----------------------------------------------------------------------


async def test_list_filters_by_kind_and_commune(world: World) -> None:
    api = world.api
    transport = await api.gpo(world.facilitator, kind="transport", communes=["57463", "57751"])
    woippy = await api.gpo(world.facilitator, communes=["57751"])
    general_metz = world.gpo["id"]

    assert await listed_ids(api, world.facilitator, kind="transport") == [transport["id"]]
    assert set(await listed_ids(api, world.facilitator, kind="general")) == {
        general_metz,
        woippy["id"],
    }
    assert set(await listed_ids(api, world.facilitator, commune_code="57751")) == {
        transport["id"],
        woippy["id"],
    }
    assert await listed_ids(api, world.facilitator, commune_code="57751", kind="general") == [
        woippy["id"]
    ]
    assert await listed_ids(api, world.facilitator, commune_code="57642") == []
    # The same filters never reveal what the caller may not see.
    assert await listed_ids(api, world.other_facilitator, commune_code="57751") == []

    problem = problem_of(await api.get(world.facilitator, "/gpos", params={"kind": "x"}), 422)
    assert ["query", "kind"] in locs(problem)


async def test_list_is_oldest_first(world: World) -> None:
    api = world.api
    later = [await api.gpo(world.facilitator) for _ in range(3)]
    assert await listed_ids(api, world.facilitator) == [world.gpo["id"]] + [g["id"] for g in later]


async def test_cadence_breached(world: World, app: FastAPI) -> None:
    api = world.api
    late = await api.gpo(world.facilitator, kind="transport")
    await age(app, late, 40)  # monthly GPO, 40 days without a meeting
    recent = await api.gpo(world.facilitator)
    await age(app, recent, 40)  # a general GPO meets every 60 days: not late yet

    read = expect(await api.get(world.facilitator, f"/gpos/{late['id']}"), 200)
    assert read["cadence_breached"] is True
    assert read["last_meeting_at"] is None
    assert when(read["next_meeting_due"]) < datetime.now(UTC)
    assert (
        expect(await api.get(world.facilitator, f"/gpos/{recent['id']}"), 200)["cadence_breached"]
        is False
    )

    assert await listed_ids(api, world.facilitator, cadence_breached="true") == [late["id"]]
    assert set(await listed_ids(api, world.facilitator, cadence_breached="false")) == {
        world.gpo["id"],
        recent["id"],
    }
    assert await listed_ids(api, world.commander, cadence_breached="true") == [late["id"]]
    assert await listed_ids(api, world.other_facilitator, cadence_breached="true") == []


async def test_changing_the_interval_moves_the_due_date(world: World, app: FastAPI) -> None:
    api = world.api
    gpo = await api.gpo(world.facilitator, kind="transport")
    await age(app, gpo, 40)
    path = f"/gpos/{gpo['id']}"
    before = expect(await api.get(world.facilitator, path), 200)
    assert before["cadence_breached"] is True

    after = expect(
        await api.patch(world.facilitator, path, json={"meeting_interval_days": 90}), 200
    )
    assert after["meeting_interval_days"] == 90
    assert when(after["next_meeting_due"]) == when(before["created_at"]) + timedelta(days=90)
    assert after["cadence_breached"] is False
    assert await listed_ids(api, world.facilitator, cadence_breached="true") == []


# --- updates ----------------------------------------------------------------------------


async def test_facilitator_updates_its_gpo(world: World) -> None:
    api = world.api
    path = f"/gpos/{world.gpo['id']}"
    response = await api.patch(
        world.facilitator,
        path,
        json={"name": "GPO Borny", "commune_codes": ["57463", "57480"]},
    )
    updated = expect(response, 200)
    assert updated["name"] == "GPO Borny"
    assert sorted(updated["commune_codes"]) == ["57463", "57480"]
    # Left out: untouched.
    assert updated["kind"] == world.gpo["kind"]
    assert sorted(updated["member_organisation_ids"]) == sorted(
        world.gpo["member_organisation_ids"]
    )
    assert updated["facilitator_user_ids"] == world.gpo["facilitator_user_ids"]
    assert updated["meeting_interval_days"] == world.gpo["meeting_interval_days"]
    assert updated["version"] > world.gpo["version"]
    assert response.headers["etag"] == f'"{updated["version"]}"'
    assert expect(await api.get(world.commander, path), 200) == updated


async def test_kind_is_fixed_after_creation(world: World) -> None:
    problem = problem_of(
        await world.api.patch(
            world.facilitator, f"/gpos/{world.gpo['id']}", json={"kind": "transport"}
        ),
        422,
    )
    assert ["body", "kind"] in locs(problem)


async def test_only_the_gpos_facilitators_or_an_admin_update_it(world: World) -> None:
    api = world.api
    path = f"/gpos/{world.gpo['id']}"
    # Cannot see it: 404. Sees it but may not run it: 403.
    problem_of(await api.patch(world.other_facilitator, path, json={"name": "X"}), 404)
    problem_of(await api.patch(world.outsider_partner, path, json={"name": "X"}), 404)
    for caller in (world.landlord_partner, world.police_partner, world.commander):
        problem_of(await api.patch(caller, path, json={"name": "X"}), 403)
    assert expect(await api.get(world.admin, path), 200) == world.gpo

    by_admin = expect(
        await api.patch(
            world.admin,
            path,
            json={"facilitator_user_ids": [world.facilitator.id, world.other_facilitator.id]},
        ),
        200,
    )
    assert sorted(by_admin["facilitator_user_ids"]) == sorted(
        [world.facilitator.id, world.other_facilitator.id]
    )
    # Now a facilitator of it, the other facilitator sees and runs it.
    expect(await api.patch(world.other_facilitator, path, json={"name": "GPO Woippy"}), 200)


async def test_update_refuses_unknown_references_and_changes_nothing(world: World) -> None:
    api = world.api
    path = f"/gpos/{world.gpo['id']}"
    stranger = str(uuid.uuid4())
    cases = [
        ("commune_codes", ["57463", "00000"], 1),
        ("member_organisation_ids", [stranger], 0),
        ("facilitator_user_ids", [world.facilitator.id, world.police_partner.id], 1),
    ]
    for field, value, index in cases:
        problem = problem_of(await api.patch(world.facilitator, path, json={field: value}), 422)
        assert ["body", field, index] in locs(problem), field
    assert expect(await api.get(world.facilitator, path), 200) == world.gpo


async def test_null_is_not_an_empty_list(world: World) -> None:
    path = f"/gpos/{world.gpo['id']}"
    for field in ("name", "commune_codes", "member_organisation_ids", "meeting_interval_days"):
        problem = problem_of(
            await world.api.patch(world.facilitator, path, json={field: None}), 422
        )
        assert ["body", field] in locs(problem), field


async def test_gpo_if_match(world: World) -> None:
    api = world.api
    path = f"/gpos/{world.gpo['id']}"
    etag = (await api.get(world.facilitator, path)).headers["etag"]
    expect(
        await api.patch(world.facilitator, path, json={"name": "A"}, headers={"If-Match": etag}),
        200,
    )
    problem_of(
        await api.patch(
            world.facilitator,
            path,
            json={"member_organisation_ids": []},
            headers={"If-Match": etag},
        ),
        412,
    )
    read = expect(await api.get(world.facilitator, path), 200)
    assert read["name"] == "A"
    assert sorted(read["member_organisation_ids"]) == sorted(world.gpo["member_organisation_ids"])


async def test_version_moves_with_list_changes_only(world: World) -> None:
    api = world.api
    path = f"/gpos/{world.gpo['id']}"
    version = world.gpo["version"]
    same = expect(
        await api.patch(
            world.facilitator,
            path,
            json={
                "name": world.gpo["name"],
                "member_organisation_ids": list(reversed(world.gpo["member_organisation_ids"])),
            },
        ),
        200,
    )
    assert same["version"] == version
    changed = expect(
        await api.patch(
            world.facilitator, path, json={"member_organisation_ids": [world.landlord["id"]]}
        ),
        200,
    )
    assert changed["version"] == version + 1
    assert changed["member_organisation_ids"] == [world.landlord["id"]]
