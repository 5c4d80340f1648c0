"""The console's Tableau de bord through HTTP, as a browser asks for it: who reads it, the
overview's charts against what the API's `/stats/overview` gives the same person, the
filters, the annual evaluation's tables and its CSV download, and invalid filters."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.actions.models import Action
from app.core.clock import today_in_paris
from app.figures.service import EXPORT_COLUMNS as CSV_COLUMNS
from app.problems.models import Problem
from tests.api import Api, Caller, World, expect
from tests.console import Person, text_of
from tests.test_figures import close, day, measured, paris, store

Console = Callable[[Caller | None], Awaitable[Person]]
PAGE = "/console/tableau-de-bord"
CSV_PATH = f"{PAGE}/evaluation.csv"
STATUSES = {"new": "Nouveau", "open": "Ouvert", "monitoring": "En suivi", "closed": "Clos"}


# --- reading the page --------------------------------------------------------------------------


def table(page: str, table_id: str) -> list[list[str]]:
    """The rows of the table `table_id` (its header row first), each cell's text."""
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', page, flags=re.S)
    assert found, f"no table {table_id}"
    rows = re.findall(r"<tr\b[^>]*>(.*?)</tr>", found[1], flags=re.S)
    return [
        [text_of(cell) for cell in re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, flags=re.S)]
        for row in rows
    ]


def chart_counts(page: str, chart: str) -> dict[str, int]:
    """What the bars of a chart count, from the table of figures beside it ({} when the
    chart says there is nothing to show)."""
    if f'<table id="tableau-{chart}">' not in page:
        return {}
    return {label: int(count) for label, count in table(page, f"tableau-{chart}")[1:]}


def rows_by_label(page: str, table_id: str) -> dict[str, dict[str, str]]:
    header, *rows = table(page, table_id)
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    """The rows of a downloaded CSV in the French form (a byte order mark, `;`)."""
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {key: count for key, count in counts.items() if count}


async def dashboard(person: Person, **params: Any) -> str:
    response = await person.get(PAGE, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def api_overview(api: Api, caller: Caller, **params: Any) -> dict[str, Any]:
    return dict(expect(await api.get(caller, "/stats/overview", params=params), 200))


async def labels(world: World) -> dict[str, dict[str, str]]:
    """The French names the page gives to the API's keys."""
    api = world.api
    categories = expect(await api.get(world.admin, "/categories", params={"limit": 200}), 200)
    communes = expect(await api.get(world.admin, "/communes", params={"limit": 200}), 200)
    organisations = expect(await api.get(world.admin, "/organisations", params={"limit": 200}), 200)
    return {
        "statuts": STATUSES,
        "categories": {c["code"]: c["label_fr"] for c in categories["items"]},
        "communes": {c["code"]: c["name"] for c in communes["items"]},
        "retards": {o["id"]: o["name"] for o in organisations["items"]},
    }


CHARTS = {
    "statuts": "problems_by_status",
    "categories": "problems_by_category",
    "communes": "problems_by_commune",
    "retards": "overdue_actions_by_organisation",
}


async def assert_page_matches_api(
    world: World, person: Person, caller: Caller, **params: Any
) -> str:
    """Every chart of the page counts what the API's overview gives the same caller with
    the same filters; returns the page."""
    page = await dashboard(person, **params)
    figures = await api_overview(world.api, caller, **params)
    names = await labels(world)
    for chart, field in CHARTS.items():
        expected = {names[chart][key]: count for key, count in figures[field].items()}
        assert nonzero(chart_counts(page, chart)) == nonzero(expected), (chart, params)
    return page


# --- set-up ------------------------------------------------------------------------------------


async def two_gpos_of_work(world: World) -> dict[str, Any]:
    """The world's GPO (Metz and Montigny) and another facilitator's (Woippy), with
    problems in several states and overdue actions in both."""
    api, fac, other = world.api, world.facilitator, world.other_facilitator
    elsewhere = await api.gpo(other, communes=["57751"], members=[world.municipal_police])
    hall = await api.problem(fac, world.gpo, category="hall_occupation")
    rodeos = await api.problem(fac, world.gpo, category="rodeo")
    expect(await api.move(fac, rodeos, "open"), 200)
    montigny = await api.problem(fac, world.gpo, commune_code="57480")
    await close(api, fac, montigny, "better_handled")
    dealing = await api.problem(fac, world.gpo, category="drug_dealing", visibility="restricted")
    expect(await api.move(fac, dealing, "open"), 200)
    damage = await api.problem(other, elsewhere, category="damage", commune_code="57751")
    expect(await api.move(other, damage, "open"), 200)
    await api.action(fac, rodeos, world.landlord, due_date=day(-1))
    await api.action(fac, hall, world.landlord, due_date=day(-5))
    await api.action(fac, rodeos, world.municipal_police, due_date=day(5))
    await api.action(other, damage, world.municipal_police, due_date=day(-2))
    return {"elsewhere": elsewhere, "hall": hall, "montigny": montigny, "damage": damage}


# --- who reads the dashboard -------------------------------------------------------------------


async def test_a_commander_sees_every_gpo_counted_as_the_api_counts(
    world: World, console: Console
) -> None:
    await two_gpos_of_work(world)
    commander = await console(world.commander)
    page = await assert_page_matches_api(world, commander, world.commander)

    assert chart_counts(page, "statuts") == {"Nouveau": 1, "Ouvert": 3, "En suivi": 0, "Clos": 1}
    assert chart_counts(page, "communes") == {"Metz": 3, "Montigny-lès-Metz": 1, "Woippy": 1}
    # Overdue actions by organisation, named, and drawn in red.
    assert chart_counts(page, "retards") == {
        "Metz Habitat Territoire": 2,
        "Police municipale de Metz": 1,
    }
    assert page.count('fill="#ce0500"') == 2
    text = text_of(page)
    assert "Les chiffres de tous les GPO." in text
    assert "Problèmes 5 tous statuts confondus" in text
    # The charts are images with a French sentence, and the menu shows where one is.
    assert 'role="img" aria-label="Problèmes par statut : Nouveau 1, Ouvert 3, En suivi 0' in page
    assert 'aria-label="Actions en retard par organisation : Metz Habitat Territoire 2' in page
    assert re.search(r'href="/console/tableau-de-bord" aria-current="page"', page)
    # Nothing inline that the Content-Security-Policy would block.
    assert " style=" not in page
    assert "<style" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)

    # The bootstrap admin, as a person.
    me = expect(await world.api.get(world.admin, "/me"), 200)
    admin = Caller(world.admin.token, me["user"])
    await assert_page_matches_api(world, await console(admin), admin)


async def test_a_facilitator_counts_only_the_problems_of_its_gpos(
    world: World, console: Console
) -> None:
    work = await two_gpos_of_work(world)
    facilitator = await console(world.facilitator)
    page = await assert_page_matches_api(world, facilitator, world.facilitator)
    assert chart_counts(page, "statuts") == {"Nouveau": 1, "Ouvert": 2, "En suivi": 0, "Clos": 1}
    # The other GPO's problem (Woippy, damage) and its overdue action are not counted.
    assert "Woippy" not in chart_counts(page, "communes")
    assert "Dégradations" not in chart_counts(page, "categories")
    assert chart_counts(page, "retards") == {"Metz Habitat Territoire": 2}
    assert "Les chiffres des GPO que vous animez." in text_of(page)
    # Its GPO is the one choice of the GPO filter.
    assert world.gpo["name"] in page
    assert work["elsewhere"]["name"] not in page

    other = await console(world.other_facilitator)
    theirs = await assert_page_matches_api(world, other, world.other_facilitator)
    assert chart_counts(theirs, "communes") == {"Woippy": 1}


@pytest.mark.parametrize(
    "who", ["landlord_partner", "police_partner", "municipal_partner", "outsider_partner"]
)
async def test_partners_get_the_403_page(world: World, console: Console, who: str) -> None:
    partner = await console(getattr(world, who))
    for path in (PAGE, f"{PAGE}?year=2025", f"{CSV_PATH}?year=2025"):
        response = await partner.get(path)
        assert response.status_code == 403, path
        assert response.headers["content-type"].startswith("text/html")
        text = text_of(response.text)
        assert "Accès refusé" in text
        assert "réservé au commandement, aux administrateurs et aux animateurs" in text
        assert 'href="/console/tableau-de-bord"' not in response.text  # nor in the menu


async def test_the_dashboard_needs_a_signed_in_person(console: Console) -> None:
    anonymous = await console(None)
    for path in (PAGE, CSV_PATH):
        response = await anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=")


# --- the overview ------------------------------------------------------------------------------


async def test_filters_change_the_figures_as_they_change_the_api(
    world: World, console: Console, app: FastAPI
) -> None:
    work = await two_gpos_of_work(world)
    await store(app, Problem, work["hall"], created_at=paris(2025, 3, 10, 12))
    await store(app, Problem, work["montigny"], created_at=paris(2025, 5, 31, 23, 30))
    await store(app, Problem, work["damage"], created_at=paris(2025, 4, 15, 12))
    commander = await console(world.commander)

    cases: list[tuple[dict[str, str], int]] = [
        ({}, 5),
        ({"gpo_id": world.gpo["id"]}, 4),
        ({"gpo_id": work["elsewhere"]["id"]}, 1),
        ({"commune_code": "57463"}, 3),
        ({"commune_code": "57480"}, 1),
        ({"from": "2025-03-01", "to": "2025-05-31"}, 3),
        ({"from": "2025-03-01", "to": "2025-05-30"}, 2),
        ({"to": "2025-03-31"}, 1),
        ({"gpo_id": world.gpo["id"], "commune_code": "57463", "to": "2025-12-31"}, 1),
    ]
    for params, expected in cases:
        page = await assert_page_matches_api(world, commander, world.commander, **params)
        assert sum(chart_counts(page, "statuts").values()) == expected, params

    # The form shows the filters back, and says what is counted.
    page = await dashboard(
        commander, gpo_id=world.gpo["id"], commune_code="57463", **{"from": "2025-03-01"}
    )
    assert f'<option value="{world.gpo["id"]}" selected>' in page
    assert '<option value="57463" selected>Metz</option>' in page
    assert 'value="2025-03-01"' in page
    assert (
        f"{world.gpo['name']} ; commune de Metz ; problèmes créés depuis le 01/03/2025."
        in text_of(page)
    )
    # Empty fields, as a browser sends them, are no filter.
    empty = {"gpo_id": "", "commune_code": "", "from": "", "to": "", "year": ""}
    assert sum(chart_counts(await dashboard(commander, **empty), "statuts").values()) == 5

    # Overdue actions follow the filters too; none left, the chart says so.
    assert chart_counts(await dashboard(commander, commune_code="57480"), "retards") == {}
    assert "Aucune action en retard pour ces filtres." in text_of(
        await dashboard(commander, commune_code="57480")
    )


async def test_key_figures_in_french_formats(world: World, console: Console, app: FastAPI) -> None:
    api, fac = world.api, world.facilitator
    facilitator = await console(fac)
    text = text_of(await dashboard(facilitator))
    assert "Délai médian de clôture — aucun problème clos pour ces filtres" in text

    closed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    # Closed after 3 and 4 days (a median of 3.5), two of three with measurements.
    for days, value in ((3, 5.0), (4, 40.0), (4, None)):
        problem = await api.problem(fac, world.gpo)
        expect(await api.move(fac, problem, "open"), 200)
        if value is not None:
            await measured(api, fac, problem, value)
        expect(await api.move(fac, problem, "closed", outcome="better_handled"), 200)
        await store(
            app, Problem, problem, created_at=closed_at - timedelta(days=days), closed_at=closed_at
        )
    figures = await api_overview(api, fac)
    assert figures["median_days_to_close"] == pytest.approx(4.0, abs=0.05)
    assert figures["closed_with_evidence_ratio"] == pytest.approx(2 / 3, abs=1e-3)

    text = text_of(await dashboard(facilitator))
    assert "Délai médian de clôture 4 jours des problèmes clos, de leur création" in text
    assert "Clôtures étayées par des mesures 67 % des problèmes clos" in text
    assert "67\u00a0%" in await dashboard(facilitator)  # a non-breaking space before %

    # A fourth closing after 2 days: the median of 3, 4, 4 and 2 is 3.5.
    problem = await api.problem(fac, world.gpo)
    await close(api, fac, problem, "better_handled")
    await store(
        app, Problem, problem, created_at=closed_at - timedelta(days=2), closed_at=closed_at
    )
    text = text_of(await dashboard(facilitator))
    assert "Délai médian de clôture 3,5 jours" in text
    assert "Clôtures étayées par des mesures 50 %" in text


# --- the annual evaluation ---------------------------------------------------------------------


async def a_closed_year(world: World, app: FastAPI) -> dict[str, Any]:
    """2025: a problem raised and closed as `reduced` (an improved indicator, 10 days), one
    raised and left open with an overdue action; a done action for the landlord."""
    api, fac = world.api, world.facilitator
    calls = await api.problem(fac, world.gpo, category="hall_occupation")
    expect(await api.move(fac, calls, "open"), 200)
    await measured(api, fac, calls, 5)
    done = await api.action(fac, calls, world.landlord, due_date="2025-02-20")
    expect(await api.patch(fac, f"/actions/{done['id']}", json={"status": "done"}), 200)
    expect(await api.move(fac, calls, "closed", outcome="reduced"), 200)
    await store(app, Problem, calls, created_at=paris(2025, 2, 1), closed_at=paris(2025, 2, 11))
    await store(app, Action, done, created_at=paris(2025, 2, 2))

    rodeos = await api.problem(fac, world.gpo, category="rodeo", commune_code="57480")
    expect(await api.move(fac, rodeos, "open"), 200)
    late = await api.action(fac, rodeos, world.municipal_police, due_date="2025-07-01")
    await store(app, Problem, rodeos, created_at=paris(2025, 6, 1))
    await store(app, Action, late, created_at=paris(2025, 6, 2))
    return {"calls": calls, "rodeos": rodeos}


async def test_the_annual_tables_show_the_year_with_french_labels(
    world: World, console: Console, app: FastAPI
) -> None:
    await a_closed_year(world, app)
    commander = await console(world.commander)
    page = await dashboard(commander, year="2025")
    assert "Évaluation annuelle 2025" in text_of(page)

    gpos = rows_by_label(page, "evaluation-gpo")
    assert set(gpos) == {world.gpo["name"], "Total"}
    row = gpos[world.gpo["name"]]
    assert row["Problèmes soulevés"] == "2"
    assert row["Problèmes clos"] == "1"
    assert row["Délai médian de clôture (jours)"] == "10"
    assert row["Clos avec un indicateur amélioré"] == "1"
    assert row["Résultats des clôtures"] == "Réduit en nombre : 1"
    assert gpos["Total"] == {**row, "GPO": "Total"}

    communes = rows_by_label(page, "evaluation-communes")
    assert communes["Metz"]["Résultats des clôtures"] == "Réduit en nombre : 1"
    assert communes["Montigny-lès-Metz"]["Problèmes clos"] == "0"
    assert communes["Montigny-lès-Metz"]["Délai médian de clôture (jours)"] == "—"
    assert communes["Montigny-lès-Metz"]["Résultats des clôtures"] == "—"
    categories = rows_by_label(page, "evaluation-categories")
    assert categories["Occupation des halls d'immeuble"]["Problèmes clos"] == "1"
    assert categories["Rodéos motorisés"]["Problèmes soulevés"] == "1"

    organisations = rows_by_label(page, "evaluation-organisations")
    assert organisations["Metz Habitat Territoire"] == {
        "Organisation": "Metz Habitat Territoire",
        "Actions confiées": "1",
        "Réalisées": "1",
        "En retard": "0",
        "Annulées": "0",
    }
    assert organisations["Police municipale de Metz"]["En retard"] == "1"
    assert organisations["Total"]["Actions confiées"] == "2"
    for table_id in ("evaluation-gpo", "evaluation-organisations"):
        assert re.search(rf'<table id="{table_id}">\s*<caption>', page)
    assert '<th scope="col">Organisation</th>' in page
    assert f'<th scope="row">{html.escape(world.gpo["name"])}</th>' in page
    assert f'href="{CSV_PATH}?year=2025"' in page

    # Another year has nothing of it; the default year is this one.
    other_year = text_of(await dashboard(commander, year="2024"))
    assert "Aucun problème soulevé ni clos en 2024." in other_year
    assert "Aucune action confiée en 2024." in other_year
    this_year = today_in_paris().year
    assert f"Évaluation annuelle {this_year}" in text_of(await dashboard(commander))

    # A facilitator of another GPO evaluates nothing of it.
    other = await console(world.other_facilitator)
    assert "Aucun problème soulevé ni clos en 2025." in text_of(await dashboard(other, year="2025"))


async def test_the_evaluation_downloads_as_the_api_csv(
    world: World, console: Console, app: FastAPI
) -> None:
    await a_closed_year(world, app)
    commander = await console(world.commander)
    response = await commander.get(CSV_PATH, params={"year": "2025"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="evaluation-gpo-2025.csv"'
    )
    assert response.headers["cache-control"] == "no-store"
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == ";".join(CSV_COLUMNS)
    rows = csv_rows(response)
    by_pair = {(row["breakdown"], row["key"]): row for row in rows}
    assert by_pair[("totals", "all")]["problems_raised"] == "2"
    assert by_pair[("totals", "all")]["outcome_reduced"] == "1"
    assert by_pair[("gpo", world.gpo["id"])]["label"] == world.gpo["name"]
    assert by_pair[("commune", "57480")]["label"] == "Montigny-lès-Metz"
    assert by_pair[("organisation", world.landlord["id"])]["actions_done"] == "1"

    # The same file as the API's for the same person and year.
    api_csv = await world.api.get(
        world.commander,
        "/evaluations/annual",
        params={"year": 2025},
        headers={"Accept": "text/csv"},
    )
    assert api_csv.status_code == 200
    assert api_csv.content == response.content

    # A facilitator's file holds only its GPOs.
    other = await console(world.other_facilitator)
    theirs = await other.get(CSV_PATH, params={"year": "2025"})
    keys = {row["key"] for row in csv_rows(theirs)}
    assert world.gpo["id"] not in keys
    assert keys == {"all"}


async def test_a_spreadsheet_formula_in_a_name_is_made_inert(
    world: World, console: Console, app: FastAPI
) -> None:
    api = world.api
    gpo = await api.gpo(world.facilitator, name='=HYPERLINK("http://x")')
    problem = await api.problem(world.facilitator, gpo)
    await store(app, Problem, problem, created_at=paris(2025, 3, 1))
    commander = await console(world.commander)
    response = await commander.get(CSV_PATH, params={"year": "2025"})
    labels = [row["label"] for row in csv_rows(response)]
    assert '\'=HYPERLINK("http://x")' in labels
    assert not any(label.startswith("=") for label in labels)


# --- invalid filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"year": "deux-mille"}, "filtre-annee", "Saisissez un nombre."),
        ({"year": "1850"}, "filtre-annee", "La valeur doit être au moins 2000."),
        ({"year": "2025.5"}, "filtre-annee", "Saisissez un nombre."),
        ({"from": "mars 2025"}, "filtre-du", "Saisissez une date valide"),
        ({"to": "2025-02-30"}, "filtre-au", "Saisissez une date valide"),
        ({"gpo_id": "pas-un-gpo"}, "filtre-gpo", "Choisissez une valeur de la liste."),
        ({"commune_code": "99999"}, "filtre-commune", "Choisissez une valeur de la liste."),
        ({"commune_code": "Metz"}, "filtre-commune", "Le format n'est pas celui attendu."),
        (
            {"from": "2025-06-01", "to": "2025-05-01"},
            "filtre-au",
            "La date de fin précède la date de début.",
        ),
    ],
)
async def test_an_invalid_filter_is_said_in_french_next_to_its_field(
    world: World, console: Console, params: dict[str, str], field: str, message: str
) -> None:
    commander = await console(world.commander)
    response = await commander.get(PAGE, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    error = re.search(rf'<p class="fr-error-text" id="{field}-erreur">(.*?)</p>', response.text)
    assert error, response.text
    assert message in html.unescape(error[1])
    assert f'aria-describedby="{field}-erreur"' in response.text
    text = text_of(response.text)
    assert "Le formulaire contient des erreurs : corrigez les champs signalés." in text
    assert "Vue d'ensemble" in text  # the form's legend, not figures
    assert "Évaluation annuelle 20" not in text


async def test_a_gpo_the_facilitator_does_not_run_is_not_a_choice(
    world: World, console: Console
) -> None:
    work = await two_gpos_of_work(world)
    facilitator = await console(world.facilitator)
    response = await facilitator.get(PAGE, params={"gpo_id": work["elsewhere"]["id"]})
    assert response.status_code == 400
    assert "Choisissez une valeur de la liste." in text_of(response.text)
    assert "Dégradations" not in response.text


@pytest.mark.parametrize("year", ["deux-mille", "1850", ""])
async def test_an_invalid_year_of_download_is_a_french_page(
    world: World, console: Console, year: str
) -> None:
    commander = await console(world.commander)
    response: httpx.Response = await commander.get(CSV_PATH, params={"year": year})
    if year == "":  # no year: this one
        assert response.status_code == 200
        assert response.content.decode("utf-8-sig").splitlines()[0] == ";".join(CSV_COLUMNS)
        return
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "L'année demandée n'est pas valide" in text_of(response.text)
