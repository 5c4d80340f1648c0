"""Personal identifiers kept out of shared text (issue 12, item 3), through HTTP: every free
text written through the API, Open311 or the console has its identifiers masked when
readers outside the national police read it, so that a landlord never reads one on any
route; a restricted text keeps them; the answer names what was found, never the value; the
findings are counted for the governance report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from app.governance.screening import screening_counts
from tests.api import Caller, World, expect, problem_of
from tests.console import Person, csrf_of, text_of
from tests.test_indicators import add_indicator, measure

Console = Callable[[Caller | None], Awaitable[Person]]

PHONE = "06 12 34 56 78"
EMAIL = "voisin.temoin@example.fr"
PLATE = "AB-123-CD"
NIR = "1 85 05 78 006 084 91"  # its key checks
IBAN = "FR76 3000 6000 0112 3456 7890 189"
IDENTIFIERS = (PHONE, EMAIL, PLATE, NIR, IBAN)
SECRET = f"Tél. {PHONE}, {EMAIL}, scooter {PLATE}, NIR {NIR}, IBAN {IBAN}."
MASKED = (
    "Tél. [téléphone masqué], [adresse électronique masquée], scooter "
    "[immatriculation masquée], NIR [NIR masqué], IBAN [IBAN masqué]."
)
ALL_KINDS = ["iban", "nir", "email", "phone", "licence_plate"]
METZ = {"lat": 49.1193, "lon": 6.1757}


def no_identifier(response: httpx.Response, route: str) -> None:
    assert response.status_code < 400, f"{route}: {response.status_code} {response.text}"
    for value in IDENTIFIERS:
        assert value not in response.text, f"{route} shows {value!r}"


def warned(answer: dict[str, Any], *fields: str) -> list[tuple[str, str]]:
    """The answer's warnings as (field, kind), checking none quotes a value."""
    for warning in answer["warnings"]:
        assert set(warning) == {"loc", "kind"}
        assert not any(value in str(warning) for value in IDENTIFIERS)
    return [(".".join(map(str, w["loc"][1:])), w["kind"]) for w in answer["warnings"]]


def every_kind(field: str) -> list[tuple[str, str]]:
    return [(field, kind) for kind in ALL_KINDS]


async def shared_record(world: World) -> dict[str, Any]:
    """A `partners` problem and everything around it, each text written with identifiers,
    by the people who write them; the answers' warnings checked on the way."""
    api, fac, landlord = world.api, world.facilitator, world.landlord_partner
    body = {
        "gpo_id": world.gpo["id"],
        "title": f"Hall 4, scooter {PLATE}",
        "description": SECRET,
        "category": "hall_occupation",
        "commune_code": "57463",
        "objective": SECRET,
        "time_pattern": f"Le soir, gardien au {PHONE}",
        "location": {"address": f"4 rue de Toul (gardien {PHONE})", **METZ},
    }
    created = expect(await api.post(fac, "/problems", json=body), 201)
    assert created["visibility"] == "partners"
    assert created["description"] == MASKED
    assert warned(created) == [
        ("title", "licence_plate"),
        *every_kind("description"),
        *every_kind("objective"),
        ("time_pattern", "phone"),
        ("location.address", "phone"),
    ]
    no_identifier(httpx.Response(200, json=created), "the creation's answer")
    problem_id = created["id"]
    patched = expect(
        await api.patch(fac, f"/problems/{problem_id}", json={"description": SECRET}), 200
    )
    assert warned(patched) == every_kind("description")

    comment = expect(
        await api.post(fac, f"/problems/{problem_id}/comments", json={"body": SECRET}), 201
    )
    assert comment["body"] == MASKED
    assert warned(comment) == every_kind("body")

    action = await api.action(fac, created, world.landlord, description=SECRET)
    assert action["description"] == MASKED
    done = expect(
        await api.patch(landlord, f"/actions/{action['id']}", json={"result_note": SECRET}), 200
    )
    assert warned(done) == every_kind("result_note")

    indicator = await add_indicator(
        api, fac, {"id": problem_id}, source=f"Main courante ; contact {EMAIL}"
    )
    assert warned(indicator) == [("source", "email")]
    measured = expect(
        await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 6, note=SECRET), 201
    )
    assert warned(measured) == every_kind("note")

    held_at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    meeting = expect(
        await api.post(
            fac,
            f"/gpos/{world.gpo['id']}/meetings",
            json={"scheduled_at": held_at, "location": f"Salle B, {PHONE}", "notes": SECRET},
        ),
        201,
    )
    assert warned(meeting) == [("location", "phone"), *every_kind("notes")]
    review = expect(
        await api.post(
            fac,
            f"/meetings/{meeting['id']}/reviews",
            json={"problem_id": problem_id, "note": SECRET},
        ),
        201,
    )
    assert warned(review) == every_kind("note")

    expect(await api.move(fac, created, "open"), 200)
    closed = expect(
        await api.move(fac, created, "closed", outcome="better_handled", note=SECRET), 200
    )
    assert closed["outcome_note"] == MASKED
    assert warned(closed) == every_kind("note")
    reopened = expect(await api.move(fac, created, "open", note=SECRET), 200)
    assert warned(reopened) == every_kind("note")

    report = expect(
        await api.post(
            landlord,
            "/reports",
            json={"category": "hall_occupation", "commune_code": "57463", "description": SECRET},
        ),
        201,
    )
    assert report["description"] == MASKED
    assert warned(report) == every_kind("description")
    rejected = expect(
        await api.post(
            fac,
            f"/reports/{report['id']}/triage",
            json={"decision": "reject", "public_note": SECRET},
        ),
        200,
    )
    assert warned(rejected) == every_kind("public_note")

    form = {
        "api_key": landlord.token,
        "service_code": "hall_occupation",
        "lat": str(METZ["lat"]),
        "long": str(METZ["lon"]),
        "description": SECRET,
        "address_string": f"4 rue de Toul, {PHONE}",
    }
    answered = await api.client.post("/open311/v2/requests.json", data=form)
    assert answered.status_code == 201, answered.text
    no_identifier(answered, "Open311's answer")
    [request] = answered.json()
    assert warned(request) == [*every_kind("description"), ("address_string", "phone")]
    assert "numéro de téléphone masqué" in request["service_notice"]
    return {
        "problem": problem_id,
        "action": action["id"],
        "indicator": indicator["id"],
        "meeting": meeting["id"],
        "report": report["id"],
        "request": request["service_request_id"],
    }


async def test_a_landlord_never_reads_an_identifier_on_any_route(
    world: World, console: Console
) -> None:
    ids = await shared_record(world)
    api, landlord = world.api, world.landlord_partner
    p = ids["problem"]
    routes = [
        f"/problems/{p}",
        "/problems",
        "/problems?q=scooter",
        f"/problems/{p}/timeline",
        f"/problems/{p}/comments",
        f"/problems/{p}/indicators",
        f"/indicators/{ids['indicator']}",
        f"/actions/{ids['action']}",
        "/actions",
        "/reports",
        f"/reports/{ids['report']}",
        f"/reports/{ids['request']}",
        f"/meetings/{ids['meeting']}/minutes",
    ]
    for route in routes:
        no_identifier(await api.get(landlord, route), route)
    geojson = await api.get(landlord, "/problems", headers={"Accept": "application/geo+json"})
    assert p in geojson.text
    no_identifier(geojson, "GeoJSON")
    html_minutes = await api.get(
        landlord, f"/meetings/{ids['meeting']}/minutes", headers={"Accept": "text/html"}
    )
    assert "[téléphone masqué]" in html_minutes.text
    no_identifier(html_minutes, "the minutes in HTML")
    key = {"api_key": landlord.token}
    for route in ("/open311/v2/requests.json", f"/open311/v2/requests/{ids['request']}.json"):
        no_identifier(await api.client.get(route, params=key), route)
    person = await console(landlord)
    for page in (
        f"/console/problemes/{p}",
        "/console/problemes",
        "/console/mon-organisation",
        f"/console/mon-organisation/actions/{ids['action']}",
        "/console/mon-organisation/signalements",
        f"/console/mon-organisation/signalements/{ids['report']}",
    ):
        no_identifier(await person.get(page), page)


async def test_the_municipal_police_reads_police_texts_masked(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, visibility="police", description=SECRET)
    assert warned(problem) == every_kind("description")
    no_identifier(await api.get(world.municipal_partner, f"/problems/{problem['id']}"), "police")


async def test_a_restricted_text_keeps_its_identifiers_for_the_national_police(
    world: World,
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, visibility="restricted", description=SECRET)
    assert problem["description"] == SECRET
    assert problem["warnings"] == []
    for reader in (world.police_partner, world.commander):
        read = expect(await api.get(reader, f"/problems/{problem['id']}"), 200)
        assert read["description"] == SECRET
    assert (await api.get(world.landlord_partner, f"/problems/{problem['id']}")).status_code == 404

    # A restricted comment on a shared problem keeps them too, out of the landlord's sight.
    shared = await api.problem(fac, world.gpo)
    path = f"/problems/{shared['id']}/comments"
    kept = expect(await api.post(fac, path, json={"body": SECRET, "visibility": "restricted"}), 201)
    assert kept["body"] == SECRET
    assert kept["warnings"] == []
    comments = expect(await api.get(world.police_partner, path), 200)["items"]
    assert [c["body"] for c in comments] == [SECRET]
    no_identifier(await api.get(world.landlord_partner, path), "comments")
    no_identifier(await api.get(world.landlord_partner, f"/problems/{shared['id']}/timeline"), "tl")


async def test_a_restricted_record_with_identifiers_is_not_lowered(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, visibility="restricted", description=SECRET)
    # Editing the text away does not help: the timeline keeps the old value.
    path = f"/problems/{problem['id']}"
    expect(await api.patch(fac, path, json={"description": "Regroupements."}), 200)
    refused = problem_of(await api.patch(fac, path, json={"visibility": "partners"}), 409)
    assert refused["errors"][0]["loc"] == ["body", "visibility"]
    assert expect(await api.get(fac, path), 200)["visibility"] == "restricted"
    # A restricted problem whose record holds none may be shared.
    clean = await api.problem(fac, world.gpo, visibility="restricted")
    lowered = expect(
        await api.patch(fac, f"/problems/{clean['id']}", json={"visibility": "partners"}), 200
    )
    assert lowered["visibility"] == "partners"


async def test_sensitive_words_warn_without_masking(world: World) -> None:
    api = world.api
    text = "Le locataire du 3e, HOSPITALISÉ, est délégué syndical ; appeler le 06 12 34 56 78."
    problem = await api.problem(world.facilitator, world.gpo, description=text)
    assert problem["description"] == (
        "Le locataire du 3e, HOSPITALISÉ, est délégué syndical ; appeler le [téléphone masqué]."
    )
    assert warned(problem) == [
        ("description", "phone"),
        ("description", "sensitive_health"),
        ("description", "sensitive_union"),
    ]
    restricted = await api.problem(
        world.facilitator, world.gpo, visibility="restricted", description=text
    )
    assert restricted["description"] == text
    assert warned(restricted) == [
        ("description", "sensitive_health"),
        ("description", "sensitive_union"),
    ]


async def test_nothing_found_is_an_empty_list_and_reads_have_no_warnings(world: World) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    assert problem["warnings"] == []
    assert "warnings" not in expect(
        await api.get(world.facilitator, f"/problems/{problem['id']}"), 200
    )


async def test_the_findings_are_counted_by_kind(world: World, app: FastAPI) -> None:
    api = world.api
    before = datetime.now(UTC) - timedelta(seconds=1)
    await api.problem(
        world.facilitator,
        world.gpo,
        description=f"{PHONE}, {PHONE} et {EMAIL} ; une personne malade.",
        objective=f"Contacter {EMAIL}",
    )
    await api.problem(world.facilitator, world.gpo, visibility="restricted", description=PHONE)
    async with app.state.database.session(write=False) as session:
        counts = await screening_counts(session, since=before)
        assert counts == {"phone": 1, "email": 2, "sensitive_health": 1}
        assert await screening_counts(session, until=before) == {}
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert await screening_counts(session, since=later) == {}


async def test_the_console_masks_and_says_what_next_to_the_form(
    world: World, console: Console
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    person = await console(world.landlord_partner)
    page = await person.get(f"/console/problemes/{problem['id']}")
    person.csrf = csrf_of(page.text)
    said = await person.post(
        f"/console/problemes/{problem['id']}/commentaires",
        {"body": f"Le voisin malade ({PHONE}) a vu {PLATE}.", "visibility": "partners"},
    )
    assert said.status_code == 303
    location = said.headers["location"]
    assert parse_qs(urlsplit(location).query)["signale"] == [
        "body:phone",
        "body:licence_plate",
        "body:sensitive_health",
    ]
    assert all(value not in location for value in IDENTIFIERS)
    after = await person.get(location)
    no_identifier(after, "the page after saving")
    shown = text_of(after.text)
    assert "Commentaire : numéro de téléphone masqué" in shown
    assert "Commentaire : immatriculation masquée" in shown
    assert "Commentaire : mot révélant l'état de santé" in shown
    comments = expect(await api.get(fac, f"/problems/{problem['id']}/comments"), 200)["items"]
    assert [c["body"] for c in comments] == [
        "Le voisin malade ([téléphone masqué]) a vu [immatriculation masquée]."
    ]
    # A forged notice names nothing the page does not know.
    forged = await person.get(f"/console/problemes/{problem['id']}?signale=<b>x</b>:phone")
    assert "<b>x</b>" not in forged.text
    assert "gpo-screened" not in forged.text
    assert "gpo-screened" in after.text


async def test_the_assignee_s_result_note_is_masked_in_the_console(
    world: World, console: Console
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    action = await api.action(world.facilitator, problem, world.landlord)
    person = await console(world.landlord_partner)
    page = f"/console/mon-organisation/actions/{action['id']}"
    person.csrf = csrf_of((await person.get(page)).text)
    form = {"version": action["version"], "status": "done", "result_note": f"Voir {EMAIL}"}
    saved = await person.post(page, form)
    assert saved.status_code == 303
    assert "signale=result_note:email" in saved.headers["location"]
    after = await person.get(saved.headers["location"])
    assert "Compte rendu de l'action : adresse électronique masquée" in text_of(after.text)
    no_identifier(after, "the action's page")
    # Inline (htmx), the fragment says it in the same answer.
    form = {"version": action["version"] + 1, "result_note": f"Rappeler le {PHONE}"}
    inline = await person.post(page, form, htmx=True)
    assert inline.status_code == 200
    assert "Compte rendu de l'action : numéro de téléphone masqué" in text_of(inline.text)
    no_identifier(inline, "the action's fragment")


async def test_an_action_handed_to_a_landlord_has_its_kept_title_masked(world: World) -> None:
    """The assignee reads an action's title even on a problem hidden from it, so the title
    is screened again for a new assignee; the description stays at the action's level
    (`restricted`), which the landlord does not read."""
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, visibility="restricted")
    title = f"Appeler le {PHONE}"
    action = await api.action(fac, problem, world.national_police, title=title, description=SECRET)
    assert (action["title"], action["description"]) == (title, SECRET)
    handed = expect(
        await api.patch(
            fac, f"/actions/{action['id']}", json={"assignee_organisation_id": world.landlord["id"]}
        ),
        200,
    )
    assert handed["title"] == "Appeler le [téléphone masqué]"
    assert handed["description"] == SECRET
    assert warned(handed) == [("title", "phone")]
    seen = expect(await api.get(world.landlord_partner, f"/actions/{action['id']}"), 200)
    assert seen["description"] is None
    no_identifier(await api.get(world.landlord_partner, f"/actions/{action['id']}"), "action")


async def test_a_text_kept_at_restricted_is_masked_when_its_level_is_lowered(
    world: World,
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)  # partners
    action = await api.action(
        fac, problem, world.national_police, description=SECRET, visibility="restricted"
    )
    assert action["description"] == SECRET
    lowered = expect(
        await api.patch(fac, f"/actions/{action['id']}", json={"visibility": "partners"}), 200
    )
    assert lowered["description"] == MASKED
    assert warned(lowered) == every_kind("description")
    no_identifier(await api.get(world.landlord_partner, f"/actions/{action['id']}"), "action")


async def test_a_locations_texts_are_screened_too(world: World) -> None:
    api, fac = world.api, world.facilitator
    location = {
        "address": f"Loge du gardien, {PHONE}",
        "sector": f"Secteur de M. Ribeiro ({EMAIL})",
        "station": "Gare de Metz-Ville",
    }
    problem = await api.problem(fac, world.gpo, location=location)
    assert warned(problem) == [("location.address", "phone"), ("location.sector", "email")]
    seen = expect(await api.get(world.landlord_partner, f"/problems/{problem['id']}"), 200)
    assert seen["location"]["address"] == "Loge du gardien, [téléphone masqué]"
    assert seen["location"]["sector"] == "Secteur de M. Ribeiro ([adresse électronique masquée])"
    assert seen["location"]["station"] == "Gare de Metz-Ville"
