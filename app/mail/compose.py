"""What a mail says, composed when it is sent: read with its recipient's access rules (a
digest lists only what the person may see), links to the console built from
`GPO_PUBLIC_URL`, French text and HTML parts from the templates beside this file.

A mail that has nothing left to say when its turn comes (an invitation replaced or used,
a digest whose actions were all done meanwhile) composes to None and is not sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.actions.models import DUE_SOON_DAYS, OPEN_STATUSES, Action
from app.config import Settings
from app.core.clock import PARIS, utcnow
from app.gpos.models import Gpo
from app.identity import sessions
from app.identity.models import Invitation, Role, User
from app.identity.principal import Principal
from app.mail.models import Mail, MailKind
from app.mail.transport import Outgoing
from app.meetings.models import Meeting, MeetingStatus
from app.problems.models import Problem
from app.reference.models import OrganisationKind
from app.reports.models import Report, ReportStatus
from app.webhooks.models import Webhook

# A digest lists this many actions at most, then says how many more there are.
DIGEST_ACTIONS_SHOWN = 50

environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
environment.filters["day"] = wording.day
environment.filters["moment"] = wording.moment
environment.filters["label"] = wording.label


def principal_of(user: User, kind: OrganisationKind | None) -> Principal:
    """The recipient as the access rules know it (as if it had signed in)."""
    return Principal(
        user_id=user.id,
        token_id=None,
        role=user.role,
        organisation_id=user.organisation_id,
        organisation_kind=kind,
        display_name=user.display_name,
    )


def _render(template: str, settings: Settings, user: User, subject: str, **values: Any) -> Outgoing:
    values |= {"name": user.display_name, "console": f"{settings.public_url}/console"}
    return Outgoing(
        to=user.email.strip(),
        to_name=user.display_name,
        subject=subject,
        text=environment.get_template(f"{template}.txt").render(**values),
        html=environment.get_template(f"{template}.html").render(subject=subject, **values),
    )


async def compose(
    session: AsyncSession,
    settings: Settings,
    mail: Mail,
    user: User,
    kind: OrganisationKind | None,
    now: datetime | None = None,
) -> Outgoing | None:
    now = now or utcnow()
    if mail.kind in (MailKind.invitation, MailKind.password_reset):
        return await _invitation(session, settings, mail, user, now)
    if mail.kind is MailKind.digest:
        return await _digest(session, settings, mail, user, principal_of(user, kind), now)
    if mail.kind is MailKind.minutes:
        return await _minutes(session, settings, mail, user)
    return await _webhook_disabled(session, settings, mail, user)


async def _invitation(
    session: AsyncSession, settings: Settings, mail: Mail, user: User, now: datetime
) -> Outgoing | None:
    invitation = await session.get(Invitation, uuid.UUID(mail.about))
    if (
        invitation is None
        or invitation.user_id != user.id
        or invitation.closed_at is not None
        or invitation.expires_at <= now
    ):
        return None  # used, replaced by a newer one, or expired: its link is dead
    secret = sessions.invitation_secret(settings.gpo_secret_key.get_secret_value(), invitation.id)
    reset = mail.kind is MailKind.password_reset
    subject = (
        "Choisir un nouveau mot de passe pour la console GPO"
        if reset
        else "Votre accès à la console GPO"
    )
    return _render(
        "invitation",
        settings,
        user,
        subject,
        reset=reset,
        link=f"{settings.public_url}/console/invitation/{secret}",
        expires_at=invitation.expires_at,
    )


@dataclass(frozen=True)
class DueAction:
    title: str
    due_date: date
    overdue: bool
    problem: str | None  # "P-2026-000123 — title", where the person sees the problem
    link: str


@dataclass
class DigestContent:
    actions: list[DueAction] = field(default_factory=list)
    more_actions: int = 0
    awaiting_triage: list[tuple[str, int]] = field(default_factory=list)
    late_gpos: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.actions or self.awaiting_triage or self.late_gpos)


async def digest_content(
    session: AsyncSession, settings: Settings, user: User, principal: Principal, now: datetime
) -> DigestContent:
    """What the person's digest lists: its organisation's open actions overdue or due
    within 7 days that it sees, and for a facilitator its GPOs' reports awaiting triage and
    the GPOs late for their meeting. Each read goes through `app.access`."""
    today = now.astimezone(PARIS).date()
    content = DigestContent()
    base = settings.public_url
    if user.organisation_id is not None:
        rows = (
            await session.execute(
                select(
                    Action.id,
                    Action.title,
                    Action.due_date,
                    access.problem_column_if_visible(principal, Problem.id),
                    access.problem_reference_if_visible(principal),
                    access.problem_column_if_visible(principal, Problem.title),
                )
                .join(Problem, Problem.id == Action.problem_id)
                .where(
                    access.action_scope(principal),
                    Action.assignee_organisation_id == user.organisation_id,
                    Action.status.in_(OPEN_STATUSES),
                    Action.due_date <= today + timedelta(days=DUE_SOON_DAYS),
                )
                .order_by(Action.due_date, Action.id)
                .limit(DIGEST_ACTIONS_SHOWN + 1)
            )
        ).all()
        partner = access.member_organisation(principal) is not None
        for action_id, title, due, problem_id, reference, problem_title in rows[
            :DIGEST_ACTIONS_SHOWN
        ]:
            if partner:
                link = f"{base}/console/mon-organisation/actions/{action_id}"
            else:
                link = f"{base}/console/problemes/{problem_id}"
            problem = f"{reference} — {problem_title}" if reference is not None else None
            content.actions.append(DueAction(title, due, due < today, problem, link))
        if len(rows) > DIGEST_ACTIONS_SHOWN:
            content.more_actions = (
                await session.scalar(
                    select(func.count())
                    .select_from(Action)
                    .join(Problem, Problem.id == Action.problem_id)
                    .where(
                        access.action_scope(principal),
                        Action.assignee_organisation_id == user.organisation_id,
                        Action.status.in_(OPEN_STATUSES),
                        Action.due_date <= today + timedelta(days=DUE_SOON_DAYS),
                    )
                )
                or 0
            ) - DIGEST_ACTIONS_SHOWN
    if user.role is Role.facilitator:
        content.awaiting_triage = [
            (name, count)
            for name, count in await session.execute(
                select(Gpo.name, func.count(Report.id))
                .join(Gpo, Gpo.id == Report.gpo_id)
                .where(access.report_scope(principal), Report.status == ReportStatus.received)
                .group_by(Gpo.name)
                .order_by(Gpo.name)
            )
        ]
        content.late_gpos = [
            (name, due)
            for name, due in await session.execute(
                select(Gpo.name, Gpo.next_meeting_due)
                .where(access.gpo_scope(principal, Gpo.id), Gpo.next_meeting_due < now)
                .order_by(Gpo.next_meeting_due)
            )
        ]
    return content


async def _digest(
    session: AsyncSession,
    settings: Settings,
    mail: Mail,
    user: User,
    principal: Principal,
    now: datetime,
) -> Outgoing | None:
    content = await digest_content(session, settings, user, principal, now)
    if content.empty:
        return None
    overdue = sum(1 for action in content.actions if action.overdue)
    subject = f"GPO : votre point du {wording.day(date.fromisoformat(mail.about))}"
    if overdue:
        subject += f" — {overdue} action{'s' if overdue > 1 else ''} en retard"
    return _render(
        "digest",
        settings,
        user,
        subject,
        content=content,
        gpo_page=f"{settings.public_url}/console/gpo",
    )


async def _minutes(
    session: AsyncSession, settings: Settings, mail: Mail, user: User
) -> Outgoing | None:
    row = (
        await session.execute(
            select(Meeting, Gpo.name)
            .join(Gpo, Gpo.id == Meeting.gpo_id)
            .where(Meeting.id == uuid.UUID(mail.about))
        )
    ).one_or_none()
    if row is None or row[0].status is not MeetingStatus.held:
        return None
    meeting, gpo_name = row
    # A link only: the minutes page shows each reader what it may read, after sign-in.
    subject = (
        f"Compte rendu disponible : {gpo_name}, réunion du {wording.day(meeting.scheduled_at)}"
    )
    return _render(
        "minutes",
        settings,
        user,
        subject,
        gpo=gpo_name,
        scheduled_at=meeting.scheduled_at,
        link=f"{settings.public_url}/console/reunions/{meeting.id}/compte-rendu",
    )


async def _webhook_disabled(
    session: AsyncSession, settings: Settings, mail: Mail, user: User
) -> Outgoing | None:
    webhook = await session.get(Webhook, uuid.UUID(mail.about))
    if webhook is None or webhook.active:
        return None  # deleted, or enabled again meanwhile
    return _render(
        "webhook_disabled",
        settings,
        user,
        "Webhook désactivé après une journée d'échecs",
        url=webhook.url,
        reason=webhook.disabled_reason or "",
        api=f"{settings.public_url}/api/v1/webhooks/{webhook.id}",
    )
