"""The worker's benchmark: webhook messages a second to a local receiver, and the lag from
a committed change to its delivery while the worker idles.

Against a database that `scripts/bench seed` filled (its world file names it): a webhook
of the landlord partner's organisation is registered through the API; N `report.triaged`
events of that organisation's reports are written to the outbox in one transaction; then
`python -m app.worker` runs until the receiver (uvicorn on a free loopback port, answering
204 at once) has every message. Then, the worker idle, single events are committed one at
a time and the time until each arrives is measured.

    .venv/bin/python scripts/bench_worker.py --world var/bench/world.json --messages 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import delete, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from app.config import Settings  # noqa: E402
from app.core.db import Database  # noqa: E402
from app.core.outbox import OutboxEvent  # noqa: E402
from app.identity.models import User  # noqa: E402
from app.main import create_app  # noqa: E402
from app.reports.models import Report  # noqa: E402
from app.webhooks.models import Delivery, Webhook  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # webhook-id -> monotonic arrival

    async def hook(self, request: Request) -> Response:
        await request.body()
        self.arrivals.setdefault(request.headers["webhook-id"], time.monotonic())
        return Response(status_code=204)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(app: Any, port: int) -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


async def main(args: argparse.Namespace, world: dict[str, Any]) -> int:
    url = world["database_url"]
    settings = Settings(database_url=url, gpo_secret_key=world["secret_key"], gpo_worker=False)
    receiver = Receiver()
    port = free_port()
    server = serve(Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])]), port)
    database = Database(settings)
    app = create_app(settings)
    partner = world["tokens"]["partner"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as api:
        answer = await api.post(
            "/api/v1/webhooks",
            headers={"Authorization": f"Bearer {partner}"},
            json={"url": f"http://127.0.0.1:{port}/hook", "events": ["report.triaged"]},
        )
        answer.raise_for_status()
    webhook_id = uuid.UUID(answer.json()["id"])
    worker: asyncio.subprocess.Process | None = None
    try:
        async with database.session(write=True) as session:
            organisation = await session.scalar(
                select(User.organisation_id).where(User.id == uuid.UUID(world["users"]["partner"]))
            )
            # Nothing older waits (a previous run's events, the seed's own).
            await session.execute(
                OutboxEvent.__table__.update()
                .where(OutboxEvent.fanned_out.is_(False))
                .values(fanned_out=True)
            )
            report_ids = (
                await session.scalars(
                    select(Report.id)
                    .where(Report.submitted_by_organisation_id == organisation)
                    .limit(args.messages + args.lag_samples)
                )
            ).all()
            burst, single = report_ids[: args.messages], report_ids[args.messages :]
            session.add_all(
                OutboxEvent(type="report.triaged", resource_type="report", resource_id=str(r))
                for r in burst
            )
            await session.commit()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GPO_", "DATABASE_"))},
            "DATABASE_URL": url,
            "GPO_SECRET_KEY": world["secret_key"],
            "GPO_LOG_LEVEL": "WARNING",
        }
        started = time.monotonic()
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.worker", cwd=PROJECT_ROOT, env=env
        )
        while len(receiver.arrivals) < len(burst):
            if time.monotonic() - started > args.timeout:
                print(f"only {len(receiver.arrivals)} of {len(burst)} in {args.timeout} s")
                return 1
            await asyncio.sleep(0.02)
        # From the first arrival to the last (the worker's start-up apart).
        first, last = min(receiver.arrivals.values()), max(receiver.arrivals.values())
        print(
            f"burst: {len(burst)} messages in {last - first:.2f} s from the first to the last "
            f"= {(len(burst) - 1) / (last - first):.0f} msg/s; {first - started:.2f} s from "
            f"the worker's start to the first ({settings.database_url.split(':')[0]})"
        )
        lags: list[float] = []
        for report_id in single:
            await asyncio.sleep(args.pause)  # the worker idles between changes
            before = len(receiver.arrivals)
            async with database.session(write=True) as session:
                session.add(
                    OutboxEvent(
                        type="report.triaged", resource_type="report", resource_id=str(report_id)
                    )
                )
                await session.commit()
            committed = time.monotonic()
            # The receiver runs in its own thread and loop: polled, not awaited.
            while len(receiver.arrivals) == before:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            lags.append(max(receiver.arrivals.values()) - committed)
        if lags:
            print(
                f"lag at rest over {len(lags)} changes: median {statistics.median(lags) * 1000:.0f}"
                f" ms, max {max(lags) * 1000:.0f} ms"
            )
    finally:
        if worker is not None and worker.returncode is None:
            worker.terminate()
            await worker.wait()
        async with database.session(write=True) as session:
            await session.execute(delete(Delivery).where(Delivery.webhook_id == webhook_id))
            await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
            await session.commit()
        await database.dispose()
        await app.state.database.dispose()
        server.should_exit = True
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", default=str(PROJECT_ROOT / "var" / "bench" / "world.json"))
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--lag-samples", type=int, default=10)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between single changes")
    parser.add_argument("--timeout", type=float, default=120)
    arguments = parser.parse_args()
    world = json.loads(Path(arguments.world).read_text(encoding="utf-8"))
    sys.exit(asyncio.run(main(arguments, world)))
