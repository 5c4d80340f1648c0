"""A realistic month of a GPO, end to end: a landlord's reports, triage, a meeting and its
agenda, actions, an indicator that shows a result, a closure with evidence, the minutes,
the commanders' figures and the annual evaluation, all checked against what was done."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.core.clock import PARIS
from tests.api import World, expect, problem_of


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


async def test_a_month_of_a_gpo(world: World) -> None:
    api, facilitator, landlord = world.api, world.facilitator, world.landlord_partner
    today = datetime.now(PARIS).date()
    now = datetime.now(UTC)

    # The previous meeting was held three weeks ago; the next one is planned in five days.
    previous = expect(
        await api.post(
            facilitator,
            f"/gpos/{world.gpo['id']}/meetings",
            json={"scheduled_at": (now - timedelta(days=21)).isoformat(), "location": "Borny"},
        ),
        201,
    )
    assert previous["status"] == "held"
    gpo = expect(await api.get(facilitator, f"/gpos/{world.gpo['id']}"), 200)
    assert datetime.fromisoformat(gpo["last_meeting_at"]) == datetime.fromisoformat(
        previous["scheduled_at"]
    )
    assert gpo["cadence_breached"] is False

    meeting = expect(
        await api.post(
            facilitator,
            f"/gpos/{world.gpo['id']}/meetings",
            json={
                "scheduled_at": (now + timedelta(days=5)).isoformat(),
                "location": "Commissariat central",
                "attendee_organisation_ids": [
                    world.national_police["id"],
                    world.municipal_police["id"],
                    world.landlord["id"],
                ],
            },
        ),
        201,
    )
    assert meeting["status"] == "planned"

    # The landlord reports gatherings in a hall, and a suspected deal point.
    hall_report = expect(
        await api.post(
            landlord,
            "/reports",
            json={
                "category": "hall_occupation",
                "commune_code": "57463",
                "description": "Regroupements tous les soirs dans le hall du 4 rue de Toul.",
                "location": {"address": "4 rue de Toul", "lat": 49.1072, "lon": 6.2105},
                "external_ref": "MHT-2026-0412",
            },
        ),
        201,
    )
    deal_report = expect(
        await api.post(
            landlord,
            "/reports",
            json={
                "category": "drug_dealing",
                "commune_code": "57463",
                "description": "Allées et venues suspectes au pied du bâtiment C.",
            },
        ),
        201,
    )
    assert hall_report["gpo_id"] == deal_report["gpo_id"] == world.gpo["id"]

    agenda = expect(await api.get(facilitator, f"/meetings/{meeting['id']}/agenda"), 200)
    assert [r["reference"] for r in agenda["new_reports"]] == [
        hall_report["reference"],
        deal_report["reference"],
    ]

    # Triage: both become problems; the deal point is restricted police business.
    triaged = expect(
        await api.post(
            facilitator,
            f"/reports/{hall_report['id']}/triage",
            json={
                "decision": "create_problem",
                "title": "Regroupements dans le hall, 4 rue de Toul",
                "priority": "high",
                "public_note": "Pris en charge par le GPO.",
            },
        ),
        200,
    )
    hall = expect(await api.get(facilitator, f"/problems/{triaged['problem_id']}"), 200)
    deal_id = expect(
        await api.post(
            facilitator,
            f"/reports/{deal_report['id']}/triage",
            json={"decision": "create_problem", "priority": "urgent"},
        ),
        200,
    )["problem_id"]
    deal = expect(await api.get(facilitator, f"/problems/{deal_id}"), 200)
    assert deal["visibility"] == "restricted"
    assert hall["report_count"] == 1
    expect(await api.move(facilitator, hall, "open"), 200)

    # Actions: a patrol logged late (already overdue) and an access repair for the landlord.
    patrol = await api.action(
        facilitator,
        hall,
        world.municipal_police,
        title="Patrouilles pédestres en soirée",
        due_date=(today - timedelta(days=2)).isoformat(),
    )
    repair = await api.action(
        facilitator,
        hall,
        world.landlord,
        title="Réparer la porte du hall",
        kind="access_closure",
        due_date=(today + timedelta(days=10)).isoformat(),
        decided_at_meeting_id=meeting["id"],
    )
    assert patrol["overdue"] is True
    assert repair["overdue"] is False

    # The indicator: calls to 17 about the hall, before and after.
    baseline_end = today - timedelta(days=40)
    baseline_start = baseline_end - timedelta(days=29)
    indicator = expect(
        await api.post(
            facilitator,
            f"/problems/{hall['id']}/indicators",
            json={
                "name": "Appels au 17 pour le 4 rue de Toul",
                "unit": "appels",
                "direction": "decrease",
                "baseline": {
                    "value": 24,
                    "period_start": baseline_start.isoformat(),
                    "period_end": baseline_end.isoformat(),
                },
                "target_value": 10,
            },
        ),
        201,
    )
    # A second indicator left unmeasured for months: due on the agenda.
    stale = expect(
        await api.post(
            facilitator,
            f"/problems/{deal['id']}/indicators",
            json={
                "name": "Signalements du bailleur",
                "unit": "signalements",
                "direction": "decrease",
                "baseline": {
                    "value": 5,
                    "period_start": (today - timedelta(days=200)).isoformat(),
                    "period_end": (today - timedelta(days=170)).isoformat(),
                },
            },
        ),
        201,
    )

    agenda = expect(await api.get(facilitator, f"/meetings/{meeting['id']}/agenda"), 200)
    assert agenda["new_reports"] == []
    assert [p["reference"] for p in agenda["problems"]] == [deal["reference"], hall["reference"]]
    assert [a["id"] for a in agenda["overdue_actions"]] == [patrol["id"]]
    assert agenda["overdue_actions"][0]["assignee_name"] == world.municipal_police["name"]
    # Measured (baseline) 40 days ago: within the 60-day interval; 170 days ago: due.
    assert [i["id"] for i in agenda["indicators_due"]] == [stale["id"]]

    # Closing with a claimed result needs evidence...
    refused = problem_of(await api.move(facilitator, hall, "closed", outcome="reduced"), 409)
    assert "measurement" in refused["detail"]
    measured_start = baseline_end + timedelta(days=1)
    measured_end = measured_start + timedelta(days=29)
    expect(
        await api.post(
            facilitator,
            f"/indicators/{indicator['id']}/measurements",
            json={
                "period_start": measured_start.isoformat(),
                "period_end": measured_end.isoformat(),
                "value": 9,
            },
        ),
        201,
    )
    result = expect(await api.get(facilitator, f"/indicators/{indicator['id']}"), 200)
    assert result["baseline_rate"] == 24 * 30 / 30
    assert result["latest_rate"] == 9 * 30 / 30
    assert result["change_pct"] == (9 - 24) / 24 * 100
    assert result["improved"] is True
    assert result["target_met"] is True

    # ... the meeting reviews the problem, and it is closed as reduced.
    expect(
        await api.post(
            facilitator,
            f"/meetings/{meeting['id']}/reviews",
            json={"problem_id": hall["id"], "note": "Baisse nette depuis les patrouilles."},
        ),
        201,
    )
    closed = expect(
        await api.move(
            facilitator,
            hall,
            "closed",
            outcome="reduced",
            note="Appels au 17 divisés par plus de deux.",
            displacement="none",
        ),
        200,
    )
    assert closed["outcome"] == "reduced"
    assert closed["outcome_note"] == "Appels au 17 divisés par plus de deux."

    # The landlord learns what became of its report, without seeing the deal problem.
    mine = expect(await api.get(landlord, f"/reports/{hall_report['id']}"), 200)
    assert (mine["status"], mine["problem_status"], mine["problem_outcome"]) == (
        "accepted",
        "closed",
        "reduced",
    )
    expect(await api.get(landlord, f"/problems/{deal['id']}"), 404)

    # The minutes, for the facilitator and for the landlord.
    response = await api.get(facilitator, f"/meetings/{meeting['id']}/minutes")
    assert response.headers["content-type"].startswith("text/markdown")
    minutes = response.text
    for expected in (
        "Compte rendu",
        world.gpo["name"],
        world.municipal_police["name"],
        "Commissariat central",
        f"**{hall['reference']}**",
        "Baisse nette depuis les patrouilles.",
        deal["reference"],
        "réduit en nombre",
        "Réparer la porte du hall",
        f"confiée à {world.landlord['name']}, échéance {_day(today + timedelta(days=10))}",
        "### Police municipale de Metz",
        "Patrouilles pédestres en soirée",
    ):
        assert expected in minutes, expected
    landlord_minutes = (await api.get(landlord, f"/meetings/{meeting['id']}/minutes")).text
    assert hall["reference"] in landlord_minutes
    assert deal["reference"] not in landlord_minutes
    page = await api.get(
        facilitator, f"/meetings/{meeting['id']}/minutes", headers={"Accept": "text/html"}
    )
    assert page.headers["content-type"].startswith("text/html")
    assert "<h2>Problèmes examinés</h2>" in page.text
    assert "Baisse nette depuis les patrouilles." in page.text

    # The commanders' figures.
    expect(await api.get(landlord, "/stats/overview"), 403)
    overview = expect(
        await api.get(world.commander, "/stats/overview", params={"gpo_id": world.gpo["id"]}),
        200,
    )
    assert overview["problems_by_status"] == {"new": 1, "open": 0, "monitoring": 0, "closed": 1}
    assert overview["problems_by_category"] == {"hall_occupation": 1, "drug_dealing": 1}
    assert overview["overdue_actions_by_organisation"] == {world.municipal_police["id"]: 1}
    assert overview["closed_with_evidence_ratio"] == 1.0
    assert overview["median_days_to_close"] is not None
    assert overview["median_days_to_close"] < 1

    evaluation = expect(
        await api.get(world.commander, "/evaluations/annual", params={"year": today.year}), 200
    )
    totals = evaluation["totals"]
    assert (totals["problems_raised"], totals["problems_closed"]) == (2, 1)
    assert totals["outcomes"] == {"reduced": 1}
    assert totals["closed_with_improved_indicator"] == 1
    assert totals["actions_assigned"] == 2
    assert totals["actions_overdue"] == 1
    rows = {row["key"]: row for row in evaluation["by_organisation"]}
    assert rows[world.municipal_police["id"]]["actions_overdue"] == 1
    assert rows[world.landlord["id"]]["actions_assigned"] == 1
    (metz,) = evaluation["by_commune"]
    assert (metz["key"], metz["label"], metz["problems_raised"]) == ("57463", "Metz", 2)

    response = await api.get(
        world.commander,
        "/evaluations/annual",
        params={"year": today.year},
        headers={"Accept": "text/csv"},
    )
    assert response.headers["content-type"].startswith("text/csv")
    french = io.StringIO(response.content.decode("utf-8-sig"), newline="")
    table = list(csv.DictReader(french, delimiter=";"))
    by_key: dict[tuple[str, str], dict[str, Any]] = {(r["breakdown"], r["key"]): r for r in table}
    assert by_key[("totals", "all")]["problems_closed"] == "1"
    assert by_key[("totals", "all")]["outcome_reduced"] == "1"
    assert by_key[("commune", "57463")]["label"] == "Metz"
    assert by_key[("category", "hall_occupation")]["label"] == "Occupation des halls d'immeuble"
    assert by_key[("organisation", world.municipal_police["id"])]["actions_overdue"] == "1"
