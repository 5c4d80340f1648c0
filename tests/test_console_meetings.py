"""The meeting screen through HTTP: with JavaScript off (forms posted, the page back anchored
on what changed) and as htmx asks (only the changed part)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tests.api import Caller, World, expect
from tests.console import Person, csrf_of, text_of

Console = Callable[[Caller | None], Awaitable[Person]]


async def meeting_of(world: World) -> dict[str, Any]:
    return dict(
        expect(
            await world.api.post(
                world.facilitator,
                f"/gpos/{world.gpo['id']}/meetings",
                json={"scheduled_at": "2030-03-14T18:30:00+01:00"},
            ),
            201,
        )
    )


async def test_a_meeting_is_planned_from_mes_gpo(world: World, console: Console) -> None:
    person = await console(world.facilitator)
    home = await person.get("/console")
    assert "Planifier la prochaine réunion" in text_of(home.text)
    person.csrf = csrf_of(home.text)
    path = f"/console/gpo/{world.gpo['id']}/reunions"
    refused = await person.post(path, {"date": "2030-02-31", "heure": "18:30"})
    assert refused.status_code == 422
    assert "Saisissez une date valide" in text_of(refused.text)
    assert (
        expect(await world.api.get(world.facilitator, f"/gpos/{world.gpo['id']}/meetings"), 200)[
            "items"
        ]
        == []
    )
    planned = await person.post(
        path, {"date": "2030-03-14", "heure": "18:30", "location": "Mairie"}
    )
    assert planned.status_code == 303
    meeting_id = planned.headers["location"].rsplit("/", 1)[-1]
    stored = expect(await world.api.get(world.facilitator, f"/meetings/{meeting_id}"), 200)
    assert stored["scheduled_at"].startswith("2030-03-14T17:30:00")  # 18:30 in Paris, in UTC
    assert stored["location"] == "Mairie"
    home = await person.get("/console")
    assert "Ouvrir la réunion du 14/03/2030" in text_of(home.text)


async def test_a_review_without_javascript_and_with_htmx(world: World, console: Console) -> None:
    problem = await world.api.problem(world.facilitator, world.gpo, title="Hall du 4")
    meeting = await meeting_of(world)
    person = await console(world.facilitator)
    page = await person.get(f"/console/reunions/{meeting['id']}")
    assert "Hall du 4" in text_of(page.text)
    person.csrf = csrf_of(page.text)
    path = f"/console/reunions/{meeting['id']}/problemes/{problem['id']}/examen"

    plain = await person.post(path, {"note": "Vu sans JavaScript."})
    assert plain.status_code == 303
    assert plain.headers["location"].endswith(f"#probleme-{problem['id']}")
    fragment = await person.post(path, {"note": "Vu avec htmx."}, htmx=True)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("<article")  # the problem's card alone
    assert "Vu avec htmx." in text_of(fragment.text)
    assert "Vu sans JavaScript." in text_of(fragment.text)

    empty = await person.post(path, {"note": ""})
    assert empty.status_code == 422
    assert "Ce champ est obligatoire." in text_of(empty.text)
    timeline = expect(
        await world.api.get(world.facilitator, f"/problems/{problem['id']}/timeline"), 200
    )
    assert [e["kind"] for e in timeline["items"]].count("review.create") == 2


async def test_a_problems_forms_load_when_opened(world: World, console: Console) -> None:
    problem = await world.api.problem(world.facilitator, world.gpo)
    meeting = await meeting_of(world)
    person = await console(world.facilitator)
    base = f"/console/reunions/{meeting['id']}/problemes/{problem['id']}/formulaires"
    alone = await person.get(f"{base}/action")
    assert alone.status_code == 200
    assert "Revenir à la réunion" in text_of(alone.text)
    assert "hx-post" not in alone.text  # a page of its own posts and comes back
    part = await person.client.get(f"{base}/statut", headers={"HX-Request": "true"})
    assert part.status_code == 200
    assert "<html" not in part.text
    assert "Nouveau statut" in text_of(part.text)
    assert (await person.get(f"{base}/autre")).status_code in (400, 404)

    # An action decided with a field missing: the field says so, nothing is stored.
    person.csrf = csrf_of(alone.text)
    refused = await person.post(
        f"/console/reunions/{meeting['id']}/problemes/{problem['id']}/actions",
        {"title": "Patrouilles", "kind": "foot_patrol", "due_date": "2030-01-31"},
    )
    assert refused.status_code == 422
    assert "Ce champ est obligatoire." in text_of(refused.text)
    listed = expect(
        await world.api.get(world.facilitator, "/actions", params={"problem_id": problem["id"]}),
        200,
    )
    assert listed["items"] == []


async def test_who_runs_the_meeting_screen(world: World, console: Console) -> None:
    problem = await world.api.problem(world.facilitator, world.gpo)
    meeting = await meeting_of(world)
    path = f"/console/reunions/{meeting['id']}"
    landlord = await console(world.landlord_partner)
    assert (await landlord.get(path)).status_code == 403
    commander = await console(world.commander)
    page = await commander.get(path)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Enregistrer l'examen" in text  # commanders take part in meetings
    assert "Décider une action" not in text  # but run no GPO
    other = await console(world.other_facilitator)
    assert (await other.get(path)).status_code == 404
    assert (
        await other.get(
            f"/console/reunions/{meeting['id']}/problemes/{problem['id']}/formulaires/action"
        )
    ).status_code == 404
    unknown = await commander.get(f"/console/reunions/{uuid.uuid4()}")
    assert unknown.status_code == 404


async def test_closing_the_meeting_shows_its_minutes(world: World, console: Console) -> None:
    meeting = await meeting_of(world)
    person = await console(world.facilitator)
    page = await person.get(f"/console/reunions/{meeting['id']}")
    person.csrf = csrf_of(page.text)
    closed = await person.post(
        f"/console/reunions/{meeting['id']}/clore", {"notes": "Prochaine réunion en avril."}
    )
    assert closed.status_code == 303
    assert closed.headers["location"].endswith("/compte-rendu")
    stored = expect(await world.api.get(world.facilitator, f"/meetings/{meeting['id']}"), 200)
    assert stored["status"] == "held"
    minutes = await person.get(closed.headers["location"])
    assert "Prochaine réunion en avril." in text_of(minutes.text)
    download = await person.get(f"/console/reunions/{meeting['id']}/compte-rendu.md")
    assert download.headers["content-type"].startswith("text/markdown")
    assert "attachment" in download.headers["content-disposition"]
    assert download.text.startswith("# Compte rendu")
    # Closing it again (a second click) changes nothing and shows the minutes.
    again = await person.post(f"/console/reunions/{meeting['id']}/clore", {})
    assert again.status_code == 303
    assert (
        expect(await world.api.get(world.facilitator, f"/meetings/{meeting['id']}"), 200)["version"]
        == stored["version"]
    )
    assert "Clore la réunion" not in text_of(
        (await person.get(f"/console/reunions/{meeting['id']}")).text
    )
