"""Figures, aggregated in SQL: counts by group, medians by window functions (which both
SQLite and PostgreSQL have), evidence and improvement as EXISTS over indicators."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Date,
    Float,
    Integer,
    String,
    Uuid,
    and_,
    bindparam,
    case,
    extract,
    func,
    literal,
    literal_column,
    null,
    select,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app import access
from app.actions.models import Action, ActionStatus, overdue
from app.core.clock import PARIS, today_in_paris
from app.core.db import AnySelect, fetch_rows
from app.figures.models import (
    CategoryTotal,
    ClosedProblem,
    ClosingDays,
    CommuneTotal,
    DayTotal,
    MeasuredProblem,
    OpenActions,
    ProblemCount,
    StatusTotal,
)
from app.figures.schemas import AnnualEvaluation, EvaluationRow, OrganisationRow, Overview, Totals
from app.gpos.models import Gpo
from app.identity.principal import Principal
from app.problems.models import Outcome, Problem, ProblemStatus
from app.reference.models import Category, Commune, Organisation

# Closed as a duplicate or out of scope: nothing was attempted, nothing to prove.
NOT_WORKED_ON = (Outcome.duplicate, Outcome.not_in_scope)


def days_to_close(dialect: str) -> Any:
    if dialect == "postgresql":
        return extract("epoch", Problem.closed_at - Problem.created_at) / 86400.0
    return func.julianday(Problem.closed_at) - func.julianday(Problem.created_at)


async def median(session: AsyncSession, value: Any, condition: ColumnElement[bool]) -> float | None:
    """The median of `value` over the problems meeting `condition`: counted, then the one
    or two middle values read from the sorted values (cheaper than ranking every row with
    window functions)."""
    size = await session.scalar(select(func.count()).select_from(Problem).where(condition))
    if not size:
        return None
    middle = (
        await session.scalars(
            select(value.label("value"))
            .select_from(Problem)
            .where(condition)
            .order_by("value")
            .offset((size - 1) // 2)
            .limit(2 - size % 2)
        )
    ).all()
    return round(float(sum(middle)) / len(middle), 1)


def middle_of(values: list[float]) -> float:
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return round(ordered[half], 1)
    return round((ordered[half - 1] + ordered[half]) / 2, 1)


def _sum_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass(frozen=True)
class OverviewFilters:
    gpo_id: uuid.UUID | None = None
    commune_code: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(slots=True)
class _Counts:
    """The overview's counts while they are summed."""

    by_status: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((s.value for s in ProblemStatus), 0)
    )
    by_category: dict[str, int] = field(default_factory=dict)
    by_commune: dict[str, int] = field(default_factory=dict)
    closed: int = 0
    worked_on: int = 0
    measured: int = 0

    def add_group(
        self,
        status: str,
        category: str,
        commune_code: str,
        problems: int,
        worked: int,
        measured: int,
    ) -> None:
        """A (status, category, commune) group's problems, and its closed ones worked on
        and measured."""
        status = str(status)  # a ProblemStatus from the problems' rows
        self.by_status[status] = self.by_status.get(status, 0) + problems
        self.by_category[category] = self.by_category.get(category, 0) + problems
        self.by_commune[commune_code] = self.by_commune.get(commune_code, 0) + problems
        if status == ProblemStatus.closed:
            self.closed += problems
            self.worked_on += worked
            self.measured += measured


def _present(counts: dict[str, int]) -> dict[str, int]:
    """Keys with a count, in key order (as a GROUP BY gives them)."""
    return {key: counts[key] for key in sorted(counts) if counts[key]}


# The overdue actions by assignee, joined to the problems of a reader who does not see them
# all, or filtered.
_OVERDUE_BY_ORGANISATION = (
    select(Action.assignee_organisation_id, func.count())
    .where(overdue(bindparam("today", type_=Date())))
    .group_by(Action.assignee_organisation_id)
)
# A reader who sees them all, nothing filtering them: from the open actions' summary rows, a
# few thousand (due date, organisation) pairs instead of every overdue action.
_OVERDUE_FROM_SUMMARY = (
    select(OpenActions.assignee_organisation_id, func.sum(OpenActions.actions))
    .where(OpenActions.due_date < bindparam("today", type_=Date()))
    .group_by(OpenActions.assignee_organisation_id)
)


async def overview(session: AsyncSession, principal: Principal, f: OverviewFilters) -> Overview:
    """The figures of the problems the principal sees (its readers: `access.FiguresReader`).

    For a reader who sees everything and no creation bounds, the counts, the evidence
    ratio and the median come from the summary rows the triggers keep
    (`app.figures.models`); otherwise from the problems' rows. Overdue actions are counted
    from the open actions' summary rows when the reader sees them all and nothing filters
    them."""
    dialect = session.get_bind().dialect.name
    summarised = (
        access.sees_everything(principal) and f.created_from is None and f.created_to is None
    )
    condition = access.figures_scope(principal)
    if f.gpo_id is not None:
        condition &= Problem.gpo_id == f.gpo_id
    if f.commune_code is not None:
        condition &= Problem.commune_code == f.commune_code
    if f.created_from is not None:
        condition &= Problem.created_at >= f.created_from
    if f.created_to is not None:
        condition &= Problem.created_at <= f.created_to

    counts = await (_summary_counts(session, f) if summarised else _counts(session, condition))
    closed = and_(condition, Problem.status == ProblemStatus.closed)
    median_days = await _summary_median(session, f, counts.closed) if summarised else None
    if median_days is None and counts.closed:
        median_days = await median(session, days_to_close(dialect), closed)
    everything = access.sees_everything(principal) and f == OverviewFilters()
    today = {"today": today_in_paris()}
    overdue_rows: Sequence[Any]
    if everything:  # statements built once: read from the driver
        overdue_rows = await fetch_rows(session, _OVERDUE_FROM_SUMMARY, today)
    else:
        joined = _OVERDUE_BY_ORGANISATION.join(Problem, Problem.id == Action.problem_id)
        overdue_rows = (await session.execute(joined.where(condition), today)).all()
    return Overview(
        problems_by_status=counts.by_status,
        problems_by_category=_present(counts.by_category),
        problems_by_commune=_present(counts.by_commune),
        overdue_actions_by_organisation=_present({str(k): n for k, n in overdue_rows}),
        median_days_to_close=median_days,
        closed_with_evidence_ratio=(
            round(counts.measured / counts.worked_on, 4) if counts.worked_on else None
        ),
    )


async def _counts(session: AsyncSession, condition: ColumnElement[bool]) -> _Counts:
    """The counts from the problems' rows, in one statement."""
    worked_on = and_(Problem.status == ProblemStatus.closed, Problem.outcome.not_in(NOT_WORKED_ON))
    # The triggers' set of problems with a measured indicator, outer-joined (an IN would be
    # a subplan that rescans the set for each problem once it outgrows work_mem).
    measured = MeasuredProblem.problem_id.is_not(None)
    statement = select(
        Problem.status,
        Problem.category,
        Problem.commune_code,
        func.count(),
        _sum_if(worked_on),
        _sum_if(and_(worked_on, measured)),
    ).outerjoin(MeasuredProblem, MeasuredProblem.problem_id == Problem.id)
    counts = _Counts()
    for row in await session.execute(
        statement.where(condition).group_by(Problem.status, Problem.category, Problem.commune_code)
    ):
        counts.add_group(*row)
    return counts


# The summary rows' statements, built once for each set of filters given (two at most) and
# read from the driver (`fetch_rows`): building them and SQLAlchemy's result layer cost more
# than the statements do (a histogram of 800 days: a third of the overview's CPU). The
# filters' values are bound parameters (`_summary_values`).


# Which of the GPO and the commune filter: the key of the statements built for them.
SummaryForm = tuple[bool, bool]


def _summary_form(f: OverviewFilters) -> SummaryForm:
    return f.gpo_id is not None, f.commune_code is not None


def _summary_filters(table: Any, form: SummaryForm) -> list[ColumnElement[bool]]:
    by_gpo, by_commune = form
    found = []
    if by_gpo:
        found.append(table.gpo_id == bindparam("gpo_id", type_=Uuid()))
    if by_commune:
        found.append(table.commune_code == bindparam("commune_code", type_=String()))
    return found


def _summary_values(f: OverviewFilters) -> dict[str, Any]:
    return {"gpo_id": f.gpo_id, "commune_code": f.commune_code}


# No filter (`UNFILTERED`): the totals over every GPO and commune (migration 0025), a dozen
# rows by status, outcome and measured, one a category, one a commune.
UNFILTERED: SummaryForm = (False, False)
_TOTALS: CompoundSelect[Any] = union_all(
    select(
        literal_column("'status'"),
        StatusTotal.status,
        StatusTotal.outcome,
        StatusTotal.measured,
        StatusTotal.problems,
    ),
    select(
        literal_column("'category'"), CategoryTotal.category, null(), null(), CategoryTotal.problems
    ),
    select(
        literal_column("'commune'"),
        CommuneTotal.commune_code,
        null(),
        null(),
        CommuneTotal.problems,
    ),
)
_NOT_WORKED_ON = frozenset({*(o.value for o in NOT_WORKED_ON), ""})  # '': no outcome


async def _total_counts(session: AsyncSession) -> _Counts:
    counts = _Counts()
    for total, key, outcome, measured, problems in await fetch_rows(session, _TOTALS, {}):
        if total == "status":
            counts.by_status[key] = counts.by_status.get(key, 0) + problems
            if key == ProblemStatus.closed:
                counts.closed += problems
                if outcome not in _NOT_WORKED_ON:
                    counts.worked_on += problems
                    counts.measured += problems if measured else 0
        elif total == "category":
            counts.by_category[key] = problems
        else:
            counts.by_commune[key] = problems
    return counts


def _summary_sums() -> list[Any]:
    """The problems of the summary rows, those worked on and those measured too."""
    c = ProblemCount
    worked_on = c.outcome.not_in([*(o.value for o in NOT_WORKED_ON), ""])  # '': no outcome
    return [
        func.sum(c.problems),
        func.coalesce(func.sum(c.problems).filter(worked_on), 0),
        func.coalesce(func.sum(c.problems).filter(and_(worked_on, c.measured.is_(True))), 0),
    ]


@functools.cache
def _summary_counts_statement(form: SummaryForm) -> AnySelect:
    c = ProblemCount
    return (
        select(
            func.grouping(c.status, c.category, c.commune_code),
            c.status,
            c.category,
            c.commune_code,
            *_summary_sums(),
        )
        .where(*_summary_filters(c, form))
        .group_by(func.grouping_sets(tuple_(c.status), tuple_(c.category), tuple_(c.commune_code)))
    )


@functools.cache
def _summary_groups_statement(form: SummaryForm) -> AnySelect:
    """SQLite, which has no grouping sets: the summary rows by status, category and
    commune (GPO, outcome and measured summed), each breakdown's sums taken in Python."""
    c = ProblemCount
    return (
        select(c.status, c.category, c.commune_code, *_summary_sums())
        .where(*_summary_filters(c, form))
        .group_by(c.status, c.category, c.commune_code)
    )


async def _summary_counts(session: AsyncSession, f: OverviewFilters) -> _Counts:
    """The counts by status, category and commune summed by PostgreSQL from the summary
    rows (grouping sets: a few dozen rows back, not the thousands of summary rows), with
    the closed problems worked on and measured on the status rows (SQLite: their groups by
    all three, summed here); without a filter, from their totals."""
    if _summary_form(f) == UNFILTERED:
        return await _total_counts(session)
    counts = _Counts()
    form, values = _summary_form(f), _summary_values(f)
    if session.get_bind().dialect.name != "postgresql":
        for row in await fetch_rows(session, _summary_groups_statement(form), values):
            counts.add_group(*row)
        return counts
    rows = await fetch_rows(session, _summary_counts_statement(form), values)
    for bits, status, category, commune_code, problems, worked, measured in rows:
        if bits == 0b011:  # by status
            counts.by_status[status] = counts.by_status.get(status, 0) + problems
            if status == ProblemStatus.closed:
                counts.closed += problems
                counts.worked_on += worked
                counts.measured += measured
        elif bits == 0b101:
            counts.by_category[category] = problems
        else:
            counts.by_commune[commune_code] = problems
    return counts


@functools.cache
def _histogram_statement(form: SummaryForm) -> AnySelect:
    if form == UNFILTERED:
        return select(DayTotal.day, DayTotal.problems).order_by(DayTotal.day)
    return (
        select(ClosingDays.day, func.sum(ClosingDays.problems))
        .where(*_summary_filters(ClosingDays, form))
        .group_by(ClosingDays.day)
        .order_by(ClosingDays.day)
    )


def _closed_days() -> Any:
    """The closed problems' exact days to close. Read as the float SQLite holds (its
    NUMERIC to Decimal conversion rounds to ten places, and the medians would differ
    from the rows'); PostgreSQL's driver reads its numeric as ever."""
    return type_coerce(ClosedProblem.days, Float())


@functools.cache
def _middle_statement(form: SummaryForm) -> AnySelect:
    days = _closed_days()
    return (
        select(days)
        .where(
            days >= bindparam("day", type_=Integer()),
            days < bindparam("next_day", type_=Integer()),
            *_summary_filters(ClosedProblem, form),
        )
        .order_by(days)
        .offset(bindparam("skipped", type_=Integer()))
        .limit(bindparam("taken", type_=Integer()))
    )


async def _summary_median(session: AsyncSession, f: OverviewFilters, closed: int) -> float | None:
    """The median from the histogram of whole days to close, the middle values read inside
    their day from the closed problems' index; None (read the rows) when the histogram does
    not hold every closed problem (one closed without a closing time)."""
    form, values = _summary_form(f), _summary_values(f)
    histogram = await fetch_rows(session, _histogram_statement(form), values)
    size = sum(n for _, n in histogram)
    if size != closed or not size:
        return None
    ranks = sorted({(size - 1) // 2, size // 2})
    middle: list[Any] = []
    before = 0
    for day, n in histogram:
        wanted = [rank - before for rank in ranks if before <= rank < before + n]
        if wanted:
            bounds = {"day": day, "next_day": day + 1, "skipped": wanted[0]}
            bounds["taken"] = wanted[-1] - wanted[0] + 1
            found = await fetch_rows(session, _middle_statement(form), values | bounds)
            middle += [row[0] for row in found]
        before += n
        if before > ranks[-1]:
            break
    return round(float(sum(middle)) / len(middle), 1)


# --- The annual evaluation ----------------------------------------------------------------


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The civil year in Europe/Paris, as instants."""
    start = datetime(year, 1, 1, tzinfo=PARIS)
    return start, datetime(year + 1, 1, 1, tzinfo=PARIS)


# name: (key column, label column, (table to join, join condition))
BREAKDOWNS: dict[str, tuple[Any, Any, Any]] = {
    "gpo": (Problem.gpo_id, Gpo.name, (Gpo, Gpo.id == Problem.gpo_id)),
    "commune": (
        Problem.commune_code,
        Commune.name,
        (Commune, Commune.code == Problem.commune_code),
    ),
    "category": (
        Problem.category,
        Category.label_fr,
        (Category, Category.code == Problem.category),
    ),
}


TOTAL = "all"


@dataclass(slots=True)
class _Tally:
    """A row of the evaluation while the groups are summed (a plain object: fast)."""

    raised: int = 0
    closed: int = 0
    improved: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    days: list[float] = field(default_factory=list)
    median: float | None = None  # when the database took it (else from `days`)

    def row(self, key: str, label: str) -> EvaluationRow:
        return EvaluationRow(
            key=key,
            label=label,
            problems_raised=self.raised,
            problems_closed=self.closed,
            outcomes={outcome: self.outcomes[outcome] for outcome in sorted(self.outcomes)},
            median_days_to_close=middle_of(self.days) if self.days else self.median,
            closed_with_improved_indicator=self.improved,
        )


def _as_text(column: Any) -> Any:
    """A key read as the text the database holds: no UUID made of each of many rows."""
    return type_coerce(column, String())


async def _problem_rows(
    session: AsyncSession,
    scope: ColumnElement[bool],
    start: datetime,
    end: datetime,
    summarised: bool,
) -> dict[str, list[EvaluationRow]]:
    """The year's rows of every breakdown, by label, and the totals (under TOTAL).

    The problems raised and those closed in the year are counted apart, each range served
    by its index (not one scan of their OR). On PostgreSQL the database sums each breakdown
    and the totals (grouping sets: `_grouped_tallies`). SQLite has no grouping sets: one
    statement counts the groups by GPO, commune, category and outcome, each breakdown and
    the totals are their sums, and the medians are taken from the year's days to close (a
    bounded list, read once). The closed problems come from their summary rows, as on
    PostgreSQL (`_closed_source`)."""
    raised = and_(Problem.created_at >= start, Problem.created_at < end)
    closed = and_(
        Problem.status == ProblemStatus.closed, Problem.closed_at >= start, Problem.closed_at < end
    )
    if session.get_bind().dialect.name == "postgresql":
        tallies = await _grouped_tallies(session, scope, raised, closed, start, end, summarised)
        return await _rows_of(session, tallies)
    problem_keys = [_as_text(breakdown[0]) for breakdown in BREAKDOWNS.values()]
    tallies = defaultdict(_Tally)

    def places(values: Sequence[Any]) -> list[tuple[str, str]]:
        return [
            *((name, str(v)) for name, v in zip(BREAKDOWNS, values, strict=True)),
            (TOTAL, TOTAL),
        ]

    groups: dict[tuple[Any, ...], list[Any]] = {}
    for *values, n_raised in await session.execute(
        select(*problem_keys, func.count()).where(scope, raised).group_by(*problem_keys)
    ):
        groups[(*values, None)] = [n_raised, 0, 0]
    c = ClosedProblem
    source, keys, outcome, closed_where = _closed_source(scope, closed, start, end, summarised)
    keys = [_as_text(keys[0]), *keys[1:]]
    closed_groups = (
        source.add_columns(*keys, outcome, func.count(), _sum_if(c.improved.is_(True)))
        .where(closed_where)
        .group_by(*keys, outcome)
    )
    for *values, closed_outcome, n_closed, n_improved in await session.execute(closed_groups):
        # Closed with no outcome ('' in the summary rows): with those raised, as in one
        # GROUP BY of keys and outcome.
        value = closed_outcome.value if isinstance(closed_outcome, Outcome) else closed_outcome
        counted = groups.setdefault((*values, value or None), [0, 0, 0])
        counted[1] += n_closed
        counted[2] += n_improved
    for group, (n_raised, n_closed, n_improved) in groups.items():
        *values, value = group
        for place in places(values):
            tally = tallies[place]
            tally.raised += n_raised
            tally.closed += n_closed
            tally.improved += n_improved
            if value is not None:
                tally.outcomes[value] = tally.outcomes.get(value, 0) + n_closed
    days = source.add_columns(*keys, _closed_days()).where(closed_where)
    for *values, day in await session.execute(days):
        for place in places(values):
            tallies[place].days.append(float(day))
    return await _rows_of(session, tallies)


def _closed_source(
    scope: ColumnElement[bool],
    closed: ColumnElement[bool],
    start: datetime,
    end: datetime,
    summarised: bool,
) -> tuple[Any, list[Any], Any, ColumnElement[bool]]:
    """Where the year's closed problems are read, their (GPO, commune, category) keys, their
    outcome and the condition: for a reader who sees every problem (`summarised`) their
    summary rows alone (groups, outcome, improved indicator and days to close in one
    index), else the problems' rows in scope joined to their summary row (whether an
    indicator improved)."""
    c = ClosedProblem
    if summarised:
        closed_in_year = and_(c.closed_at >= start, c.closed_at < end)
        return (
            select().select_from(c),
            [c.gpo_id, c.commune_code, c.category],
            c.outcome,
            closed_in_year,
        )
    source = select().select_from(Problem).join(c, c.problem_id == Problem.id)
    keys = [breakdown[0] for breakdown in BREAKDOWNS.values()]
    return source, keys, Problem.outcome, and_(scope, closed)


async def _rows_of(
    session: AsyncSession, tallies: dict[tuple[str, str], _Tally]
) -> dict[str, list[EvaluationRow]]:
    """Each breakdown's rows by label (then key), and the totals' (under TOTAL)."""
    labels = {name: await _labels(session, breakdown) for name, breakdown in BREAKDOWNS.items()}
    rows: dict[str, list[EvaluationRow]] = {name: [] for name in (*BREAKDOWNS, TOTAL)}
    for (name, raw), tally in tallies.items():
        if name == TOTAL:
            rows[TOTAL].append(tally.row(TOTAL, "Total"))
        else:
            key, label = labels[name].get(raw, (raw, raw))
            rows[name].append(tally.row(key, label))
    for found in rows.values():
        found.sort(key=lambda row: (row.label, row.key))
    return rows


def _place(bits: int, values: Sequence[Any]) -> tuple[str, str]:
    """The breakdown and key of a grouping-sets row (`GROUPING_BITS`)."""
    name = GROUPING_BITS[bits]
    return (TOTAL, TOTAL) if name == TOTAL else (name, str(values[list(BREAKDOWNS).index(name)]))


def _by_breakdown(keys: Sequence[Any], *extra: Any) -> tuple[Any, Any]:
    """grouping() of the (GPO, commune, category) keys, and the grouping sets of each key
    and of none, each with `extra`."""
    gpo, commune, category = keys
    sets = (tuple_(gpo, *extra), tuple_(commune, *extra), tuple_(category, *extra))
    return func.grouping(*keys), func.grouping_sets(*sets, tuple_(*extra))


async def _grouped_tallies(
    session: AsyncSession,
    scope: ColumnElement[bool],
    raised: ColumnElement[bool],
    closed: ColumnElement[bool],
    start: datetime,
    end: datetime,
    summarised: bool,
) -> dict[tuple[str, str], _Tally]:
    """PostgreSQL: each breakdown's and the total's sums taken by the database (grouping
    sets), a few hundred rows back rather than every (GPO, commune, category, outcome)
    group of the year (6,333 at a million problems, held by each request: the
    evaluation's memory under load), then the medians (`_medians`). When `summarised` (a
    reader who sees every problem) the closed problems come from their summary rows
    (`figures_closed_problems`: groups, outcome, improved indicator and days to close in
    one index), else from the problems' rows, their summary row saying whether an
    indicator improved."""
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    problem_keys = [breakdown[0] for breakdown in BREAKDOWNS.values()]
    bits, sets = _by_breakdown(problem_keys)
    raised_groups = (
        select(bits, *map(_as_text, problem_keys), func.count()).where(scope, raised).group_by(sets)
    )
    for grouped, *values, n_raised in await session.execute(raised_groups):
        if n_raised:  # the total's group is there even when nothing was raised
            tallies[_place(grouped, values)].raised += n_raised
    c = ClosedProblem
    source, keys, outcome, closed_where = _closed_source(scope, closed, start, end, summarised)
    days = c.days if summarised else days_to_close("postgresql")
    bits, sets = _by_breakdown(keys, outcome)
    closed_keys = [_as_text(keys[0]), *keys[1:]]
    closed_groups = (
        source.add_columns(bits, *closed_keys, outcome, func.count(), _sum_if(c.improved.is_(True)))
        .where(closed_where)
        .group_by(sets)
    )
    for grouped, *values, closed_outcome, n_closed, n_improved in await session.execute(
        closed_groups
    ):
        tally = tallies[_place(grouped, values)]
        tally.closed += n_closed
        tally.improved += n_improved
        value = closed_outcome.value if isinstance(closed_outcome, Outcome) else closed_outcome
        if value:  # closed with no outcome ('' in the summary rows): counted, not an outcome
            tally.outcomes[value] = n_closed
    await _medians(session, tallies, closed_keys, days, closed_where)
    return tallies


# The bits of grouping(gpo, commune, category) for each breakdown: 1 where a key is not
# grouped by.
GROUPING_BITS = {0b011: "gpo", 0b101: "commune", 0b110: "category", 0b111: TOTAL}
# percentile_disc(f) is the value of rank ceil(f × n) in a group of n: 0.5 gives the lower
# middle value (the median when n is odd), 0.5 + 1e-8 the upper one (rank n/2 + 1 when n
# is even, the median again when it is odd) for every n below 10^7 (f × n exact enough).
MIDDLE_RANKS = literal([0.5, 0.5 + 1e-8], ARRAY(Float()))


async def _medians(
    session: AsyncSession,
    tallies: dict[tuple[str, str], _Tally],
    keys: list[Any],
    days: Any,
    condition: ColumnElement[bool],
) -> None:
    """Each breakdown's and the total's median days to close, taken by PostgreSQL in one
    statement (grouping sets) rather than a year's closures sent over: the lower and the
    upper middle values of each group, averaged as `middle_of` does."""
    gpo, commune, category = keys
    statement = (
        select(
            func.grouping(gpo, commune, category),
            *keys,
            func.percentile_disc(MIDDLE_RANKS).within_group(days),
        )
        .where(condition)
        .group_by(func.grouping_sets(tuple_(gpo), tuple_(commune), tuple_(category), tuple_()))
    )
    for bits, *values, middle in await session.execute(statement):
        if middle is None:
            continue  # no closure at all: the total's group is still there, empty
        lower, upper = middle
        tallies[_place(bits, values)].median = round((float(lower) + float(upper)) / 2, 1)


async def _labels(
    session: AsyncSession, breakdown: tuple[Any, Any, Any]
) -> dict[str, tuple[str, str]]:
    """The database's text of a key → (the key as the API shows it, its label)."""
    _key, label, (target, _onclause) = breakdown
    column = {Gpo: Gpo.id, Commune: Commune.code, Category: Category.code}[target]
    statement = select(_as_text(column), column, label)
    return {str(raw): (str(k), str(v)) for raw, k, v in await session.execute(statement)}


async def _organisation_rows(
    session: AsyncSession, principal: Principal, start: datetime, end: datetime
) -> list[OrganisationRow]:
    today = today_in_paris()
    statement = (
        select(
            Action.assignee_organisation_id,
            Organisation.name,
            func.count(),
            _sum_if(Action.status == ActionStatus.done),
            _sum_if(overdue(today)),
            _sum_if(Action.status == ActionStatus.cancelled),
        )
        .join(Organisation, Organisation.id == Action.assignee_organisation_id)
        .where(Action.created_at >= start, Action.created_at < end)
        .group_by(Action.assignee_organisation_id, Organisation.name)
        .order_by(Organisation.name)
    )
    if not access.sees_everything(principal):
        # The actions' problems, only for a reader who does not see them all.
        statement = statement.join(Problem, Problem.id == Action.problem_id).where(
            access.figures_scope(principal)
        )
    return [
        OrganisationRow(
            key=str(k),
            label=name,
            actions_assigned=assigned,
            actions_done=done,
            actions_overdue=overdue,
            actions_cancelled=cancelled,
        )
        for k, name, assigned, done, overdue, cancelled in await session.execute(statement)
    ]


async def annual(session: AsyncSession, principal: Principal, year: int) -> AnnualEvaluation:
    """The contract's evaluation of a year, over the problems the principal sees."""
    scope = access.figures_scope(principal)
    start, end = year_bounds(year)
    summarised = access.sees_everything(principal)
    rows = await _problem_rows(session, scope, start, end, summarised)
    breakdowns = {name: rows[name] for name in BREAKDOWNS}
    total = rows[TOTAL][0] if rows[TOTAL] else _Tally().row(TOTAL, "Total")
    organisations = await _organisation_rows(session, principal, start, end)
    totals = Totals(
        **total.model_dump(),
        actions_assigned=sum(r.actions_assigned for r in organisations),
        actions_done=sum(r.actions_done for r in organisations),
        actions_overdue=sum(r.actions_overdue for r in organisations),
        actions_cancelled=sum(r.actions_cancelled for r in organisations),
    )
    return AnnualEvaluation(
        year=year,
        totals=totals,
        by_gpo=breakdowns["gpo"],
        by_commune=breakdowns["commune"],
        by_category=breakdowns["category"],
        by_organisation=organisations,
    )


# The annual evaluation as a table (CSV, xlsx): a row per (breakdown, key).
EXPORT_COLUMNS = [
    "breakdown",
    "key",
    "label",
    "problems_raised",
    "problems_closed",
    "median_days_to_close",
    "closed_with_improved_indicator",
    *(f"outcome_{o.value}" for o in Outcome),
    "actions_assigned",
    "actions_done",
    "actions_overdue",
    "actions_cancelled",
]


def export_rows(evaluation: AnnualEvaluation) -> list[dict[str, Any]]:
    """One row per (breakdown, key), the totals first."""

    def problem_row(breakdown: str, row: EvaluationRow) -> dict[str, Any]:
        out: dict[str, Any] = {
            "breakdown": breakdown,
            "key": row.key,
            "label": row.label,
            "problems_raised": row.problems_raised,
            "problems_closed": row.problems_closed,
            "median_days_to_close": row.median_days_to_close,
            "closed_with_improved_indicator": row.closed_with_improved_indicator,
        }
        out |= {f"outcome_{o.value}": row.outcomes.get(o.value, 0) for o in Outcome}
        return out

    rows = [problem_row("totals", evaluation.totals)]
    rows[0] |= {
        "actions_assigned": evaluation.totals.actions_assigned,
        "actions_done": evaluation.totals.actions_done,
        "actions_overdue": evaluation.totals.actions_overdue,
        "actions_cancelled": evaluation.totals.actions_cancelled,
    }
    for breakdown, items in (
        ("gpo", evaluation.by_gpo),
        ("commune", evaluation.by_commune),
        ("category", evaluation.by_category),
    ):
        rows += [problem_row(breakdown, row) for row in items]
    rows += [
        {
            "breakdown": "organisation",
            "key": row.key,
            "label": row.label,
            "actions_assigned": row.actions_assigned,
            "actions_done": row.actions_done,
            "actions_overdue": row.actions_overdue,
            "actions_cancelled": row.actions_cancelled,
        }
        for row in evaluation.by_organisation
    ]
    return rows
