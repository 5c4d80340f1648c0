"""Sending the mail outbox (a step of each worker round, `app.worker.run_once`).

A round claims the mails due (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so that two workers
never take the same one), composes each with its recipient's access rules, leases them for
`LEASE` and commits; then sends them over one SMTP connection, outside any transaction, and
records how each went. A worker that dies between sending and recording lets another send
again after the lease (at least once; never twice on purpose). Network and 4xx errors are
retried with back-off for about a day; a 5xx refusal fails at once.

Without `GPO_SMTP_URL`, each mail is written to the log (recipient, subject, text part) and
marked `logged`: development needs no mail server, and the outbox still records it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import utcnow
from app.core.db import Database
from app.identity.models import User
from app.mail import compose, transport
from app.mail.models import Mail, MailStatus
from app.reference.models import Organisation

logger = logging.getLogger("app.mail")

RETRY_DELAYS = (60, 300, 1800, 7200, 28800, 86400)
LEASE = timedelta(minutes=2)
BATCH = 20


@dataclass(frozen=True)
class Claimed:
    mail_id: uuid.UUID
    outgoing: transport.Outgoing


async def has_due(session: AsyncSession) -> bool:
    due = select(Mail.id).where(Mail.status == MailStatus.pending, Mail.next_attempt_at <= utcnow())
    return bool(await session.scalar(select(due.exists())))


async def claim_due(
    session: AsyncSession, settings: Settings, *, limit: int = BATCH
) -> tuple[int, list[Claimed]]:
    """The mails due now, composed and leased for sending; without SMTP, logged at once.
    Returns how many were taken, and those to send."""
    now = utcnow()
    rows = (
        await session.execute(
            select(Mail, User, Organisation.kind)
            .join(User, User.id == Mail.user_id)
            .outerjoin(Organisation, Organisation.id == User.organisation_id)
            .where(Mail.status == MailStatus.pending, Mail.next_attempt_at <= now)
            .order_by(Mail.next_attempt_at, Mail.id)
            .limit(limit)
            .with_for_update(of=Mail, skip_locked=True)
        )
    ).all()
    smtp = settings.smtp_server
    claimed = []
    for mail, user, kind in rows:
        outgoing = None
        if user.active and user.email.strip():
            outgoing = await compose.compose(session, settings, mail, user, kind, now)
        if outgoing is None:
            mail.status = MailStatus.cancelled
            mail.next_attempt_at = None
            continue
        mail.to_address = outgoing.to
        mail.subject = outgoing.subject[:300]
        if smtp is None:
            logger.info(
                "mail not sent (no GPO_SMTP_URL), logged: to %s, subject %r\n%s",
                outgoing.to,
                outgoing.subject,
                outgoing.text,
                extra={"fields": {"mail_id": str(mail.id), "kind": mail.kind.value}},
            )
            mail.status = MailStatus.logged
            mail.sent_at = now
            mail.next_attempt_at = None
            continue
        mail.next_attempt_at = now + LEASE
        claimed.append(Claimed(mail.id, outgoing))
    await session.flush()
    return len(rows), claimed


async def record(session: AsyncSession, claimed: Claimed, result: transport.Result) -> None:
    mail = await session.get(Mail, claimed.mail_id, with_for_update=True)
    if mail is None or mail.status is not MailStatus.pending:
        return  # recorded already by a worker that took it over after the lease
    at = utcnow()
    mail.attempts += 1
    if result.sent:
        mail.status = MailStatus.sent
        mail.sent_at = at
        mail.next_attempt_at = None
        mail.last_error = None
    elif not result.retry or mail.attempts > len(RETRY_DELAYS):
        mail.status = MailStatus.failed
        mail.next_attempt_at = None
        mail.last_error = (result.error or "")[:200]
        logger.warning(
            "mail given up: %s", mail.last_error, extra={"fields": {"mail_id": str(mail.id)}}
        )
    else:
        mail.next_attempt_at = at + timedelta(seconds=RETRY_DELAYS[mail.attempts - 1])
        mail.last_error = (result.error or "")[:200]
    await session.flush()


async def deliver_due(database: Database, settings: Settings) -> int:
    """Send (or log) the mails due now; returns how many were handled."""
    async with database.session(write=False) as session:
        if not await has_due(session):
            return 0  # idle: read only
    async with database.session(write=True) as session:
        handled, claimed = await claim_due(session, settings)
        await session.commit()
    smtp = settings.smtp_server
    if claimed and smtp is not None:
        results = await asyncio.to_thread(
            transport.send_batch, smtp, settings.gpo_mail_from, [c.outgoing for c in claimed]
        )
        async with database.session(write=True) as session:
            for one, result in zip(claimed, results, strict=True):
                await record(session, one, result)
            await session.commit()
    return handled
