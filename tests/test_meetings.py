"""Meetings through HTTP: scheduling and recording them, the GPO's cadence, reviews, actions
decided at a meeting, the agenda and the minutes (compte rendu), as a facilitator's front end
and the partners use them."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.gpos.models import Gpo
from app.problems.models import Problem
from tests.api import Api, Caller, World, every_page, expect, problem_of, resource, unique
from tests.intake import submit, triage

PARIS = ZoneInfo("Europe/Paris")
PRIORITY_RANK = {"urgent": 3, "high": 2, "normal": 1, "low": 0}


# --- helpers ---------------------------------------------------------------------------


def moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, f"{value} has no offset"
    return parsed


def ago(**delta: float) -> datetime:
    """An instant in the past, to the second (UTC, so that adding days adds 24 h each)."""
    return (datetime.now(UTC) - timedelta(**delta)).replace(microsecond=0)


def ahead(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def today_in_paris() -> date:
    return datetime.now(PARIS).date()


def day(offset: int) -> str:
    return (today_in_paris() + timedelta(days=offset)).isoformat()


def french_day(value: str) -> str:
    return date.fromisoformat(value).strftime("%d/%m/%Y")


def instants(meeting: dict[str, Any]) -> dict[str, Any]:
    """A meeting with its times as instants: the same instant may be written in any offset."""
    return meeting | {
        name: moment(meeting[name]) for name in ("scheduled_at", "created_at", "updated_at")
    }


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


async def schedule(
    api: Api, caller: Caller, gpo: dict[str, Any], when: datetime, **extra: Any
) -> dict[str, Any]:
    body = {"scheduled_at": when.astimezone(PARIS).isoformat(), **extra}
    return dict(expect(await api.post(caller, f"/gpos/{gpo['id']}/meetings", json=body), 201))


async def read_gpo(api: Api, caller: Caller, gpo: dict[str, Any]) -> dict[str, Any]:
    return dict(expect(await api.get(caller, f"/gpos/{gpo['id']}"), 200))


async def read_meeting(api: Api, caller: Caller, meeting: dict[str, Any]) -> dict[str, Any]:
    return dict(expect(await api.get(caller, f"/meetings/{meeting['id']}"), 200))


async def gpo_ids(api: Api, caller: Caller, **params: Any) -> set[str]:
    return {gpo["id"] for gpo in await every_page(api, caller, "/gpos", params)}


async def timeline(api: Api, caller: Caller, problem: dict[str, Any]) -> list[dict[str, Any]]:
    return await every_page(api, caller, f"/problems/{problem['id']}/timeline")


async def review(
    api: Api, caller: Caller, meeting: dict[str, Any], problem: dict[str, Any], note: str
) -> httpx.Response:
    return await api.post(
        caller,
        f"/meetings/{meeting['id']}/reviews",
        json={"problem_id": problem["id"], "note": note},
    )


async def minutes(
    api: Api, caller: Caller, meeting: dict[str, Any], accept: str | None = None
) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return await api.get(caller, f"/meetings/{meeting['id']}/minutes", headers=headers)


async def markdown_minutes(api: Api, caller: Caller, meeting: dict[str, Any]) -> str:
    response = await minutes(api, caller, meeting)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    return response.text


async def set_problem(app: FastAPI, problem: dict[str, Any], **values: Any) -> None:
    """Move a problem's stored times, as if it had been recorded earlier."""
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(Problem).where(Problem.id == uuid.UUID(problem["id"])).values(**values)
        )
        await session.commit()


def sections(markdown: str) -> dict[str, str]:
    """The level-2 sections of a Markdown document, title → body."""
    found: dict[str, str] = {}
    title: str | None = None
    for line in markdown.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            found[title] = ""
        elif title is not None:
            found[title] += line + "\n"
    return found


def section(markdown: str, keyword: str) -> str:
    """The one section whose title contains `keyword` (French, lower case)."""
    matches = [body for title, body in sections(markdown).items() if keyword in title.lower()]
    assert len(matches) == 1, f"expected one section about {keyword!r}: {list(sections(markdown))}"
    return matches[0]


def groups(text: str) -> dict[str, str]:
    """Sub-headings of a section, heading → body."""
    found: dict[str, str] = {}
    heading: str | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = plain_markdown(line.lstrip("#").strip())
            found[heading] = ""
        elif heading is not None:
            found[heading] += line + "\n"
    return found


def plain_markdown(text: str) -> str:
    """Markdown with its backslash escapes undone."""
    return re.sub(r"\\(.)", r"\1", text)


def html_text(page: str) -> str:
    """The text a reader of the HTML page sees."""
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# --- creation ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["facilitator", "commander", "admin"])
async def test_runners_schedule_a_meeting(world: World, who: str) -> None:
    api = world.api
    caller: Caller = getattr(world, who)
    when = ahead(days=7)
    response = await api.post(
        caller,
        f"/gpos/{world.gpo['id']}/meetings",
        json={
            "scheduled_at": when.astimezone(PARIS).isoformat(),
            "location": "Commissariat central de Metz",
        },
    )
    created = expect(response, 201)
    assert created["gpo_id"] == world.gpo["id"]
    assert moment(created["scheduled_at"]) == when
    assert created["status"] == "planned"
    assert created["location"] == "Commissariat central de Metz"
    assert created["attendee_organisation_ids"] == []
    assert response.headers["etag"] == f'"{created["version"]}"'

    read = await read_meeting(api, world.facilitator, created)
    assert instants(read) == instants(resource(created))
    listed = await every_page(api, world.facilitator, f"/gpos/{world.gpo['id']}/meetings")
    assert [m["id"] for m in listed] == [created["id"]]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("landlord_partner", 403),
        ("police_partner", 403),
        ("outsider_partner", 404),
        ("other_facilitator", 404),
    ],
)
async def test_others_may_not_schedule_a_meeting(world: World, who: str, status: int) -> None:
    api = world.api
    response = await api.post(
        getattr(world, who),
        f"/gpos/{world.gpo['id']}/meetings",
        json={"scheduled_at": ahead(days=7).isoformat()},
    )
    problem_of(response, status)
    assert await every_page(api, world.facilitator, f"/gpos/{world.gpo['id']}/meetings") == []


async def test_member_partners_do_not_read_meetings_outsiders_do_not_see_them(
    world: World,
) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ahead(days=3))
    problem_of(await api.get(world.landlord_partner, f"/meetings/{meeting['id']}"), 403)
    problem_of(await api.get(world.landlord_partner, f"/gpos/{world.gpo['id']}/meetings"), 403)
    problem_of(await api.get(world.outsider_partner, f"/meetings/{meeting['id']}"), 404)
    problem_of(await api.get(world.other_facilitator, f"/meetings/{meeting['id']}"), 404)
    assert (await read_meeting(api, world.commander, meeting))["id"] == meeting["id"]


async def test_a_past_date_records_a_held_meeting_a_future_one_is_planned(world: World) -> None:
    api = world.api
    held = await schedule(api, world.facilitator, world.gpo, ago(days=2))
    planned = await schedule(api, world.facilitator, world.gpo, ahead(hours=2))
    assert held["status"] == "held"
    assert planned["status"] == "planned"


@pytest.mark.parametrize(
    "value", ["2026-03-14T18:30:00", "2026-03-14", "demain soir", "2026-02-30T18:30:00+01:00"]
)
async def test_scheduled_at_needs_a_date_time_with_offset(world: World, value: str) -> None:
    api = world.api
    body = problem_of(
        await api.post(
            world.facilitator, f"/gpos/{world.gpo['id']}/meetings", json={"scheduled_at": value}
        ),
        422,
    )
    assert ["body", "scheduled_at"] in locs(body)
    assert await every_page(api, world.facilitator, f"/gpos/{world.gpo['id']}/meetings") == []


async def test_unknown_fields_are_refused(world: World) -> None:
    api = world.api
    body = {"scheduled_at": ahead(days=1).isoformat(), "status": "held"}
    problem_of(
        await api.post(world.facilitator, f"/gpos/{world.gpo['id']}/meetings", json=body), 422
    )


# --- cadence ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "extra", "interval"),
    [("transport", {}, 31), ("general", {}, 60), ("general", {"meeting_interval_days": 14}, 14)],
)
async def test_a_held_meeting_sets_the_cadence(
    world: World, kind: str, extra: dict[str, Any], interval: int
) -> None:
    api = world.api
    gpo = await api.gpo(world.facilitator, kind=kind, **extra)
    assert gpo["meeting_interval_days"] == interval
    when = ago(days=3)
    await schedule(api, world.facilitator, gpo, when)

    read = await read_gpo(api, world.facilitator, gpo)
    assert moment(read["last_meeting_at"]) == when
    assert moment(read["next_meeting_due"]) == when + timedelta(days=interval)
    assert read["cadence_breached"] is False


async def test_planned_meetings_do_not_count_as_held(world: World) -> None:
    api = world.api
    held_at = ago(days=5)
    await schedule(api, world.facilitator, world.gpo, held_at)
    await schedule(api, world.facilitator, world.gpo, ahead(days=10))
    read = await read_gpo(api, world.facilitator, world.gpo)
    assert moment(read["last_meeting_at"]) == held_at
    assert moment(read["next_meeting_due"]) == held_at + timedelta(days=60)


async def test_the_latest_held_meeting_counts_whatever_the_recording_order(world: World) -> None:
    api = world.api
    latest, earlier = ago(days=4), ago(days=20)
    await schedule(api, world.facilitator, world.gpo, latest)
    await schedule(api, world.facilitator, world.gpo, earlier)
    read = await read_gpo(api, world.facilitator, world.gpo)
    assert moment(read["last_meeting_at"]) == latest
    assert moment(read["next_meeting_due"]) == latest + timedelta(days=60)


async def test_a_new_gpo_is_not_late_right_after_creation(world: World) -> None:
    api = world.api
    gpo = await api.gpo(world.facilitator, meeting_interval_days=1)
    read = await read_gpo(api, world.facilitator, gpo)
    assert read["last_meeting_at"] is None
    assert moment(read["next_meeting_due"]) > datetime.now(UTC)
    assert read["cadence_breached"] is False
    assert gpo["id"] not in await gpo_ids(api, world.commander, cadence_breached="true")
    assert gpo["id"] in await gpo_ids(api, world.commander, cadence_breached="false")


async def test_an_old_meeting_breaches_the_cadence_until_a_new_one_is_held(world: World) -> None:
    api = world.api
    gpo = await api.gpo(world.facilitator, meeting_interval_days=7)
    await schedule(api, world.facilitator, gpo, ago(days=10))

    late = await read_gpo(api, world.facilitator, gpo)
    assert late["cadence_breached"] is True
    assert moment(late["next_meeting_due"]) < datetime.now(UTC)
    assert gpo["id"] in await gpo_ids(api, world.commander, cadence_breached="true")
    assert gpo["id"] not in await gpo_ids(api, world.commander, cadence_breached="false")
    assert world.gpo["id"] not in await gpo_ids(api, world.commander, cadence_breached="true")

    await schedule(api, world.facilitator, gpo, ago(minutes=5))
    back = await read_gpo(api, world.facilitator, gpo)
    assert back["cadence_breached"] is False
    assert gpo["id"] not in await gpo_ids(api, world.commander, cadence_breached="true")


async def test_shortening_the_interval_can_breach_the_cadence(world: World) -> None:
    api = world.api
    when = ago(days=40)
    await schedule(api, world.facilitator, world.gpo, when)
    assert (await read_gpo(api, world.facilitator, world.gpo))["cadence_breached"] is False

    changed = expect(
        await api.patch(
            world.facilitator, f"/gpos/{world.gpo['id']}", json={"meeting_interval_days": 31}
        ),
        200,
    )
    assert moment(changed["last_meeting_at"]) == when
    assert moment(changed["next_meeting_due"]) == when + timedelta(days=31)
    assert changed["cadence_breached"] is True
    assert world.gpo["id"] in await gpo_ids(api, world.facilitator, cadence_breached="true")


async def test_a_gpo_that_never_met_is_late_after_its_interval_until_it_meets(
    world: World, app: FastAPI
) -> None:
    api = world.api
    gpo = await api.gpo(world.facilitator, kind="transport")
    created_at = datetime.now(UTC) - timedelta(days=40)
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(Gpo)
            .where(Gpo.id == uuid.UUID(gpo["id"]))
            .values(created_at=created_at, next_meeting_due=created_at + timedelta(days=31))
        )
        await session.commit()
    assert gpo["id"] in await gpo_ids(api, world.commander, cadence_breached="true")

    when = ago(hours=1)
    await schedule(api, world.facilitator, gpo, when)
    read = await read_gpo(api, world.facilitator, gpo)
    assert read["cadence_breached"] is False
    assert moment(read["next_meeting_due"]) == when + timedelta(days=31)
    assert gpo["id"] not in await gpo_ids(api, world.commander, cadence_breached="true")


# --- changing a meeting -----------------------------------------------------------------


async def test_holding_a_planned_meeting_updates_the_cadence(world: World) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ahead(days=1))
    assert (await read_gpo(api, world.facilitator, world.gpo))["last_meeting_at"] is None

    path = f"/meetings/{meeting['id']}"
    response = await api.patch(
        world.facilitator,
        path,
        json={"status": "held", "notes": "Tour de table des partenaires."},
        headers={"If-Match": f'"{meeting["version"]}"'},
    )
    held = expect(response, 200)
    assert held["status"] == "held"
    assert held["notes"] == "Tour de table des partenaires."
    assert held["version"] > meeting["version"]
    assert response.headers["etag"] == f'"{held["version"]}"'
    assert instants(await read_meeting(api, world.facilitator, meeting)) == instants(resource(held))

    gpo = await read_gpo(api, world.facilitator, world.gpo)
    assert moment(gpo["last_meeting_at"]) == moment(meeting["scheduled_at"])
    assert moment(gpo["next_meeting_due"]) == moment(meeting["scheduled_at"]) + timedelta(days=60)


async def test_cancelling_a_planned_meeting_leaves_the_cadence(world: World) -> None:
    api = world.api
    before = await read_gpo(api, world.facilitator, world.gpo)
    meeting = await schedule(api, world.facilitator, world.gpo, ahead(days=1))
    cancelled = expect(
        await api.patch(
            world.facilitator, f"/meetings/{meeting['id']}", json={"status": "cancelled"}
        ),
        200,
    )
    assert cancelled["status"] == "cancelled"
    after = await read_gpo(api, world.facilitator, world.gpo)
    assert after["last_meeting_at"] is None
    assert after["next_meeting_due"] == before["next_meeting_due"]


@pytest.mark.parametrize(
    ("start", "to"),
    [("held", "planned"), ("held", "cancelled"), ("cancelled", "held"), ("cancelled", "planned")],
)
async def test_illegal_status_moves_are_409_and_change_nothing(
    world: World, start: str, to: str
) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ahead(days=1))
    path = f"/meetings/{meeting['id']}"
    expect(await api.patch(world.facilitator, path, json={"status": start}), 200)
    before = await read_meeting(api, world.facilitator, meeting)
    gpo_before = await read_gpo(api, world.facilitator, world.gpo)

    problem_of(await api.patch(world.facilitator, path, json={"status": to}), 409)
    assert instants(await read_meeting(api, world.facilitator, meeting)) == instants(before)
    gpo_after = await read_gpo(api, world.facilitator, world.gpo)
    assert gpo_after["last_meeting_at"] == gpo_before["last_meeting_at"]


async def test_stale_if_match_gives_412_and_changes_nothing(world: World) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ahead(days=1))
    path = f"/meetings/{meeting['id']}"
    expect(await api.patch(world.facilitator, path, json={"location": "Mairie de Metz"}), 200)
    current = await read_meeting(api, world.facilitator, meeting)

    response = await api.patch(
        world.facilitator,
        path,
        json={"status": "held", "location": "Hôtel de police"},
        headers={"If-Match": f'"{meeting["version"]}"'},
    )
    problem_of(response, 412)
    assert instants(await read_meeting(api, world.facilitator, meeting)) == instants(current)
    assert (await read_gpo(api, world.facilitator, world.gpo))["last_meeting_at"] is None


async def test_partners_may_not_change_a_meeting(world: World) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ahead(days=1))
    path = f"/meetings/{meeting['id']}"
    problem_of(await api.patch(world.landlord_partner, path, json={"status": "held"}), 403)
    problem_of(await api.patch(world.outsider_partner, path, json={"status": "held"}), 404)
    assert (await read_meeting(api, world.facilitator, meeting))["status"] == "planned"


async def test_attendees_are_organisations(world: World) -> None:
    api = world.api
    ids = [world.landlord["id"], world.national_police["id"]]
    meeting = await schedule(
        api, world.facilitator, world.gpo, ago(days=1), attendee_organisation_ids=ids
    )
    assert sorted(meeting["attendee_organisation_ids"]) == sorted(ids)
    changed = expect(
        await api.patch(
            world.facilitator,
            f"/meetings/{meeting['id']}",
            json={"attendee_organisation_ids": [world.municipal_police["id"]]},
        ),
        200,
    )
    assert changed["attendee_organisation_ids"] == [world.municipal_police["id"]]
    assert changed["version"] > meeting["version"]


async def test_unknown_attendee_is_422_naming_its_index(world: World) -> None:
    api = world.api
    unknown = str(uuid.uuid4())
    body = problem_of(
        await api.post(
            world.facilitator,
            f"/gpos/{world.gpo['id']}/meetings",
            json={
                "scheduled_at": ahead(days=1).isoformat(),
                "attendee_organisation_ids": [world.landlord["id"], unknown],
            },
        ),
        422,
    )
    assert ["body", "attendee_organisation_ids", 1] in locs(body)
    assert await every_page(api, world.facilitator, f"/gpos/{world.gpo['id']}/meetings") == []

    meeting = await schedule(api, world.facilitator, world.gpo, ahead(days=1))
    body = problem_of(
        await api.patch(
            world.facilitator,
            f"/meetings/{meeting['id']}",
            json={"attendee_organisation_ids": [unknown]},
        ),
        422,
    )
    assert ["body", "attendee_organisation_ids", 0] in locs(body)
    assert instants(await read_meeting(api, world.facilitator, meeting)) == instants(
        resource(meeting)
    )


async def test_unknown_attendee_index_counts_repeated_ids(world: World) -> None:
    """The index points into the list as sent, even when it repeats an id."""
    api = world.api
    body = problem_of(
        await api.post(
            world.facilitator,
            f"/gpos/{world.gpo['id']}/meetings",
            json={
                "scheduled_at": ahead(days=1).isoformat(),
                "attendee_organisation_ids": [
                    world.landlord["id"],
                    world.landlord["id"],
                    str(uuid.uuid4()),
                ],
            },
        ),
        422,
    )
    assert ["body", "attendee_organisation_ids", 2] in locs(body)


# --- reviews and actions decided ----------------------------------------------------------


async def test_a_review_is_recorded_in_the_problems_timeline(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    meeting = await schedule(api, world.facilitator, world.gpo, ago(hours=2))
    note = "Baisse des regroupements depuis la pose du contrôle d'accès."
    created = expect(await review(api, world.facilitator, meeting, problem, note), 201)
    assert created["problem_id"] == problem["id"]
    assert created["meeting_id"] == meeting["id"]
    assert created["note"] == note

    events = [
        e for e in await timeline(api, world.facilitator, problem) if e["kind"] == "review.create"
    ]
    assert len(events) == 1
    assert note in events[0]["summary"]
    assert events[0]["actor_id"] == world.facilitator.id
    # A member partner who sees the problem sees the review in its timeline too.
    kinds = [e["kind"] for e in await timeline(api, world.landlord_partner, problem)]
    assert "review.create" in kinds


async def test_reviewing_a_problem_of_another_gpo_is_422_and_stores_nothing(world: World) -> None:
    api = world.api
    other_gpo = await api.gpo(world.facilitator, communes=["57751"])
    foreign = await api.problem(world.facilitator, other_gpo, commune_code="57751")
    meeting = await schedule(api, world.facilitator, world.gpo, ago(hours=2))

    body = problem_of(await review(api, world.facilitator, meeting, foreign, "Hors sujet"), 422)
    assert ["body", "problem_id"] in locs(body)
    assert "review.create" not in [
        e["kind"] for e in await timeline(api, world.facilitator, foreign)
    ]
    text = await markdown_minutes(api, world.facilitator, meeting)
    assert foreign["reference"] not in text
    assert "Hors sujet" not in text


async def test_reviewing_an_unknown_problem_is_422(world: World) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ago(hours=2))
    body = problem_of(
        await review(api, world.facilitator, meeting, {"id": str(uuid.uuid4())}, "Rien"), 422
    )
    assert ["body", "problem_id"] in locs(body)


async def test_partners_may_not_record_reviews(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    meeting = await schedule(api, world.facilitator, world.gpo, ago(hours=2))
    problem_of(await review(api, world.landlord_partner, meeting, problem, "Vu"), 403)
    problem_of(await review(api, world.outsider_partner, meeting, problem, "Vu"), 404)
    assert "review.create" not in [
        e["kind"] for e in await timeline(api, world.facilitator, problem)
    ]


async def test_an_action_decided_at_another_gpos_meeting_is_422_and_stores_nothing(
    world: World,
) -> None:
    api = world.api
    other_gpo = await api.gpo(world.facilitator, communes=["57751"])
    foreign_meeting = await schedule(api, world.facilitator, other_gpo, ago(days=1))
    own_meeting = await schedule(api, world.facilitator, world.gpo, ago(days=1))
    problem = await api.problem(world.facilitator, world.gpo)
    body = {
        "title": "Patrouilles pédestres en soirée",
        "kind": "foot_patrol",
        "assignee_organisation_id": world.municipal_police["id"],
        "due_date": day(14),
        "decided_at_meeting_id": foreign_meeting["id"],
    }
    path = f"/problems/{problem['id']}/actions"
    error = problem_of(await api.post(world.facilitator, path, json=body), 422)
    assert ["body", "decided_at_meeting_id"] in locs(error)
    assert await every_page(api, world.facilitator, "/actions", {"problem_id": problem["id"]}) == []

    created = expect(
        await api.post(
            world.facilitator, path, json=body | {"decided_at_meeting_id": own_meeting["id"]}
        ),
        201,
    )
    assert created["decided_at_meeting_id"] == own_meeting["id"]
    error = problem_of(
        await api.patch(
            world.facilitator,
            f"/actions/{created['id']}",
            json={"decided_at_meeting_id": foreign_meeting["id"]},
        ),
        422,
    )
    assert ["body", "decided_at_meeting_id"] in locs(error)
    read = expect(await api.get(world.facilitator, f"/actions/{created['id']}"), 200)
    assert read["decided_at_meeting_id"] == own_meeting["id"]


# --- agenda ----------------------------------------------------------------------------


async def test_the_agenda_is_computed_from_the_record(world: World) -> None:
    api, fac = world.api, world.facilitator
    other_gpo = await api.gpo(fac, communes=["57751"], members=[world.landlord])
    meeting = await schedule(api, fac, world.gpo, ahead(days=3))

    # Reports: only those routed to this GPO and still awaiting triage.
    waiting = await submit(api, world.landlord_partner)
    accepted = await submit(api, world.landlord_partner)
    rejected = await submit(api, world.landlord_partner)
    elsewhere = await submit(api, world.landlord_partner, commune_code="57751")
    assert {waiting["gpo_id"], accepted["gpo_id"], rejected["gpo_id"]} == {world.gpo["id"]}
    assert elsewhere["gpo_id"] == other_gpo["id"]
    from_report = expect(await triage(api, fac, accepted, "create_problem", priority="normal"), 200)
    expect(await triage(api, fac, rejected, "reject", public_note="Hors du champ du GPO."), 200)

    # Problems: those of this GPO not closed, most urgent first.
    low = await api.problem(fac, world.gpo, priority="low")
    urgent = await api.problem(fac, world.gpo, priority="urgent")
    high = await api.problem(fac, world.gpo, priority="high")
    monitored = await api.problem(fac, world.gpo, priority="normal")
    expect(await api.move(fac, monitored, "open"), 200)
    expect(await api.move(fac, monitored, "monitoring"), 200)
    closed = await api.problem(fac, world.gpo, priority="urgent")
    foreign = await api.problem(fac, other_gpo, priority="urgent", commune_code="57751")

    # Actions: past due and still planned or in progress, of this GPO.
    late = await api.action(fac, low, world.landlord, due_date=day(-1))
    later = await api.action(fac, high, world.municipal_police, due_date=day(-10))
    expect(await api.patch(fac, f"/actions/{later['id']}", json={"status": "in_progress"}), 200)
    done = await api.action(fac, low, world.landlord, due_date=day(-5))
    expect(await api.patch(fac, f"/actions/{done['id']}", json={"status": "done"}), 200)
    await api.action(fac, low, world.landlord, due_date=day(5))
    await api.action(fac, foreign, world.landlord, due_date=day(-3))

    # Indicators of open problems not measured within the GPO's interval (60 days).
    async def indicator(problem: dict[str, Any], baseline_end: int) -> dict[str, Any]:
        body = {
            "name": unique("Appels au 17"),
            "unit": "appels",
            "direction": "decrease",
            "baseline": {
                "value": 12,
                "period_start": day(baseline_end - 29),
                "period_end": day(baseline_end),
            },
        }
        path = f"/problems/{problem['id']}/indicators"
        return dict(expect(await api.post(fac, path, json=body), 201))

    async def measure(item: dict[str, Any], end: int) -> None:
        body = {"period_start": day(end - 29), "period_end": day(end), "value": 5}
        expect(await api.post(fac, f"/indicators/{item['id']}/measurements", json=body), 201)

    stale = await indicator(high, -100)
    measured_lately = await indicator(high, -200)
    await measure(measured_lately, -5)
    measured_long_ago = await indicator(urgent, -200)
    await measure(measured_long_ago, -90)
    await indicator(urgent, -10)  # fresh baseline
    await indicator(closed, -100)  # closed problem: nothing to measure any more
    expect(await api.move(fac, closed, "open"), 200)
    expect(await api.move(fac, closed, "closed", outcome="better_handled"), 200)

    agenda = expect(await api.get(fac, f"/meetings/{meeting['id']}/agenda"), 200)

    assert [r["id"] for r in agenda["new_reports"]] == [waiting["id"]]
    assert agenda["new_reports"][0]["reference"] == waiting["reference"]

    expected = {low["id"], urgent["id"], high["id"], monitored["id"], from_report["problem_id"]}
    items = agenda["problems"]
    assert {p["id"] for p in items} == expected
    assert len(items) == len(expected)
    ranks = [PRIORITY_RANK[p["priority"]] for p in items]
    assert ranks == sorted(ranks, reverse=True)
    assert items[0]["id"] == urgent["id"]
    assert items[-1]["id"] == low["id"]
    by_id = {p["id"]: p for p in items}
    assert by_id[high["id"]]["reference"] == high["reference"]
    assert by_id[high["id"]]["title"] == high["title"]

    overdue = {a["id"]: a for a in agenda["overdue_actions"]}
    assert set(overdue) == {late["id"], later["id"]}
    assert overdue[late["id"]]["due_date"] == day(-1)
    assert overdue[later["id"]]["assignee_organisation_id"] == world.municipal_police["id"]

    assert {i["id"] for i in agenda["indicators_due"]} == {stale["id"], measured_long_ago["id"]}


@pytest.mark.parametrize(("who", "status"), [("landlord_partner", 403), ("outsider_partner", 404)])
async def test_partners_do_not_read_the_agenda(world: World, who: str, status: int) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ahead(days=3))
    problem_of(await api.get(getattr(world, who), f"/meetings/{meeting['id']}/agenda"), status)
    expect(await api.get(world.commander, f"/meetings/{meeting['id']}/agenda"), 200)


# --- minutes ---------------------------------------------------------------------------


async def test_minutes_tell_what_happened_in_french(world: World, app: FastAPI) -> None:
    api, fac = world.api, world.facilitator
    await schedule(api, fac, world.gpo, ago(days=30))  # the previous held meeting

    older = await api.problem(fac, world.gpo, title="Rodéos motorisés rue de Toul")
    await set_problem(app, older, created_at=datetime.now(UTC) - timedelta(days=40))
    settled = await api.problem(fac, world.gpo, title="Épaves rue Lothaire")
    expect(await api.move(fac, settled, "open"), 200)
    expect(await api.move(fac, settled, "closed", outcome="better_handled"), 200)
    await set_problem(
        app,
        settled,
        created_at=datetime.now(UTC) - timedelta(days=50),
        closed_at=datetime.now(UTC) - timedelta(days=35),
    )
    fresh = await api.problem(fac, world.gpo, title="Regroupements hall du 4 rue de Toul")
    solved = await api.problem(fac, world.gpo, title="Dépôts sauvages place Saint-Louis")
    expect(await api.move(fac, solved, "open"), 200)
    expect(
        await api.move(
            fac, solved, "closed", outcome="better_handled", note="Collecte hebdomadaire obtenue."
        ),
        200,
    )

    meeting = await schedule(
        api,
        fac,
        world.gpo,
        datetime.now(UTC),
        location="Commissariat central de Metz",
        attendee_organisation_ids=[world.national_police["id"], world.landlord["id"]],
    )
    expect(await review(api, fac, meeting, older, "Deux rodéos signalés en mars."), 201)
    decided = await api.action(
        fac,
        fresh,
        world.landlord,
        title="Pose d'un contrôle d'accès au hall",
        due_date=day(20),
        decided_at_meeting_id=meeting["id"],
    )
    await api.action(
        fac, older, world.municipal_police, title="Patrouilles du soir", due_date=day(-3)
    )
    await api.action(
        fac, fresh, world.national_police, title="Opération conjointe", due_date=day(-8)
    )

    text = await markdown_minutes(api, fac, meeting)
    plain = plain_markdown(text)
    assert "Compte rendu" in plain
    assert world.gpo["name"] in plain
    assert moment(meeting["scheduled_at"]).astimezone(PARIS).strftime("%d/%m/%Y") in plain
    assert "Commissariat central de Metz" in plain

    present = plain_markdown(section(text, "présent"))
    assert "DDSP Moselle" in present
    assert "Metz Habitat Territoire" in present
    assert "Police municipale de Metz" not in present

    reviewed = plain_markdown(section(text, "examin"))
    assert older["reference"] in reviewed
    assert older["title"] in reviewed
    assert "Deux rodéos signalés en mars." in reviewed

    opened = plain_markdown(section(text, "ouvert"))
    assert fresh["reference"] in opened
    assert fresh["title"] in opened
    assert solved["reference"] in opened
    assert older["reference"] not in opened
    assert settled["reference"] not in opened

    closed = plain_markdown(section(text, "clos"))
    line = next(line for line in closed.splitlines() if solved["reference"] in line)
    assert solved["title"] in line
    assert "mieux" in line  # the French label of better_handled
    assert "better_handled" not in line
    assert "Collecte hebdomadaire obtenue." in line
    assert settled["reference"] not in closed
    assert fresh["reference"] not in closed

    decisions = plain_markdown(section(text, "décid"))
    line = next(line for line in decisions.splitlines() if decided["title"] in line)
    assert "Metz Habitat Territoire" in line
    assert french_day(day(20)) in line
    assert "Patrouilles du soir" not in decisions

    late = groups(section(text, "retard"))
    assert "Patrouilles du soir" in late["Police municipale de Metz"]
    assert french_day(day(-3)) in late["Police municipale de Metz"]
    assert "Opération conjointe" in late["DDSP Moselle"]
    assert "Opération conjointe" not in late["Police municipale de Metz"]
    assert decided["title"] not in "".join(late.values())


async def test_html_minutes_say_the_same_and_escape_recorded_text(world: World) -> None:
    api, fac = world.api, world.facilitator
    hostile = await api.problem(fac, world.gpo, title="<script>alert(1)</script>")
    plain = await api.problem(fac, world.gpo, title="Stationnement anarchique rue Mazelle")
    meeting = await schedule(
        api,
        fac,
        world.gpo,
        datetime.now(UTC),
        attendee_organisation_ids=[world.municipal_police["id"]],
    )
    expect(await review(api, fac, meeting, hostile, "Note <b>gras</b> & suite"), 201)
    expect(await review(api, fac, meeting, plain, "Verbalisations en hausse."), 201)
    action = await api.action(
        fac,
        plain,
        world.municipal_police,
        title="Enlèvement des véhicules ventouses",
        due_date=day(10),
        decided_at_meeting_id=meeting["id"],
    )

    response = await minutes(api, fac, meeting, accept="text/html")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>gras</b>" not in page

    markdown = await markdown_minutes(api, fac, meeting)
    assert "<script>" not in markdown
    assert "<b>" not in markdown

    seen_in_html, seen_in_markdown = html_text(page), plain_markdown(markdown)
    for expected in (
        world.gpo["name"],
        "Compte rendu",
        "Police municipale de Metz",
        hostile["reference"],
        "<script>alert(1)</script>",
        "Note <b>gras</b> & suite",
        plain["reference"],
        plain["title"],
        "Verbalisations en hausse.",
        action["title"],
        french_day(day(10)),
    ):
        assert expected in seen_in_html, expected
        assert expected in seen_in_markdown, expected


async def test_restricted_problems_appear_only_to_those_who_may_see_them(world: World) -> None:
    api, fac = world.api, world.facilitator
    secret = await api.problem(
        fac,
        world.gpo,
        title="Point de deal hall B",
        category="drug_dealing",
        visibility="restricted",
    )
    shared = await api.problem(fac, world.gpo, title="Regroupements parking du Sablon")
    meeting = await schedule(api, fac, world.gpo, datetime.now(UTC))
    expect(await review(api, fac, meeting, secret, "Transmis à la CROSS."), 201)
    expect(await review(api, fac, meeting, shared, "Éclairage à reprendre."), 201)
    await api.action(
        fac,
        secret,
        world.national_police,
        title="Opération de démantèlement",
        due_date=day(15),
        decided_at_meeting_id=meeting["id"],
    )
    await api.action(
        fac,
        shared,
        world.landlord,
        title="Réparer l'éclairage du parking",
        due_date=day(15),
        decided_at_meeting_id=meeting["id"],
    )
    hidden = [
        secret["reference"],
        secret["title"],
        "Transmis à la CROSS.",
        "Opération de démantèlement",
    ]

    for reader in (fac, world.commander, world.police_partner):
        text = plain_markdown(await markdown_minutes(api, reader, meeting))
        for expected in hidden:
            assert expected in text, expected

    for reader in (world.landlord_partner, world.municipal_partner):
        for accept in (None, "text/html"):
            response = await minutes(api, reader, meeting, accept=accept)
            assert response.status_code == 200, response.text
            text = html_text(response.text) if accept else plain_markdown(response.text)
            assert shared["reference"] in text
            assert "Éclairage à reprendre." in text
            for secret_text in hidden:
                assert secret_text not in text, secret_text


@pytest.mark.parametrize("who", ["outsider_partner", "other_facilitator"])
async def test_those_outside_the_gpo_do_not_see_the_minutes(world: World, who: str) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ago(hours=1))
    problem_of(await minutes(api, getattr(world, who), meeting), 404)
    problem_of(await minutes(api, getattr(world, who), meeting, accept="text/html"), 404)
    problem_of(await minutes(api, world.facilitator, {"id": str(uuid.uuid4())}), 404)


async def test_markdown_and_html_minutes_list_the_same_items(world: World) -> None:
    """The two renderings say the same thing, word for word, item by item."""
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, title="Rodéos motorisés rue de Toul")
    meeting = await schedule(
        api,
        fac,
        world.gpo,
        datetime.now(UTC),
        attendee_organisation_ids=[world.national_police["id"]],
    )
    expect(await review(api, fac, meeting, problem, "Deux rodéos signalés en mars."), 201)
    await api.action(
        fac,
        problem,
        world.municipal_police,
        title="Patrouilles du soir",
        due_date=day(12),
        decided_at_meeting_id=meeting["id"],
    )
    await api.action(
        fac, problem, world.landlord, title="Courrier aux locataires", due_date=day(-2)
    )

    markdown = await markdown_minutes(api, fac, meeting)
    page = (await minutes(api, fac, meeting, accept="text/html")).text
    in_markdown = [
        plain_markdown(line[2:].replace("**", ""))
        for line in markdown.splitlines()
        if line.startswith("- ")
    ]
    in_html = [
        html.unescape(re.sub(r"<[^>]+>", "", item))
        for item in re.findall(r"<li>(.*?)</li>", page, flags=re.DOTALL)
    ]
    assert len(in_markdown) >= 5
    assert in_markdown == in_html
    # References stand apart from the titles that follow them.
    reviewed = next(item for item in in_markdown if problem["reference"] in item)
    assert re.search(re.escape(problem["reference"]) + r"\s", reviewed), reviewed


async def test_an_assignee_sees_its_late_action_not_the_restricted_problem_behind_it(
    world: World,
) -> None:
    """The assignee sees its action's own fields; the problem it may not see stays hidden,
    its reference included."""
    api, fac = world.api, world.facilitator
    secret = await api.problem(
        fac, world.gpo, title="Point de deal cage d'escalier C", visibility="restricted"
    )
    await api.action(fac, secret, world.landlord, title="Condamner l'accès cave", due_date=day(-4))
    meeting = await schedule(api, fac, world.gpo, datetime.now(UTC))

    text = plain_markdown(await markdown_minutes(api, world.landlord_partner, meeting))
    assert "Condamner l'accès cave" in text  # its own action, late
    assert secret["title"] not in text
    assert secret["reference"] not in text


async def test_moving_a_held_meeting_moves_the_cadence(world: World) -> None:
    api = world.api
    meeting = await schedule(api, world.facilitator, world.gpo, ago(days=3))
    moved_to = ago(days=1)
    expect(
        await api.patch(
            world.facilitator,
            f"/meetings/{meeting['id']}",
            json={"scheduled_at": moved_to.astimezone(PARIS).isoformat()},
        ),
        200,
    )
    read = await read_gpo(api, world.facilitator, world.gpo)
    assert moment(read["last_meeting_at"]) == moved_to
    assert moment(read["next_meeting_due"]) == moved_to + timedelta(days=60)
