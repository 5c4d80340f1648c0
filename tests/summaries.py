"""The figures' summary rows as stored, and as recomputed from the rows they summarise
(`app.figures.models`), for a test to compare: whatever changed the rows, the triggers
(PostgreSQL's or SQLite's) must have left the first equal to the second. Rows with a zero
count, which the triggers keep, are left out of both."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from sqlalchemy import Float, Numeric, String, extract, func, literal_column, select, type_coerce
from sqlalchemy.engine import Connection

from app.actions.models import OPEN_STATUSES, Action
from app.figures import models as m
from app.figures import service
from app.indicators.models import Indicator, Measurement, has_improved_indicator
from app.problems.models import Problem, ProblemStatus


def _counted(rows: Any) -> dict[tuple[Any, ...], int]:
    return {tuple(key): n for *key, n in rows if n}


def _days(column: Any, dialect: str) -> Any:
    """Days to close as each database holds them exactly: a float on SQLite (not its
    NUMERIC read as a Decimal rounded), PostgreSQL's numeric."""
    return type_coerce(column, Float() if dialect == "sqlite" else Numeric())


def _raw(due_date: Any) -> Any:
    """A due date as stored: the test's hand-made `due_date - interval` leaves a number
    there on SQLite, which a date cannot be read from (the figures compare it as stored)."""
    return type_coerce(due_date, String())


def _days_to_close(dialect: str) -> Any:
    """As the triggers compute it: SQLite's as its figures do; PostgreSQL's in numeric (the
    figures' statement divides by a float parameter, in double precision)."""
    if dialect == "sqlite":
        return service.days_to_close(dialect)
    interval = Problem.closed_at - Problem.created_at
    return extract("epoch", interval) / literal_column("86400.0", Numeric())


def stored(connection: Connection) -> dict[str, Any]:
    dialect = connection.dialect.name
    c = m.ClosedProblem

    def rows(*columns: Any) -> dict[tuple[Any, ...], int]:
        return _counted(connection.execute(select(*columns)))

    return {
        "measured": set(connection.scalars(select(m.MeasuredProblem.problem_id))),
        "counts": rows(*m.ProblemCount.__table__.c),
        "closing_days": rows(*m.ClosingDays.__table__.c),
        "closed": {
            tuple(row)
            for row in connection.execute(
                select(
                    c.problem_id,
                    c.gpo_id,
                    c.commune_code,
                    c.category,
                    c.outcome,
                    c.closed_at,
                    c.improved,
                    _days(c.days, dialect),
                )
            )
        },
        "open_actions": rows(
            _raw(m.OpenActions.due_date),
            m.OpenActions.assignee_organisation_id,
            m.OpenActions.actions,
        ),
        "status_totals": rows(*m.StatusTotal.__table__.c),
        "category_totals": rows(*m.CategoryTotal.__table__.c),
        "commune_totals": rows(*m.CommuneTotal.__table__.c),
        "day_totals": rows(*m.DayTotal.__table__.c),
    }


def recomputed(connection: Connection) -> dict[str, Any]:
    """The same from the problems, indicators, measurements and actions."""
    dialect = connection.dialect.name
    measured = set(
        connection.scalars(
            select(Indicator.problem_id)
            .where(select(Measurement.id).where(Measurement.indicator_id == Indicator.id).exists())
            .distinct()
        )
    )
    counts: Counter[tuple[Any, ...]] = Counter()
    for gpo, commune, category, status, outcome, problem_id in connection.execute(
        select(
            Problem.gpo_id,
            Problem.commune_code,
            Problem.category,
            Problem.status,
            Problem.outcome,
            Problem.id,
        )
    ):
        key = (gpo, commune, category, str(status), str(outcome or ""), problem_id in measured)
        counts[key] += 1
    closed_rows = connection.execute(
        select(
            Problem.id,
            Problem.gpo_id,
            Problem.commune_code,
            Problem.category,
            func.coalesce(type_coerce(Problem.outcome, String()), ""),
            Problem.closed_at,
            has_improved_indicator(Problem.id),
            _days(_days_to_close(dialect), dialect),
        ).where(Problem.status == ProblemStatus.closed, Problem.closed_at.is_not(None))
    ).all()
    closed = {tuple(row) for row in closed_rows}
    closing_days = Counter((row[1], row[2], math.floor(row[7])) for row in closed_rows)
    open_actions = _counted(
        connection.execute(
            select(_raw(Action.due_date), Action.assignee_organisation_id, func.count())
            .where(Action.status.in_(OPEN_STATUSES))
            .group_by(Action.due_date, Action.assignee_organisation_id)
        )
    )

    def summed(rows: Counter[tuple[Any, ...]], *places: int) -> dict[tuple[Any, ...], int]:
        totals: Counter[tuple[Any, ...]] = Counter()
        for key, n in rows.items():
            totals[tuple(key[i] for i in places)] += n
        return _counted((*key, n) for key, n in totals.items())

    return {
        "measured": measured,
        "counts": _counted((*key, n) for key, n in counts.items()),
        "closing_days": _counted((*key, n) for key, n in closing_days.items()),
        "closed": closed,
        "open_actions": open_actions,
        "status_totals": summed(counts, 3, 4, 5),
        "category_totals": summed(counts, 2),
        "commune_totals": summed(counts, 1),
        "day_totals": summed(closing_days, 2),
    }
