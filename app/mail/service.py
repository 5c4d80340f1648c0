"""What is mailed, and when: each function writes outbox rows (`app.mail.models.Mail`) in
the caller's transaction, once per key; the worker composes and sends them
(`app.mail.sender`).

- an invitation or a reset link, when a person is invited or asks for a reset;
- the minutes' link, to the people of the organisations that attended a meeting, once it
  is held;
- a digest, each morning (a job of `app.worker`), to each person whose organisation has
  actions overdue or due within 7 days, and to facilitators whose GPOs have reports awaiting
  triage or are late for their meeting, at most once a day (`User.digest`: daily, weekly on
  Mondays, off);
- a word to a webhook's organisation (or to the admins) when the service disables it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import DUE_SOON_DAYS, OPEN_STATUSES, Action
from app.core.clock import utcnow
from app.core.db import dialect_insert
from app.gpos.models import Gpo, GpoFacilitator
from app.identity.models import Digest, Role, User
from app.mail.models import Mail, MailKind, MailStatus
from app.meetings.models import MeetingAttendee
from app.reports.models import Report, ReportStatus

MONDAY = 0


def _reachable() -> ColumnElement[bool]:
    """People a mail may go to: active, with an address."""
    return and_(User.active.is_(True), func.length(func.trim(User.email)) > 0)


async def _queue(
    session: AsyncSession, kind: MailKind, about: str, keyed: Iterable[tuple[str, uuid.UUID]]
) -> int:
    """One pending mail per (key, recipient), unless that key was written before."""
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "kind": kind,
            "key": key,
            "user_id": user_id,
            "about": about,
            "status": MailStatus.pending,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for key, user_id in keyed
    ]
    if not rows:
        return 0
    insert = dialect_insert(session)
    statement = (
        insert(Mail).values(rows).on_conflict_do_nothing(index_elements=["key"]).returning(Mail.id)
    )
    return len((await session.execute(statement)).all())


async def invitation(
    session: AsyncSession, invitation_id: uuid.UUID, user_id: uuid.UUID, kind: MailKind
) -> None:
    """The link of a new invitation (or reset), rebuilt from its id when sent."""
    await _queue(session, kind, str(invitation_id), [(f"{kind}:{invitation_id}", user_id)])


async def minutes(session: AsyncSession, meeting_id: uuid.UUID) -> int:
    """The minutes' link to each reachable person of the attending organisations (once per
    person and meeting, however often attendance changes after)."""
    attendees = select(MeetingAttendee.organisation_id).where(
        MeetingAttendee.meeting_id == meeting_id
    )
    people = await session.scalars(
        select(User.id).where(User.organisation_id.in_(attendees), _reachable())
    )
    return await _queue(
        session,
        MailKind.minutes,
        str(meeting_id),
        [(f"minutes:{meeting_id}:{user_id}", user_id) for user_id in people],
    )


async def webhook_disabled(
    session: AsyncSession, webhook_id: uuid.UUID, organisation_id: uuid.UUID, at: datetime
) -> int:
    """Tell the webhook's organisation's people, or the admins when it has none."""
    people = list(
        await session.scalars(
            select(User.id).where(User.organisation_id == organisation_id, _reachable())
        )
    )
    if not people:
        people = list(
            await session.scalars(select(User.id).where(User.role == Role.admin, _reachable()))
        )
    occasion = f"webhook_disabled:{webhook_id}:{int(at.timestamp())}"
    return await _queue(
        session,
        MailKind.webhook_disabled,
        str(webhook_id),
        [(f"{occasion}:{user_id}", user_id) for user_id in people],
    )


def digest_frequencies(today: date) -> list[Digest]:
    return [Digest.daily, Digest.weekly] if today.weekday() == MONDAY else [Digest.daily]


async def digests(session: AsyncSession, today: date, now: datetime) -> int:
    """The morning's digests (a job of `app.worker`): one per person and day at most (the
    key), to whoever has something waiting. What it says is read when it is sent, with the
    person's access rules."""
    horizon = today + timedelta(days=DUE_SOON_DAYS)
    organisation_has_due = exists().where(
        Action.assignee_organisation_id == User.organisation_id,
        Action.status.in_(OPEN_STATUSES),
        Action.due_date <= horizon,
    )
    awaiting_triage = exists().where(
        GpoFacilitator.user_id == User.id,
        Report.gpo_id == GpoFacilitator.gpo_id,
        Report.status == ReportStatus.received,
    )
    late_for_meeting = exists().where(
        GpoFacilitator.user_id == User.id,
        Gpo.id == GpoFacilitator.gpo_id,
        Gpo.next_meeting_due < now,
    )
    people = await session.scalars(
        select(User.id).where(
            _reachable(),
            User.digest.in_(digest_frequencies(today)),
            or_(
                organisation_has_due,
                and_(User.role == Role.facilitator, or_(awaiting_triage, late_for_meeting)),
            ),
        )
    )
    day = today.isoformat()
    return await _queue(
        session, MailKind.digest, day, [(f"digest:{user_id}:{day}", user_id) for user_id in people]
    )


# --- what an operator watches (GET /metrics) ---------------------------------------------


async def mails_by_status(session: AsyncSession) -> dict[str, float]:
    counts = {status.value: 0.0 for status in MailStatus}
    rows = await session.execute(select(Mail.status, func.count()).group_by(Mail.status))
    counts.update({status.value: float(count) for status, count in rows})
    return counts
