"""Commanders' figures through HTTP: the overview and the annual evaluation (JSON and CSV),
who reads them, and what they count. Durations are made exact by moving stored times."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.actions.models import Action
from app.problems.models import Problem
from tests.api import Api, Caller, World, expect, problem_of

PARIS = ZoneInfo("Europe/Paris")
OUTCOMES = [
    "eliminated",
    "reduced",
    "harm_reduced",
    "better_handled",
    "responsibility_shifted",
    "no_improvement",
    "duplicate",
    "not_in_scope",
]


# --- helpers ---------------------------------------------------------------------------


def paris(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


async def store(app: FastAPI, model: Any, item: dict[str, Any], **values: Any) -> None:
    """Move stored times of a problem or an action, as if time had passed."""
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(model).where(model.id == uuid.UUID(item["id"])).values(**values)
        )
        await session.commit()


async def overview(api: Api, caller: Caller, **params: Any) -> dict[str, Any]:
    return dict(expect(await api.get(caller, "/stats/overview", params=params), 200))


async def annual(api: Api, caller: Caller, year: int) -> dict[str, Any]:
    return dict(expect(await api.get(caller, "/evaluations/annual", params={"year": year}), 200))


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {key: count for key, count in counts.items() if count}


def total(figures: dict[str, Any]) -> int:
    return sum(figures["problems_by_status"].values())


def by_key(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keyed = {row["key"]: row for row in rows}
    assert len(keyed) == len(rows), "a key appears twice"
    return keyed


def median(value: float | None) -> Any:
    return None if value is None else pytest.approx(value, abs=0.05)


async def close(api: Api, fac: Caller, problem: dict[str, Any], outcome: str) -> None:
    if outcome not in ("duplicate", "not_in_scope"):
        expect(await api.move(fac, problem, "open"), 200)
    expect(await api.move(fac, problem, "closed", outcome=outcome), 200)


async def measured(
    api: Api, fac: Caller, problem: dict[str, Any], value: float, *, baseline: int = 31
) -> dict[str, Any]:
    """An indicator of calls (fewer is better) with a January baseline and a February
    measurement: `value` below 28 improves on a baseline of 31."""
    body = {
        "name": "Appels au 17",
        "unit": "appels",
        "direction": "decrease",
        "baseline": {"value": baseline, "period_start": "2025-01-01", "period_end": "2025-01-31"},
    }
    indicator = expect(await api.post(fac, f"/problems/{problem['id']}/indicators", json=body), 201)
    measurement = {"period_start": "2025-02-01", "period_end": "2025-02-28", "value": value}
    path = f"/indicators/{indicator['id']}/measurements"
    expect(await api.post(fac, path, json=measurement), 201)
    return dict(indicator)


def day(offset: int) -> str:
    return (datetime.now(PARIS).date() + timedelta(days=offset)).isoformat()


# --- who reads figures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["landlord_partner", "police_partner", "municipal_partner", "outsider_partner"]
)
@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/stats/overview", None),
        ("/evaluations/annual?year=2025", None),
        ("/evaluations/annual?year=2025", "text/csv"),
    ],
)
async def test_partners_do_not_read_figures(
    world: World, who: str, path: str, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    problem_of(await world.api.get(getattr(world, who), path, headers=headers), 403)


async def test_figures_need_a_token(world: World) -> None:
    response = await world.api.get(None, "/stats/overview")
    problem_of(response, 401)


# --- the overview ---------------------------------------------------------------------------


async def test_overview_counts_what_each_reader_may_see(world: World) -> None:
    api, fac, other = world.api, world.facilitator, world.other_facilitator
    elsewhere = await api.gpo(other, communes=["57751"], members=[world.municipal_police])

    fresh = await api.problem(fac, world.gpo, category="hall_occupation")
    rodeos = await api.problem(fac, world.gpo, category="rodeo")
    expect(await api.move(fac, rodeos, "open"), 200)
    montigny = await api.problem(fac, world.gpo, commune_code="57480")
    await close(api, fac, montigny, "better_handled")
    dealing = await api.problem(fac, world.gpo, category="drug_dealing", visibility="restricted")
    expect(await api.move(fac, dealing, "open"), 200)
    damage = await api.problem(other, elsewhere, category="damage", commune_code="57751")
    expect(await api.move(other, damage, "open"), 200)

    await api.action(fac, rodeos, world.landlord, due_date=day(-1))
    await api.action(fac, fresh, world.landlord, due_date=day(-5))
    await api.action(fac, rodeos, world.municipal_police, due_date=day(5))
    done = await api.action(fac, fresh, world.national_police, due_date=day(-3))
    expect(await api.patch(fac, f"/actions/{done['id']}", json={"status": "done"}), 200)
    await api.action(other, damage, world.municipal_police, due_date=day(-2))

    for reader in (world.commander, world.admin):
        figures = await overview(api, reader)
        assert nonzero(figures["problems_by_status"]) == {"new": 1, "open": 3, "closed": 1}
        assert nonzero(figures["problems_by_category"]) == {
            "hall_occupation": 2,
            "rodeo": 1,
            "drug_dealing": 1,
            "damage": 1,
        }
        assert nonzero(figures["problems_by_commune"]) == {"57463": 3, "57480": 1, "57751": 1}
        assert nonzero(figures["overdue_actions_by_organisation"]) == {
            world.landlord["id"]: 2,
            world.municipal_police["id"]: 1,
        }

    mine = await overview(api, fac)
    assert nonzero(mine["problems_by_status"]) == {"new": 1, "open": 2, "closed": 1}
    assert nonzero(mine["problems_by_category"]) == {
        "hall_occupation": 2,
        "rodeo": 1,
        "drug_dealing": 1,
    }
    assert nonzero(mine["problems_by_commune"]) == {"57463": 3, "57480": 1}
    assert nonzero(mine["overdue_actions_by_organisation"]) == {world.landlord["id"]: 2}

    theirs = await overview(api, other)
    assert nonzero(theirs["problems_by_status"]) == {"open": 1}
    assert nonzero(theirs["problems_by_category"]) == {"damage": 1}
    assert nonzero(theirs["overdue_actions_by_organisation"]) == {world.municipal_police["id"]: 1}


async def test_median_days_to_close(world: World, app: FastAPI) -> None:
    api, fac = world.api, world.facilitator
    assert (await overview(api, fac))["median_days_to_close"] is None

    closed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    problems = []
    for days in (2, 10, 4):
        problem = await api.problem(fac, world.gpo)
        await close(api, fac, problem, "better_handled")
        await store(
            app,
            Problem,
            problem,
            created_at=closed_at - timedelta(days=days),
            closed_at=closed_at,
        )
        problems.append(problem)
    still_open = await api.problem(fac, world.gpo)
    await store(app, Problem, still_open, created_at=closed_at - timedelta(days=300))

    assert (await overview(api, fac))["median_days_to_close"] == median(4.0)
    assert (await overview(api, world.commander))["median_days_to_close"] == median(4.0)

    # Reopened, the ten-day problem is no longer closed: the median of 2 and 4.
    expect(await api.move(fac, problems[1], "open", note="Ça recommence."), 200)
    assert (await overview(api, fac))["median_days_to_close"] == median(3.0)
    assert (await overview(api, world.other_facilitator))["median_days_to_close"] is None


async def test_closed_with_evidence_ratio(world: World) -> None:
    api, fac = world.api, world.facilitator
    assert (await overview(api, fac))["closed_with_evidence_ratio"] is None

    duplicate = await api.problem(fac, world.gpo)
    await close(api, fac, duplicate, "duplicate")
    assert (await overview(api, fac))["closed_with_evidence_ratio"] is None

    # Measured, even without improvement: evidence that the result was looked at.
    handled = await api.problem(fac, world.gpo)
    expect(await api.move(fac, handled, "open"), 200)
    await measured(api, fac, handled, 40)
    expect(await api.move(fac, handled, "closed", outcome="better_handled"), 200)
    # An indicator never measured is no evidence.
    unmeasured = await api.problem(fac, world.gpo)
    expect(await api.move(fac, unmeasured, "open"), 200)
    body = {
        "name": "Signalements du bailleur",
        "unit": "signalements",
        "direction": "decrease",
        "baseline": {"value": 8, "period_start": "2025-01-01", "period_end": "2025-01-31"},
    }
    expect(await api.post(fac, f"/problems/{unmeasured['id']}/indicators", json=body), 201)
    expect(await api.move(fac, unmeasured, "closed", outcome="no_improvement"), 200)
    reduced = await api.problem(fac, world.gpo)
    expect(await api.move(fac, reduced, "open"), 200)
    await measured(api, fac, reduced, 5)
    expect(await api.move(fac, reduced, "closed", outcome="reduced"), 200)
    out_of_scope = await api.problem(fac, world.gpo)
    await close(api, fac, out_of_scope, "not_in_scope")
    # Open problems do not count, measured or not.
    ongoing = await api.problem(fac, world.gpo)
    expect(await api.move(fac, ongoing, "open"), 200)
    await measured(api, fac, ongoing, 5)

    assert (await overview(api, fac))["closed_with_evidence_ratio"] == pytest.approx(
        2 / 3, abs=1e-3
    )
    assert (await overview(api, world.commander))["closed_with_evidence_ratio"] == pytest.approx(
        2 / 3, abs=1e-3
    )


async def test_overview_filters(world: World, app: FastAPI) -> None:
    api, fac = world.api, world.facilitator
    elsewhere = await api.gpo(fac, communes=["57751"])
    march = await api.problem(fac, world.gpo)
    april = await api.problem(fac, world.gpo, commune_code="57480")
    last_evening = await api.problem(fac, world.gpo)
    woippy = await api.problem(fac, elsewhere, commune_code="57751")
    await store(app, Problem, march, created_at=paris(2025, 3, 10, 12))
    await store(app, Problem, april, created_at=paris(2025, 4, 20, 12))
    await store(app, Problem, last_evening, created_at=paris(2025, 5, 31, 23, 30))
    await store(app, Problem, woippy, created_at=paris(2025, 4, 15, 12))
    await api.action(fac, march, world.landlord, due_date=day(-4))

    cases: list[tuple[dict[str, Any], int]] = [
        ({}, 4),
        ({"gpo_id": world.gpo["id"]}, 3),
        ({"gpo_id": elsewhere["id"]}, 1),
        ({"commune_code": "57463"}, 2),
        ({"from": "2025-04-01", "to": "2025-05-31"}, 3),
        ({"from": "2025-04-01", "to": "2025-05-30"}, 2),
        ({"from": "2025-04-01"}, 3),
        ({"to": "2025-03-31"}, 1),
        ({"from": "2025-05-31T23:00:00+02:00"}, 1),
        ({"to": "2025-05-31T23:00:00+02:00"}, 3),
        ({"gpo_id": world.gpo["id"], "commune_code": "57463", "from": "2025-04-01"}, 1),
    ]
    for params, expected in cases:
        assert total(await overview(api, world.commander, **params)) == expected, params

    assert nonzero(
        (await overview(api, world.commander, commune_code="57480"))["problems_by_commune"]
    ) == {"57480": 1}
    assert nonzero(
        (await overview(api, world.commander, commune_code="57463"))[
            "overdue_actions_by_organisation"
        ]
    ) == {world.landlord["id"]: 1}
    assert (
        nonzero(
            (await overview(api, world.commander, commune_code="57480"))[
                "overdue_actions_by_organisation"
            ]
        )
        == {}
    )


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"from": "mars 2025"}, "from"),
        ({"to": "2025-02-30"}, "to"),
        ({"gpo_id": "not-a-uuid"}, "gpo_id"),
    ],
)
async def test_invalid_overview_filters_are_422(
    world: World, params: dict[str, str], name: str
) -> None:
    body = problem_of(await world.api.get(world.commander, "/stats/overview", params=params), 422)
    assert any(name in map(str, error["loc"]) for error in body["errors"])


# --- the annual evaluation --------------------------------------------------------------


@dataclass
class Year:
    """A year (2025) of two GPOs' work, with exact dates."""

    other_gpo: dict[str, Any]
    labels: dict[str, str]


async def a_year_of_work(world: World, app: FastAPI) -> Year:
    api, fac, other = world.api, world.facilitator, world.other_facilitator
    elsewhere = await api.gpo(other, communes=["57751"], members=[world.municipal_police])

    async def problem(
        gpo: dict[str, Any], who: Caller, category: str, commune: str
    ) -> dict[str, Any]:
        return await api.problem(who, gpo, category=category, commune_code=commune)

    # Raised and closed in 2025, with an improved indicator: 10 days.
    calls = await problem(world.gpo, fac, "hall_occupation", "57463")
    expect(await api.move(fac, calls, "open"), 200)
    await measured(api, fac, calls, 5)
    done = await api.action(fac, calls, world.landlord, due_date="2025-02-20")
    expect(await api.patch(fac, f"/actions/{done['id']}", json={"status": "done"}), 200)
    expect(await api.move(fac, calls, "closed", outcome="reduced"), 200)
    await store(app, Problem, calls, created_at=paris(2025, 2, 1), closed_at=paris(2025, 2, 11))
    await store(app, Action, done, created_at=paris(2025, 2, 2))

    # Raised and closed in 2025: 4 days.
    rodeos = await problem(world.gpo, fac, "rodeo", "57463")
    cancelled = await api.action(fac, rodeos, world.landlord, due_date="2025-03-20")
    expect(await api.patch(fac, f"/actions/{cancelled['id']}", json={"status": "cancelled"}), 200)
    await close(api, fac, rodeos, "better_handled")
    await store(app, Problem, rodeos, created_at=paris(2025, 3, 1), closed_at=paris(2025, 3, 5))
    await store(app, Action, cancelled, created_at=paris(2025, 3, 2))

    # Raised in 2025, still open, with an overdue and a pending action.
    montigny = await problem(world.gpo, fac, "hall_occupation", "57480")
    expect(await api.move(fac, montigny, "open"), 200)
    late = await api.action(fac, montigny, world.municipal_police, due_date="2025-07-01")
    pending = await api.action(fac, montigny, world.national_police, due_date="2030-07-01")
    await store(app, Problem, montigny, created_at=paris(2025, 6, 1))
    await store(app, Action, late, created_at=paris(2025, 6, 2))
    await store(app, Action, pending, created_at=paris(2025, 6, 2))

    # Raised in 2024, closed in 2025: 21 days; closed, not raised, that year.
    leftover = await problem(world.gpo, fac, "hall_occupation", "57463")
    await close(api, fac, leftover, "no_improvement")
    await store(
        app, Problem, leftover, created_at=paris(2024, 12, 20), closed_at=paris(2025, 1, 10)
    )

    # Raised in 2024, still open: not part of 2025 at all.
    brawls = await problem(world.gpo, fac, "brawl", "57463")
    expect(await api.move(fac, brawls, "open"), 200)
    old_action = await api.action(fac, brawls, world.national_police, due_date="2024-06-01")
    await store(app, Problem, brawls, created_at=paris(2024, 5, 1))
    await store(app, Action, old_action, created_at=paris(2024, 5, 2))

    # Raised in 2025, closed in 2026.
    slow = await problem(world.gpo, fac, "rodeo", "57463")
    await close(api, fac, slow, "better_handled")
    await store(app, Problem, slow, created_at=paris(2025, 11, 1), closed_at=paris(2026, 1, 5))

    # The other GPO: a duplicate, 2 days.
    damage = await problem(elsewhere, other, "damage", "57751")
    await close(api, other, damage, "duplicate")
    await store(app, Problem, damage, created_at=paris(2025, 7, 1), closed_at=paris(2025, 7, 3))

    categories = expect(await api.get(world.admin, "/categories"), 200)
    items = categories["items"] if isinstance(categories, dict) else categories
    labels = {c["code"]: c["label_fr"] for c in items}
    return Year(other_gpo=elsewhere, labels=labels)


def outcomes(*names: str) -> dict[str, int]:
    return dict.fromkeys(names, 1)


def check_row(
    row: dict[str, Any],
    *,
    raised: int,
    closed: int,
    results: dict[str, int],
    days: float | None,
    improved: int,
) -> None:
    assert row["problems_raised"] == raised, row
    assert row["problems_closed"] == closed, row
    assert nonzero(row["outcomes"]) == results, row
    assert row["median_days_to_close"] == median(days), row
    assert row["closed_with_improved_indicator"] == improved, row


async def test_annual_evaluation_for_a_commander(world: World, app: FastAPI) -> None:
    api = world.api
    year = await a_year_of_work(world, app)
    evaluation = await annual(api, world.commander, 2025)
    assert evaluation["year"] == 2025

    check_row(
        evaluation["totals"],
        raised=5,
        closed=4,
        results=outcomes("reduced", "better_handled", "no_improvement", "duplicate"),
        days=7.0,
        improved=1,
    )

    gpos = by_key(evaluation["by_gpo"])
    assert set(gpos) == {world.gpo["id"], year.other_gpo["id"]}
    assert gpos[world.gpo["id"]]["label"] == world.gpo["name"]
    check_row(
        gpos[world.gpo["id"]],
        raised=4,
        closed=3,
        results=outcomes("reduced", "better_handled", "no_improvement"),
        days=10.0,
        improved=1,
    )
    assert gpos[year.other_gpo["id"]]["label"] == year.other_gpo["name"]
    check_row(
        gpos[year.other_gpo["id"]],
        raised=1,
        closed=1,
        results=outcomes("duplicate"),
        days=2.0,
        improved=0,
    )

    communes = by_key(evaluation["by_commune"])
    assert set(communes) == {"57463", "57480", "57751"}
    assert communes["57463"]["label"] == "Metz"
    assert communes["57480"]["label"] == "Montigny-lès-Metz"
    assert communes["57751"]["label"] == "Woippy"
    check_row(
        communes["57463"],
        raised=3,
        closed=3,
        results=outcomes("reduced", "better_handled", "no_improvement"),
        days=10.0,
        improved=1,
    )
    check_row(communes["57480"], raised=1, closed=0, results={}, days=None, improved=0)
    check_row(
        communes["57751"], raised=1, closed=1, results=outcomes("duplicate"), days=2.0, improved=0
    )

    categories = by_key(evaluation["by_category"])
    assert {"hall_occupation", "rodeo", "damage"} <= set(categories)
    for code, row in categories.items():
        assert row["label"] == year.labels[code]
    check_row(
        categories["hall_occupation"],
        raised=2,
        closed=2,
        results=outcomes("reduced", "no_improvement"),
        days=15.5,
        improved=1,
    )
    check_row(
        categories["rodeo"],
        raised=2,
        closed=1,
        results=outcomes("better_handled"),
        days=4.0,
        improved=0,
    )
    check_row(
        categories["damage"],
        raised=1,
        closed=1,
        results=outcomes("duplicate"),
        days=2.0,
        improved=0,
    )
    if "brawl" in categories:  # raised in 2024 and still open: nothing to count in 2025
        check_row(categories["brawl"], raised=0, closed=0, results={}, days=None, improved=0)

    organisations = by_key(evaluation["by_organisation"])
    assert set(organisations) == {
        world.landlord["id"],
        world.municipal_police["id"],
        world.national_police["id"],
    }
    figures = {
        key: (
            row["actions_assigned"],
            row["actions_done"],
            row["actions_overdue"],
            row["actions_cancelled"],
        )
        for key, row in organisations.items()
    }
    assert figures == {
        world.landlord["id"]: (2, 1, 0, 1),
        world.municipal_police["id"]: (1, 0, 1, 0),
        world.national_police["id"]: (1, 0, 0, 0),
    }
    assert organisations[world.landlord["id"]]["label"] == "Metz Habitat Territoire"
    assert organisations[world.municipal_police["id"]]["label"] == "Police municipale de Metz"

    assert await annual(api, world.admin, 2025) == evaluation


async def test_annual_evaluation_counts_by_year(world: World, app: FastAPI) -> None:
    api = world.api
    await a_year_of_work(world, app)
    earlier = await annual(api, world.commander, 2024)
    check_row(earlier["totals"], raised=2, closed=0, results={}, days=None, improved=0)
    organisations = by_key(earlier["by_organisation"])
    assert set(organisations) == {world.national_police["id"]}
    assert organisations[world.national_police["id"]]["actions_assigned"] == 1

    later = await annual(api, world.commander, 2026)
    # The slow rodeo problem closed on 5 January 2026, 65 days after it was raised.
    assert later["totals"]["problems_closed"] == 1
    assert later["totals"]["outcomes"].get("better_handled") == 1
    assert later["totals"]["median_days_to_close"] == median(65.0)


async def test_facilitators_evaluate_their_own_gpos(world: World, app: FastAPI) -> None:
    api = world.api
    year = await a_year_of_work(world, app)

    mine = await annual(api, world.facilitator, 2025)
    assert [row["key"] for row in mine["by_gpo"]] == [world.gpo["id"]]
    check_row(
        mine["totals"],
        raised=4,
        closed=3,
        results=outcomes("reduced", "better_handled", "no_improvement"),
        days=10.0,
        improved=1,
    )
    assert "57751" not in by_key(mine["by_commune"])
    assert "damage" not in by_key(mine["by_category"])

    theirs = await annual(api, world.other_facilitator, 2025)
    assert [row["key"] for row in theirs["by_gpo"]] == [year.other_gpo["id"]]
    check_row(
        theirs["totals"], raised=1, closed=1, results=outcomes("duplicate"), days=2.0, improved=0
    )
    assert theirs["by_organisation"] == []


async def test_an_empty_year_has_zero_totals(world: World) -> None:
    evaluation = await annual(world.api, world.commander, 2019)
    check_row(evaluation["totals"], raised=0, closed=0, results={}, days=None, improved=0)
    assert evaluation["by_gpo"] == []
    assert evaluation["by_organisation"] == []


@pytest.mark.parametrize("year", ["deux-mille", "1850", "2025.5"])
async def test_invalid_year_is_422(world: World, year: str) -> None:
    body = problem_of(
        await world.api.get(world.commander, "/evaluations/annual", params={"year": year}), 422
    )
    assert ["query", "year"] in [error["loc"] for error in body["errors"]]


# --- the annual evaluation as CSV ------------------------------------------------------------


def breakdown_of(value: str) -> str:
    """`by_gpo`, `gpos`, `gpo` → `gpo`; `totals`, `total` → `total`."""
    return value.lower().removeprefix("by_").rstrip("s")


def csv_number(value: str) -> float | None:
    """`7,0` (the French CSV's decimal comma) or `7.0` (the machines')."""
    return None if value in ("", None) else float(value.replace(",", "."))


def outcome_columns(header: list[str]) -> dict[str, str]:
    """Outcome code → its column (`outcome_reduced`, `outcomes.reduced`, `reduced`...)."""
    found = {}
    for column in header:
        code = re.sub(r"^outcomes?[._:]", "", column)
        if code in OUTCOMES:
            found[code] = column
    return found


async def csv_evaluation(
    api: Api, caller: Caller, year: int, delimiter: str | None = None
) -> tuple[httpx.Response, list[dict[str, str]]]:
    """The CSV file (French by default, `;` between cells) and its rows."""
    params: dict[str, Any] = {"year": year}
    if delimiter is not None:
        params["delimiter"] = delimiter
    response = await api.get(
        caller, "/evaluations/annual", params=params, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    text = response.content.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter or ";")
    return response, list(reader)


@pytest.mark.parametrize("delimiter", [None, ";", ","])
async def test_annual_evaluation_as_csv_matches_the_json(
    world: World, app: FastAPI, delimiter: str | None
) -> None:
    api = world.api
    await a_year_of_work(world, app)
    evaluation = await annual(api, world.commander, 2025)
    response, rows = await csv_evaluation(api, world.commander, 2025, delimiter)
    assert response.headers["content-type"].startswith("text/csv")
    labels = {row["label"] for row in rows}
    assert "Montigny-lès-Metz" in labels  # UTF-8 kept the accents
    assert "Metz Habitat Territoire" in labels

    header = list(rows[0])
    for column in (
        "breakdown",
        "key",
        "label",
        "problems_raised",
        "problems_closed",
        "median_days_to_close",
        "closed_with_improved_indicator",
        "actions_assigned",
        "actions_done",
        "actions_overdue",
        "actions_cancelled",
    ):
        assert column in header, header
    per_outcome = outcome_columns(header)
    assert set(per_outcome) == set(OUTCOMES), header

    pairs = [(breakdown_of(row["breakdown"]), row["key"]) for row in rows]
    assert len(pairs) == len(set(pairs)), "a (breakdown, key) appears twice"
    expected_rows = {
        "total": [evaluation["totals"]],
        "gpo": evaluation["by_gpo"],
        "commune": evaluation["by_commune"],
        "category": evaluation["by_category"],
        "organisation": evaluation["by_organisation"],
    }
    assert len(rows) == sum(len(items) for items in expected_rows.values())
    assert sum(1 for breakdown, _ in pairs if breakdown == "total") == 1

    by_pair = {(breakdown_of(row["breakdown"]), row["key"]): row for row in rows}
    totals_row = next(row for (breakdown, _), row in by_pair.items() if breakdown == "total")
    for breakdown, items in expected_rows.items():
        for item in items:
            row = totals_row if breakdown == "total" else by_pair[(breakdown, item["key"])]
            assert row["label"] == item["label"], (breakdown, row)
            if breakdown == "organisation":
                for name in ("actions_assigned", "actions_done", "actions_overdue"):
                    assert int(row[name]) == item[name], (breakdown, name, row)
                assert int(row["actions_cancelled"]) == item["actions_cancelled"]
                continue
            for name in ("problems_raised", "problems_closed", "closed_with_improved_indicator"):
                assert int(row[name]) == item[name], (breakdown, name, row)
            assert csv_number(row["median_days_to_close"]) == median(item["median_days_to_close"])
            for code, column in per_outcome.items():
                assert int(row[column] or 0) == item["outcomes"].get(code, 0), (code, row)

    assert int(totals_row["problems_raised"]) == 5
    assert int(totals_row["actions_assigned"]) == 4


async def test_csv_shows_only_what_the_facilitator_may_see(world: World, app: FastAPI) -> None:
    api = world.api
    year = await a_year_of_work(world, app)
    _, rows = await csv_evaluation(api, world.facilitator, 2025)
    keys = {row["key"] for row in rows}
    assert world.gpo["id"] in keys
    assert year.other_gpo["id"] not in keys
    assert "57751" not in keys
    assert "damage" not in keys


async def test_years_are_civil_years_in_paris(world: World, app: FastAPI) -> None:
    """New Year's Eve at 23:30 in Metz is still the old year, though 22:30 UTC; half past
    midnight on New Year's Day is the new one, though still the old year in UTC."""
    api, fac = world.api, world.facilitator
    eve = await api.problem(fac, world.gpo)
    new_year = await api.problem(fac, world.gpo)
    await store(app, Problem, eve, created_at=paris(2025, 12, 31, 23, 30))
    await store(app, Problem, new_year, created_at=paris(2026, 1, 1, 0, 30))

    assert (await annual(api, world.commander, 2025))["totals"]["problems_raised"] == 1
    assert (await annual(api, world.commander, 2026))["totals"]["problems_raised"] == 1
    assert total(await overview(api, world.commander, to="2025-12-31")) == 1
    assert total(await overview(api, world.commander, **{"from": "2026-01-01"})) == 1


async def test_a_filter_on_another_gpo_reveals_nothing_to_a_facilitator(world: World) -> None:
    api = world.api
    elsewhere = await api.gpo(world.other_facilitator, communes=["57751"])
    hidden = await api.problem(world.other_facilitator, elsewhere, commune_code="57751")
    await api.action(world.other_facilitator, hidden, world.landlord, due_date=day(-2))
    figures = await overview(api, world.facilitator, gpo_id=elsewhere["id"])
    assert total(figures) == 0
    assert nonzero(figures["problems_by_category"]) == {}
    assert nonzero(figures["overdue_actions_by_organisation"]) == {}
    assert total(await overview(api, world.commander, gpo_id=elsewhere["id"])) == 1
