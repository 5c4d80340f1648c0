"""The worker: fans the outbox's events out into webhook deliveries and delivers them.

`python -m app.worker` (or `scripts/worker`) runs it on its own; the web process runs one
too when `GPO_WORKER=1`, the default for the embedded SQLite database, so that
`./scripts/run` alone delivers. With PostgreSQL several workers may run: each claims its
events and deliveries with `FOR UPDATE SKIP LOCKED`, so none is handled by two at once.
Stopping (SIGTERM, SIGINT) lets the deliveries in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import httpx

from app.config import Settings, load_settings
from app.core.clock import utcnow
from app.core.db import Database, Outage, is_unavailable
from app.core.requests import configure_logging
from app.webhooks import service as webhooks

logger = logging.getLogger("app.worker")
IDLE_SECONDS = 0.5


async def run_once(database: Database, settings: Settings, client: httpx.AsyncClient) -> int:
    """One round: fan out new events, deliver what is due. Returns how much it did."""
    async with database.session(write=True) as session:
        fanned = await webhooks.fan_out(session)
        await session.commit()
    async with database.session(write=True) as session:
        claimed = await webhooks.claim_due(session, settings)
        await session.commit()
    if claimed:
        outcomes = await asyncio.gather(*(webhooks.send(client, m) for m in claimed))
        at = utcnow()
        async with database.session(write=True) as session:
            for message, outcome in zip(claimed, outcomes, strict=True):
                await webhooks.record_outcome(session, message, outcome, at)
            await session.commit()
    return fanned + len(claimed)


def http_client() -> httpx.AsyncClient:
    # No redirects: a receiver cannot send the service's requests somewhere else.
    return httpx.AsyncClient(timeout=webhooks.REQUEST_TIMEOUT, follow_redirects=False)


async def run(database: Database, settings: Settings, stop: asyncio.Event) -> None:
    outage = Outage()
    async with http_client() as client:
        while not stop.is_set():
            try:
                done = await run_once(database, settings, client)
                outage.recovered()
            except Exception as exc:
                if not is_unavailable(exc):
                    logger.exception("worker round failed")
                outage.failed(exc)
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_SECONDS)


async def main() -> None:
    settings = load_settings()
    configure_logging(settings.gpo_log_level)
    database = Database(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info("worker started")
    try:
        await run(database, settings, stop)
    finally:
        await database.dispose()
        logger.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
