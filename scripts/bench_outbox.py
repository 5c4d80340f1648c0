"""What the outbox costs a request: `POST /problems/{id}/actions` (an audited change that
makes an `action.assigned` event) with the trigger of migration 0016 in place, then
without it, in alternating blocks of 20 requests, in one process against a fresh database
with the demonstration data. Prints the median of each and their difference.

    .venv/bin/python scripts/bench_outbox.py                       # a SQLite file
    .venv/bin/python scripts/bench_outbox.py --database-url postgresql://postgres@127.0.0.1:5432/gpo_bench_outbox
(an empty PostgreSQL database whose name holds "bench").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from app import cli  # noqa: E402
from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402

MIGRATION = PROJECT_ROOT / "migrations" / "versions" / "0016_outbox_from_audit.py"


def trigger_sql() -> Any:
    spec = importlib.util.spec_from_file_location("outbox_from_audit", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def main(url: str, blocks: int) -> None:
    settings = Settings(
        database_url=url,
        gpo_demo_data="1",
        gpo_worker=False,
        gpo_rate_limit_per_minute=10**6,
        gpo_log_level="WARNING",
    )
    await asyncio.to_thread(cli.migrate, settings)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        await cli.seed(settings)
    token = next(
        line.split()[-1]
        for line in printed.getvalue().splitlines()
        if "gpo_" in line and ("nimat" in line.lower() or "facilit" in line.lower())
    )
    migration = trigger_sql()
    app = create_app(settings)
    database = app.state.database
    postgresql = database.engine.dialect.name == "postgresql"
    drop = "DROP TRIGGER IF EXISTS outbox_from_audit" + (" ON audit_events" if postgresql else "")
    create = migration.POSTGRESQL[1] if postgresql else migration.SQLITE[0]
    times: dict[str, list[float]] = {"with the outbox": [], "without": []}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as client:
        headers = {"Authorization": f"Bearer {token}"}
        problem = (await client.get("/api/v1/problems?limit=1", headers=headers)).json()["items"][0]
        organisations = (await client.get("/api/v1/organisations", headers=headers)).json()
        assignee = organisations["items"][0]["id"]
        body = {
            "title": "Patrouille",
            "kind": "foot_patrol",
            "assignee_organisation_id": assignee,
            "due_date": "2030-01-15",
        }
        path = f"/api/v1/problems/{problem['id']}/actions"
        (await client.post(path, headers=headers, json=body)).raise_for_status()  # warm-up
        for _ in range(blocks):
            for mode in times:
                async with database.session(write=True) as session:
                    await session.execute(text(drop))
                    if mode == "with the outbox":
                        await session.execute(text(create))
                    await session.commit()
                for _ in range(20):
                    started = time.perf_counter()
                    answer = await client.post(path, headers=headers, json=body)
                    times[mode].append(time.perf_counter() - started)
                    answer.raise_for_status()
        async with database.session(write=True) as session:  # as migrated
            await session.execute(text(drop))
            await session.execute(text(create))
            await session.commit()
    await database.dispose()
    medians = {mode: statistics.median(found) * 1000 for mode, found in times.items()}
    for mode, median in medians.items():
        print(f"{mode:>16}: median {median:.2f} ms over {len(times[mode])} requests")
    difference = medians["with the outbox"] - medians["without"]
    print(f"the outbox's cost: {difference:.2f} ms a request ({database.engine.dialect.name})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--blocks", type=int, default=10)
    arguments = parser.parse_args()
    if arguments.database_url and "bench" not in arguments.database_url.rsplit("/", 1)[-1]:
        raise SystemExit("bench_outbox: the database's name must hold 'bench'")
    database_url = arguments.database_url or (
        f"sqlite:///{tempfile.mkdtemp(prefix='gpo-outbox-')}/outbox.sqlite3"
    )
    asyncio.run(main(database_url, arguments.blocks))
