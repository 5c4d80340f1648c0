"""Actions: reading them (scoped by `app.access`), assigning them and their status moves."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.actions.models import OPEN_STATUSES, Action, ActionStatus, is_overdue, overdue
from app.actions.schemas import ActionCreate, ActionOut, ActionUpdate, ActionWithProblem
from app.core import audit
from app.core.clock import today_in_paris, utcnow
from app.core.db import AnySelect, built_once, fetch_rows, one_row
from app.core.errors import Conflict
from app.core.lifecycle import Lifecycle, Move
from app.core.pagination import Ordering, Page, Paging, SortKey, after_params
from app.core.schemas import shape
from app.core.visibility import Visibility, at_least, at_most
from app.governance import screening
from app.governance.service import is_logged
from app.identity.principal import Principal
from app.problems import service as problems
from app.problems.models import Problem, ProblemStatus
from app.reference.models import Organisation
from app.reference.service import require_action_kind, require_organisation

A = ActionStatus
# Actions move freely but for a finished one, which only goes back in progress.
LIFECYCLE: Lifecycle[ActionStatus, None] = Lifecycle(
    "action",
    refusal_fr=wording.move_refused,
    moves=[
        Move(A.planned, A.in_progress),
        Move(A.planned, A.done),
        Move(A.planned, A.cancelled),
        Move(A.in_progress, A.done),
        Move(A.in_progress, A.cancelled),
        Move(A.done, A.in_progress),
        Move(A.cancelled, A.in_progress),
    ],
)


def visible_actions(principal: Principal) -> Select[Action]:
    return (
        select(Action)
        .join(Problem, Problem.id == Action.problem_id)
        .where(access.action_scope(principal))
    )


# The action's free texts, read at its level (`Action.visibility`, no less than its problem's).
TEXT_FIELDS = ("description", "result_note")


def texts(level: Visibility) -> audit.Texts:
    return audit.Texts(frozenset(TEXT_FIELDS), level)


def readable_texts(principal: Principal) -> tuple[Any, ...]:
    """The description and the result note, each null where the principal is not cleared
    for the action's level or its problem's: the assignee of an action on a problem hidden
    from it reads them only when cleared for both (the statement joins Problem)."""
    return tuple(
        access.text_if_readable(
            principal, getattr(Action, name), Action.visibility, Problem.visibility
        )
        for name in TEXT_FIELDS
    )


def to_out(action: Action, today: date, shown: Sequence[str | None]) -> ActionOut:
    """The response of an action, with its texts as `readable_texts` read them."""
    return shape(
        ActionOut,
        action,
        overdue=is_overdue(action, today),
        **dict(zip(TEXT_FIELDS, shown, strict=True)),
    )


async def view(session: AsyncSession, principal: Principal, action_id: uuid.UUID) -> ActionOut:
    """The response of an action the principal sees (anyone else: 404), with what it may
    read of its texts."""
    statement = (
        visible_actions(principal)
        .add_columns(*readable_texts(principal))
        .where(Action.id == action_id)
    )
    action, *shown = await one_row(session, statement, missing="No such action.")
    return to_out(action, today_in_paris(), shown)


async def get_action(
    session: AsyncSession, principal: Principal, action_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Action, Problem]:
    """An action the principal sees, with its problem (which it may not see itself)."""
    statement = visible_actions(principal).add_columns(Problem).where(Action.id == action_id)
    lock = Action if for_update else False
    action, problem = await one_row(session, statement, missing="No such action.", lock=lock)
    return action, problem


async def of_problems(
    session: AsyncSession, principal: Principal, problem_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ActionOut]]:
    """The actions of several problems the principal sees, soonest due first, in one query."""
    found: dict[uuid.UUID, list[ActionOut]] = defaultdict(list)
    if not problem_ids:
        return found
    today = today_in_paris()
    for action, *shown in await session.execute(
        visible_actions(principal)
        .add_columns(*readable_texts(principal))
        .where(Action.problem_id.in_(problem_ids))
        .order_by(Action.due_date, Action.id)
    ):
        found[action.problem_id].append(to_out(action, today, shown))
    return found


def title_level(problem: Problem, assignee: Organisation) -> Visibility:
    """Who reads an action's title (screened for identifiers at this level): its problem's
    readers, and the assignee's members, who read the action even on a problem hidden from
    them. Its description and result note are read at the action's own level (`texts`)."""
    return at_most(problem.visibility, access.kind_clearance(assignee.kind))


def _text_levels(title_at: Visibility, texts_at: Visibility) -> dict[str, Visibility]:
    """Each free text of an action at its readers' level: the title, the texts."""
    return {"title": title_at} | dict.fromkeys(TEXT_FIELDS, texts_at)


async def create_action(
    session: AsyncSession, principal: Principal, problem: Problem, data: ActionCreate
) -> Action:
    """An action on a problem the principal runs, `planned`."""
    if problem.status is ProblemStatus.closed:
        raise Conflict(
            "The problem is closed; reopen it before adding actions.",
            fr=wording.refused("problem.closed_no_actions"),
        )
    await require_action_kind(session, data.kind, loc=("body", "kind"))
    assignee = await require_organisation(
        session, data.assignee_organisation_id, loc=("body", "assignee_organisation_id")
    )
    if data.decided_at_meeting_id is not None:
        await problems.require_meeting_of(
            session, problem.gpo_id, data.decided_at_meeting_id, ("body", "decided_at_meeting_id")
        )
    level = access.level_to_write(principal, data.visibility, problem.visibility)
    action_id = uuid.uuid4()
    values = screening.screen_at(
        session,
        principal,
        data.model_dump() | {"visibility": level},
        _text_levels(title_level(problem, assignee), level),
        resource_type="action",
        resource_id=action_id,
    )
    now = utcnow()
    action = Action(
        **values,
        id=action_id,
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
        summary=wording.summary(
            "action.create", title=action.title, assignee=assignee.name, due=action.due_date
        ),
        problem_id=problem.id,
        values=values,
        texts=texts(level),
    )
    return action


async def update_action(
    session: AsyncSession,
    principal: Principal,
    action: Action,
    problem: Problem,
    data: ActionUpdate,
) -> Action:
    """The GPO's runners change anything; the assignee its status and result note."""
    values: dict[str, Any] = data.provided()
    await access.require_action_editor(session, principal, action, problem.gpo_id, values.keys())
    level = access.level_after_change(principal, values, action.visibility, problem.visibility)
    if "kind" in values:
        await require_action_kind(session, values["kind"], loc=("body", "kind"))
    assignee = await require_organisation(
        session,
        values.get("assignee_organisation_id", action.assignee_organisation_id),
        loc=("body", "assignee_organisation_id"),
    )
    if values.get("decided_at_meeting_id") is not None:
        await problems.require_meeting_of(
            session,
            problem.gpo_id,
            values["decided_at_meeting_id"],
            ("body", "decided_at_meeting_id"),
        )
    source, target = action.status, values.get("status")
    moves = target is not None and target is not source
    if moves:
        assert target is not None
        await LIFECYCLE.check(source, target, None)
        values["completed_at"] = utcnow() if target is ActionStatus.done else None
    # Screened once the change is known to be accepted: a refused one records no finding.
    title_at = title_level(problem, assignee)
    if assignee.id != action.assignee_organisation_id and "title" not in values:
        was = await session.get_one(Organisation, action.assignee_organisation_id)
        if screening.masks_identifiers(title_at) and not screening.masks_identifiers(
            title_level(problem, was)
        ):
            # A new assignee outside the national police reads the title kept so far.
            values["title"] = action.title
    if screening.masks_identifiers(level) and not screening.masks_identifiers(
        at_least(action.visibility, problem.visibility)
    ):
        # Lowered below `restricted`: the texts kept so far are read by more people now.
        values = {name: getattr(action, name) for name in TEXT_FIELDS} | values
    values = screening.screen_at(
        session,
        principal,
        values,
        _text_levels(title_at, level),
        resource_type="action",
        resource_id=action.id,
    )
    summary = (
        wording.summary("action.move", title=action.title, source=source, target=target)
        if moves
        else wording.summary("action.update", title=action.title)
    )
    await audit.update(
        session,
        principal,
        action,
        values,
        resource_type="action",
        summary=summary,
        problem_id=action.problem_id,
        texts=texts(level),
    )
    return action


ORDERINGS = {
    "due_date": Ordering("due_date", (SortKey(Action.due_date), SortKey(Action.id))),
    "-due_date": Ordering("-due_date", (SortKey(Action.due_date, True), SortKey(Action.id, True))),
    "created_at": Ordering("created_at", (SortKey(Action.created_at), SortKey(Action.id))),
    "-created_at": Ordering(
        "-created_at", (SortKey(Action.created_at, True), SortKey(Action.id, True))
    ),
}


@dataclass(frozen=True)
class Filters:
    statuses: Sequence[ActionStatus] = ()
    assignee_organisation_id: uuid.UUID | None = None
    overdue: bool | None = None
    problem_id: uuid.UUID | None = None
    gpo_id: uuid.UUID | None = None
    due_before: date | None = None

    def form(self) -> tuple[Any, ...]:
        """What shapes the statement (which filters are given), not their values."""
        return (
            bool(self.statuses),
            self.assignee_organisation_id is not None,
            self.overdue,
            self.problem_id is not None,
            self.gpo_id is not None,
            self.due_before is not None,
        )

    def values(self, today: date) -> dict[str, Any]:
        """The values of the bound parameters `_filtered` adds."""
        return {
            "statuses": list(self.statuses),
            "assignee_organisation_id": self.assignee_organisation_id,
            "today": today,
            "problem_id": self.problem_id,
            "gpo_id": self.gpo_id,
            "due_before": self.due_before,
        }


def _filtered(statement: AnySelect, filters: Filters) -> AnySelect:
    """The filters given, as conditions on bound parameters (`Filters.values`)."""
    f = filters
    if f.statuses:
        statement = statement.where(Action.status.in_(bindparam("statuses", expanding=True)))
    if f.assignee_organisation_id is not None:
        statement = statement.where(
            Action.assignee_organisation_id == bindparam("assignee_organisation_id")
        )
    if f.overdue is not None:
        late = overdue(bindparam("today", type_=Date()))
        statement = statement.where(late if f.overdue else ~late)
    if f.problem_id is not None:
        statement = statement.where(Action.problem_id == bindparam("problem_id"))
    if f.gpo_id is not None:
        statement = statement.where(Problem.gpo_id == bindparam("gpo_id"))
    if f.due_before is not None:
        statement = statement.where(Action.due_date < bindparam("due_before"))
    return statement


# --- Reading for the API: rows to plain data, statements built once (as problems do) -------

_COLUMN_FIELDS = tuple(name for name in ActionOut.model_fields if name != "overdue")
_POSITIONS = {name: i for i, name in enumerate(_COLUMN_FIELDS)}
_FIELD_POSITIONS = tuple((name, _POSITIONS.get(name, -1)) for name in ActionOut.model_fields)
_STATUS_AT, _DUE_AT = _POSITIONS["status"], _POSITIONS["due_date"]
_ID_AT, _VISIBILITY_AT = _POSITIONS["id"], _POSITIONS["visibility"]
_PROBLEM_VISIBILITY_AT = len(_COLUMN_FIELDS)  # past the answer's columns


def action_item(row: Any, today: date) -> dict[str, Any]:
    """A row of `_page_statement` as `ActionOut`'s plain data, in its field order."""
    late = row[_STATUS_AT] in OPEN_STATUSES and row[_DUE_AT] < today
    return {name: late if at < 0 else row[at] for name, at in _FIELD_POSITIONS}


def _page_statement(
    scope: Principal, filters: Filters, ordering: Ordering, after: bool
) -> AnySelect:
    shown = dict(zip(TEXT_FIELDS, readable_texts(scope), strict=True))
    columns = [shown.get(name, getattr(Action, name)) for name in _COLUMN_FIELDS]
    # Last, past the answer's columns: the problem's level, which with the action's own
    # says whether reading the row is logged (no second statement to find out).
    statement = _filtered(
        select(*columns, Problem.visibility)
        .join(Problem, Problem.id == Action.problem_id)
        .where(access.action_scope(scope)),
        filters,
    )
    if after:
        statement = statement.where(ordering.after_template())
    return statement.order_by(*ordering.order_by()).limit(bindparam("page_limit"))


async def action_page(
    session: AsyncSession, principal: Principal, filters: Filters, sort: str, paging: Paging
) -> tuple[list[dict[str, Any]], str | None, list[uuid.UUID]]:
    """One page of the actions the principal sees, as plain data, and the ids of those
    whose reading is logged (at a logged level, or on a problem at one)."""
    today = today_in_paris()
    ordering = ORDERINGS[sort]
    after = paging.after(ordering)
    scope_key, scope, scope_values = access.scope_template(principal)
    key = ("action_page", scope_key, filters.form(), sort, after is not None)
    statement = built_once(
        key, lambda: _page_statement(scope, filters, ordering, after is not None)
    )
    values = scope_values | filters.values(today) | after_params(after)
    values["page_limit"] = paging.limit + 1
    fetched = await fetch_rows(session, statement, values)
    rows, next_cursor = paging.page_of(fetched, ordering)
    logged = [
        row[_ID_AT]
        for row in rows
        if is_logged(row[_VISIBILITY_AT]) or is_logged(row[_PROBLEM_VISIBILITY_AT])
    ]
    return [action_item(row, today) for row in rows], next_cursor, logged


# --- Actions with their problem, as far as the reader sees it (the console) ----------------


def _with_problem(principal: Principal) -> AnySelect:
    """Visible actions with their problem's reference and title, both null where the
    principal may not see the problem (an assignee's action on a restricted problem)."""
    return visible_actions(principal).add_columns(
        access.problem_column_if_visible(principal, Problem.reference),
        access.problem_column_if_visible(principal, Problem.title),
        *readable_texts(principal),
    )


def _out_with_problem(row: Any, today: date) -> ActionWithProblem:
    action, reference, title, *shown = row
    stored = (getattr(action, name) for name in TEXT_FIELDS)
    return shape(
        ActionWithProblem,
        action,
        overdue=is_overdue(action, today),
        problem_reference=reference,
        problem_title=title,
        texts_hidden=any(s is not None and v is None for s, v in zip(stored, shown, strict=True)),
        **dict(zip(TEXT_FIELDS, shown, strict=True)),
    )


async def view_with_problem(
    session: AsyncSession, principal: Principal, action_id: uuid.UUID
) -> ActionWithProblem:
    statement = _with_problem(principal).where(Action.id == action_id)
    row = await one_row(session, statement, missing="No such action.")
    return _out_with_problem(row, today_in_paris())


async def list_with_problem(
    session: AsyncSession, principal: Principal, filters: Filters, sort: str, paging: Paging
) -> Page[ActionWithProblem]:
    """One page of the actions the principal sees, each with what it may read of its
    problem."""
    today = today_in_paris()
    statement = _filtered(_with_problem(principal), filters).params(filters.values(today))
    rows, next_cursor = await paging.fetch(session, statement, ORDERINGS[sort])
    return Page(
        items=[_out_with_problem(row, today) for row in rows],
        next_cursor=next_cursor,
    )
