"""The worker: fans the outbox's events out into webhook deliveries and delivers them, sends
the mail outbox (`app.mail.sender`), and writes the morning's reminders (actions due soon or
overdue, GPOs late for their meeting) and e-mail digests, and purges the expired
idempotency keys, and erases the texts past retention (`app.governance.retention`): each
morning job once a day across workers.

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
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import DUE_SOON_DAYS, OPEN_STATUSES, Action, overdue
from app.config import Settings, load_settings
from app.core import idempotency, outbox, schedule
from app.core.clock import PARIS, utcnow
from app.core.db import Database, Outage, is_unavailable
from app.core.requests import configure_logging
from app.governance import retention
from app.gpos.models import Gpo
from app.mail import sender as mail_sender
from app.mail import service as mail
from app.webhooks import service as webhooks

logger = logging.getLogger("app.worker")
IDLE_SECONDS = 0.5
# The morning's reminders, Europe/Paris: actions due within a week, actions overdue (those
# that fell due in the last month: an older one was reminded of already, or is history),
# GPOs late for their meeting.
MORNING = time(7, 0)
OVERDUE_LOOKBACK_DAYS = 30
BATCH = 1000


async def _due_soon(session: AsyncSession, today: date, _now: datetime) -> int:
    rows = await session.execute(
        select(Action.id, Action.due_date).where(
            Action.status.in_(OPEN_STATUSES),
            Action.due_date.between(today, today + timedelta(days=DUE_SOON_DAYS)),
        )
    )
    return await _remind(session, "action.due_soon", "action", rows)


async def _overdue(session: AsyncSession, today: date, _now: datetime) -> int:
    rows = await session.execute(
        select(Action.id, Action.due_date).where(
            overdue(today), Action.due_date >= today - timedelta(days=OVERDUE_LOOKBACK_DAYS)
        )
    )
    return await _remind(session, "action.overdue", "action", rows)


async def _cadence_breached(session: AsyncSession, _today: date, now: datetime) -> int:
    rows = await session.execute(
        select(Gpo.id, Gpo.next_meeting_due).where(Gpo.next_meeting_due < now)
    )
    return await _remind(session, "gpo.cadence_breached", "gpo", rows)


async def _remind(session: AsyncSession, event_type: str, resource_type: str, rows: Any) -> int:
    keyed = [(str(row_id), _day_of(when)) for row_id, when in rows]
    made = 0
    for start in range(0, len(keyed), BATCH):
        made += await outbox.remind(
            session, event_type, resource_type, keyed[start : start + BATCH]
        )
    return made


def _day_of(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(PARIS).date().isoformat()
    return value.isoformat()


async def _purge_idempotency_keys(session: AsyncSession, _today: date, _now: datetime) -> int:
    # Expired keys are never replayed (`app.core.idempotency`): this only frees their rows.
    return await idempotency.purge_expired(session)


async def _retention_purge(session: AsyncSession, _today: date, now: datetime) -> int:
    settings: Settings = session.info["settings"]
    return (await retention.purge(session, settings.retention_years, now)).total


JOBS: dict[str, Callable[[AsyncSession, date, datetime], Awaitable[int]]] = {
    "idempotency.purge": _purge_idempotency_keys,
    "action.due_soon": _due_soon,
    "action.overdue": _overdue,
    "gpo.cadence_breached": _cadence_breached,
    "mail.digest": mail.digests,
    "governance.purge": _retention_purge,
}


async def run_jobs(database: Database, now: datetime | None = None) -> int:
    """The morning's jobs, each once a day across workers (after 07:00 Paris time)."""
    now = now or utcnow()
    local = now.astimezone(PARIS)
    if local.time() < MORNING:
        return 0
    made = 0
    for job, work in JOBS.items():
        async with database.session(write=True) as session:
            if not await schedule.claim(session, job, local.date().isoformat(), now):
                continue
            session.info["settings"] = database.settings  # what a job is configured by
            made += await work(session, local.date(), now)
            await session.commit()
    return made


async def run_once(database: Database, settings: Settings, client: httpx.AsyncClient) -> int:
    """One round: send the mails due, fan out new events, deliver what is due. Returns how
    much it did."""
    mailed = await mail_sender.deliver_due(database, settings)
    async with database.session(write=False) as session:
        if not await webhooks.has_work(session):
            return mailed  # idle: no write transaction (SQLite's lock stays free for requests)
    async with database.session(write=True) as session:
        fanned = await webhooks.fan_out(session)
        await session.commit()
    async with database.session(write=True) as session:
        claimed = await webhooks.claim_due(session, settings)
        await session.commit()
    if claimed:
        endpoints = {m.webhook_id: asyncio.Semaphore(webhooks.PER_ENDPOINT) for m in claimed}
        outcomes = await asyncio.gather(
            *(_send(endpoints[m.webhook_id], client, m) for m in claimed)
        )
        at = utcnow()
        async with database.session(write=True) as session:
            await webhooks.record_outcomes(session, list(zip(claimed, outcomes, strict=True)), at)
            await session.commit()
    return mailed + fanned + len(claimed)


async def _send(
    sending: asyncio.Semaphore, client: httpx.AsyncClient, message: webhooks.Claimed
) -> webhooks.Outcome:
    async with sending:
        return await webhooks.send(client, message)


def http_client() -> httpx.AsyncClient:
    # No redirects: a receiver cannot send the service's requests somewhere else.
    return httpx.AsyncClient(timeout=webhooks.REQUEST_TIMEOUT, follow_redirects=False)


async def run(database: Database, settings: Settings, stop: asyncio.Event) -> None:
    outage = Outage()
    jobs_day: date | None = None  # the day this worker last ran (or saw run) the jobs
    async with http_client() as client:
        while not stop.is_set():
            try:
                local = utcnow().astimezone(PARIS)
                if jobs_day != local.date() and local.time() >= MORNING:
                    await run_jobs(database)
                    jobs_day = local.date()
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
