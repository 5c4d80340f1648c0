"""The benchmark's bulk seed (scripts/bench_seed.py) writes rows past the service's own
code: seeded into the test's database, they must read back through the API as the service's
own would, and the service must go on creating after them (references, counters)."""

from __future__ import annotations

import importlib.util
import re
import sys
import uuid
from types import ModuleType
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import PROJECT_ROOT

PROBLEMS = 200


def bench_seed() -> ModuleType:
    path = PROJECT_ROOT / "scripts" / "bench_seed.py"
    spec = importlib.util.spec_from_file_location("bench_seed", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_seed"] = module
    spec.loader.exec_module(module)
    return module


async def get(client: httpx.AsyncClient, token: str, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


async def post(client: httpx.AsyncClient, token: str, path: str, body: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.commits
async def test_the_bench_seed_writes_what_the_service_reads(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    world = await bench_seed().seed_into(
        settings.database_url, PROBLEMS, settings.gpo_secret_key.get_secret_value()
    )
    tokens = world["tokens"]
    commander, partner, facilitator = tokens["commander"], tokens["partner"], tokens["facilitator"]

    everything = await get(client, commander, "/api/v1/problems", limit=200)
    assert len(everything["items"]) == PROBLEMS
    assert everything["next_cursor"] is None
    references = [p["reference"] for p in everything["items"]]
    assert all(re.fullmatch(r"P-20\d\d-\d{6}", r) for r in references)
    assert len(set(references)) == PROBLEMS
    assert {p["status"] for p in everything["items"]} == {"new", "open", "monitoring", "closed"}
    assert sum(p["open_action_count"] for p in everything["items"]) > 0
    assert sum(p["report_count"] for p in everything["items"]) > 0

    # The landlord partner sees its GPOs' problems at its clearance, and reads them.
    seen = await get(client, partner, "/api/v1/problems", limit=200)
    assert seen["items"], "the partner sees some problems"
    assert {p["visibility"] for p in seen["items"]} == {"partners"}
    assert {p["gpo_id"] for p in seen["items"]} <= set(world["partner_gpos"])
    for problem_id in world["partner_problem_ids"][:5]:
        one = await get(client, partner, f"/api/v1/problems/{problem_id}")
        assert one["id"] == problem_id
    listed = await get(client, commander, "/api/v1/problems", status="open", commune_code="57463")
    assert all(p["status"] == "open" for p in listed["items"])

    overdue = await get(client, commander, "/api/v1/actions", overdue="true", limit=200)
    assert len(overdue["items"]) == world["rows"]["overdue_actions"]
    assert all(a["overdue"] for a in overdue["items"])

    overview = await get(client, commander, "/api/v1/stats/overview")
    assert sum(overview["problems_by_status"].values()) == PROBLEMS
    assert overview["closed_with_evidence_ratio"] is not None
    # On PostgreSQL the overview comes from the summary rows the triggers keep (migration
    # 0008), filled by the seed's inserts; bounded by a creation date, from the problems'
    # rows: the same figures.
    from_rows = await get(
        client, commander, "/api/v1/stats/overview", **{"from": "2000-01-01T00:00:00Z"}
    )
    assert overview == from_rows
    evaluation = await get(client, commander, "/api/v1/evaluations/annual", year=2025)
    totals = evaluation["totals"]
    claimed = sum(totals["outcomes"].get(o, 0) for o in ("eliminated", "reduced", "harm_reduced"))
    # A problem closed as eliminated, reduced or harm_reduced has its improved indicator.
    assert totals["closed_with_improved_indicator"] >= claimed

    # The service goes on after the seed: the counters follow the seeded references.
    created = await post(
        client,
        facilitator,
        "/api/v1/problems",
        {
            "gpo_id": world["facilitator_gpos"][0],
            "title": "Regroupements hall 4",
            "description": "Après le banc d'essai.",
            "category": "hall_occupation",
            "commune_code": "57463",
        },
    )
    assert created["reference"] not in references
    report = await post(
        client,
        partner,
        "/api/v1/reports",
        {"category": "hall_occupation", "commune_code": "57463", "description": "Hall 4."},
    )
    assert report["gpo_id"] is not None
