"""Summary rows of the figures, kept exact by triggers (PostgreSQL's since migration 0008,
SQLite's since 0027) in the transaction of every change to problems, actions, indicators and
measurements, whoever makes it.

- `figures_problem_counts`: problems by GPO, commune, category, status, outcome ('' when
  none) and whether an indicator of theirs has a measurement;
- `figures_closing_days`: closed problems by GPO, commune and whole days to close (the
  floor of the days to close), the histogram that locates the median;
- `figures_closed_problems`: each closed problem's exact days to close, indexed, to read the
  one or two middle values inside the histogram's day; with its closing time, category,
  outcome and whether it has an improved indicator (its latest measurement better than the
  baseline), indexed for the annual evaluation's year (migration 0014);
- `figures_measured_problems`: the problems with a measured indicator (the state the
  triggers compare with);
- `figures_open_actions`: open actions by due date and assignee organisation (migration
  0022, kept by a trigger on actions);
- the overview's totals over every GPO and commune (migration 0025), kept by triggers on
  the two summaries above them: `figures_status_totals` (by status, outcome and measured),
  `figures_category_totals`, `figures_commune_totals`, and `figures_day_totals` (the
  closing days' histogram by day alone).

On SQLite (one district's embedded database) triggers of its own keep the same rows
(migration 0027), and the figures read them as on PostgreSQL (`app.figures.service`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.actions.models import Action
from app.core.db import Base

# The figures' reads of actions, served by indexes alone: overdue actions by organisation
# (the open ones only), and the actions created in a year by organisation and status.
OPEN_ACTIONS = text("status IN ('planned', 'in_progress')")
Index(
    "ix_actions_open_organisation_due_date",
    Action.assignee_organisation_id,
    Action.due_date,
    postgresql_where=OPEN_ACTIONS,
    sqlite_where=OPEN_ACTIONS,
)
Index(
    "ix_actions_created_at_organisation",
    Action.created_at,
    Action.assignee_organisation_id,
    Action.status,
    Action.due_date,
)


class ProblemCount(Base):
    __tablename__ = "figures_problem_counts"

    gpo_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    commune_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    category: Mapped[str] = mapped_column(String(50), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(22), primary_key=True)
    measured: Mapped[bool] = mapped_column(primary_key=True)
    problems: Mapped[int]


class ClosingDays(Base):
    __tablename__ = "figures_closing_days"

    gpo_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    commune_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    day: Mapped[int] = mapped_column(primary_key=True)
    problems: Mapped[int]


class ClosedProblem(Base):
    __tablename__ = "figures_closed_problems"
    __table_args__ = (
        Index("ix_figures_closed_problems_days", "days", "gpo_id", "commune_code"),
        Index(
            "ix_figures_closed_problems_closed_at",
            "closed_at",
            "gpo_id",
            "commune_code",
            "category",
            "outcome",
            "improved",
            "days",
        ),
    )

    problem_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gpo_id: Mapped[uuid.UUID]
    commune_code: Mapped[str] = mapped_column(String(5))
    category: Mapped[str] = mapped_column(String(50))
    outcome: Mapped[str] = mapped_column(String(22))  # '' when none, as in the counts
    closed_at: Mapped[datetime]
    improved: Mapped[bool]
    # extract(epoch from closed_at - created_at) / 86400.0, exactly as the figures compute it.
    days: Mapped[Decimal] = mapped_column(Numeric())


class MeasuredProblem(Base):
    __tablename__ = "figures_measured_problems"

    problem_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class OpenActions(Base):
    """Open actions by due date and organisation (migration 0022): the overdue ones of a
    reader who sees them all are those due before today."""

    __tablename__ = "figures_open_actions"

    due_date: Mapped[date] = mapped_column(primary_key=True)
    assignee_organisation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    actions: Mapped[int]


class StatusTotal(Base):
    """`figures_problem_counts` summed by status, outcome and measured (migration 0025)."""

    __tablename__ = "figures_status_totals"

    status: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(22), primary_key=True)
    measured: Mapped[bool] = mapped_column(primary_key=True)
    problems: Mapped[int]


class CategoryTotal(Base):
    __tablename__ = "figures_category_totals"

    category: Mapped[str] = mapped_column(String(50), primary_key=True)
    problems: Mapped[int]


class CommuneTotal(Base):
    __tablename__ = "figures_commune_totals"

    commune_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    problems: Mapped[int]


class DayTotal(Base):
    """`figures_closing_days` summed by day."""

    __tablename__ = "figures_day_totals"

    day: Mapped[int] = mapped_column(primary_key=True)
    problems: Mapped[int]
