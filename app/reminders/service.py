"""What awaits a person: its actions overdue or due within a week, the reports waiting for
its triage, its GPOs late for their meeting, and what is new since its last visit.

The console's bell reads it (the counts on every page, the lists on its own page). Every
statement carries the access scope of the person (`app.access`), so the bell never names
what the person may not read: an action of a partner's organisation on a problem hidden
from it shows without the problem. Counts are one aggregate statement per table, over the
indexes the lists use; lists are short (the most pressing first).

Who hears of what:
- everyone: the actions it sees that are open and overdue or due within 7 days (a partner:
  its organisation's, the ones it is to carry out);
- facilitators and admins, who triage and route: the reports awaiting triage;
- facilitators, admins and commanders: the GPOs late for their meeting;
- "new", since the person's previous console session: for a partner, actions newly
  assigned to its organisation and its reports triaged; for those who triage, reports
  received (flagged in their list).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access
from app.actions.models import DUE_SOON_DAYS, OPEN_STATUSES, Action, overdue
from app.core.clock import today_in_paris, utcnow
from app.gpos.models import Gpo
from app.identity.models import ConsoleSession, Role
from app.identity.principal import Principal
from app.meetings.models import Meeting, MeetingStatus
from app.problems.models import Problem
from app.reports.models import Report, ReportStatus

SHOWN = 20  # entries of each list on the page; the counts say how many in all


def hears_of_triage(principal: Principal) -> bool:
    """Reports awaiting triage concern those who triage (facilitators) and route (admins)."""
    return principal.role in (Role.facilitator, Role.admin)


def hears_of_cadence(principal: Principal) -> bool:
    """GPOs late for their meeting concern those who run or oversee them."""
    return principal.role in (Role.facilitator, Role.admin, Role.commander)


async def last_visit(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> datetime:
    """When the person was last seen in a console session before this one; this session's
    start on a first visit (nothing is "new" from before a person's first sign-in)."""
    started = (
        select(ConsoleSession.created_at).where(ConsoleSession.id == session_id).scalar_subquery()
    )
    previous, current = (
        await session.execute(
            select(
                select(func.max(ConsoleSession.last_seen_at))
                .where(ConsoleSession.user_id == user_id, ConsoleSession.created_at < started)
                .scalar_subquery(),
                started,
            )
        )
    ).one()
    return previous or current or utcnow()


@dataclass(frozen=True)
class Counts:
    overdue: int = 0
    due_soon: int = 0
    new_actions: int = 0  # assigned since the last visit, due later than the week
    reports_waiting: int = 0
    new_reports: int = 0  # of those waiting, received since the last visit
    gpos_late: int = 0
    reports_triaged: int = 0  # a partner's own, since the last visit

    @property
    def total(self) -> int:
        """Each thing once: new reports waiting are among the waiting ones."""
        return (
            self.overdue
            + self.due_soon
            + self.new_actions
            + self.reports_waiting
            + self.gpos_late
            + self.reports_triaged
        )


@dataclass(frozen=True)
class ActionDue:
    id: uuid.UUID
    title: str
    due_date: date
    problem_id: uuid.UUID
    # None where the person may not see the problem.
    problem_reference: str | None
    problem_title: str | None
    overdue: bool
    new: bool


@dataclass(frozen=True)
class ReportWaiting:
    id: uuid.UUID
    reference: str
    category: str
    commune_code: str
    received_at: datetime
    gpo_id: uuid.UUID | None
    gpo_name: str | None
    # The GPO's next planned meeting, where the report is triaged.
    meeting_id: uuid.UUID | None
    new: bool


@dataclass(frozen=True)
class GpoLate:
    id: uuid.UUID
    name: str
    next_meeting_due: datetime


@dataclass(frozen=True)
class ReportTriaged:
    id: uuid.UUID
    reference: str
    status: ReportStatus
    triaged_at: datetime


@dataclass
class Bell:
    since: datetime
    counts: Counts
    overdue: list[ActionDue] = field(default_factory=list)
    due_soon: list[ActionDue] = field(default_factory=list)
    new_actions: list[ActionDue] = field(default_factory=list)
    reports_waiting: list[ReportWaiting] = field(default_factory=list)
    gpos_late: list[GpoLate] = field(default_factory=list)
    reports_triaged: list[ReportTriaged] = field(default_factory=list)


# --- the statements -------------------------------------------------------------------------


def _actions_seen(principal: Principal) -> list[ColumnElement[bool]]:
    """Open actions the person hears of: a partner its organisation's (the ones it carries
    out), anyone else those it sees. The statement joins Problem (the scope reads it)."""
    conditions = [Action.status.in_(OPEN_STATUSES), access.action_scope(principal)]
    if (organisation_id := access.member_organisation(principal)) is not None:
        conditions.append(Action.assignee_organisation_id == organisation_id)
    return conditions


def _action_windows(principal: Principal, today: date, since: datetime) -> dict[str, Any]:
    horizon = today + timedelta(days=DUE_SOON_DAYS)
    windows: dict[str, Any] = {
        "overdue": overdue(today),
        "due_soon": Action.due_date.between(today, horizon),
    }
    if access.member_organisation(principal) is not None:
        windows["new_actions"] = and_(Action.created_at > since, Action.due_date > horizon)
    return windows


def _count(condition: Any) -> Any:
    return func.count(case((condition, 1)))


def _reports_waiting(principal: Principal) -> list[ColumnElement[bool]]:
    return [access.report_scope(principal), Report.status == ReportStatus.received]


def _reports_triaged(principal: Principal, since: datetime) -> list[ColumnElement[bool]]:
    return [
        access.report_scope(principal),
        Report.submitted_by_organisation_id == access.member_organisation(principal),
        Report.triaged_at > since,
    ]


def _gpos_late(principal: Principal, now: datetime) -> list[ColumnElement[bool]]:
    return [access.gpo_scope(principal, Gpo.id), Gpo.next_meeting_due < now]


async def counts(session: AsyncSession, principal: Principal, since: datetime) -> Counts:
    """How many of each, in at most three statements (the header's badge)."""
    today, now = today_in_paris(), utcnow()
    found: dict[str, int] = {}
    windows = _action_windows(principal, today, since)
    statement: Select[Any] = (
        select(*(_count(condition) for condition in windows.values()))
        .select_from(Action)
        .join(Problem, Problem.id == Action.problem_id)
        .where(*_actions_seen(principal))
    )
    found |= dict(zip(windows, (await session.execute(statement)).one(), strict=True))
    if hears_of_triage(principal):
        row = (
            await session.execute(
                select(func.count(), _count(Report.created_at > since)).where(
                    *_reports_waiting(principal)
                )
            )
        ).one()
        found |= {"reports_waiting": row[0], "new_reports": row[1]}
    if access.member_organisation(principal) is not None:
        found["reports_triaged"] = (
            await session.scalar(
                select(func.count()).select_from(Report).where(*_reports_triaged(principal, since))
            )
        ) or 0
    if hears_of_cadence(principal):
        found["gpos_late"] = (
            await session.scalar(
                select(func.count()).select_from(Gpo).where(*_gpos_late(principal, now))
            )
        ) or 0
    return Counts(**found)


async def _actions(
    session: AsyncSession,
    principal: Principal,
    condition: Any,
    today: date,
    since: datetime,
    *,
    newest_first: bool = False,
) -> list[ActionDue]:
    order = (Action.created_at.desc(), Action.id) if newest_first else (Action.due_date, Action.id)
    rows = await session.execute(
        select(
            Action.id,
            Action.title,
            Action.due_date,
            Action.problem_id,
            Action.created_at,
            access.problem_column_if_visible(principal, Problem.reference),
            access.problem_column_if_visible(principal, Problem.title),
        )
        .join(Problem, Problem.id == Action.problem_id)
        .where(*_actions_seen(principal), condition)
        .order_by(*order)
        .limit(SHOWN)
    )
    return [
        ActionDue(
            id=action_id,
            title=title,
            due_date=due,
            problem_id=problem_id,
            problem_reference=reference,
            problem_title=problem_title,
            overdue=due < today,
            new=created_at > since,
        )
        for action_id, title, due, problem_id, created_at, reference, problem_title in rows
    ]


async def bell(session: AsyncSession, principal: Principal, since: datetime) -> Bell:
    """The counts and the first entries of each list, for the notifications page."""
    today, now = today_in_paris(), utcnow()
    found = Bell(since=since, counts=await counts(session, principal, since))
    windows = _action_windows(principal, today, since)
    if found.counts.overdue:
        found.overdue = await _actions(session, principal, windows["overdue"], today, since)
    if found.counts.due_soon:
        found.due_soon = await _actions(session, principal, windows["due_soon"], today, since)
    if found.counts.new_actions:
        found.new_actions = await _actions(
            session, principal, windows["new_actions"], today, since, newest_first=True
        )
    if found.counts.reports_waiting:
        found.reports_waiting = await _waiting(session, principal, since)
    if found.counts.gpos_late:
        rows = await session.execute(
            select(Gpo.id, Gpo.name, Gpo.next_meeting_due)
            .where(*_gpos_late(principal, now))
            .order_by(Gpo.next_meeting_due, Gpo.id)
            .limit(SHOWN)
        )
        found.gpos_late = [GpoLate(*row) for row in rows]
    if found.counts.reports_triaged:
        triaged = await session.execute(
            select(Report.id, Report.reference, Report.status, Report.triaged_at)
            .where(*_reports_triaged(principal, since))
            .order_by(Report.triaged_at.desc(), Report.id)
            .limit(SHOWN)
        )
        found.reports_triaged = [
            ReportTriaged(report_id, reference, status, at)
            for report_id, reference, status, at in triaged
            if at is not None  # always, by the statement's condition
        ]
    return found


async def _waiting(
    session: AsyncSession, principal: Principal, since: datetime
) -> list[ReportWaiting]:
    """The oldest reports awaiting triage, each with its GPO's next planned meeting."""
    rows = (
        await session.execute(
            select(
                Report.id,
                Report.reference,
                Report.category,
                Report.commune_code,
                Report.created_at,
                Report.gpo_id,
                Gpo.name,
            )
            .outerjoin(Gpo, Gpo.id == Report.gpo_id)
            .where(*_reports_waiting(principal))
            .order_by(Report.created_at, Report.id)
            .limit(SHOWN)
        )
    ).all()
    gpo_ids = {row.gpo_id for row in rows if row.gpo_id is not None}
    meetings: dict[uuid.UUID, uuid.UUID] = {}
    if gpo_ids:
        for gpo_id, meeting_id in await session.execute(
            select(Meeting.gpo_id, Meeting.id)
            .where(Meeting.gpo_id.in_(gpo_ids), Meeting.status == MeetingStatus.planned)
            .order_by(Meeting.scheduled_at.desc())
        ):
            meetings[gpo_id] = meeting_id  # the soonest ends up kept
    return [
        ReportWaiting(
            id=row.id,
            reference=row.reference,
            category=row.category,
            commune_code=row.commune_code,
            received_at=row.created_at,
            gpo_id=row.gpo_id,
            gpo_name=row.name,
            meeting_id=meetings.get(row.gpo_id) if row.gpo_id else None,
            new=row.created_at > since,
        )
        for row in rows
    ]
