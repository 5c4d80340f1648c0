"""Problems: reading them (scoped by `app.access`), their lifecycle, comments and timeline."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Date, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.actions.models import OPEN_STATUSES, Action, overdue
from app.core import audit
from app.core.audit import AuditEvent
from app.core.clock import today_in_paris, utcnow
from app.core.db import AnySelect, among, built_once, fetch_rows, one_entity, one_row
from app.core.errors import Conflict, Invalid, NotFound
from app.core.lifecycle import Lifecycle, Move
from app.core.pagination import Ordering, Page, Paging, SortKey, after_params
from app.core.references import next_reference
from app.core.schemas import shape
from app.core.search import contains, like_pattern, normalise
from app.core.visibility import Visibility, at_least
from app.governance import masking, screening
from app.gpos import service as gpos
from app.identity.models import User
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
    LOCATION_FIELDS,
    CommentCreate,
    CommentOut,
    ProblemCreate,
    ProblemOut,
    ProblemUpdate,
    TimelineEvent,
    TransitionIn,
    location_columns,
    location_out,
)
from app.reference.models import Category
from app.reference.service import require_category, require_commune
from app.reports.models import Report

S = ProblemStatus


# --- Reading ------------------------------------------------------------------------


@functools.cache
def _counts() -> tuple[Any, Any, Any]:
    """The correlated counts a problem response shows, built once (statement building is
    a large share of a request); "today" is bound when the statement runs."""
    today = bindparam("today", callable_=today_in_paris, type_=Date())
    open_actions = (
        select(func.count(Action.id))
        .where(Action.problem_id == Problem.id, among(Action.status, OPEN_STATUSES))
        .scalar_subquery()
        .label("open_action_count")
    )
    overdue_actions = (
        select(func.count(Action.id))
        .where(Action.problem_id == Problem.id, overdue(today))
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
    """A problem the principal sees (anyone else: 404), locked for a change if asked."""
    statement = select(Problem).where(access.problem_scope(principal), Problem.id == problem_id)
    problem: Problem = await one_entity(
        session, statement, missing="No such problem.", lock=for_update
    )
    return problem


async def view(session: AsyncSession, principal: Principal, problem_id: uuid.UUID) -> ProblemOut:
    """The problem's response, with its counts, in one statement."""
    statement = select(Problem, *_counts()).where(
        access.problem_scope(principal), Problem.id == problem_id
    )
    problem, *counts = await one_row(session, statement, missing="No such problem.")
    return to_out(problem, *counts)


ORDERINGS: dict[str, Ordering] = {
    "-created_at": Ordering(
        "-created_at", (SortKey(Problem.created_at, True), SortKey(Problem.id, True))
    ),
    "created_at": Ordering("created_at", (SortKey(Problem.created_at), SortKey(Problem.id))),
    "-updated_at": Ordering(
        "-updated_at", (SortKey(Problem.updated_at, True), SortKey(Problem.id, True))
    ),
    "-priority": Ordering(
        "-priority",
        (
            SortKey(Problem.priority_rank, True),
            SortKey(Problem.created_at, True),
            SortKey(Problem.id, True),
        ),
    ),
}


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
    # The GeoJSON representation lists only located problems (with cursors of its own).
    located_only: bool = False

    def form(self) -> tuple[Any, ...]:
        """What shapes the statement (which filters are given), not their values."""
        return (
            bool(self.statuses),
            self.gpo_id is not None,
            self.commune_code is not None,
            self.category is not None,
            self.priority is not None,
            self.assignee_organisation_id is not None,
            self.has_overdue_actions,
            bool(self.q),
            self.created_from is not None,
            self.created_to is not None,
            self.bbox is not None,
            self.located_only,
        )

    def values(self) -> dict[str, Any]:
        """The values of the bound parameters `filtered` adds."""
        min_lon, min_lat, max_lon, max_lat = self.bbox or (None, None, None, None)
        return {
            "statuses": list(self.statuses),
            "gpo_id": self.gpo_id,
            "commune_code": self.commune_code,
            "category": self.category,
            "priority": self.priority,
            "assignee_organisation_id": self.assignee_organisation_id,
            "q": like_pattern(self.q) if self.q else None,
            "created_from": self.created_from,
            "created_to": self.created_to,
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
        }


def filtered(statement: AnySelect, filters: Filters) -> AnySelect:
    """The filters given, as conditions on bound parameters (`Filters.values`; `today` for
    the overdue actions)."""
    f = filters
    if f.statuses:
        statement = statement.where(Problem.status.in_(bindparam("statuses", expanding=True)))
    if f.gpo_id is not None:
        statement = statement.where(Problem.gpo_id == bindparam("gpo_id"))
    if f.commune_code is not None:
        statement = statement.where(Problem.commune_code == bindparam("commune_code"))
    if f.category is not None:
        statement = statement.where(Problem.category == bindparam("category"))
    if f.priority is not None:
        statement = statement.where(Problem.priority == bindparam("priority"))
    if f.assignee_organisation_id is not None:
        statement = statement.where(
            exists().where(
                Action.problem_id == Problem.id,
                Action.assignee_organisation_id == bindparam("assignee_organisation_id"),
            )
        )
    if f.has_overdue_actions is not None:
        late = exists().where(Action.problem_id == Problem.id, overdue(_TODAY))
        statement = statement.where(late if f.has_overdue_actions else ~late)
    if f.q:
        statement = statement.where(contains(Problem.search_text, bindparam("q")))
    if f.created_from is not None:
        statement = statement.where(Problem.created_at >= bindparam("created_from"))
    if f.created_to is not None:
        statement = statement.where(Problem.created_at <= bindparam("created_to"))
    if f.bbox is not None:
        statement = statement.where(
            Problem.lat.between(bindparam("min_lat"), bindparam("max_lat")),
            Problem.lon.between(bindparam("min_lon"), bindparam("max_lon")),
        )
    if f.located_only:
        statement = statement.where(Problem.lat.is_not(None), Problem.lon.is_not(None))
    return statement


# --- Reading for the API: from rows to plain data, each statement built once ---------------
#
# These reads select columns, not entities, laid out as `ProblemOut`'s fields, and make each
# row a dict of plain values in the model's field order, which Pydantic's serialiser writes
# exactly as it writes the model (tests/test_read_bytes.py compares them with the reference).
# A statement is built once per form (the caller's scope, the filters given, the sort, a
# cursor or not), with bound parameters, and counts a page's actions and reports in the same
# round trip, for the page's rows only.

_TODAY = bindparam("today", type_=Date())
_COUNT_NAMES = ("open_action_count", "overdue_action_count", "report_count")
_COLUMN_FIELDS = tuple(
    name for name in ProblemOut.model_fields if name != "location" and name not in _COUNT_NAMES
)
# Row layout: the model's column fields, the location's, the sort's rank, then the counts.
_ROW_COLUMNS = tuple(
    getattr(Problem, name) for name in (*_COLUMN_FIELDS, *LOCATION_FIELDS, "priority_rank")
)
_LOCATION_AT = len(_COLUMN_FIELDS)
_POSITIONS = {name: i for i, name in enumerate(_COLUMN_FIELDS)} | {
    name: len(_ROW_COLUMNS) + i for i, name in enumerate(_COUNT_NAMES)
}
_FIELD_POSITIONS = tuple((name, _POSITIONS.get(name, -1)) for name in ProblemOut.model_fields)


def _counts_of(problem_id: Any) -> tuple[Any, Any, Any]:
    open_actions = (
        select(func.count(Action.id))
        .where(Action.problem_id == problem_id, among(Action.status, OPEN_STATUSES))
        .scalar_subquery()
    )
    overdue_actions = (
        select(func.count(Action.id))
        .where(Action.problem_id == problem_id, overdue(_TODAY))
        .scalar_subquery()
    )
    reports = select(func.count(Report.id)).where(Report.problem_id == problem_id).scalar_subquery()
    return open_actions, overdue_actions, reports


def problem_item(row: Any) -> dict[str, Any]:
    """A row of these statements as `ProblemOut`'s plain data, in its field order."""
    location = row[_LOCATION_AT : _LOCATION_AT + len(LOCATION_FIELDS)]
    located = None
    if any(value is not None for value in location):
        located = dict(zip(LOCATION_FIELDS, location, strict=True))
    return {name: located if at < 0 else row[at] for name, at in _FIELD_POSITIONS}


def _page_statement(
    scope: Principal, filters: Filters, ordering: Ordering, after: bool
) -> AnySelect:
    inner = filtered(select(*_ROW_COLUMNS).where(access.problem_scope(scope)), filters)
    if after:
        inner = inner.where(ordering.after_template())
    limit: Any = bindparam("page_limit")
    page = inner.order_by(*ordering.order_by()).limit(limit).subquery("page")
    # The outer LIMIT keeps SQLite from flattening the page into the counting statement.
    return select(page, *_counts_of(page.c.id)).order_by(*ordering.order_by(page.c)).limit(limit)


async def problem_page(
    session: AsyncSession, principal: Principal, filters: Filters, sort: str, paging: Paging
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the problems the principal sees, filtered and sorted, as plain data."""
    ordering = ORDERINGS[sort]
    if filters.located_only:
        ordering = Ordering("geojson" + ordering.name, ordering.keys)
    after = paging.after(ordering)
    scope_key, scope, scope_values = access.scope_template(principal)
    statement = built_once(
        ("problem_page", scope_key, filters.form(), ordering.name, after is not None),
        lambda: _page_statement(scope, filters, ordering, after is not None),
    )
    values = scope_values | filters.values() | after_params(after)
    values |= {"today": today_in_paris(), "page_limit": paging.limit + 1}
    rows, next_cursor = paging.page_of(await fetch_rows(session, statement, values), ordering)
    return [problem_item(row) for row in rows], next_cursor


async def list_problems(
    session: AsyncSession, principal: Principal, filters: Filters, sort: str, paging: Paging
) -> Page[ProblemOut]:
    """One page of the problems the principal sees, filtered and sorted."""
    items, next_cursor = await problem_page(session, principal, filters, sort, paging)
    return Page(items=[ProblemOut.model_validate(item) for item in items], next_cursor=next_cursor)


def _detail_statement(scope: Principal) -> AnySelect:
    return select(*_ROW_COLUMNS, *_counts_of(Problem.id)).where(
        access.problem_scope(scope), Problem.id == bindparam("problem_id")
    )


async def problem_detail(
    session: AsyncSession, principal: Principal, problem_id: uuid.UUID
) -> dict[str, Any]:
    """The problem's response as plain data, with its counts, in one statement; 404 for a
    problem the principal may not see."""
    scope_key, scope, scope_values = access.scope_template(principal)
    statement = built_once(("problem_detail", scope_key), lambda: _detail_statement(scope))
    values = scope_values | {"problem_id": problem_id, "today": today_in_paris()}
    rows = await fetch_rows(session, statement, values)
    if not rows:
        raise NotFound("No such problem.")
    return problem_item(rows[0])


# --- Sensitive categories: their problems are never less than restricted --------------------

# The level a problem of a sensitive category (`drug_dealing`: what is forwarded to the CROSS)
# is kept at, whatever a create, a patch or a report's triage asks (API.md, issue 12).
SENSITIVE_FLOOR = Visibility.restricted


def visibility_floor(category: Category) -> Visibility:
    """The lowest visibility a problem of this category may have."""
    return SENSITIVE_FLOOR if category.sensitive else Visibility.partners


def governed_visibility(
    asked: Visibility, category: Category, *, was: Category | None = None
) -> Visibility:
    """The visibility stored for a problem of `category` when `asked` is asked of it:
    raised to the category's floor. Asking less than restricted of a problem that already
    was sensitive (`was`, its category before an edit) is refused, even with a change of
    category in the same request: a downgrade is a deliberate second step."""
    if was is not None and was.sensitive and at_least(asked, SENSITIVE_FLOOR) != asked:
        raise Conflict(
            f"A problem of the sensitive category {was.code} stays {SENSITIVE_FLOOR.value}: "
            f"its visibility cannot be lowered to {asked.value}. If the category is wrong, "
            "change it first, then the visibility.",
            errors=[(["body", "visibility"], f"a {was.code} problem stays restricted")],
            fr=wording.refused("problem.sensitive_stays", category=was.label_fr),
        )
    return at_least(asked, visibility_floor(category))


def _record_raise(
    session: AsyncSession,
    principal: Principal,
    problem: Problem,
    asked: Visibility,
    category: Category,
) -> None:
    """The timeline's word that a problem's visibility was raised to its category's floor."""
    audit.record(
        session,
        principal,
        action="problem.visibility_raised",
        resource_type="problem",
        resource_id=problem.id,
        problem_id=problem.id,
        summary=wording.summary(
            "problem.visibility_raised", visibility=problem.visibility, category=category.label_fr
        ),
        changes={"visibility": [asked, problem.visibility]},
    )


async def raise_to_floor(session: AsyncSession, principal: Principal, category: Category) -> int:
    """A category just made sensitive: its problems below the floor are raised to it, each
    with its audit event (in the request's transaction). Returns how many were raised."""
    floor = visibility_floor(category)
    below = [v for v in Visibility if at_least(v, floor) != v]
    problems = (
        await session.scalars(
            select(Problem)
            .where(Problem.category == category.code, Problem.visibility.in_(below))
            .order_by(Problem.id)
            .with_for_update()
        )
    ).all()
    now = utcnow()
    for problem in problems:
        was = problem.visibility
        problem.visibility = floor
        problem.version += 1
        problem.updated_at = now
        _record_raise(session, principal, problem, was, category)
    await session.flush()
    return len(problems)


# --- Writing ------------------------------------------------------------------------

# A problem's free texts, screened for identifiers on every write (`app.governance`).
# A location's free texts, screened like the others (its coordinates are not text).
LOCATION_TEXTS = ("address", "sector", "transport_line", "station")
PROBLEM_TEXTS = (
    "title",
    "description",
    "objective",
    "time_pattern",
    *(f"location.{name}" for name in LOCATION_TEXTS),
)


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
    from_report: str | None = None,
) -> Problem:
    """A `new` problem in a GPO the principal runs (a GPO it may not see is unknown)."""
    try:
        gpo = await gpos.get_gpo(session, principal, data.gpo_id)
    except NotFound:
        raise Invalid(["body", "gpo_id"], "unknown GPO") from None
    await access.require_runner(session, principal, gpo.id)
    category = await require_category(session, data.category, loc=("body", "category"))
    await require_commune(session, data.commune_code, loc=("body", "commune_code"))
    if data.raised_at_meeting_id is not None:
        await require_meeting_of(
            session, gpo.id, data.raised_at_meeting_id, ("body", "raised_at_meeting_id")
        )
    now = utcnow()
    reference = await next_reference(session, "P", now)
    asked = data.visibility or category.default_visibility
    visibility = governed_visibility(asked, category)
    # The id is given now, not at flush: the screening and the creation event need it.
    problem_id = uuid.uuid4()
    data = screening.screen_model(
        session,
        principal,
        data,
        PROBLEM_TEXTS,
        level=visibility,
        resource_type="problem",
        resource_id=problem_id,
    )
    values = data.model_dump(exclude={"location", "visibility"}) | location_columns(data.location)
    problem = Problem(
        **values,
        id=problem_id,
        reference=reference,
        visibility=visibility,
        status=ProblemStatus.new,
        displacement=Displacement.unknown,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
        search_text=normalise(reference, data.title, data.description),
    )
    summary = (
        wording.summary("problem.create", reference=reference, title=problem.title)
        if from_report is None
        else wording.summary("problem.create_from_report", reference=reference, report=from_report)
    )
    await audit.add_created(
        session,
        principal,
        problem,
        resource_type="problem",
        summary=summary,
        problem_id=problem.id,
        values=values | {"visibility": problem.visibility, "reference": reference},
    )
    if problem.visibility != asked:
        _record_raise(session, principal, problem, asked, category)
    return problem


async def update_problem(
    session: AsyncSession, principal: Principal, problem: Problem, data: ProblemUpdate
) -> Problem:
    """Descriptive fields and `displacement` of a problem the principal runs."""
    values = data.provided()
    summary = wording.summary("problem.update", reference=problem.reference)
    if {"category", "visibility"} & values.keys():
        was = await session.get(Category, problem.category)
        assert was is not None  # a foreign key
        category = was
        if "category" in values:
            category = await require_category(session, values["category"], loc=("body", "category"))
        asked = values.get("visibility", problem.visibility)
        governed = governed_visibility(asked, category, was=was if "visibility" in values else None)
        if "visibility" in values or governed != problem.visibility:
            values["visibility"] = governed
        if governed != asked:
            summary = wording.summary(
                "problem.update_raised",
                reference=problem.reference,
                visibility=governed,
                category=category.label_fr,
            )
    if "commune_code" in values:
        await require_commune(session, values["commune_code"], loc=("body", "commune_code"))
    if "visibility" in values:
        await _no_identifiers_to_share(session, problem, values["visibility"])
    values = _screened_update(session, principal, problem, values)
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
        summary=summary,
        problem_id=problem.id,
    )
    return problem


async def _no_identifiers_to_share(
    session: AsyncSession, problem: Problem, level: Visibility
) -> None:
    """Lowering a problem to a level read beyond the national police is refused while its
    record holds identifiers kept at `restricted`: its texts and those of its actions,
    reviews and indicators, as its timeline (the events at the problem's level) shows them
    to every reader of the problem, old values included."""
    if screening.masks_identifiers(problem.visibility) or not screening.masks_identifiers(level):
        return
    events = await session.execute(
        select(AuditEvent.summary, AuditEvent.changes).where(
            AuditEvent.problem_id == problem.id, AuditEvent.visibility.is_(None)
        )
    )
    if any(masking.identifiers(f"{summary} {changes or ''}") for summary, changes in events):
        raise Conflict(
            "The problem's record holds personal identifiers kept while it was restricted; "
            "it cannot be shared beyond the national police.",
            errors=[(["body", "visibility"], "the record holds identifiers kept at restricted")],
            fr=wording.refused("problem.identifiers_kept"),
        )


def _screened_update(
    session: AsyncSession, principal: Principal, problem: Problem, values: dict[str, Any]
) -> dict[str, Any]:
    """The texts of a patch, screened at the level the problem will have."""
    level = values.get("visibility", problem.visibility)
    screened = screening.screen(
        session,
        principal,
        values,
        [name for name in PROBLEM_TEXTS if "." not in name],
        level=level,
        resource_type="problem",
        resource_id=problem.id,
    )
    if (location := values.get("location")) is not None:
        screened["location"] = screening.screen_model(
            session,
            principal,
            location,
            LOCATION_TEXTS,
            level=level,
            resource_type="problem",
            resource_id=problem.id,
            loc=("body", "location"),
        )
    return screened


# --- Lifecycle: the state machine as data, each rule on the moves it guards -----------------


@dataclass(frozen=True)
class Moving:
    """What a guard of a problem's move reads."""

    session: AsyncSession
    problem: Problem
    data: TransitionIn


async def needs_outcome(m: Moving) -> None:
    if m.data.outcome is None:
        raise Invalid(
            ["body", "outcome"],
            "closing needs an outcome",
            fr=wording.refused("problem.needs_outcome"),
        )


def outcome_among(*outcomes: Outcome) -> Any:
    """Only these outcomes close the problem from where it is."""
    allowed = frozenset(outcomes)

    async def guard(m: Moving) -> None:
        if m.data.outcome not in allowed:
            raise Conflict(
                f"A {m.problem.status.value} problem can only be closed as "
                f"{' or '.join(sorted(o.value for o in allowed))}; open it first.",
                fr=wording.refused("problem.new_closes_as"),
            )

    return guard


async def no_closing_fields(m: Moving) -> None:
    if m.data.outcome is not None:
        raise Invalid(
            ["body", "outcome"],
            "an outcome is given only when closing",
            fr=wording.refused("problem.outcome_only_closing"),
        )
    if m.data.displacement is not None:
        raise Invalid(
            ["body", "displacement"],
            "displacement is set when closing",
            fr=wording.refused("problem.displacement_only_closing"),
        )


async def needs_note(m: Moving) -> None:
    if m.data.note is None:
        raise Invalid(
            ["body", "note"],
            "reopening needs a note saying why",
            fr=wording.refused("problem.needs_note"),
        )


# Closing with these outcomes claims a result: it needs an improved indicator.
OUTCOMES_NEEDING_EVIDENCE = frozenset({Outcome.eliminated, Outcome.reduced, Outcome.harm_reduced})


async def evidence_for_a_claimed_result(m: Moving) -> None:
    """Closing as eliminated, reduced or harm_reduced needs an indicator whose latest
    measurement after its baseline shows a better rate (API.md); 409 says what is missing."""
    outcome = m.data.outcome
    if outcome not in OUTCOMES_NEEDING_EVIDENCE:
        return
    session, problem = m.session, m.problem
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
            "measurement after the baseline period that shows a better rate.",
            fr=wording.refused("evidence.no_indicator", outcome=outcome),
        )
    if all(latest is None for _, latest in indicators):
        raise Conflict(
            f"{claim}: no indicator has a measurement after its baseline period ({names}).",
            fr=wording.refused("evidence.no_measurement", outcome=outcome, names=names),
        )
    raise Conflict(
        f"{claim}: no indicator's latest measurement shows a better rate than its baseline "
        f"({names}). Record the measurement that shows the result, or close with another "
        "outcome (no_improvement, better_handled...).",
        fr=wording.refused("evidence.not_improved", outcome=outcome, names=names),
    )


CLOSING = (needs_outcome, evidence_for_a_claimed_result)
LIFECYCLE: Lifecycle[ProblemStatus, Moving] = Lifecycle(
    "problem",
    refusal_fr=wording.move_refused,
    moves=[
        Move(S.new, S.open, (no_closing_fields,)),
        Move(S.open, S.monitoring, (no_closing_fields,)),
        Move(S.monitoring, S.open, (no_closing_fields,)),
        Move(S.open, S.closed, CLOSING),
        Move(S.monitoring, S.closed, CLOSING),
        Move(
            S.new, S.closed, (needs_outcome, outcome_among(Outcome.duplicate, Outcome.not_in_scope))
        ),
        Move(S.closed, S.open, (no_closing_fields, needs_note)),
    ],
)


async def transition(
    session: AsyncSession, principal: Principal, problem: Problem, data: TransitionIn
) -> Problem:
    """Move a problem the principal runs; closing records the outcome, reopening clears it
    (the timeline keeps both)."""
    await LIFECYCLE.check(problem.status, data.to, Moving(session, problem, data))
    data = screening.screen_model(
        session,
        principal,
        data,
        ["note"],
        level=problem.visibility,
        resource_type="problem",
        resource_id=problem.id,
    )
    closes, reopens = data.to is S.closed, problem.status is S.closed
    before = audit.snapshot(
        problem, ("status", "outcome", "outcome_note", "closed_at", "displacement")
    )
    source = problem.status
    problem.status = data.to
    if closes:
        problem.outcome = data.outcome
        problem.outcome_note = data.note
        problem.closed_at = utcnow()
        if data.displacement is not None:
            problem.displacement = data.displacement
    if reopens:
        problem.outcome = None
        problem.outcome_note = None
        problem.closed_at = None
    problem.version += 1
    problem.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="problem.transition",
        resource_type="problem",
        resource_id=problem.id,
        problem_id=problem.id,
        summary=wording.problem_moved(source, data.to, data.outcome if closes else None, data.note),
        changes=audit.diff(before, audit.snapshot(problem, before)),
    )
    await session.flush()
    return problem


async def last_change(session: AsyncSession, problem_id: uuid.UUID) -> tuple[str, datetime] | None:
    """Who last changed the problem's own fields or status, and when (for "modifié
    entre-temps par ..."); None before any change."""
    row = (
        await session.execute(
            select(func.coalesce(User.display_name, "le service"), AuditEvent.at)
            .outerjoin(User, User.id == AuditEvent.actor_id)
            .where(
                AuditEvent.resource_type == "problem",
                AuditEvent.resource_id == str(problem_id),
            )
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


# --- Comments and timeline ------------------------------------------------------------

COMMENTS_ORDER = Ordering(
    "created_at", (SortKey(ProblemComment.created_at), SortKey(ProblemComment.id))
)
TIMELINE_ORDER = Ordering("at", (SortKey(AuditEvent.at), SortKey(AuditEvent.id)))


def comment_out(comment: ProblemComment, author_name: str) -> CommentOut:
    return shape(CommentOut, comment, author_name=author_name)


async def add_comment(
    session: AsyncSession, principal: Principal, problem: Problem, data: CommentCreate
) -> CommentOut:
    """Anyone who sees the problem comments, at a level it could read (never below the
    problem's)."""
    visibility = access.level_to_write(
        principal, data.visibility, problem.visibility, noun="comment"
    )
    comment_id = uuid.uuid4()
    data = screening.screen_model(
        session,
        principal,
        data,
        ["body"],
        level=visibility,
        resource_type="comment",
        resource_id=comment_id,
    )
    comment = ProblemComment(
        id=comment_id,
        problem_id=problem.id,
        author_id=principal.user_id,
        body=data.body,
        visibility=visibility,
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
        summary=wording.summary(
            "comment.create", author=principal.display_name, body=data.body[:200]
        ),
        visibility=comment.visibility,
    )
    return comment_out(comment, principal.display_name)


async def list_comments(
    session: AsyncSession, principal: Principal, problem: Problem, paging: Paging
) -> Page[CommentOut]:
    """A problem's comments within what the principal may read, oldest first."""
    statement = (
        select(ProblemComment, User.display_name)
        .join(User, User.id == ProblemComment.author_id)
        .where(
            ProblemComment.problem_id == problem.id,
            access.text_scope(principal, ProblemComment.visibility),
        )
    )
    rows, next_cursor = await paging.fetch(session, statement, COMMENTS_ORDER)
    return Page(items=[comment_out(c, name) for c, name in rows], next_cursor=next_cursor)


async def timeline(
    session: AsyncSession, principal: Principal, problem: Problem, paging: Paging
) -> Page[TimelineEvent]:
    """Every recorded event on the problem, oldest first, within what the principal reads."""
    statement = (
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.problem_id == problem.id, access.timeline_scope(principal))
    )
    rows, next_cursor = await paging.fetch(session, statement, TIMELINE_ORDER)
    return Page(
        items=[
            TimelineEvent(
                id=event.id,
                at=event.at,
                actor_id=event.actor_id,
                actor_name=actor_name,
                kind=event.action,
                summary=event.summary,
                changes=event.changes,
            )
            for event, actor_name in rows
        ],
        next_cursor=next_cursor,
    )
