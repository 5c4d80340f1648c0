"""Indicators and measurements through HTTP: who records them, the rates API.md defines,
refused periods, and the evidence rule that lets a problem be closed as solved."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api import Api, Caller, World, expect, problem_of, resource
from tests.intake import read_report, submit, triage

JANUARY = {"value": 31, "period_start": "2026-01-01", "period_end": "2026-01-31"}


# --- helpers ---------------------------------------------------------------------------


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


def indicator_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Appels au 17 pour le 4 rue de Toul",
        "unit": "appels",
        "direction": "decrease",
        "baseline": JANUARY,
        "source": "Main courante, CIC Metz",
        **overrides,
    }


async def add_indicator(
    api: Api, caller: Caller, problem: dict[str, Any], **overrides: Any
) -> dict[str, Any]:
    response = await api.post(
        caller, f"/problems/{problem['id']}/indicators", json=indicator_body(**overrides)
    )
    return dict(expect(response, 201))


async def measure(
    api: Api,
    caller: Caller,
    indicator: dict[str, Any],
    start: str,
    end: str,
    value: float,
    **extra: Any,
) -> httpx.Response:
    body = {"period_start": start, "period_end": end, "value": value, **extra}
    return await api.post(caller, f"/indicators/{indicator['id']}/measurements", json=body)


async def read_indicator(api: Api, caller: Caller, indicator: dict[str, Any]) -> dict[str, Any]:
    return dict(expect(await api.get(caller, f"/indicators/{indicator['id']}"), 200))


async def read_problem(api: Api, caller: Caller, problem: dict[str, Any]) -> dict[str, Any]:
    return dict(expect(await api.get(caller, f"/problems/{problem['id']}"), 200))


async def open_problem(api: Api, fac: Caller, world: World, **overrides: Any) -> dict[str, Any]:
    problem = await api.problem(fac, world.gpo, **overrides)
    expect(await api.move(fac, problem, "open"), 200)
    return await read_problem(api, fac, problem)


async def timeline_kinds(api: Api, caller: Caller, problem: dict[str, Any]) -> list[str]:
    kinds: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = expect(
            await api.get(caller, f"/problems/{problem['id']}/timeline", params=params), 200
        )
        kinds += [event["kind"] for event in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return kinds
    raise AssertionError("the timeline never ended")


async def indicator_ids(api: Api, caller: Caller, problem: dict[str, Any]) -> list[str]:
    page = expect(await api.get(caller, f"/problems/{problem['id']}/indicators"), 200)
    return [item["id"] for item in page["items"]]


# --- creating indicators ---------------------------------------------------------------


async def test_facilitator_adds_an_indicator_with_its_baseline(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    response = await api.post(
        fac, f"/problems/{problem['id']}/indicators", json=indicator_body(target_value=10)
    )
    created = expect(response, 201)
    assert created["problem_id"] == problem["id"]
    assert created["name"] == "Appels au 17 pour le 4 rue de Toul"
    assert created["unit"] == "appels"
    assert created["direction"] == "decrease"
    assert created["baseline"] == {
        "value": 31,
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
    }
    assert created["target_value"] == 10
    assert created["source"] == "Main courante, CIC Metz"
    assert created["measurements"] == []
    assert created["baseline_rate"] == pytest.approx(30.0)
    # Nothing measured yet: nothing to compare.
    assert created["latest_rate"] is None
    assert created["change_pct"] is None
    assert created["improved"] is None
    assert created["target_met"] is None
    assert response.headers["etag"] == f'"{created["version"]}"'

    assert await read_indicator(api, world.landlord_partner, created) == resource(created)
    assert await indicator_ids(api, fac, problem) == [created["id"]]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("admin", 201),
        ("landlord_partner", 403),
        ("police_partner", 403),
        ("commander", 403),
        ("other_facilitator", 404),
        ("outsider_partner", 404),
    ],
)
async def test_who_may_add_an_indicator(world: World, who: str, status: int) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    response = await api.post(
        getattr(world, who), f"/problems/{problem['id']}/indicators", json=indicator_body()
    )
    if status == 201:
        expect(response, 201)
        assert len(await indicator_ids(api, world.facilitator, problem)) == 1
    else:
        problem_of(response, status)
        assert await indicator_ids(api, world.facilitator, problem) == []


async def test_a_member_without_clearance_does_not_see_the_problems_indicators(
    world: World,
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, visibility="restricted")
    indicator = await add_indicator(api, fac, problem)
    problem_of(await api.get(world.landlord_partner, f"/indicators/{indicator['id']}"), 404)
    problem_of(
        await api.post(
            world.landlord_partner, f"/problems/{problem['id']}/indicators", json=indicator_body()
        ),
        404,
    )
    assert (await read_indicator(api, world.police_partner, indicator))["id"] == indicator["id"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"baseline": {"value": 31, "period_start": "2026-01-31", "period_end": "2026-01-01"}},
            ["body", "baseline", "period_end"],
        ),
        (
            {"baseline": {"value": -1, "period_start": "2026-01-01", "period_end": "2026-01-31"}},
            ["body", "baseline", "value"],
        ),
        (
            {"baseline": {"value": 3, "period_start": "2026-02-30", "period_end": "2026-03-31"}},
            ["body", "baseline", "period_start"],
        ),
        ({"target_value": -5}, ["body", "target_value"]),
        ({"direction": "down"}, ["body", "direction"]),
        ({"baseline": None}, ["body", "baseline"]),
        ({"baseline_rate": 30}, ["body", "baseline_rate"]),
    ],
)
async def test_invalid_indicators_are_422_naming_the_field(
    world: World, overrides: dict[str, Any], field: list[str]
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    body = problem_of(
        await api.post(
            fac, f"/problems/{problem['id']}/indicators", json=indicator_body(**overrides)
        ),
        422,
    )
    assert field in locs(body)
    assert await indicator_ids(api, fac, problem) == []


# --- rates -------------------------------------------------------------------------------


async def test_rates_are_per_30_days_over_inclusive_periods(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(api, fac, problem, target_value=20)
    response = await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 14, note="CIC")
    measurement = expect(response, 201)
    assert measurement["indicator_id"] == indicator["id"]
    assert measurement["period_start"] == "2026-02-01"
    assert measurement["period_end"] == "2026-02-28"
    assert measurement["value"] == 14
    assert measurement["rate"] == pytest.approx(15.0)
    assert measurement["note"] == "CIC"

    read = await read_indicator(api, fac, indicator)
    assert read["baseline_rate"] == pytest.approx(30.0)  # 31 × 30 / 31
    assert read["latest_rate"] == pytest.approx(15.0)  # 14 × 30 / 28
    assert read["change_pct"] == pytest.approx(-50.0)
    assert read["improved"] is True
    assert read["target_met"] is True
    assert [m["id"] for m in read["measurements"]] == [measurement["id"]]
    assert read["measurements"][0]["rate"] == pytest.approx(15.0)


async def test_the_same_figures_are_worse_when_more_is_better(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(
        api, fac, problem, name="Patrouilles effectuées", direction="increase", target_value=20
    )
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 14), 201)
    read = await read_indicator(api, fac, indicator)
    assert read["latest_rate"] == pytest.approx(15.0)
    assert read["change_pct"] == pytest.approx(-50.0)
    assert read["improved"] is False
    assert read["target_met"] is False


@pytest.mark.parametrize(
    ("direction", "target", "met"),
    [
        ("decrease", 20, True),
        ("decrease", 15, True),
        ("decrease", 10, False),
        ("increase", 10, True),
        ("increase", 15, True),
        ("increase", 20, False),
        ("decrease", None, None),
    ],
)
async def test_target_met_compares_the_latest_rate_in_the_direction(
    world: World, direction: str, target: float | None, met: bool | None
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(api, fac, problem, direction=direction, target_value=target)
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 14), 201)  # 15.0
    assert (await read_indicator(api, fac, indicator))["target_met"] is met


@pytest.mark.parametrize(
    ("baseline", "measured", "baseline_rate", "latest_rate", "change_pct", "improved"),
    [
        # A week against ten days: both 30 per 30 days, no change, not better.
        (
            {"value": 7, "period_start": "2026-01-01", "period_end": "2026-01-07"},
            ("2026-01-08", "2026-01-17", 10),
            30.0,
            30.0,
            0.0,
            False,
        ),
        # 20 days against 9 days.
        (
            {"value": 10, "period_start": "2026-01-01", "period_end": "2026-01-20"},
            ("2026-02-01", "2026-02-09", 3),
            15.0,
            10.0,
            -100 / 3,
            True,
        ),
        # A single day against a leap February.
        (
            {"value": 2, "period_start": "2027-12-31", "period_end": "2027-12-31"},
            ("2028-02-01", "2028-02-29", 29),
            60.0,
            30.0,
            -50.0,
            True,
        ),
    ],
)
async def test_periods_of_different_lengths_compare(
    world: World,
    baseline: dict[str, Any],
    measured: tuple[str, str, float],
    baseline_rate: float,
    latest_rate: float,
    change_pct: float,
    improved: bool,
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(api, fac, problem, baseline=baseline)
    expect(await measure(api, fac, indicator, *measured), 201)
    read = await read_indicator(api, fac, indicator)
    assert read["baseline_rate"] == pytest.approx(baseline_rate)
    assert read["latest_rate"] == pytest.approx(latest_rate)
    assert read["change_pct"] == pytest.approx(change_pct)
    assert read["improved"] is improved


async def test_change_pct_is_null_when_the_baseline_rate_is_zero(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    zero = {"value": 0, "period_start": "2026-01-01", "period_end": "2026-01-31"}
    more = await add_indicator(api, fac, problem, direction="increase", baseline=zero)
    fewer = await add_indicator(api, fac, problem, direction="decrease", baseline=zero)
    expect(await measure(api, fac, more, "2026-02-01", "2026-02-28", 28), 201)
    expect(await measure(api, fac, fewer, "2026-02-01", "2026-02-28", 0), 201)

    read = await read_indicator(api, fac, more)
    assert read["baseline_rate"] == 0
    assert read["latest_rate"] == pytest.approx(30.0)
    assert read["change_pct"] is None
    assert read["improved"] is True
    read = await read_indicator(api, fac, fewer)
    assert read["change_pct"] is None
    assert read["improved"] is False


async def test_latest_is_the_measurement_with_the_latest_period_end(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(api, fac, problem)
    april = expect(await measure(api, fac, indicator, "2026-04-01", "2026-04-30", 6), 201)
    february = expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 56), 201)

    read = await read_indicator(api, fac, indicator)
    assert {m["id"] for m in read["measurements"]} == {april["id"], february["id"]}
    assert read["latest_rate"] == pytest.approx(6.0)
    assert read["change_pct"] == pytest.approx(-80.0)
    assert read["improved"] is True

    # A later period that is worse than the baseline becomes the latest.
    expect(await measure(api, fac, indicator, "2026-05-01", "2026-05-10", 20), 201)
    read = await read_indicator(api, fac, indicator)
    assert read["latest_rate"] == pytest.approx(60.0)
    assert read["change_pct"] == pytest.approx(100.0)
    assert read["improved"] is False


# --- refused measurements ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "value"),
    [
        ("2026-01-15", "2026-02-15", 5),  # straddles the end of the baseline
        ("2026-01-31", "2026-02-28", 5),  # starts on the baseline's last day
        ("2026-01-10", "2026-01-20", 5),  # inside the baseline
        ("2025-12-01", "2026-03-01", 5),  # covers the baseline
        ("2025-12-15", "2026-01-01", 5),  # ends on the baseline's first day
        ("2025-11-01", "2025-11-30", 5),  # ends before the baseline starts
        ("2026-02-01", "2026-02-28", -1),  # negative value
        ("2026-02-28", "2026-02-01", 5),  # ends before it starts
    ],
)
async def test_refused_measurements_are_422_and_store_nothing(
    world: World, start: str, end: str, value: float
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(api, fac, problem)
    before = await read_indicator(api, fac, indicator)
    body = problem_of(await measure(api, fac, indicator, start, end, value), 422)
    assert body["errors"]
    assert all(loc[0] == "body" for loc in locs(body))
    assert await read_indicator(api, fac, indicator) == before
    assert not [k for k in await timeline_kinds(api, fac, problem) if "measurement" in k]


async def test_refused_values_and_periods_name_their_field(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(api, fac, problem)
    body = problem_of(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", -3), 422)
    assert ["body", "value"] in locs(body)
    body = problem_of(await measure(api, fac, indicator, "2026-03-10", "2026-03-01", 3), 422)
    assert ["body", "period_end"] in locs(body)


async def test_a_measurement_right_after_the_baseline_is_accepted(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(api, fac, problem)
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-01", 1), 201)
    read = await read_indicator(api, fac, indicator)
    assert read["latest_rate"] == pytest.approx(30.0)
    assert [k for k in await timeline_kinds(api, fac, problem) if "measurement" in k]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("landlord_partner", 403),
        ("police_partner", 403),
        ("commander", 403),
        ("outsider_partner", 404),
        ("other_facilitator", 404),
    ],
)
async def test_only_those_who_edit_the_problem_record_measurements(
    world: World, who: str, status: int
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    indicator = await add_indicator(api, fac, problem)
    before = await read_indicator(api, fac, indicator)
    response = await measure(api, getattr(world, who), indicator, "2026-02-01", "2026-02-28", 3)
    problem_of(response, status)
    assert await read_indicator(api, fac, indicator) == before


async def test_unknown_indicator_is_404(world: World) -> None:
    api = world.api
    missing = {"id": str(uuid.uuid4())}
    problem_of(await measure(api, world.facilitator, missing, "2026-02-01", "2026-02-28", 3), 404)
    problem_of(await api.get(world.facilitator, f"/indicators/{missing['id']}"), 404)


# --- the evidence rule -------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["eliminated", "reduced", "harm_reduced"])
@pytest.mark.parametrize("start", ["open", "monitoring"])
async def test_claiming_a_result_needs_an_improved_indicator(
    world: World, outcome: str, start: str
) -> None:
    api, fac = world.api, world.facilitator
    problem = await open_problem(api, fac, world)
    if start == "monitoring":
        expect(await api.move(fac, problem, "monitoring"), 200)
    before = await read_problem(api, fac, problem)
    transitions = (await timeline_kinds(api, fac, problem)).count("problem.transition")

    async def refused() -> str:
        body = problem_of(await api.move(fac, problem, "closed", outcome=outcome), 409)
        after = await read_problem(api, fac, problem)
        assert (after["status"], after["outcome"], after["closed_at"]) == (start, None, None)
        return str(body["detail"])

    no_indicator = await refused()
    assert "indicator" in no_indicator.lower()

    indicator = await add_indicator(api, fac, problem)
    no_measurement = await refused()
    assert "measurement" in no_measurement.lower()

    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 31), 201)  # 33.2
    no_improvement = await refused()
    assert "better" in no_improvement.lower() or "improv" in no_improvement.lower()
    assert len({no_indicator, no_measurement, no_improvement}) == 3
    assert (await timeline_kinds(api, fac, problem)).count("problem.transition") == transitions
    assert (await read_problem(api, fac, problem))["version"] == before["version"]

    expect(await measure(api, fac, indicator, "2026-03-01", "2026-03-31", 10), 201)  # 9.7
    closed = expect(
        await api.move(fac, problem, "closed", outcome=outcome, note="Appels divisés par trois."),
        200,
    )
    assert closed["status"] == "closed"
    assert closed["outcome"] == outcome
    assert closed["outcome_note"] == "Appels divisés par trois."
    assert closed["closed_at"] is not None


async def test_an_equal_rate_is_no_evidence(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await open_problem(api, fac, world)
    indicator = await add_indicator(api, fac, problem)
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 28), 201)  # 30.0
    problem_of(await api.move(fac, problem, "closed", outcome="reduced"), 409)


async def test_the_latest_measurement_is_the_evidence(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await open_problem(api, fac, world)
    indicator = await add_indicator(api, fac, problem)
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 5), 201)  # better
    expect(await measure(api, fac, indicator, "2026-03-01", "2026-03-31", 40), 201)  # worse
    problem_of(await api.move(fac, problem, "closed", outcome="reduced"), 409)

    expect(await measure(api, fac, indicator, "2026-04-01", "2026-04-30", 12), 201)  # better
    expect(await api.move(fac, problem, "closed", outcome="reduced"), 200)


async def test_one_improved_indicator_is_enough(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await open_problem(api, fac, world)
    calls = await add_indicator(api, fac, problem)
    patrols = await add_indicator(api, fac, problem, name="Patrouilles", direction="increase")
    expect(await measure(api, fac, calls, "2026-02-01", "2026-02-28", 40), 201)  # worse
    expect(await measure(api, fac, patrols, "2026-02-01", "2026-02-28", 20), 201)  # fewer: worse
    problem_of(await api.move(fac, problem, "closed", outcome="harm_reduced"), 409)

    expect(await measure(api, fac, patrols, "2026-03-01", "2026-03-31", 62), 201)  # 60: more
    expect(await api.move(fac, problem, "closed", outcome="harm_reduced"), 200)


async def test_an_improved_indicator_of_another_problem_is_no_evidence(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await open_problem(api, fac, world)
    other = await open_problem(api, fac, world)
    indicator = await add_indicator(api, fac, other)
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 1), 201)
    problem_of(await api.move(fac, problem, "closed", outcome="eliminated"), 409)
    expect(await api.move(fac, other, "closed", outcome="eliminated"), 200)


@pytest.mark.parametrize("outcome", ["better_handled", "no_improvement", "responsibility_shifted"])
async def test_other_outcomes_need_no_evidence(world: World, outcome: str) -> None:
    api, fac = world.api, world.facilitator
    problem = await open_problem(api, fac, world)
    closed = expect(await api.move(fac, problem, "closed", outcome=outcome), 200)
    assert (closed["status"], closed["outcome"]) == ("closed", outcome)


async def test_reopening_needs_a_note_and_clears_the_outcome(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await open_problem(api, fac, world)
    indicator = await add_indicator(api, fac, problem)
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 2), 201)
    expect(await api.move(fac, problem, "closed", outcome="reduced", note="Baisse nette."), 200)
    closed = await read_problem(api, fac, problem)

    body = problem_of(await api.move(fac, problem, "open"), 422)
    assert ["body", "note"] in locs(body)
    assert await read_problem(api, fac, problem) == closed

    reopened = expect(await api.move(fac, problem, "open", note="Les appels reprennent."), 200)
    assert reopened["status"] == "open"
    assert reopened["outcome"] is None
    assert reopened["outcome_note"] is None
    assert reopened["closed_at"] is None
    # The indicator still proves the earlier result: it may close again as reduced.
    expect(await api.move(fac, problem, "closed", outcome="reduced"), 200)


async def test_the_reporter_learns_the_outcome_through_its_report(world: World) -> None:
    api, fac = world.api, world.facilitator
    report = await submit(api, world.landlord_partner)
    triaged = expect(await triage(api, fac, report, "create_problem", priority="high"), 200)
    problem = {"id": triaged["problem_id"]}
    expect(await api.move(fac, problem, "open"), 200)
    indicator = await add_indicator(api, fac, problem, name="Signalements du bailleur")
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 3), 201)

    expect(await api.move(fac, problem, "closed", outcome="reduced", note="Hall fermé."), 200)
    seen = await read_report(api, world.landlord_partner, report)
    assert seen["problem_id"] == problem["id"]
    assert (seen["problem_status"], seen["problem_outcome"]) == ("closed", "reduced")

    expect(await api.move(fac, problem, "open", note="Nouveaux regroupements."), 200)
    seen = await read_report(api, world.landlord_partner, report)
    assert (seen["problem_status"], seen["problem_outcome"]) == ("open", None)
