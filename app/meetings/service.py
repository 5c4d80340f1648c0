"""Meetings: who runs them, their lifecycle, reviews, the agenda and the minutes' content."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.actions import service as actions
from app.actions.models import Action, overdue
from app.core import audit
from app.core.clock import PARIS, today_in_paris, utcnow
from app.core.db import one_row
from app.core.errors import Conflict, Invalid, NotFound
from app.core.lifecycle import Lifecycle, Move
from app.core.pagination import Ordering, Page, Paging, SortKey
from app.core.schemas import shape
from app.core.visibility import Visibility, classified, effective_level
from app.governance import screening
from app.gpos import service as gpos
from app.gpos.models import Gpo
from app.identity.principal import Principal
from app.indicators.models import Indicator, Measurement
from app.mail import service as mail
from app.meetings.models import Meeting, MeetingAttendee, MeetingStatus, Review
from app.meetings.schemas import (
    Agenda,
    AgendaAction,
    AgendaIndicator,
    AgendaProblem,
    AgendaReport,
    MeetingCreate,
    MeetingOut,
    MeetingUpdate,
    ReviewCreate,
    ReviewOut,
)
from app.problems import service as problems
from app.problems.models import Outcome, Problem, ProblemStatus
from app.problems.schemas import location_out
from app.reference.models import Organisation
from app.reference.service import require_organisation
from app.reports.models import Report, ReportStatus

M = MeetingStatus
# A meeting is planned, then held or cancelled; both are final.
LIFECYCLE: Lifecycle[MeetingStatus, None] = Lifecycle(
    "meeting",
    [Move(M.planned, M.held), Move(M.planned, M.cancelled)],
    refusal_fr=wording.move_refused,
)
BY_DATE = Ordering("scheduled_at", (SortKey(Meeting.scheduled_at, True), SortKey(Meeting.id, True)))


# --- Reading ---------------------------------------------------------------------------------


async def get_meeting(
    session: AsyncSession,
    principal: Principal,
    meeting_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> tuple[Meeting, Gpo]:
    """A meeting of a GPO the principal sees (anyone else: 404)."""
    statement = (
        select(Meeting, Gpo)
        .join(Gpo, Gpo.id == Meeting.gpo_id)
        .where(access.meeting_scope(principal), Meeting.id == meeting_id)
    )
    lock = Meeting if for_update else False
    row = await one_row(session, statement, missing="No such meeting.", lock=lock)
    return row[0], row[1]


async def attendees_of(
    session: AsyncSession, meeting_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    attendees: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if meeting_ids:
        for meeting_id, organisation_id in await session.execute(
            select(MeetingAttendee.meeting_id, MeetingAttendee.organisation_id).where(
                MeetingAttendee.meeting_id.in_(meeting_ids)
            )
        ):
            attendees[meeting_id].append(organisation_id)
    return attendees


def to_out(meeting: Meeting, attendees: list[uuid.UUID]) -> MeetingOut:
    return shape(MeetingOut, meeting, attendee_organisation_ids=sorted(attendees, key=str))


async def out(session: AsyncSession, meeting: Meeting) -> MeetingOut:
    return to_out(meeting, (await attendees_of(session, [meeting.id]))[meeting.id])


async def list_meetings(session: AsyncSession, gpo: Gpo, paging: Paging) -> Page[MeetingOut]:
    """A GPO's meetings, latest first."""
    statement = select(Meeting).where(Meeting.gpo_id == gpo.id)
    rows, next_cursor = await paging.fetch(session, statement, BY_DATE)
    meetings = [row[0] for row in rows]
    attendees = await attendees_of(session, [m.id for m in meetings])
    return Page(items=[to_out(m, attendees[m.id]) for m in meetings], next_cursor=next_cursor)


async def reviews_at(session: AsyncSession, meeting_id: uuid.UUID) -> dict[uuid.UUID, list[Review]]:
    """What was said of each problem at a meeting, in the order it was said."""
    found: dict[uuid.UUID, list[Review]] = defaultdict(list)
    for review in await session.scalars(
        select(Review).where(Review.meeting_id == meeting_id).order_by(Review.created_at, Review.id)
    ):
        found[review.problem_id].append(review)
    return found


# --- Writing --------------------------------------------------------------------------------


async def refresh_cadence(session: AsyncSession, gpo: Gpo) -> None:
    await session.flush()
    last = await session.scalar(
        select(func.max(Meeting.scheduled_at)).where(
            Meeting.gpo_id == gpo.id, Meeting.status == MeetingStatus.held
        )
    )
    gpos.set_cadence(gpo, last)


async def _check_attendees(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The attendees, each checked at its place in the request, without repeats."""
    for index, organisation_id in enumerate(ids):
        await require_organisation(
            session, organisation_id, loc=("body", "attendee_organisation_ids", index)
        )
    return list(dict.fromkeys(ids))


async def _set_attendees(session: AsyncSession, meeting: Meeting, ids: list[uuid.UUID]) -> None:
    await session.execute(delete(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting.id))
    session.add_all(MeetingAttendee(meeting_id=meeting.id, organisation_id=i) for i in ids)


def notes_texts(level: Visibility) -> audit.Texts:
    """A meeting's notes, read in its minutes at the meeting's level."""
    return audit.Texts(frozenset({"notes"}), level)


async def create_meeting(
    session: AsyncSession, principal: Principal, gpo: Gpo, data: MeetingCreate
) -> Meeting:
    attendees = await _check_attendees(session, data.attendee_organisation_ids)
    # A meeting belongs to no problem: its notes' floor is the lowest level; its location
    # is read by every member of the GPO.
    level = access.level_to_write(principal, data.visibility, Visibility.partners)
    meeting_id = uuid.uuid4()
    data = screening.screen_at(
        session,
        principal,
        data,
        {"location": Visibility.partners, "notes": level},
        resource_type="meeting",
        resource_id=meeting_id,
    )
    now = utcnow()
    meeting = Meeting(
        id=meeting_id,
        gpo_id=gpo.id,
        scheduled_at=data.scheduled_at,
        location=data.location,
        # A meeting dated in the past is one already held, recorded afterwards.
        status=MeetingStatus.held if data.scheduled_at <= now else MeetingStatus.planned,
        notes=data.notes,
        visibility=level,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await audit.add_created(
        session,
        principal,
        meeting,
        resource_type="meeting",
        summary=wording.summary(
            "meeting.create", gpo=gpo.name, day=meeting.scheduled_at, status=meeting.status
        ),
        values=data.model_dump() | {"status": meeting.status, "visibility": level},
        texts=notes_texts(level),
    )
    await _set_attendees(session, meeting, attendees)
    await refresh_cadence(session, gpo)
    if meeting.status is MeetingStatus.held:
        await mail.minutes(session, meeting.id)
    return meeting


async def update_meeting(
    session: AsyncSession, principal: Principal, meeting: Meeting, gpo: Gpo, data: MeetingUpdate
) -> Meeting:
    values: dict[str, Any] = data.provided()
    status = values.get("status")
    if status is not None and status is not meeting.status:
        await LIFECYCLE.check(meeting.status, status, None)
    attendees = values.pop("attendee_organisation_ids", None)
    level = access.level_after_change(principal, values, meeting.visibility, Visibility.partners)
    if screening.masks_identifiers(level) and not screening.masks_identifiers(meeting.visibility):
        values = {"notes": meeting.notes} | values  # lowered: read by more people now
    values = screening.screen_at(
        session,
        principal,
        values,
        {"location": Visibility.partners, "notes": level},
        resource_type="meeting",
        resource_id=meeting.id,
    )
    changes = audit.apply(meeting, values)  # raises the version if a field changed
    if attendees is not None:
        attendees = await _check_attendees(session, attendees)
        current = (await attendees_of(session, [meeting.id]))[meeting.id]
        old, new = sorted(map(str, current)), sorted(map(str, attendees))
        if old != new:
            await _set_attendees(session, meeting, attendees)
            if not changes:
                meeting.version += 1
            changes["attendee_organisation_ids"] = [old, new]
    if changes:
        meeting.updated_at = utcnow()
        audit.record(
            session,
            principal,
            action="meeting.update",
            resource_type="meeting",
            resource_id=meeting.id,
            summary=wording.summary("meeting.update", gpo=gpo.name, day=meeting.scheduled_at),
            changes=changes,
            visibility=notes_texts(meeting.visibility).level_of(changes),
        )
    await refresh_cadence(session, gpo)
    await session.flush()
    if meeting.status is MeetingStatus.held and changes.keys() & {
        "status",
        "attendee_organisation_ids",
    }:
        await mail.minutes(session, meeting.id)  # to those who have not had it yet
    return meeting


async def add_review(
    session: AsyncSession, principal: Principal, meeting: Meeting, gpo: Gpo, data: ReviewCreate
) -> ReviewOut:
    if meeting.status is MeetingStatus.cancelled:
        raise Conflict(
            "The meeting was cancelled; nothing was reviewed at it.",
            fr=wording.refused("meeting.cancelled_no_review"),
        )
    try:
        problem = await problems.get_problem(session, principal, data.problem_id)
    except NotFound:
        raise Invalid(["body", "problem_id"], "unknown problem") from None
    if problem.gpo_id != gpo.id:
        raise Invalid(["body", "problem_id"], "the problem belongs to another GPO")
    level = access.level_to_write(principal, data.visibility, problem.visibility)
    review_id = uuid.uuid4()
    data = screening.screen_model(
        session,
        principal,
        data,
        ["note"],
        level=level,
        resource_type="review",
        resource_id=review_id,
    )
    review = Review(
        id=review_id,
        meeting_id=meeting.id,
        problem_id=problem.id,
        note=data.note,
        visibility=level,
        created_by=principal.user_id,
        created_at=utcnow(),
    )
    await audit.add_created(
        session,
        principal,
        review,
        resource_type="review",
        summary=wording.summary("review.create", day=meeting.scheduled_at, note=data.note),
        problem_id=problem.id,
        values={"meeting_id": meeting.id, "note": data.note, "visibility": level},
        texts=audit.Texts(frozenset({"note"}), level),
    )
    return shape(ReviewOut, review, problem_reference=problem.reference)


# --- Agenda -------------------------------------------------------------------------------


async def agenda(session: AsyncSession, principal: Principal, meeting: Meeting, gpo: Gpo) -> Agenda:
    """What the meeting has to discuss, computed from the record, within what the principal
    sees."""
    today = today_in_paris()
    reports = await session.scalars(
        select(Report)
        .where(Report.gpo_id == gpo.id, Report.status == ReportStatus.received)
        .order_by(Report.created_at, Report.id)
    )
    open_problems = await problems.outs(
        session,
        (
            await session.scalars(
                select(Problem)
                .where(
                    access.problem_scope(principal),
                    Problem.gpo_id == gpo.id,
                    Problem.status != ProblemStatus.closed,
                )
                .order_by(Problem.priority_rank.desc(), Problem.created_at, Problem.id)
            )
        ).all(),
    )
    late_actions = await session.execute(
        actions.visible_actions(principal)
        .add_columns(Problem.reference, Organisation.name)
        .join(Organisation, Organisation.id == Action.assignee_organisation_id)
        .where(Problem.gpo_id == gpo.id, overdue(today))
        .order_by(Action.due_date, Action.id)
    )
    last_measured = (
        select(func.max(Measurement.period_end))
        .where(Measurement.indicator_id == Indicator.id)
        .scalar_subquery()
    )
    last = func.coalesce(last_measured, Indicator.baseline_end)
    cutoff = today - timedelta(days=gpo.meeting_interval_days)
    indicators = await session.execute(
        select(Indicator, Problem.reference, last.label("last"))
        .join(Problem, Problem.id == Indicator.problem_id)
        .where(
            access.problem_scope(principal),
            Problem.gpo_id == gpo.id,
            Problem.status != ProblemStatus.closed,
            last < cutoff,
        )
        .order_by(last, Indicator.id)
    )
    return Agenda(
        meeting_id=meeting.id,
        gpo_id=gpo.id,
        new_reports=[shape(AgendaReport, r, location=location_out(r)) for r in reports],
        problems=[
            shape(AgendaProblem, p, status=p.status.value, priority=p.priority.value)
            for p in open_problems
        ],
        overdue_actions=[
            AgendaAction(
                id=a.id,
                title=a.title,
                problem_id=a.problem_id,
                problem_reference=reference,
                assignee_organisation_id=a.assignee_organisation_id,
                assignee_name=assignee,
                status=a.status.value,
                due_date=a.due_date,
                days_overdue=(today - a.due_date).days,
            )
            for a, reference, assignee in late_actions
        ],
        indicators_due=[
            AgendaIndicator(
                id=i.id,
                name=i.name,
                unit=i.unit,
                problem_id=i.problem_id,
                problem_reference=reference,
                last_period_end=_as_date(last_end),
                days_since=(today - _as_date(last_end)).days,
            )
            for i, reference, last_end in indicators
        ],
    )


def problems_of_agenda(agenda: Agenda) -> set[uuid.UUID]:
    """The problems an agenda shows something of (the access log: `app.governance`)."""
    return {
        *(p.id for p in agenda.problems),
        *(a.problem_id for a in agenda.overdue_actions),
        *(i.problem_id for i in agenda.indicators_due),
    }


def _as_date(value: date | str) -> date:
    # SQLite returns the coalesced date as text.
    return value if isinstance(value, date) else date.fromisoformat(value)


# --- Minutes: what they say, rendered elsewhere ----------------------------------------


@dataclass
class Minutes:
    gpo_name: str
    scheduled_at: datetime
    location: str | None
    status: MeetingStatus
    # Null where the reader is not cleared for the meeting's level (its notes).
    notes: str | None
    since: datetime | None
    attendees: list[str] = field(default_factory=list)
    # (reference, title, note), the note null where the reader is not cleared for it.
    reviewed: list[tuple[str, str, str | None]] = field(default_factory=list)
    opened: list[tuple[str, str, ProblemStatus]] = field(default_factory=list)
    closed: list[tuple[str, str, Outcome | None, str | None]] = field(default_factory=list)
    # Actions as (title, [assignee,] problem reference or None when hidden, due date).
    decided: list[tuple[str, str, str | None, date]] = field(default_factory=list)
    overdue_by_organisation: dict[str, list[tuple[str, str | None, date]]] = field(
        default_factory=dict
    )
    # The levels of the problems the minutes show (an action counts through its problem
    # only where the reader sees the problem: a hidden problem's level is not told).
    levels: set[Visibility | None] = field(default_factory=set)

    # The problems the minutes show something of (the access log: `app.governance`).
    problem_ids: set[uuid.UUID] = field(default_factory=set)

    @property
    def classified(self) -> bool:
        """Whether the minutes begin with the "diffusion restreinte" notice."""
        return classified(self.levels)


async def minutes(
    session: AsyncSession, principal: Principal, meeting: Meeting, gpo: Gpo
) -> Minutes:
    since = await session.scalar(
        select(func.max(Meeting.scheduled_at)).where(
            Meeting.gpo_id == gpo.id,
            Meeting.status == MeetingStatus.held,
            Meeting.scheduled_at < meeting.scheduled_at,
        )
    )
    start = since or gpo.created_at
    # Up to the end of the meeting's day (Europe/Paris): what is decided or closed while the
    # meeting goes on belongs to it.
    meeting_day = meeting.scheduled_at.astimezone(PARIS).date()
    end = datetime.combine(meeting_day + timedelta(days=1), time.min, PARIS)
    result = Minutes(
        gpo_name=gpo.name,
        scheduled_at=meeting.scheduled_at,
        location=meeting.location,
        status=meeting.status,
        notes=await session.scalar(
            select(access.text_if_readable(principal, Meeting.notes, Meeting.visibility)).where(
                Meeting.id == meeting.id
            )
        ),
        since=since,
    )
    result.attendees = list(
        await session.scalars(
            select(Organisation.name)
            .join(MeetingAttendee, MeetingAttendee.organisation_id == Organisation.id)
            .where(MeetingAttendee.meeting_id == meeting.id)
            .order_by(Organisation.name)
        )
    )
    shown = result.problem_ids
    reviewed = await session.execute(
        select(
            Problem.id,
            Problem.reference,
            Problem.title,
            access.text_if_readable(principal, Review.note, Review.visibility, Problem.visibility),
            Problem.visibility,
            effective_level(Review.visibility, Problem.visibility),
        )
        .join(Review, Review.problem_id == Problem.id)
        .where(access.problem_scope(principal), Review.meeting_id == meeting.id)
        .order_by(Review.created_at, Review.id)
    )
    for problem_id, reference, title, note, level, note_level in reviewed:
        shown.add(problem_id)
        result.reviewed.append((reference, title, note))
        result.levels.add(level)
        if note is not None:  # a note the reader is not shown does not mark the minutes
            result.levels.add(note_level)
    in_gpo = select(Problem).where(access.problem_scope(principal), Problem.gpo_id == gpo.id)
    opened = await session.scalars(
        in_gpo.where(Problem.created_at > start, Problem.created_at < end).order_by(
            Problem.created_at
        )
    )
    for p in opened:
        shown.add(p.id)
        result.opened.append((p.reference, p.title, p.status))
        result.levels.add(p.visibility)
    closed = await session.scalars(
        in_gpo.where(
            Problem.status == ProblemStatus.closed,
            Problem.closed_at > start,
            Problem.closed_at < end,
        ).order_by(Problem.closed_at)
    )
    for p in closed:
        shown.add(p.id)
        result.closed.append((p.reference, p.title, p.outcome, p.outcome_note))
        result.levels.add(p.visibility)
    visible = actions.visible_actions(principal).add_columns(
        access.problem_reference_if_visible(principal),
        access.problem_column_if_visible(principal, Problem.visibility),
        Organisation.name,
    )
    visible = visible.join(Organisation, Organisation.id == Action.assignee_organisation_id)
    decided = await session.execute(
        visible.where(Action.decided_at_meeting_id == meeting.id).order_by(
            Action.due_date, Action.id
        )
    )
    for a, reference, level, name in decided:
        if reference is not None:
            shown.add(a.problem_id)
        result.decided.append((a.title, name, reference, a.due_date))
        result.levels.add(level)
    late: dict[str, list[tuple[str, str | None, date]]] = defaultdict(list)
    for a, reference, level, name in await session.execute(
        visible.where(Problem.gpo_id == gpo.id, overdue(today_in_paris())).order_by(
            Organisation.name, Action.due_date, Action.id
        )
    ):
        if reference is not None:
            shown.add(a.problem_id)
        late[name].append((a.title, reference, a.due_date))
        result.levels.add(level)
    result.overdue_by_organisation = dict(late)
    return result
