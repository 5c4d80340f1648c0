"""Actions: who sees and changes them, their status moves, and the overdue rule."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import OPEN_STATUSES, Action, ActionStatus
from app.actions.schemas import ActionCreate, ActionOut, ActionUpdate
from app.core import audit
from app.core.clock import today_in_paris, utcnow
from app.core.db import AnySelect, one_entity
from app.core.errors import Conflict, Forbidden
from app.core.schemas import shape
from app.gpos import service as gpos
from app.identity.models import Role
from app.identity.principal import Principal
from app.problems import service as problems
from app.problems.models import Problem, ProblemStatus
from app.reference.service import require_action_kind, require_organisation

A = ActionStatus
MOVES: dict[ActionStatus, frozenset[ActionStatus]] = {
    A.planned: frozenset({A.in_progress, A.done, A.cancelled}),
    A.in_progress: frozenset({A.done, A.cancelled}),
    A.done: frozenset({A.in_progress}),
    A.cancelled: frozenset({A.in_progress}),
}
# What a partner of the assignee organisation may change on its action.
ASSIGNEE_FIELDS = frozenset({"status", "result_note"})


def is_overdue(action: Action, today: date) -> bool:
    return action.status in OPEN_STATUSES and action.due_date < today


def overdue_condition(today: date) -> ColumnElement[bool]:
    return Action.status.in_(OPEN_STATUSES) & (Action.due_date < today)


def visible_actions(principal: Principal) -> Select[Action]:
    """Actions of problems the principal sees, and a partner's organisation's own actions
    (even when their problem is hidden from it)."""
    statement = select(Action).join(Problem, Problem.id == Action.problem_id)
    condition = problems.problem_visibility(principal)
    if condition is None:
        return statement
    if principal.role is Role.partner and principal.organisation_id is not None:
        condition = or_(condition, Action.assignee_organisation_id == principal.organisation_id)
    return statement.where(condition)


def to_out(action: Action, today: date | None = None) -> ActionOut:
    return shape(ActionOut, action, overdue=is_overdue(action, today or today_in_paris()))


async def get_action(
    session: AsyncSession, principal: Principal, action_id: uuid.UUID, *, for_update: bool = False
) -> Action:
    statement = visible_actions(principal).where(Action.id == action_id)
    lock = Action if for_update else False
    action: Action = await one_entity(session, statement, missing="No such action.", lock=lock)
    return action


async def create_action(
    session: AsyncSession, principal: Principal, problem: Problem, data: ActionCreate
) -> Action:
    await gpos.require_runner(session, principal, problem.gpo_id)
    if problem.status is ProblemStatus.closed:
        raise Conflict("The problem is closed; reopen it before adding actions.")
    await require_action_kind(session, data.kind, loc=("body", "kind"))
    assignee = await require_organisation(
        session, data.assignee_organisation_id, loc=("body", "assignee_organisation_id")
    )
    if data.decided_at_meeting_id is not None:
        await problems.require_meeting_of(
            session, problem.gpo_id, data.decided_at_meeting_id, ("body", "decided_at_meeting_id")
        )
    now = utcnow()
    action = Action(
        **data.model_dump(),
        problem_id=problem.id,
        status=ActionStatus.planned,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await audit.add_created(
        session,
        principal,
        action,
        resource_type="action",
        summary=f"Action « {action.title} » confiée à {assignee.name}, échéance "
        f"{action.due_date.isoformat()}",
        problem_id=problem.id,
        values=data.model_dump(),
    )
    return action


async def update_action(
    session: AsyncSession, principal: Principal, action: Action, data: ActionUpdate
) -> Action:
    values: dict[str, Any] = data.provided()
    problem = await session.get_one(Problem, action.problem_id)
    runs_gpo = principal.is_admin or await gpos.facilitates(session, principal, problem.gpo_id)
    if not runs_gpo:
        is_assignee = (
            principal.role is Role.partner
            and principal.organisation_id == action.assignee_organisation_id
        )
        if not is_assignee:
            raise Forbidden("Only the GPO's facilitators or the assignee may change this action.")
        if extra := sorted(values.keys() - ASSIGNEE_FIELDS):
            raise Forbidden(
                f"The assignee may change only status and result_note, not {', '.join(extra)}."
            )
    if "kind" in values:
        await require_action_kind(session, values["kind"], loc=("body", "kind"))
    if "assignee_organisation_id" in values:
        await require_organisation(
            session, values["assignee_organisation_id"], loc=("body", "assignee_organisation_id")
        )
    if values.get("decided_at_meeting_id") is not None:
        await problems.require_meeting_of(
            session,
            problem.gpo_id,
            values["decided_at_meeting_id"],
            ("body", "decided_at_meeting_id"),
        )
    status = values.get("status")
    if status is not None and status is not action.status:
        if status not in MOVES[action.status]:
            allowed = ", ".join(sorted(s.value for s in MOVES[action.status]))
            raise Conflict(
                f"A {action.status.value} action cannot move to {status.value}; allowed: {allowed}."
            )
        values["completed_at"] = utcnow() if status is ActionStatus.done else None
    await audit.update(
        session,
        principal,
        action,
        values,
        resource_type="action",
        summary=f"Action « {action.title} » modifiée",
        problem_id=action.problem_id,
    )
    return action


@dataclass(frozen=True)
class Filters:
    statuses: Sequence[ActionStatus] = ()
    assignee_organisation_id: uuid.UUID | None = None
    overdue: bool | None = None
    problem_id: uuid.UUID | None = None
    gpo_id: uuid.UUID | None = None
    due_before: date | None = None


def filtered(statement: AnySelect, filters: Filters, today: date) -> AnySelect:
    f = filters
    if f.statuses:
        statement = statement.where(Action.status.in_(f.statuses))
    if f.assignee_organisation_id is not None:
        statement = statement.where(Action.assignee_organisation_id == f.assignee_organisation_id)
    if f.overdue is not None:
        condition = overdue_condition(today)
        statement = statement.where(condition if f.overdue else ~condition)
    if f.problem_id is not None:
        statement = statement.where(Action.problem_id == f.problem_id)
    if f.gpo_id is not None:
        statement = statement.where(Problem.gpo_id == f.gpo_id)
    if f.due_before is not None:
        statement = statement.where(Action.due_date < f.due_before)
    return statement
