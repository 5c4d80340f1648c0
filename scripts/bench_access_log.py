"""The access log's cost on a list's throughput, measured in one process: the same list
read by the commander (its pages hold police data: one access-log row a request), in
alternating batches with the logging on and with `log_read` replaced by a no-op, on the
database `bench seed` made. Alternating batches within one run keeps the comparison fair
on a machine whose load moves (the medians of the batches are compared).

    .venv/bin/python scripts/bench_access_log.py [--world var/bench/world.json]
        [--rounds 20] [--batch 40] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings
from app.governance import service as governance
from app.main import create_app

PATH = "/api/v1/problems?status=open&commune_code=57463"


async def _batch(client: httpx.AsyncClient, token: str, count: int, concurrency: int) -> float:
    """Requests per second over `count` requests, `concurrency` at a time."""
    queue = iter(range(count))

    async def one() -> None:
        for _ in queue:
            response = await client.get(PATH, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    return count / (time.perf_counter() - start)


async def main(args: argparse.Namespace, world: dict[str, Any]) -> None:
    settings = Settings(
        database_url=world["database_url"],
        gpo_secret_key=world["secret_key"],
        gpo_rate_limit_per_minute=10**9,
        gpo_log_level="WARNING",
    )
    app = create_app(settings)
    token = world["tokens"]["commander"]
    logging_on = governance.log_read

    async def no_log(*_args: Any, **_kwargs: Any) -> None:
        return None

    rates: dict[str, list[float]] = {"logged": [], "not logged": []}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await _batch(client, token, args.batch, args.concurrency)  # warm up
            for _ in range(args.rounds):
                for name, log in (("logged", logging_on), ("not logged", no_log)):
                    governance.log_read = log  # type: ignore[assignment]
                    rates[name].append(await _batch(client, token, args.batch, args.concurrency))
    governance.log_read = logging_on
    on, off = (statistics.median(rates[k]) for k in ("logged", "not logged"))
    print(f"GET {PATH} (commander), {args.rounds} x {args.batch} requests each way")
    print(f"  logged:     {on:7.1f} req/s (median of the batches)")
    print(f"  not logged: {off:7.1f} req/s")
    print(f"  cost of the access log: {100 * (1 - on / off):.1f} %")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="var/bench/world.json")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    arguments = parser.parse_args()
    asyncio.run(main(arguments, json.loads(Path(arguments.world).read_text())))
