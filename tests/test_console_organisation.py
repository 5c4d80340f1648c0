"""Mon organisation, through HTTP as a partner's browser sends it: the organisation's actions
(status and result updated by form, with or without htmx), its reports and their follow-up,
sending a report and seeing its possible duplicates."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from app.core.clock import today_in_paris
from tests.api import Api, Caller, World, every_page, expect
from tests.console import Person, text_of
from tests.intake import METZ, moved, submit, triage

Console = Callable[[Caller | None], Awaitable[Person]]
HOME = "/console/mon-organisation"


def day(offset: int) -> str:
    return (today_in_paris() + timedelta(days=offset)).isoformat()


async def read_action(api: Api, action: dict[str, Any]) -> dict[str, Any]:
    return dict(expect(await api.get(api.admin, f"/actions/{action['id']}"), 200))


async def test_a_partner_sees_its_organisations_actions_and_reports_only(
    world: World, console: Console
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, title="Halls de la rue de Toul")
    late = await api.action(
        world.facilitator, problem, world.landlord, title="Réparer la porte", due_date=day(-3)
    )
    soon = await api.action(
        world.facilitator, problem, world.landlord, title="Éclairer le hall", due_date=day(10)
    )
    done = await api.action(
        world.facilitator, problem, world.landlord, title="Poser un digicode", due_date=day(-30)
    )
    expect(
        await api.patch(world.facilitator, f"/actions/{done['id']}", json={"status": "done"}), 200
    )
    theirs = await api.action(
        world.facilitator, problem, world.municipal_police, title="Patrouiller le soir"
    )
    ours = await submit(api, world.landlord_partner)
    other = await submit(api, world.outsider_partner)

    landlord = await console(world.landlord_partner)
    assert (await landlord.get("/console")).headers["location"] == HOME
    page = await landlord.get(HOME)
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "Metz Habitat Territoire" in text
    # Open actions, soonest due first; the overdue one says so in words.
    assert text.index(late["title"]) < text.index(soon["title"])
    assert re.search(r"Réparer la porte .*?\(en retard\) .*?Éclairer le hall", text)
    assert "en retard" not in text[text.index(soon["title"]) :].split("Signalements envoyés")[0]
    assert done["title"] not in text
    assert theirs["title"] not in text
    assert problem["reference"] in text  # a problem it may see is named
    assert ours["reference"] in text
    assert other["reference"] not in text

    # Finished actions are on the organisation's full list.
    full = text_of((await landlord.get(f"{HOME}/actions")).text)
    assert full.index(done["title"]) < full.index(late["title"]) < full.index(soon["title"])
    assert theirs["title"] not in full

    # Another member sees its own actions, not the landlord's.
    municipal = text_of((await (await console(world.municipal_partner)).get(HOME)).text)
    assert theirs["title"] in municipal
    assert late["title"] not in municipal
    assert ours["reference"] not in municipal


@pytest.mark.parametrize("who", ["facilitator", "commander", "admin"])
async def test_the_screen_is_the_partners(world: World, console: Console, who: str) -> None:
    caller = await world.api.user("admin") if who == "admin" else getattr(world, who)
    person = await console(caller)
    for path in (HOME, f"{HOME}/actions", f"{HOME}/signalements/nouveau"):
        answer = await person.get(path)
        assert answer.status_code == 403, path
        assert "partenaires" in text_of(answer.text)
    home = await person.get("/console")
    assert "Mon organisation" not in text_of(home.text)


async def test_an_action_on_a_hidden_problem_shows_without_the_problem(
    world: World, console: Console
) -> None:
    api = world.api
    hidden = await api.problem(
        world.facilitator, world.gpo, title="Point de deal du square", visibility="restricted"
    )
    action = await api.action(world.facilitator, hidden, world.landlord, title="Élaguer les haies")
    landlord = await console(world.landlord_partner)
    for path in (HOME, f"{HOME}/actions/{action['id']}"):
        page = await landlord.get(path)
        assert page.status_code == 200, page.text
        text = text_of(page.text)
        assert "Élaguer les haies" in text
        assert "non consultable par votre organisation" in text
        assert hidden["reference"] not in text
        assert "Point de deal" not in text
        assert hidden["id"] not in page.text
    # The police partner sees the problem, but the action is not its organisation's.
    police = await console(world.police_partner)
    assert (await police.get(f"{HOME}/actions/{action['id']}")).status_code == 404


async def test_the_assignee_updates_status_and_result_by_form(
    world: World, console: Console
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord, due_date=day(-1))
    landlord = await console(world.landlord_partner)
    path = f"{HOME}/actions/{action['id']}"

    # Without JavaScript: a redirect to the action, saved.
    page = await landlord.get(path)
    assert "prévue (statut actuel)" in text_of(page.text)
    sent = await landlord.post(
        path, {"version": action["version"], "status": "in_progress", "result_note": "Devis signé."}
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"{path}?enregistre=1"
    shown = text_of((await landlord.get(sent.headers["location"])).text)
    assert "Action enregistrée." in shown
    assert "en cours (statut actuel)" in shown
    stored = await read_action(api, action)
    assert (stored["status"], stored["result_note"]) == ("in_progress", "Devis signé.")

    # With htmx: the action's part only, redrawn; a done action is no longer overdue.
    fragment = await landlord.post(
        path,
        {"version": stored["version"], "status": "done", "result_note": "Porte réparée."},
        htmx=True,
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert f'id="action-{action["id"]}"' in fragment.text
    text = text_of(fragment.text)
    assert "Action enregistrée." in text
    assert "réalisée (statut actuel)" in text
    assert "en retard" not in text
    stored = await read_action(api, action)
    assert (stored["status"], stored["result_note"]) == ("done", "Porte réparée.")
    assert stored["completed_at"] is not None

    # An emptied result note is cleared.
    cleared = await landlord.post(
        path, {"version": stored["version"], "status": "done", "result_note": ""}
    )
    assert cleared.status_code == 303
    stored = await read_action(api, action)
    assert stored["result_note"] is None

    # A move the lifecycle refuses is explained, and changes nothing.
    refused = await landlord.post(path, {"version": stored["version"], "status": "planned"})
    assert refused.status_code == 409
    assert (
        "Cette action est « réalisée » et ne peut pas passer à « prévue » "
        "(possible : « en cours »)." in text_of(refused.text)
    )
    assert (await read_action(api, action)) == stored

    # The assignee changes only the status and the result: the service refuses the rest.
    for field, value in (("title", "Autre chose"), ("due_date", day(90))):
        forged = await landlord.post(
            path, {"version": stored["version"], "status": "in_progress", field: value}
        )
        assert forged.status_code == 403
        assert "Votre rôle ne permet pas cette action." in text_of(forged.text)
    assert (await read_action(api, action)) == stored


async def test_a_stale_form_is_refused_not_applied(world: World, console: Console) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    landlord = await console(world.landlord_partner)
    page = await landlord.get(HOME)
    version = re.search(
        rf'action="{HOME}/actions/{action["id"]}".*?name="version" value="(\d+)"', page.text, re.S
    )
    assert version is not None
    assert int(version[1]) == action["version"]
    # Meanwhile the facilitator changes the action.
    expect(
        await api.patch(
            world.facilitator, f"/actions/{action['id']}", json={"result_note": "Relancé."}
        ),
        200,
    )
    path = f"{HOME}/actions/{action['id']}"
    for htmx, status in ((False, 412), (True, 200)):
        stale = await landlord.post(
            path, {"version": version[1], "status": "done", "result_note": "Fait."}, htmx=htmx
        )
        assert stale.status_code == status
        text = text_of(stale.text)
        assert "modifiée entre-temps" in text
        assert "rechargez" in text
    stored = await read_action(api, action)
    assert (stored["status"], stored["result_note"]) == ("planned", "Relancé.")


async def test_only_the_organisation_reaches_its_actions_and_forms_need_csrf(
    world: World, console: Console
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    path = f"{HOME}/actions/{action['id']}"
    body = {"version": action["version"], "status": "done"}
    # A member that sees the problem, and one that does not: both 404, as an unknown id.
    for who in (world.municipal_partner, world.outsider_partner):
        other = await console(who)
        assert (await other.get(path)).status_code == 404
        assert (await other.post(path, body)).status_code == 404
    unknown = await (await console(world.municipal_partner)).get(f"{HOME}/actions/{uuid.uuid4()}")
    assert unknown.status_code == 404
    landlord = await console(world.landlord_partner)
    assert (await landlord.post(path, body, csrf=False)).status_code == 403
    assert (await read_action(api, action))["status"] == "planned"


async def test_sending_a_report_shows_its_reference_and_duplicates(
    world: World, console: Console
) -> None:
    api = world.api
    near = await api.problem(
        world.facilitator,
        world.gpo,
        title="Regroupements hall 4",
        location=moved(METZ),
    )
    await api.problem(
        world.facilitator,
        world.gpo,
        title="Trafic dans le hall 4",
        location=moved(METZ, north_m=20),
        visibility="restricted",
    )
    far = await api.problem(
        world.facilitator, world.gpo, title="Hall rue Mazelle", location=moved(METZ, north_m=900)
    )
    landlord = await console(world.landlord_partner)
    form = await landlord.get(f"{HOME}/signalements/nouveau")
    assert form.status_code == 200
    text = text_of(form.text)
    for words in ("Catégorie", "Commune", "Adresse", "Latitude", "Longitude", "Description"):
        assert words in text
    assert "Metz" in text
    assert "Occupation des halls d'immeuble" in text

    point = moved(METZ, north_m=100)
    sent = await landlord.post(
        f"{HOME}/signalements",
        {
            "category": "hall_occupation",
            "commune_code": "57463",
            "location.address": "4 rue de Toul",
            "location.lat": str(point["lat"]).replace(".", ","),
            "location.lon": str(point["lon"]),
            "description": "Regroupements chaque soir dans le hall.",
            "time_pattern": "Tous les soirs",
            "external_ref": "MHT-42",
            "observed_date": day(-1),
            "observed_time": "22:30",
        },
    )
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    assert location.startswith(f"{HOME}/signalements/")
    assert location.endswith("?envoye=1")
    page = await landlord.get(location)
    assert page.status_code == 200
    text = text_of(page.text)
    reference = re.search(r"Signalement (R-\d{4}-\d{6}) envoyé", text)
    assert reference is not None
    assert "4 rue de Toul" in text
    assert "MHT-42" in text
    assert "22 h 30" in text
    assert "Doublons possibles" in text
    assert re.search(rf"{near['reference']} Regroupements hall 4 \S+ 100 m", text)
    assert "Trafic" not in text  # restricted: not shown to a landlord
    assert far["reference"] not in text

    # What the API says of it: the same report, routed, from the organisation.
    stored = list(await every_page(api, world.landlord_partner, "/reports"))
    assert [r["reference"] for r in stored] == [reference[1]]
    assert stored[0]["gpo_id"] == world.gpo["id"]
    assert stored[0]["external_ref"] == "MHT-42"
    assert stored[0]["location"]["lat"] == pytest.approx(point["lat"])
    home = text_of((await landlord.get(HOME)).text)
    assert reference[1] in home


async def test_an_invalid_report_is_shown_again_with_french_errors(
    world: World, console: Console
) -> None:
    landlord = await console(world.landlord_partner)
    answer = await landlord.post(
        f"{HOME}/signalements",
        {
            "category": "hall_occupation",
            "commune_code": "57463",
            "location.lat": "49,12",
            "location.address": "Place de la gare",
            "description": "",
        },
    )
    assert answer.status_code == 422
    text = text_of(answer.text)
    assert "Ce champ est obligatoire." in text
    assert "Indiquez la latitude et la longitude, ou aucune des deux." in text
    assert 'aria-describedby="description-erreur"' in answer.text
    assert 'id="description-erreur"' in answer.text
    assert 'value="Place de la gare"' in answer.text  # what was typed stays
    bad = await landlord.post(
        f"{HOME}/signalements",
        {
            "category": "pas_une_categorie",
            "commune_code": "57463",
            "location.lat": "nord",
            "location.lon": "6.17",
            "description": "Des faits.",
        },
    )
    assert bad.status_code == 422
    text = text_of(bad.text)
    assert "Saisissez un nombre." in text
    assert 'aria-describedby="latitude-erreur"' in bad.text
    unknown = await landlord.post(
        f"{HOME}/signalements",
        {"category": "pas_une_categorie", "commune_code": "57463", "description": "Des faits."},
    )
    assert unknown.status_code == 422
    assert "Cette valeur n'est pas acceptée." in text_of(unknown.text)
    assert 'aria-describedby="categorie-erreur"' in unknown.text
    assert await every_page(world.api, world.landlord_partner, "/reports") == []
    refused = await landlord.post(
        f"{HOME}/signalements",
        {"category": "hall_occupation", "commune_code": "57463", "description": "Des faits."},
        csrf=False,
    )
    assert refused.status_code == 403
    assert await every_page(world.api, world.landlord_partner, "/reports") == []


async def test_the_reports_follow_up_and_pages(world: World, console: Console) -> None:
    api = world.api
    rejected = await submit(api, world.landlord_partner, description="Rien de nouveau.")
    expect(
        await triage(
            api, world.facilitator, rejected, "reject", public_note="Déjà traité par la mairie."
        ),
        200,
    )
    accepted = await submit(api, world.landlord_partner, description="Squat au 3e étage.")
    triaged = expect(await triage(api, world.facilitator, accepted, "create_problem"), 200)
    problem = {"id": triaged["problem_id"]}
    expect(await api.move(world.facilitator, problem, "closed", outcome="duplicate"), 200)
    landlord = await console(world.landlord_partner)
    report_page = await landlord.get(f"{HOME}/signalements/{accepted['id']}")
    text = text_of(report_page.text)
    assert "accepté" in text
    assert "clos" in text
    assert "doublon" in text
    assert "Doublons possibles" not in text  # triaged already
    text = text_of((await landlord.get(HOME)).text)
    assert re.search(rf"{rejected['reference']} .*? rejeté — Déjà traité par la mairie\.", text)
    assert re.search(rf"{accepted['reference']} .*? accepté Problème clos : doublon", text)
    # Someone else's report is the same 404 as none.
    other = await submit(api, world.outsider_partner)
    assert (await landlord.get(f"{HOME}/signalements/{other['id']}")).status_code == 404
    assert (await landlord.get(f"{HOME}/signalements/{uuid.uuid4()}")).status_code == 404

    # Twenty a page, newest first, then "Page suivante" with the API's cursor.
    more = [await submit(api, world.landlord_partner) for _ in range(19)]
    first = await landlord.get(HOME)
    text = text_of(first.text)
    assert more[-1]["reference"] in text
    assert rejected["reference"] not in text
    link = re.search(
        r'href="(/console/mon-organisation\?cursor=[^"]+)"[^>]*>Page suivante', first.text
    )
    assert link is not None
    second = await landlord.get(link[1].replace("&amp;", "&"))
    assert second.status_code == 200
    text = text_of(second.text)
    assert rejected["reference"] in text
    assert more[-1]["reference"] not in text
    assert "Page suivante" not in text
    assert "Première page" in text
    forged = await landlord.get(f"{HOME}?cursor=abc.def")
    assert forged.status_code == 400
