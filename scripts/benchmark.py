"""Load benchmark over HTTP: seeds a realistic volume through the API, then measures the
routes users hit most (latency percentiles and throughput at a given concurrency).

    .venv/bin/python scripts/benchmark.py --base-url http://127.0.0.1:8000 --token gpo_...

`scripts/bench` starts a server on a scratch database and runs this against it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx

CATEGORIES = ["hall_occupation", "rodeo", "wrecked_vehicle", "nuisance_gathering", "damage"]
COMMUNES = ["57463", "57751", "57480", "57447"]


async def _post(client: httpx.AsyncClient, path: str, token: str, body: dict[str, Any]) -> Any:
    response = await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()


async def seed(client: httpx.AsyncClient, admin: str, problems: int) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    police = await _post(
        client,
        "/api/v1/organisations",
        admin,
        {"name": f"DDSP {suffix}", "kind": "national_police"},
    )
    landlord = await _post(
        client, "/api/v1/organisations", admin, {"name": f"Bailleur {suffix}", "kind": "landlord"}
    )
    people = {}
    for role, org in (("facilitator", police), ("partner", landlord), ("commander", police)):
        user = await _post(
            client,
            "/api/v1/users",
            admin,
            {
                "email": f"{role}.{suffix}@bench.example",
                "display_name": f"{role} {suffix}",
                "role": role,
                "organisation_id": org["id"],
            },
        )
        token = await _post(client, f"/api/v1/users/{user['id']}/tokens", admin, {"name": "bench"})
        people[role] = token["token"]
    gpo = await _post(
        client,
        "/api/v1/gpos",
        people["facilitator"],
        {
            "name": f"GPO bench {suffix}",
            "kind": "general",
            "commune_codes": COMMUNES,
            "member_organisation_ids": [police["id"], landlord["id"]],
        },
    )
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    semaphore = asyncio.Semaphore(8)
    ids: list[str] = []

    async def one(index: int) -> None:
        async with semaphore:
            problem = await _post(
                client,
                "/api/v1/problems",
                people["facilitator"],
                {
                    "gpo_id": gpo["id"],
                    "title": f"Problème {index} rue des Allemands",
                    "description": "Nuisances répétées en soirée, dégradations du hall.",
                    "category": rng.choice(CATEGORIES),
                    "commune_code": rng.choice(COMMUNES),
                    "priority": rng.choice(["low", "normal", "high", "urgent"]),
                    "location": {"lat": 49.10 + rng.random() / 20, "lon": 6.15 + rng.random() / 20},
                },
            )
            ids.append(problem["id"])
            if index % 2 == 0:
                due = date.today() + timedelta(days=rng.randint(-30, 30))
                await _post(
                    client,
                    f"/api/v1/problems/{problem['id']}/actions",
                    people["facilitator"],
                    {
                        "title": "Patrouille",
                        "kind": "foot_patrol",
                        "assignee_organisation_id": landlord["id"],
                        "due_date": due.isoformat(),
                    },
                )

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(problems)))
    print(f"seeded {problems} problems in {time.perf_counter() - started:.1f} s")
    return {"gpo": gpo, "people": people, "problem_ids": ids}


async def measure(
    name: str, call: Callable[[], Awaitable[httpx.Response]], requests: int, concurrency: int
) -> None:
    latencies: list[float] = []
    errors = 0
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        nonlocal errors
        async with semaphore:
            started = time.perf_counter()
            response = await call()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code >= 400:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<38} {requests / elapsed:8.1f} req/s   p50 {q[49]:7.1f} ms   "
        f"p95 {q[94]:7.1f} ms   p99 {q[98]:7.1f} ms   errors {errors}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="an admin token")
    parser.add_argument("--problems", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=args.base_url, timeout=60, limits=limits) as client:
        world = await seed(client, args.token, args.problems)
        people, gpo = world["people"], world["gpo"]
        rng = random.Random(11)  # noqa: S311 - reproducible choices

        def get(token: str, path: str, **params: Any) -> Callable[[], Awaitable[httpx.Response]]:
            headers = {"Authorization": f"Bearer {token}"}
            return lambda: client.get(path, params=params, headers=headers)

        def one_problem() -> Awaitable[httpx.Response]:
            problem_id = rng.choice(world["problem_ids"])
            return client.get(
                f"/api/v1/problems/{problem_id}",
                headers={"Authorization": f"Bearer {people['partner']}"},
            )

        def report() -> Awaitable[httpx.Response]:
            return client.post(
                "/api/v1/reports",
                json={
                    "category": "hall_occupation",
                    "commune_code": "57463",
                    "description": "Regroupements dans le hall.",
                    "location": {"lat": 49.11, "lon": 6.17},
                },
                headers={
                    "Authorization": f"Bearer {people['partner']}",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )

        scenarios: list[tuple[str, Callable[[], Awaitable[httpx.Response]]]] = [
            ("GET /health", lambda: client.get("/health")),
            ("GET /problems (partner, limit 50)", get(people["partner"], "/api/v1/problems")),
            (
                "GET /problems?status=new&sort=-priority",
                get(people["facilitator"], "/api/v1/problems", status="new", sort="-priority"),
            ),
            (
                "GET /problems?q=allemands",
                get(people["facilitator"], "/api/v1/problems", q="allemands"),
            ),
            ("GET /problems/{id} (partner)", one_problem),
            (
                "GET /actions?overdue=true",
                get(people["commander"], "/api/v1/actions", overdue="true"),
            ),
            ("POST /reports (idempotent)", report),
            ("GET /stats/overview", get(people["commander"], "/api/v1/stats/overview")),
            (
                "GET /evaluations/annual",
                get(people["commander"], "/api/v1/evaluations/annual", year=date.today().year),
            ),
            ("GET /gpos/{id}", get(people["facilitator"], f"/api/v1/gpos/{gpo['id']}")),
        ]
        print(f"concurrency {args.concurrency}, {args.requests} requests per scenario")
        for name, call in scenarios:
            await measure(name, call, args.requests, args.concurrency)


if __name__ == "__main__":
    asyncio.run(main())
