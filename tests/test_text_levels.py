"""Levels on every free text (issue 12, item 2): review notes, meeting notes, action
descriptions and result notes, indicator sources and measurement notes each have a
visibility, never less than their problem's, and every read path shows a text only to the
readers cleared for it: the action list and detail, the indicators, the timeline, the
minutes in each format, the problem lists and GeoJSON, the console's pages and the messages
webhooks deliver.

The leak test writes each text at a level with a marker of its own, then reads every path
as each member: a member not cleared never meets a marker; a cleared one meets each where
the text belongs (so the test fails if a path stops carrying its text).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from app import access
from app.reference.models import OrganisationKind
from app.webhooks import service as webhooks
from tests.api import Api, Caller, World, expect, problem_of
from tests.console import Person, csrf_of, text_of
from tests.test_access_matrix import SEES
from tests.test_indicators import add_indicator, measure

Console = Callable[[Caller | None], Awaitable[Person]]

BASELINE = {"value": 30, "period_start": "2026-01-01", "period_end": "2026-01-30"}
MINUTES = "/meetings/{meeting}/minutes"
ACTION = "/actions/{action}"
INDICATOR = "/indicators/{indicator}"
TIMELINE = "/problems/{problem}/timeline"
# Each text, and the paths where a reader cleared for it finds it.
WHERE = {
    "meeting_notes": {MINUTES, "/console/reunions/{meeting}/compte-rendu.md"},
    "review_note": {MINUTES, TIMELINE, "/console/reunions/{meeting}/compte-rendu"},
    "description": {ACTION, TIMELINE, "/actions"},
    "result_note": {ACTION, TIMELINE, "/console/problemes/{problem}"},
    "source": {INDICATOR, TIMELINE, "/console/problemes/{problem}"},
    "measurement_note": {INDICATOR, TIMELINE},
}


@dataclass
class Texts:
    ids: dict[str, str]
    markers: dict[str, str]


async def write_texts(api: Api, world: World, level: str, *, problem_level: str) -> Texts:
    """A problem at `problem_level` with each free text at `level` (asked explicitly)."""
    fac = world.facilitator
    # Letters and digits only: the Markdown minutes escape punctuation.
    markers = {name: f"Texte{uuid.uuid4().hex[:12]}" for name in WHERE}
    problem = await api.problem(fac, world.gpo, visibility=problem_level)
    meeting = expect(
        await api.post(
            fac,
            f"/gpos/{world.gpo['id']}/meetings",
            json={
                "scheduled_at": "2026-03-14T18:30:00+01:00",
                "attendee_organisation_ids": [world.landlord["id"]],
                "notes": markers["meeting_notes"],
                "visibility": level,
            },
        ),
        201,
    )
    assert meeting["visibility"] == level
    review = expect(
        await api.post(
            fac,
            f"/meetings/{meeting['id']}/reviews",
            json={"problem_id": problem["id"], "note": markers["review_note"], "visibility": level},
        ),
        201,
    )
    assert review["visibility"] == level
    action = await api.action(
        fac,
        problem,
        world.landlord,
        description=markers["description"],
        decided_at_meeting_id=meeting["id"],
        due_date="2020-01-31",  # overdue: on the agenda and in the minutes
        visibility=level,
    )
    assert action["visibility"] == level
    expect(
        await api.patch(
            fac, f"/actions/{action['id']}", json={"result_note": markers["result_note"]}
        ),
        200,
    )
    indicator = await add_indicator(
        api, fac, problem, baseline=BASELINE, source=markers["source"], visibility=level
    )
    assert indicator["visibility"] == level
    measured = await measure(
        api,
        fac,
        indicator,
        "2026-02-01",
        "2026-02-28",
        20,
        note=markers["measurement_note"],
        visibility=level,
    )
    measurement = expect(measured, 201)
    assert measurement["visibility"] == level
    ids = {
        "problem": problem["id"],
        "meeting": meeting["id"],
        "action": action["id"],
        "indicator": indicator["id"],
    }
    return Texts(ids, markers)


API_PATHS = [
    TIMELINE,
    "/problems/{problem}",
    "/problems/{problem}/comments",
    "/problems/{problem}/indicators",
    INDICATOR,
    "/problems",
    "/actions",
    ACTION,
    MINUTES,
]
CONSOLE_PATHS = [
    "/console/problemes/{problem}",
    "/console/reunions/{meeting}/compte-rendu",
    "/console/reunions/{meeting}/compte-rendu.md",
    "/console/mon-organisation/actions",
    "/console/mon-organisation/actions/{action}",
]


async def everything_read(
    api: Api, person: Person, caller: Caller, ids: dict[str, str]
) -> dict[str, str]:
    """Every answer of the read paths, as text, by path (formats as extra entries)."""
    read: dict[str, str] = {}
    for path in API_PATHS:
        response = await api.get(caller, path.format(**ids))
        read[path] = response.text
    minutes = MINUTES.format(**ids)
    read[MINUTES + " html"] = (await api.get(caller, minutes, headers={"Accept": "text/html"})).text
    geojson = await api.get(caller, "/problems", headers={"Accept": "application/geo+json"})
    read["/problems geojson"] = geojson.text
    for path in CONSOLE_PATHS:
        read[path] = (await person.get(path.format(**ids))).text
    return read


LEAK_CASES = [
    pytest.param(level, who, reads, id=f"{level}-{who}-{'reads' if reads else 'hidden'}")
    for level, readers in SEES.items()
    for who, reads in readers.items()
]


@pytest.mark.parametrize(("level", "who", "reads"), LEAK_CASES)
async def test_each_text_is_read_only_by_members_cleared_for_it(
    world: World, console: Console, level: str, who: str, reads: bool
) -> None:
    api = world.api
    texts = await write_texts(api, world, level, problem_level="partners")
    caller: Caller = getattr(world, who)
    read = await everything_read(api, await console(caller), caller, texts.ids)
    for name, marker in texts.markers.items():
        found = {path for path, body in read.items() if marker in body}
        if reads:
            assert WHERE[name] <= found, (name, WHERE[name] - found)
        else:
            assert found == set(), (name, found)


@pytest.mark.parametrize("level", ["partners", "police", "restricted"])
async def test_runners_and_commanders_read_every_text(world: World, level: str) -> None:
    api = world.api
    texts = await write_texts(api, world, level, problem_level="partners")
    for caller in (world.facilitator, world.commander):
        action = expect(await api.get(caller, ACTION.format(**texts.ids)), 200)
        assert action["description"] == texts.markers["description"]
        assert action["result_note"] == texts.markers["result_note"]
        indicator = expect(await api.get(caller, INDICATOR.format(**texts.ids)), 200)
        assert indicator["source"] == texts.markers["source"]
        assert indicator["measurements"][0]["note"] == texts.markers["measurement_note"]
        minutes = (await api.get(caller, MINUTES.format(**texts.ids))).text
        assert texts.markers["review_note"] in minutes
        assert texts.markers["meeting_notes"] in minutes


async def test_a_text_is_never_less_restricted_than_its_problem(world: World) -> None:
    """Asked below its problem's level (or not asked), a text is kept at the problem's."""
    api = world.api
    for asked in ("partners", None):
        extra = {} if asked is None else {"visibility": asked}
        problem = await api.problem(world.facilitator, world.gpo, visibility="police")
        action = await api.action(
            world.facilitator, problem, world.municipal_police, description="Précisions", **extra
        )
        assert action["visibility"] == "police"
        indicator = await add_indicator(
            api, world.facilitator, problem, baseline=BASELINE, source="CIC", **extra
        )
        assert indicator["visibility"] == "police"
        measured = await measure(
            api, world.facilitator, indicator, "2026-02-01", "2026-02-28", 3, **extra
        )
        assert expect(measured, 201)["visibility"] == "police"
        # Lowered by a patch below the problem's: raised to it as well.
        patched = await api.patch(
            world.facilitator, f"/actions/{action['id']}", json={"visibility": "partners"}
        )
        assert expect(patched, 200)["visibility"] == "police"
    # A meeting's notes belong to no problem: `partners` unless asked.
    meeting = await api.post(
        world.facilitator,
        f"/gpos/{world.gpo['id']}/meetings",
        json={"scheduled_at": "2030-03-14T18:30:00+01:00", "notes": "Ordre du jour"},
    )
    assert expect(meeting, 201)["visibility"] == "partners"


async def test_the_assignee_does_not_choose_the_level(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    response = await api.patch(
        world.landlord_partner,
        f"/actions/{action['id']}",
        json={"result_note": "Fait.", "visibility": "partners"},
    )
    problem_of(response, 403)


async def test_a_problem_raised_later_hides_its_texts_from_its_assignee(world: World) -> None:
    """A text keeps the level it was written at; a read compares the stricter of it and its
    problem's current level, so raising the problem hides the text with it, even from the
    assignee, who still reads its action (and reads the text again once lowered)."""
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord, description="Cave 3")
    path = f"/actions/{action['id']}"
    assert expect(await api.get(world.landlord_partner, path), 200)["description"] == "Cave 3"

    problem_path = f"/problems/{problem['id']}"
    expect(await api.patch(world.facilitator, problem_path, json={"visibility": "restricted"}), 200)
    seen = expect(await api.get(world.landlord_partner, path), 200)
    assert seen["id"] == action["id"]
    assert seen["description"] is None
    listed = expect(await api.get(world.landlord_partner, "/actions"), 200)["items"]
    assert [(a["id"], a["description"]) for a in listed] == [(action["id"], None)]
    assert expect(await api.get(world.police_partner, path), 200)["description"] == "Cave 3"

    expect(await api.patch(world.facilitator, problem_path, json={"visibility": "partners"}), 200)
    assert expect(await api.get(world.landlord_partner, path), 200)["description"] == "Cave 3"


async def test_an_event_changing_a_text_and_its_level_is_read_at_the_stricter(
    world: World,
) -> None:
    """Lowering an action's level while changing its description: the old description was
    police-only, so the event recording both stays police-only."""
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(
        world.facilitator, problem, world.landlord, description="Ancien", visibility="police"
    )
    expect(
        await api.patch(
            world.facilitator,
            f"/actions/{action['id']}",
            json={"description": "Nouveau", "visibility": "partners"},
        ),
        200,
    )
    timeline = f"/problems/{problem['id']}/timeline"
    landlord = (await api.get(world.landlord_partner, timeline)).text
    assert "Ancien" not in landlord
    assert "Nouveau" not in landlord  # recorded in the same event as the old text
    municipal = (await api.get(world.municipal_partner, timeline)).text
    assert "Ancien" in municipal
    assert "Nouveau" in municipal
    # The action itself is now read at `partners`.
    seen = expect(await api.get(world.landlord_partner, f"/actions/{action['id']}"), 200)
    assert seen["description"] == "Nouveau"


@pytest.mark.parametrize("kind", ["action", "indicator"])
async def test_raising_a_text_later_hides_its_old_values_in_the_timeline(
    world: World, kind: str
) -> None:
    """The events that recorded a text while it was shared are read at the text's level
    now: raising an action's or an indicator's level hides what they said."""
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    if kind == "action":
        record = await api.action(fac, problem, world.landlord, description="Cave 7, code 1234")
        path = f"/actions/{record['id']}"
    else:
        record = await add_indicator(api, fac, problem, source="Cave 7, code 1234")
        path = f"/indicators/{record['id']}"
    timeline = f"/problems/{problem['id']}/timeline"
    assert "Cave 7" in (await api.get(world.landlord_partner, timeline)).text
    expect(await api.patch(fac, path, json={"visibility": "restricted"}), 200)
    for reader in (world.landlord_partner, world.municipal_partner):
        assert "Cave 7" not in str(expect(await api.get(reader, timeline), 200))
    assert "Cave 7" in (await api.get(world.police_partner, timeline)).text
    assert "Cave 7" in (await api.get(world.commander, timeline)).text


@pytest.mark.parametrize(
    ("kind", "reads"),
    [(OrganisationKind.landlord, False), (OrganisationKind.national_police, True)],
)
async def test_a_webhook_message_carries_only_texts_its_organisation_reads(
    world: World, app: FastAPI, kind: OrganisationKind, reads: bool
) -> None:
    """What a partner's webhook receives about an action is read as that organisation."""
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    organisation = world.landlord if kind is OrganisationKind.landlord else world.national_police
    action = await api.action(
        world.facilitator, problem, organisation, description="Cave 3", visibility="restricted"
    )
    reader = access.as_organisation(uuid.UUID(organisation["id"]), kind, organisation["name"])
    async with app.state.database.session(write=False) as session:
        data = await webhooks.message_data(session, "action.update", action["id"], reader)
    assert data is not None
    assert data["id"] == action["id"]
    assert data["description"] == ("Cave 3" if reads else None)


async def test_the_console_forms_write_each_text_at_the_level_chosen(
    world: World, console: Console
) -> None:
    """The meeting screen offers a level (the problem's or stricter) for a review, an
    action's texts and the meeting's notes; the landlord's minutes then show none of them."""
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, visibility="police")
    meeting = expect(
        await api.post(
            world.facilitator,
            f"/gpos/{world.gpo['id']}/meetings",
            json={"scheduled_at": "2030-03-14T18:30:00+01:00"},
        ),
        201,
    )
    person = await console(world.facilitator)
    page = await person.get(f"/console/reunions/{meeting['id']}")
    assert f'id="examen-visibilite-{problem["id"]}"' in page.text
    assert 'id="notes-visibilite"' in page.text
    # The problem is `police`: `partners` is not offered for its texts.
    review_select = page.text.split(f'id="examen-visibilite-{problem["id"]}"')[1].split(
        "</select>"
    )[0]
    assert 'value="partners"' not in review_select
    assert 'value="restricted"' in review_select
    person.csrf = csrf_of(page.text)
    base = f"/console/reunions/{meeting['id']}/problemes/{problem['id']}"
    reviewed = await person.post(
        f"{base}/examen", {"note": "Dit en séance restreinte.", "visibility": "restricted"}
    )
    assert reviewed.status_code == 303
    decided = await person.post(
        f"{base}/actions",
        {
            "title": "Surveillance",
            "kind": "foot_patrol",
            "assignee_organisation_id": world.national_police["id"],
            "due_date": "2030-04-01",
            "description": "Précisions restreintes.",
            "visibility": "restricted",
        },
    )
    assert decided.status_code == 303
    closed = await person.post(
        f"/console/reunions/{meeting['id']}/clore",
        {"notes": "Notes pour la police.", "visibility": "police"},
    )
    assert closed.status_code == 303
    stored = expect(await api.get(world.facilitator, f"/meetings/{meeting['id']}"), 200)
    assert stored["visibility"] == "police"
    actions = expect(await api.get(world.facilitator, f"/actions?problem_id={problem['id']}"), 200)
    assert [a["visibility"] for a in actions["items"]] == ["restricted"]

    minutes = f"/console/reunions/{meeting['id']}/compte-rendu"
    landlord = text_of((await (await console(world.landlord_partner)).get(minutes)).text)
    municipal = text_of((await (await console(world.municipal_partner)).get(minutes)).text)
    police = text_of((await (await console(world.police_partner)).get(minutes)).text)
    assert "Notes pour la police." not in landlord
    assert "Notes pour la police." in municipal
    assert "Dit en séance restreinte." not in municipal
    assert "Dit en séance restreinte." in police
