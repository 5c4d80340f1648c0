"""Exports say what they are (issue 12, item 6): minutes, printable console pages and
GeoJSON holding police or restricted content are marked "diffusion restreinte", exactly
then; CSV cells a spreadsheet would evaluate are made inert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.core import exports
from app.wording import RESTRICTED_NOTICE
from tests.api import Api, Caller, World, expect
from tests.test_console_dashboard import PAGE, Console
from tests.test_exports import evaluation, rows_of
from tests.test_meetings import day, minutes, review, schedule

GEO = {"Accept": "application/geo+json"}
LOCATED = {"location": {"lat": 49.1193, "lon": 6.1757}}
HEADER = "X-Classification"


async def meeting_with(
    api: Api, fac: Caller, gpo: dict[str, Any], problems: list[dict[str, Any]]
) -> dict[str, Any]:
    meeting = await schedule(api, fac, gpo, datetime.now(UTC))
    for problem in problems:
        expect(await review(api, fac, meeting, problem, "Examiné."), 201)
    return meeting


async def api_minutes(world: World, reader: Caller, meeting: dict[str, Any]) -> list[str]:
    """The minutes the API gives the reader, Markdown then HTML, each checked for its
    header agreeing with its notice."""
    texts = []
    for accept in (None, "text/html"):
        response = await minutes(world.api, reader, meeting, accept=accept)
        assert response.status_code == 200, response.text
        marked = response.headers.get(HEADER) == exports.RESTRICTED_DISTRIBUTION
        assert marked == (RESTRICTED_NOTICE in response.text), response.headers
        texts.append(response.text)
    return texts


def begins_with_notice(markdown: str, page: str) -> bool:
    first_line = markdown.splitlines()[0]
    body = page.split("<body>", 1)[1].lstrip()
    in_markdown = first_line == f"**{RESTRICTED_NOTICE}**"
    assert in_markdown == body.startswith(f'<p class="classification">{RESTRICTED_NOTICE}</p>')
    return in_markdown


async def test_minutes_showing_a_restricted_problem_begin_with_the_notice(world: World) -> None:
    api, fac = world.api, world.facilitator
    secret = await api.problem(fac, world.gpo, category="drug_dealing", visibility="restricted")
    shared = await api.problem(fac, world.gpo)
    meeting = await meeting_with(api, fac, world.gpo, [secret, shared])
    for reader in (fac, world.commander, world.police_partner):
        markdown, page = await api_minutes(world, reader, meeting)
        assert begins_with_notice(markdown, page), reader
        assert markdown.count(RESTRICTED_NOTICE) == 1
    # The landlord's minutes hold only the shared problem: nothing to mark.
    for reader in (world.landlord_partner, world.municipal_partner):
        markdown, page = await api_minutes(world, reader, meeting)
        assert shared["reference"] in markdown
        assert not begins_with_notice(markdown, page)
        assert RESTRICTED_NOTICE not in markdown + page


async def test_a_police_problem_marks_the_minutes_of_the_municipal_police(world: World) -> None:
    api, fac = world.api, world.facilitator
    police = await api.problem(fac, world.gpo, visibility="police")
    meeting = await meeting_with(api, fac, world.gpo, [police])
    markdown, page = await api_minutes(world, world.municipal_partner, meeting)
    assert police["reference"] in markdown
    assert begins_with_notice(markdown, page)
    markdown, page = await api_minutes(world, world.landlord_partner, meeting)
    assert police["reference"] not in markdown
    assert not begins_with_notice(markdown, page)


async def test_minutes_of_partners_problems_only_carry_no_notice(world: World) -> None:
    api, fac = world.api, world.facilitator
    shared = await api.problem(fac, world.gpo)
    await api.action(fac, shared, world.landlord, due_date=day(10), decided_at_meeting_id=None)
    meeting = await meeting_with(api, fac, world.gpo, [shared])
    for reader in (fac, world.commander, world.landlord_partner):
        markdown, page = await api_minutes(world, reader, meeting)
        assert not begins_with_notice(markdown, page)
        assert RESTRICTED_NOTICE not in markdown + page


async def test_an_assignee_is_not_told_the_level_of_a_problem_hidden_from_it(
    world: World,
) -> None:
    """The landlord reads its action on a restricted problem (not the problem): the minutes
    do not reveal, by their marking, that the hidden problem is police material."""
    api, fac = world.api, world.facilitator
    secret = await api.problem(fac, world.gpo, category="drug_dealing", visibility="restricted")
    meeting = await schedule(api, fac, world.gpo, datetime.now(UTC))
    action = await api.action(
        fac, secret, world.landlord, due_date=day(10), decided_at_meeting_id=meeting["id"]
    )
    markdown, page = await api_minutes(world, world.landlord_partner, meeting)
    assert action["title"] in markdown
    assert secret["reference"] not in markdown
    assert not begins_with_notice(markdown, page)
    markdown, page = await api_minutes(world, fac, meeting)
    assert begins_with_notice(markdown, page)


async def console_minutes(console: Console, reader: Caller, meeting: dict[str, Any]) -> list[str]:
    person = await console(reader)
    page = await person.get(f"/console/reunions/{meeting['id']}/compte-rendu")
    download = await person.get(f"/console/reunions/{meeting['id']}/compte-rendu.md")
    assert page.status_code == download.status_code == 200
    marked = download.headers.get(HEADER) == exports.RESTRICTED_DISTRIBUTION
    assert marked == download.text.startswith(f"**{RESTRICTED_NOTICE}**")
    return [page.text, download.text]


def notice_first(page: str) -> bool:
    """The DSFR notice comes before the page's main content (first on the printed page)."""
    if RESTRICTED_NOTICE not in page:
        return False
    assert page.count(RESTRICTED_NOTICE) == 1
    assert page.index(RESTRICTED_NOTICE) < page.index('<main role="main"')
    assert 'class="fr-notice fr-notice--warning"' in page
    return True


async def test_the_console_minutes_and_their_download_are_marked_likewise(
    world: World, console: Console
) -> None:
    api, fac = world.api, world.facilitator
    secret = await api.problem(fac, world.gpo, category="drug_dealing", visibility="restricted")
    shared = await api.problem(fac, world.gpo)
    marked = await meeting_with(api, fac, world.gpo, [secret, shared])
    page, download = await console_minutes(console, fac, marked)
    assert notice_first(page)
    assert download.startswith(f"**{RESTRICTED_NOTICE}**")
    page, download = await console_minutes(console, world.landlord_partner, marked)
    assert not notice_first(page)
    assert RESTRICTED_NOTICE not in download


async def test_the_problem_page_is_marked_by_its_level_and_its_comments(
    world: World, console: Console
) -> None:
    api, fac = world.api, world.facilitator
    secret = await api.problem(fac, world.gpo, category="drug_dealing", visibility="restricted")
    shared = await api.problem(fac, world.gpo)
    facilitator = await console(fac)
    landlord = await console(world.landlord_partner)

    async def page(person: Any, problem: dict[str, Any]) -> str:
        response = await person.get(f"/console/problemes/{problem['id']}")
        assert response.status_code == 200, response.text
        return str(response.text)

    assert notice_first(await page(facilitator, secret))
    assert not notice_first(await page(facilitator, shared))
    assert not notice_first(await page(landlord, shared))
    # A police comment on a shared problem marks the page of those who read it, only.
    comment = {"body": "Véhicule repéré par la patrouille.", "visibility": "police"}
    expect(await api.post(fac, f"/problems/{shared['id']}/comments", json=comment), 201)
    assert notice_first(await page(facilitator, shared))
    assert not notice_first(await page(landlord, shared))


async def test_the_meeting_page_is_marked_when_its_agenda_holds_police_problems(
    world: World, console: Console
) -> None:
    api, fac = world.api, world.facilitator
    gpo = await api.gpo(fac, members=[world.national_police, world.landlord])
    await api.problem(fac, gpo)
    meeting = await schedule(api, fac, gpo, datetime.now(UTC))
    facilitator = await console(fac)
    address = f"/console/reunions/{meeting['id']}"
    assert not notice_first((await facilitator.get(address)).text)
    await api.problem(fac, gpo, visibility="police")
    assert notice_first((await facilitator.get(address)).text)
    agenda = expect(await api.get(fac, f"/meetings/{meeting['id']}/agenda"), 200)
    assert sorted(p["visibility"] for p in agenda["problems"]) == ["partners", "police"]


# --- GeoJSON -------------------------------------------------------------------------------


async def geojson(api: Api, reader: Caller, gpo: dict[str, Any]) -> httpx.Response:
    response = await api.get(reader, "/problems", params={"gpo_id": gpo["id"]}, headers=GEO)
    assert response.status_code == 200, response.text
    return response


async def test_geojson_holding_police_problems_carries_the_classification(
    world: World,
) -> None:
    api, fac = world.api, world.facilitator
    await api.problem(fac, world.gpo, **LOCATED)
    secret = await api.problem(
        fac, world.gpo, category="drug_dealing", visibility="restricted", **LOCATED
    )
    marked = await geojson(api, fac, world.gpo)
    assert marked.headers[HEADER] == "diffusion-restreinte"
    body = marked.json()
    assert body["classification"] == "diffusion-restreinte"
    assert secret["id"] in {f["id"] for f in body["features"]}
    # The landlord's page holds only the shared problem.
    shared_only = await geojson(api, world.landlord_partner, world.gpo)
    assert HEADER not in shared_only.headers
    assert "classification" not in shared_only.json()
    assert len(shared_only.json()["features"]) == 1


async def test_geojson_of_partners_problems_is_not_marked(world: World) -> None:
    api, fac = world.api, world.facilitator
    gpo = await api.gpo(fac, members=[world.landlord])
    await api.problem(fac, gpo, **LOCATED)
    response = await geojson(api, fac, gpo)
    assert HEADER not in response.headers
    assert "classification" not in response.json()
    assert len(response.json()["features"]) == 1


# --- CSV -----------------------------------------------------------------------------------


def test_a_classified_table_says_so_in_its_header_and_keeps_its_header_row() -> None:
    columns, rows = ["reference", "title"], [{"reference": "P-2026-000001", "title": "x"}]
    for media_type in (exports.CSV, exports.XLSX):
        marked = exports.table_file(
            media_type, columns, rows, name="f", sheet_title="f", classified=True
        )
        assert marked.headers[HEADER] == "diffusion-restreinte"
        plain = exports.table_file(media_type, columns, rows, name="f", sheet_title="f")
        assert HEADER not in plain.headers
    body = bytes(
        exports.table_file(
            exports.CSV, columns, rows, name="f", sheet_title="f", classified=True
        ).body
    )
    assert body.decode("utf-8-sig").split("\r\n")[0] == "reference;title"


async def test_the_evaluation_is_figures_not_police_records(world: World) -> None:
    """Counts, not texts: the annual evaluation carries no marking, even for a commander
    whose figures count restricted problems; its first line is the header row."""
    api, fac = world.api, world.facilitator
    await api.problem(fac, world.gpo, category="drug_dealing", visibility="restricted")
    response = await evaluation(api, world.commander, "text/csv")
    assert response.status_code == 200
    assert HEADER not in response.headers
    assert response.content.decode("utf-8-sig").startswith("breakdown;")


@pytest.mark.parametrize("start", ["\t", "\r", "=", "+", "-", "@"])
async def test_a_name_starting_like_a_formula_is_inert_in_every_csv(
    world: World, console: Console, start: str
) -> None:
    """A GPO named so reaches both CSV exports inert; a leading tab or carriage return is
    trimmed by the input already, and would be neutralised anyway."""
    api, fac = world.api, world.facilitator
    name = f"{start}cmd|' /C calc'!A0 {start}"
    response = await api.post(
        fac,
        "/gpos",
        json={"name": name, "kind": "general", "commune_codes": ["57463"]},
    )
    gpo = expect(response, 201)
    await api.problem(fac, gpo)
    year = datetime.now(UTC).year
    commander = await console(world.commander)
    files = [
        (await evaluation(api, world.commander, "text/csv", year=year)).content,
        (await evaluation(api, world.commander, "text/csv", year=year, delimiter=",")).content,
        (await commander.get(f"{PAGE}/evaluation.csv", params={"year": str(year)})).content,
    ]
    trimmed = start in "\t\r"
    assert gpo["name"] == (name.strip() if trimmed else name)
    expected = gpo["name"] if trimmed else "'" + gpo["name"]
    for content, delimiter in zip(files, (";", ",", ";"), strict=True):
        labels = {row["label"] for row in rows_of(content, delimiter)}
        assert expected in labels, labels
        for label in labels:
            assert not label.startswith(exports.FORMULA_START), label


@pytest.mark.parametrize("start", ["\t", "\r"])
def test_text_starting_with_a_tab_or_a_carriage_return_is_inert(start: str) -> None:
    for form in (exports.FRENCH, exports.PLAIN):
        assert form.cell(f"{start}=1+1") == f"'{start}=1+1"
    content = exports.csv_file(["label"], [{"label": f"{start}cmd"}]).decode("utf-8-sig")
    assert content.split("\r\n")[1] in (f"'{start}cmd", f'"\'{start}cmd"')
