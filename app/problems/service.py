"""Problems: who sees them (in the query), their lifecycle, comments and timeline."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    null,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import OPEN_STATUSES, Action
from app.core import audit
from app.core.audit import AuditEvent
from app.core.clock import today_in_paris, utcnow
from app.core.db import AnySelect, SelectT, one_entity, one_row
from app.core.errors import Conflict, Invalid, NotFound
from app.core.references import next_reference
from app.core.schemas import shape
from app.core.search import contains, normalise
from app.core.visibility import Visibility, at_least, readable_levels
from app.gpos import service as gpos
from app.gpos.models import Gpo
from app.identity.models import Role, User
from app.identity.principal import Principal
from app.indicators.models import Indicator, has_improved_indicator, latest_rate
from app.meetings.models import Meeting
from app.problems.models import (
    Displacement,
    Outcome,
    Problem,
    ProblemComment,
    ProblemStatus,
)
from app.problems.schemas import (
    CommentCreate,
    ProblemCreate,
    ProblemOut,
    ProblemUpdate,
    TransitionIn,
    location_columns,
    location_out,
)
from app.reference.service import require_category, require_commune
from app.reports.models import Report

S = ProblemStatus


# --- Who sees what ------------------------------------------------------------------


def problem_visibility(principal: Principal) -> ColumnElement[bool] | None:
    """The condition a problem meets to be seen by the principal (None: all problems)."""
    if principal.sees_everything:
        return None
    if principal.role is Role.facilitator:
        return Problem.gpo_id.in_(gpos.facilitated_gpo_ids(principal))
    if principal.role is Role.partner and principal.organisation_id is not None:
        return and_(
            Problem.gpo_id.in_(gpos.member_gpo_ids(principal)),
            Problem.visibility.in_(readable_levels(principal.member_clearance)),
        )
    return false()


def reference_if_visible(principal: Principal) -> Any:
    """The problem's reference where the principal sees the problem, else null (an
    assignee reads its action on a problem hidden from it, not the problem)."""
    condition = problem_visibility(principal)
    if condition is None:
        return Problem.reference
    return case((condition, Problem.reference), else_=null())


def visible(principal: Principal, statement: SelectT) -> SelectT:
    condition = problem_visibility(principal)
    return statement if condition is None else statement.where(condition)


def clearance_on(principal: Principal) -> Visibility:
    """The strictest level the principal reads on a problem it sees (comments, timeline)."""
    if principal.role is Role.partner:
        return principal.member_clearance
    return Visibility.restricted


# --- Reading ------------------------------------------------------------------------


@functools.cache
def _counts() -> tuple[Any, Any, Any]:
    """The correlated counts a problem response shows, built once (statement building is
    a large share of a request); "today" is bound when the statement runs."""
    today = bindparam("today", callable_=today_in_paris, type_=Date())
    open_actions = (
        select(func.count(Action.id))
        .where(Action.problem_id == Problem.id, Action.status.in_(OPEN_STATUSES))
        .scalar_subquery()
        .label("open_action_count")
    )
    overdue_actions = (
        select(func.count(Action.id))
        .where(
            Action.problem_id == Problem.id,
            Action.status.in_(OPEN_STATUSES),
            Action.due_date < today,
        )
        .scalar_subquery()
        .label("overdue_action_count")
    )
    reports = (
        select(func.count(Report.id))
        .where(Report.problem_id == Problem.id)
        .scalar_subquery()
        .label("report_count")
    )
    return open_actions, overdue_actions, reports


def with_counts(principal: Principal) -> AnySelect:
    """Visible problems with the counts a response shows, in one statement."""
    return visible(principal, select(Problem, *_counts()))


def to_out(problem: Problem, open_actions: int, overdue_actions: int, reports: int) -> ProblemOut:
    return shape(
        ProblemOut,
        problem,
        location=location_out(problem),
        report_count=reports,
        open_action_count=open_actions,
        overdue_action_count=overdue_actions,
    )


async def outs(session: AsyncSession, problems: Sequence[Problem]) -> list[ProblemOut]:
    """Responses for a page of problems, their counts computed for these rows only.

    Counting in the page's own statement would make the database count for every row
    it sorts, before the LIMIT (SQLite does, on a sorted list).
    """
    if not problems:
        return []
    ids = [problem.id for problem in problems]
    counts = {
        problem_id: tuple(numbers)
        for problem_id, *numbers in await session.execute(
            select(Problem.id, *_counts()).where(Problem.id.in_(ids))
        )
    }
    return [to_out(problem, *counts[problem.id]) for problem in problems]


async def get_problem(
    session: AsyncSession, principal: Principal, problem_id: uuid.UUID, *, for_update: bool = False
) -> Problem:
    statement = visible(principal, select(Problem).where(Problem.id == problem_id))
    problem: Problem = await one_entity(
        session, statement, missing="No such problem.", lock=for_update
    )
    return problem


async def view(session: AsyncSession, principal: Principal, problem_id: uuid.UUID) -> ProblemOut:
    statement = with_counts(principal).where(Problem.id == problem_id)
    problem, *counts = await one_row(session, statement, missing="No such problem.")
    return to_out(problem, *counts)


@dataclass(frozen=True)
class Filters:
    statuses: Sequence[ProblemStatus] = ()
    gpo_id: uuid.UUID | None = None
    commune_code: str | None = None
    category: str | None = None
    priority: str | None = None
    assignee_organisation_id: uuid.UUID | None = None
    has_overdue_actions: bool | None = None
    q: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    located_only: bool = False


def filtered(statement: AnySelect, filters: Filters, today: date | None = None) -> AnySelect:
    f = filters
    if f.statuses:
        statement = statement.where(Problem.status.in_(f.statuses))
    if f.gpo_id is not None:
        statement = statement.where(Problem.gpo_id == f.gpo_id)
    if f.commune_code is not None:
        statement = statement.where(Problem.commune_code == f.commune_code)
    if f.category is not None:
        statement = statement.where(Problem.category == f.category)
    if f.priority is not None:
        statement = statement.where(Problem.priority == f.priority)
    if f.assignee_organisation_id is not None:
        statement = statement.where(
            exists().where(
                Action.problem_id == Problem.id,
                Action.assignee_organisation_id == f.assignee_organisation_id,
            )
        )
    if f.has_overdue_actions is not None:
        overdue = exists().where(
            Action.problem_id == Problem.id,
            Action.status.in_(OPEN_STATUSES),
            Action.due_date < (today or today_in_paris()),
        )
        statement = statement.where(overdue if f.has_overdue_actions else ~overdue)
    if f.q:
        statement = statement.where(contains(Problem.search_text, f.q))
    if f.created_from is not None:
        statement = statement.where(Problem.created_at >= f.created_from)
    if f.created_to is not None:
        statement = statement.where(Problem.created_at <= f.created_to)
    if f.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = f.bbox
        statement = statement.where(
            Problem.lat.between(min_lat, max_lat), Problem.lon.between(min_lon, max_lon)
        )
    if f.located_only:
        statement = statement.where(Problem.lat.is_not(None), Problem.lon.is_not(None))
    return statement


# --- Writing ------------------------------------------------------------------------


async def _visible_gpo(
    session: AsyncSession, principal: Principal, gpo_id: uuid.UUID, loc: Sequence[str]
) -> Gpo:
    try:
        return await gpos.get_gpo(session, principal, gpo_id)
    except NotFound:
        raise Invalid(loc, "unknown GPO") from None


async def require_meeting_of(
    session: AsyncSession, gpo_id: uuid.UUID, meeting_id: uuid.UUID, loc: Sequence[str]
) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.gpo_id != gpo_id:
        raise Invalid(loc, "not a meeting of this problem's GPO")
    return meeting


async def create_problem(
    session: AsyncSession,
    principal: Principal,
    data: ProblemCreate,
    *,
    audit_summary: str | None = None,
) -> Problem:
    gpo = await _visible_gpo(session, principal, data.gpo_id, ("body", "gpo_id"))
    await gpos.require_runner(session, principal, gpo.id)
    category = await require_category(session, data.category, loc=("body", "category"))
    await require_commune(session, data.commune_code, loc=("body", "commune_code"))
    if data.raised_at_meeting_id is not None:
        await require_meeting_of(
            session, gpo.id, data.raised_at_meeting_id, ("body", "raised_at_meeting_id")
        )
    now = utcnow()
    reference = await next_reference(session, "P", now)
    values = data.model_dump(exclude={"location", "visibility"}) | location_columns(data.location)
    problem = Problem(
        **values,
        # The id is given now, not at flush: the creation event below already needs it.
        id=uuid.uuid4(),
        reference=reference,
        visibility=data.visibility or category.default_visibility,
        status=ProblemStatus.new,
        displacement=Displacement.unknown,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
        search_text=normalise(reference, data.title, data.description),
    )
    await audit.add_created(
        session,
        principal,
        problem,
        resource_type="problem",
        summary=audit_summary or f"Problème {reference} créé : {problem.title}",
        problem_id=problem.id,
        values=values | {"visibility": problem.visibility, "reference": reference},
    )
    return problem


async def update_problem(
    session: AsyncSession, principal: Principal, problem: Problem, data: ProblemUpdate
) -> Problem:
    await gpos.require_runner(session, principal, problem.gpo_id)
    values = data.provided()
    if "category" in values:
        await require_category(session, values["category"], loc=("body", "category"))
    if "commune_code" in values:
        await require_commune(session, values["commune_code"], loc=("body", "commune_code"))
    if "location" in values:
        values |= location_columns(values.pop("location"))
    if {"title", "description"} & values.keys():
        # Kept with the text it indexes, in the same UPDATE.
        problem.search_text = normalise(
            problem.reference,
            values.get("title", problem.title),
            values.get("description", problem.description),
        )
    await audit.update(
        session,
        principal,
        problem,
        values,
        resource_type="problem",
        summary=f"Problème {problem.reference} modifié",
        problem_id=problem.id,
    )
    return problem


# --- Lifecycle: the state machine as data --------------------------------------------


@dataclass(frozen=True)
class Move:
    closes: bool = False
    reopens: bool = False
    outcomes: frozenset[Outcome] | None = None  # None: any outcome


TRANSITIONS: dict[tuple[ProblemStatus, ProblemStatus], Move] = {
    (S.new, S.open): Move(),
    (S.open, S.monitoring): Move(),
    (S.monitoring, S.open): Move(),
    (S.open, S.closed): Move(closes=True),
    (S.monitoring, S.closed): Move(closes=True),
    (S.new, S.closed): Move(
        closes=True, outcomes=frozenset({Outcome.duplicate, Outcome.not_in_scope})
    ),
    (S.closed, S.open): Move(reopens=True),
}


# Closing with these outcomes claims a result: it needs an improved indicator.
OUTCOMES_NEEDING_EVIDENCE = frozenset({Outcome.eliminated, Outcome.reduced, Outcome.harm_reduced})


async def require_evidence(session: AsyncSession, problem: Problem, outcome: Outcome) -> None:
    """An indicator whose latest measurement after its baseline shows a better rate."""
    if outcome not in OUTCOMES_NEEDING_EVIDENCE:
        return
    if await session.scalar(select(has_improved_indicator(problem.id))):
        return
    indicators = (
        await session.execute(
            select(Indicator.name, latest_rate()).where(Indicator.problem_id == problem.id)
        )
    ).all()
    claim = f"Closing as {outcome.value} needs evidence"
    names = ", ".join(name for name, _ in indicators)
    if not indicators:
        raise Conflict(
            f"{claim}: the problem has no indicator. Add one with a baseline, then a "
            "measurement after the baseline period that shows a better rate."
        )
    if all(latest is None for _, latest in indicators):
        raise Conflict(
            f"{claim}: no indicator has a measurement after its baseline period ({names})."
        )
    raise Conflict(
        f"{claim}: no indicator's latest measurement shows a better rate than its baseline "
        f"({names}). Record the measurement that shows the result, or close with another "
        "outcome (no_improvement, better_handled...)."
    )


def _check_move(problem: Problem, data: TransitionIn) -> Move:
    move = TRANSITIONS.get((problem.status, data.to))
    if move is None:
        allowed = sorted(to.value for (frm, to) in TRANSITIONS if frm is problem.status)
        raise Conflict(
            f"A {problem.status.value} problem cannot move to {data.to.value}; "
            f"allowed: {', '.join(allowed) or 'none'}."
        )
    if move.closes:
        if data.outcome is None:
            raise Invalid(["body", "outcome"], "closing needs an outcome")
        if move.outcomes is not None and data.outcome not in move.outcomes:
            raise Conflict(
                f"A {problem.status.value} problem can only be closed as "
                f"{' or '.join(sorted(o.value for o in move.outcomes))}; open it first."
            )
    else:
        if data.outcome is not None:
            raise Invalid(["body", "outcome"], "an outcome is given only when closing")
        if data.displacement is not None:
            raise Invalid(["body", "displacement"], "displacement is set when closing")
    if move.reopens and data.note is None:
        raise Invalid(["body", "note"], "reopening needs a note saying why")
    return move


async def transition(
    session: AsyncSession, principal: Principal, problem: Problem, data: TransitionIn
) -> Problem:
    await gpos.require_runner(session, principal, problem.gpo_id)
    move = _check_move(problem, data)
    if move.closes and data.outcome is not None:
        await require_evidence(session, problem, data.outcome)
    before = audit.snapshot(
        problem, ("status", "outcome", "outcome_note", "closed_at", "displacement")
    )
    problem.status = data.to
    if move.closes:
        problem.outcome = data.outcome
        problem.outcome_note = data.note
        problem.closed_at = utcnow()
        if data.displacement is not None:
            problem.displacement = data.displacement
    if move.reopens:
        problem.outcome = None
        problem.outcome_note = None
        problem.closed_at = None
    problem.version += 1
    problem.updated_at = utcnow()
    changes = audit.diff(before, audit.snapshot(problem, before))
    summary = f"Statut : {before['status']} → {data.to.value}"
    if move.closes and data.outcome is not None:
        summary += f" ({data.outcome.value})"
    if data.note:
        summary += f". {data.note}"
    audit.record(
        session,
        principal,
        action="problem.transition",
        resource_type="problem",
        resource_id=problem.id,
        problem_id=problem.id,
        summary=summary,
        changes=changes,
    )
    await session.flush()
    return problem


# --- Comments and timeline ------------------------------------------------------------


async def add_comment(
    session: AsyncSession, principal: Principal, problem: Problem, data: CommentCreate
) -> ProblemComment:
    clearance = clearance_on(principal)
    wanted = data.visibility or problem.visibility
    if wanted not in readable_levels(clearance):
        raise Invalid(["body", "visibility"], "you could not read a comment at this level")
    comment = ProblemComment(
        problem_id=problem.id,
        author_id=principal.user_id,
        body=data.body,
        visibility=at_least(wanted, problem.visibility),
        created_at=utcnow(),
    )
    session.add(comment)
    await session.flush()
    audit.record(
        session,
        principal,
        action="comment.create",
        resource_type="comment",
        resource_id=comment.id,
        problem_id=problem.id,
        summary=f"Commentaire de {principal.display_name} : {data.body[:200]}",
        visibility=comment.visibility,
    )
    return comment


def comments_query(principal: Principal, problem: Problem) -> AnySelect:
    clearance = clearance_on(principal)
    return (
        select(ProblemComment, User.display_name)
        .join(User, User.id == ProblemComment.author_id)
        .where(
            ProblemComment.problem_id == problem.id,
            ProblemComment.visibility.in_(readable_levels(clearance)),
        )
    )


def timeline_query(principal: Principal, problem: Problem) -> AnySelect:
    clearance = clearance_on(principal)
    return (
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.problem_id == problem.id,
            or_(
                AuditEvent.visibility.is_(None),
                AuditEvent.visibility.in_(readable_levels(clearance)),
            ),
        )
    )
