"""The console's problems, through HTTP as a browser sends it (JavaScript off): the list and
its filters, a problem's page, its editing with a version check, comments, indicators."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Awaitable, Callable

from tests.api import Caller, World, expect
from tests.console import Person, csrf_of, text_of

Console = Callable[[Caller | None], Awaitable[Person]]


async def test_the_list_filters_as_the_api_does(world: World, console: Console) -> None:
    api, fac = world.api, world.facilitator
    hall = await api.problem(fac, world.gpo, title="Regroupements hall Lothaire")
    rodeo = await api.problem(fac, world.gpo, title="Rodéos rue de Toul", category="rodeo")
    expect(await api.move(fac, rodeo, "open"), 200)
    person = await console(fac)

    listed = text_of((await person.get("/console/problemes")).text)
    assert hall["reference"] in listed
    assert rodeo["reference"] in listed
    opened = text_of((await person.get("/console/problemes?statut=open")).text)
    assert rodeo["reference"] in opened
    assert hall["reference"] not in opened
    searched = text_of((await person.get("/console/problemes?q=lothaire")).text)
    assert hall["reference"] in searched
    assert rodeo["reference"] not in searched
    by_category = text_of((await person.get("/console/problemes?categorie=rodeo")).text)
    assert (rodeo["reference"] in by_category, hall["reference"] in by_category) == (True, False)
    assert (await person.get("/console/problemes?statut=bidon")).status_code == 400

    # Another facilitator's list is empty: its GPOs hold nothing.
    other = await console(world.other_facilitator)
    assert hall["reference"] not in text_of((await other.get("/console/problemes")).text)


async def test_the_list_pages_with_the_apis_cursors(world: World, console: Console) -> None:
    api, fac = world.api, world.facilitator
    made = [await api.problem(fac, world.gpo) for _ in range(52)]
    person = await console(fac)
    first = await person.get("/console/problemes")
    assert "Page suivante" in first.text
    found = re.search(r'href="(/console/problemes\?[^"]*cursor=[^"]*)">Page suivante', first.text)
    assert found
    next_url = html.unescape(found[1])
    second = await person.get(next_url)
    seen = text_of(first.text) + text_of(second.text)
    assert all(p["reference"] in seen for p in made)
    assert (await person.get("/console/problemes?cursor=forged")).status_code == 400


async def test_a_problems_page_shows_what_the_reader_may_see(
    world: World, console: Console
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, title="Dépôts sauvages place Saint-Louis")
    path = f"/problems/{problem['id']}/comments"
    expect(await api.post(fac, path, json={"body": "Pour tous les membres."}), 201)
    expect(
        await api.post(
            fac, path, json={"body": "Réservé à la police nationale.", "visibility": "restricted"}
        ),
        201,
    )
    landlord = await console(world.landlord_partner)
    page = await landlord.get(f"/console/problemes/{problem['id']}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Dépôts sauvages place Saint-Louis" in text
    assert "Pour tous les membres." in text
    assert "Réservé à la police nationale." not in text
    assert "Modifier la fiche" not in text  # a member reads, its facilitators edit
    police = await console(world.police_partner)
    assert "Réservé à la police nationale." in text_of(
        (await police.get(f"/console/problemes/{problem['id']}")).text
    )

    restricted = await api.problem(fac, world.gpo, category="drug_dealing")
    hidden = await landlord.get(f"/console/problemes/{restricted['id']}")
    unknown = await landlord.get(f"/console/problemes/{uuid.uuid4()}")
    assert hidden.status_code == unknown.status_code == 404
    assert text_of(hidden.text) == text_of(unknown.text)


async def test_an_edit_made_meanwhile_is_not_overwritten(world: World, console: Console) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(
        fac,
        world.gpo,
        title="Titre initial",
        location={"address": "4 rue de Toul", "sector": "Borny", "lat": 49.1072, "lon": 6.2105},
    )
    person = await console(fac)
    page = await person.get(f"/console/problemes/{problem['id']}")
    person.csrf = csrf_of(page.text)
    form = {
        "version": problem["version"],
        "title": "Titre de la console",
        "description": problem["description"],
        "category": problem["category"],
        "commune_code": problem["commune_code"],
        "priority": "high",
        "visibility": "partners",
        "displacement": "unknown",
        "location.address": "4 rue de Toul",
        "location.sector": "Borny",
        "location.lat": "49,1072",
        "location.lon": "6,2105",
        "location.transport_line": "",
        "location.station": "",
        "objective": "",
    }
    # Someone else changes the problem meanwhile (through the API).
    expect(
        await api.patch(world.admin, f"/problems/{problem['id']}", json={"title": "Autre titre"}),
        200,
    )
    refused = await person.post(f"/console/problemes/{problem['id']}", form)
    assert refused.status_code == 409
    assert "modifié entre-temps par" in text_of(refused.text)
    stored = expect(await api.get(fac, f"/problems/{problem['id']}"), 200)
    assert stored["title"] == "Autre titre"

    form["version"] = stored["version"]
    saved = await person.post(f"/console/problemes/{problem['id']}", form)
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("#fiche")
    stored = expect(await api.get(fac, f"/problems/{problem['id']}"), 200)
    assert (stored["title"], stored["priority"]) == ("Titre de la console", "high")
    # What the form shows is kept as it was: the location's other parts are not lost.
    assert stored["location"] == {
        "address": "4 rue de Toul",
        "sector": "Borny",
        "lat": 49.1072,
        "lon": 6.2105,
        "transport_line": None,
        "station": None,
    }

    # Invalid input comes back next to its field, in French, and nothing is stored.
    form["version"] = stored["version"]
    form["title"] = ""
    invalid = await person.post(f"/console/problemes/{problem['id']}", form)
    assert invalid.status_code == 422
    assert "Ce champ est obligatoire." in text_of(invalid.text)
    assert 'aria-describedby="fiche-titre-erreur"' in invalid.text
    assert expect(await api.get(fac, f"/problems/{problem['id']}"), 200)["title"] == (
        "Titre de la console"
    )


async def test_members_comment_and_facilitators_add_indicators(
    world: World, console: Console
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    landlord = await console(world.landlord_partner)
    page = await landlord.get(f"/console/problemes/{problem['id']}")
    landlord.csrf = csrf_of(page.text)
    said = await landlord.post(
        f"/console/problemes/{problem['id']}/commentaires",
        {"body": "Passage constaté hier soir.", "visibility": "partners"},
    )
    assert said.status_code == 303
    comments = expect(await api.get(fac, f"/problems/{problem['id']}/comments"), 200)["items"]
    assert [c["body"] for c in comments] == ["Passage constaté hier soir."]
    # A level the landlord could not read is refused in French.
    above = await landlord.post(
        f"/console/problemes/{problem['id']}/commentaires",
        {"body": "Trop haut.", "visibility": "restricted"},
    )
    assert above.status_code == 422
    assert "Vous ne pourriez pas lire" in text_of(above.text)
    # Indicators are the facilitators'.
    refused = await landlord.post(
        f"/console/problemes/{problem['id']}/indicateurs", {"name": "Appels"}
    )
    assert refused.status_code == 403

    person = await console(fac)
    added = await person.post(
        f"/console/problemes/{problem['id']}/indicateurs",
        {
            "name": "Appels au 17",
            "unit": "appels",
            "direction": "decrease",
            "baseline.value": "18",
            "baseline.period_start": "2026-01-01",
            "baseline.period_end": "2026-01-31",
            "target_value": "9,5",
        },
    )
    assert added.status_code == 303, added.text
    (indicator,) = expect(await api.get(fac, f"/problems/{problem['id']}/indicators"), 200)["items"]
    assert (indicator["name"], indicator["target_value"]) == ("Appels au 17", 9.5)
    page = text_of((await person.get(f"/console/problemes/{problem['id']}")).text)
    assert "Appels au 17 : référence 17,4 appels par 30 jours" in page


async def test_a_sensitive_problem_is_not_offered_a_lower_visibility(
    world: World, console: Console
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, category="drug_dealing", title="Point de deal")
    person = await console(fac)
    page = await person.get(f"/console/problemes/{problem['id']}")
    select = re.search(r'<select[^>]*id="fiche-visibilite".*?</select>', page.text, re.S)
    assert select
    assert re.findall(r'<option value="(\w+)"', select[0]) == ["restricted"]
    assert "la visibilité reste restreinte" in text_of(page.text)

    # A form posted with a lower level anyway is refused next to the field, in French.
    person.csrf = csrf_of(page.text)
    form = {
        "version": problem["version"],
        "title": "Point de deal",
        "description": problem["description"],
        "category": "drug_dealing",
        "commune_code": problem["commune_code"],
        "priority": "normal",
        "visibility": "partners",
        "displacement": "unknown",
    }
    refused = await person.post(f"/console/problemes/{problem['id']}", form)
    assert refused.status_code == 422
    error = re.search(
        r'<p class="fr-error-text" id="fiche-visibilite-erreur">(.*?)</p>', refused.text
    )
    assert error
    assert "est sensible" in html.unescape(error[1])
    assert "restreinte" in html.unescape(error[1])
    stored = expect(await api.get(fac, f"/problems/{problem['id']}"), 200)
    assert (stored["visibility"], stored["version"]) == ("restricted", problem["version"])
