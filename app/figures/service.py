"""Figures, aggregated in SQL: counts by group, medians by window functions (which both
SQLite and PostgreSQL have), evidence and improvement as EXISTS over indicators."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, extract, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access
from app.actions.models import Action, ActionStatus, overdue
from app.core.clock import PARIS, today_in_paris
from app.figures.schemas import AnnualEvaluation, EvaluationRow, OrganisationRow, Overview, Totals
from app.gpos.models import Gpo
from app.identity.principal import Principal
from app.indicators.models import has_improved_indicator, has_measured_indicator
from app.problems.models import Outcome, Problem, ProblemStatus
from app.reference.models import Category, Commune, Organisation

# Closed as a duplicate or out of scope: nothing was attempted, nothing to prove.
NOT_WORKED_ON = (Outcome.duplicate, Outcome.not_in_scope)


def days_to_close(dialect: str) -> Any:
    if dialect == "postgresql":
        return extract("epoch", Problem.closed_at - Problem.created_at) / 86400.0
    return func.julianday(Problem.closed_at) - func.julianday(Problem.created_at)


async def medians(
    session: AsyncSession, key: Any, value: Any, condition: ColumnElement[bool]
) -> dict[Any, float]:
    """The median of `value` per `key`, ranked with window functions in the database."""
    ranked = (
        select(
            key.label("key"),
            value.label("value"),
            func.row_number().over(partition_by=key, order_by=value).label("rank"),
            func.count().over(partition_by=key).label("size"),
        )
        .select_from(Problem)
        .where(condition)
        .subquery()
    )
    middle = or_(
        ranked.c.rank == (ranked.c.size + 1) // 2, ranked.c.rank == (ranked.c.size + 2) // 2
    )
    rows = await session.execute(
        select(ranked.c.key, func.avg(ranked.c.value)).where(middle).group_by(ranked.c.key)
    )
    return {k: round(float(v), 1) for k, v in rows}


def _sum_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass(frozen=True)
class OverviewFilters:
    gpo_id: uuid.UUID | None = None
    commune_code: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


async def overview(session: AsyncSession, principal: Principal, f: OverviewFilters) -> Overview:
    """The figures of the problems the principal sees (its readers: `access.FiguresReader`)."""
    dialect = session.get_bind().dialect.name
    condition = access.figures_scope(principal)
    if f.gpo_id is not None:
        condition &= Problem.gpo_id == f.gpo_id
    if f.commune_code is not None:
        condition &= Problem.commune_code == f.commune_code
    if f.created_from is not None:
        condition &= Problem.created_at >= f.created_from
    if f.created_to is not None:
        condition &= Problem.created_at <= f.created_to

    async def count_by(column: Any) -> dict[str, int]:
        rows = await session.execute(
            select(column, func.count()).select_from(Problem).where(condition).group_by(column)
        )
        return {str(getattr(k, "value", k)): n for k, n in rows}

    by_status = dict.fromkeys((s.value for s in ProblemStatus), 0) | await count_by(Problem.status)
    overdue_rows = await session.execute(
        select(Action.assignee_organisation_id, func.count())
        .join(Problem, Problem.id == Action.problem_id)
        .where(condition, overdue(today_in_paris()))
        .group_by(Action.assignee_organisation_id)
    )
    closed = and_(condition, Problem.status == ProblemStatus.closed)
    median = next(
        iter(
            (await medians(session, literal_column("1"), days_to_close(dialect), closed)).values()
        ),
        None,
    )
    worked_on = and_(closed, Problem.outcome.not_in(NOT_WORKED_ON))
    denominator, numerator = (
        await session.execute(
            select(func.count(), _sum_if(has_measured_indicator(Problem.id)))
            .select_from(Problem)
            .where(worked_on)
        )
    ).one()
    return Overview(
        problems_by_status=by_status,
        problems_by_category=await count_by(Problem.category),
        problems_by_commune=await count_by(Problem.commune_code),
        overdue_actions_by_organisation={str(k): n for k, n in overdue_rows},
        median_days_to_close=median,
        closed_with_evidence_ratio=round(numerator / denominator, 4) if denominator else None,
    )


# --- The annual evaluation ----------------------------------------------------------------


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The civil year in Europe/Paris, as instants."""
    start = datetime(year, 1, 1, tzinfo=PARIS)
    return start, datetime(year + 1, 1, 1, tzinfo=PARIS)


BREAKDOWNS: dict[str, tuple[Any, Any, Any]] = {
    # name: (key column, label column, (table to join, join condition))
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


async def _problem_rows(
    session: AsyncSession,
    scope: ColumnElement[bool],
    start: datetime,
    end: datetime,
    breakdown: tuple[Any, Any, Any] | None,
) -> dict[str, EvaluationRow]:
    """Evaluation rows per key of a breakdown, or the one row of totals (None)."""
    dialect = session.get_bind().dialect.name
    raised = and_(Problem.created_at >= start, Problem.created_at < end)
    closed = and_(
        Problem.status == ProblemStatus.closed, Problem.closed_at >= start, Problem.closed_at < end
    )
    figures = (
        _sum_if(raised),
        _sum_if(closed),
        _sum_if(and_(closed, has_improved_indicator(Problem.id))),
    )
    if breakdown is None:
        # One group: a constant key (PostgreSQL refuses constants in GROUP BY).
        key: Any = literal_column("1")
        statement = select(key, literal_column("'Total'"), *figures).select_from(Problem)
        statement = statement.where(scope, or_(raised, closed))
    else:
        key, label, (target, onclause) = breakdown
        statement = (
            select(key, label, *figures)
            .select_from(Problem)
            .join(target, onclause)
            .where(scope, or_(raised, closed))
            .group_by(key, label)
        )
    rows: dict[str, EvaluationRow] = {}
    for k, name, n_raised, n_closed, n_improved in await session.execute(statement):
        if breakdown is None and not (n_raised or n_closed):
            continue
        name_key = TOTAL if breakdown is None else str(k)
        rows[name_key] = EvaluationRow(
            key=name_key,
            label=str(name),
            problems_raised=n_raised,
            problems_closed=n_closed,
            outcomes={},
            median_days_to_close=None,
            closed_with_improved_indicator=n_improved,
        )
    group = [] if breakdown is None else [key]
    outcome_rows = await session.execute(
        select(key, Problem.outcome, func.count())
        .select_from(Problem)
        .where(scope, closed)
        .group_by(*group, Problem.outcome)
    )
    for k, outcome, count in outcome_rows:
        row = rows.get(TOTAL if breakdown is None else str(k))
        if row is not None and outcome is not None:
            row.outcomes[outcome.value] = count
    for k, median in (
        await medians(session, key, days_to_close(dialect), and_(scope, closed))
    ).items():
        row = rows.get(TOTAL if breakdown is None else str(k))
        if row is not None:
            row.median_days_to_close = median
    return rows


async def _organisation_rows(
    session: AsyncSession, scope: ColumnElement[bool], start: datetime, end: datetime
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
        .join(Problem, Problem.id == Action.problem_id)
        .join(Organisation, Organisation.id == Action.assignee_organisation_id)
        .where(scope, Action.created_at >= start, Action.created_at < end)
        .group_by(Action.assignee_organisation_id, Organisation.name)
        .order_by(Organisation.name)
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
    breakdowns = {
        name: sorted(
            (await _problem_rows(session, scope, start, end, breakdown)).values(),
            key=lambda row: row.label,
        )
        for name, breakdown in BREAKDOWNS.items()
    }
    total = (await _problem_rows(session, scope, start, end, None)).get(TOTAL) or EvaluationRow(
        key=TOTAL,
        label="Total",
        problems_raised=0,
        problems_closed=0,
        outcomes={},
        median_days_to_close=None,
        closed_with_improved_indicator=0,
    )
    organisations = await _organisation_rows(session, scope, start, end)
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


CSV_COLUMNS = [
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


def csv_rows(evaluation: AnnualEvaluation) -> list[dict[str, Any]]:
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
