from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, String, Text, and_, exists, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, str_enum
from app.core.visibility import Visibility


class Direction(StrEnum):
    """Which way is better."""

    decrease = "decrease"
    increase = "increase"


class Indicator(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "indicators"
    __table_args__ = (Index("ix_indicators_problem_id_created_at", "problem_id", "created_at"),)

    problem_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("problems.id"))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(100))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "indicator_direction"))
    baseline_value: Mapped[float]
    baseline_start: Mapped[date]
    baseline_end: Mapped[date]
    # value × 30 / days, fixed with the baseline: the figures compare rates in SQL.
    baseline_rate: Mapped[float]
    target_value: Mapped[float | None]
    source: Mapped[str | None] = mapped_column(String(500))
    # Who reads the source (never less than the problem's level).
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "indicator_visibility"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class Measurement(UUIDPrimaryKey, Base):
    __tablename__ = "measurements"
    __table_args__ = (
        Index("ix_measurements_indicator_id_period_end", "indicator_id", "period_end"),
    )

    indicator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    value: Mapped[float]
    rate: Mapped[float]
    note: Mapped[str | None] = mapped_column(Text)
    # Who reads the note (never less than the problem's level).
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "measurement_visibility"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- The improvement rule, as SQL over these tables ---------------------------------------


def latest_rate() -> Any:
    """The rate of the indicator's latest measurement (latest period end), or NULL."""
    return (
        select(Measurement.rate)
        .where(Measurement.indicator_id == Indicator.id)
        .order_by(
            Measurement.period_end.desc(),
            Measurement.period_start.desc(),
            Measurement.created_at.desc(),
            Measurement.id.desc(),
        )
        .limit(1)
        .scalar_subquery()
    )


def improved(latest: Any) -> ColumnElement[bool]:
    """The latest rate is strictly better than the baseline rate, in the direction.

    Every measurement starts after the baseline period ends (the service refuses others),
    so the latest measurement is the one API.md's evidence rule speaks of.
    """
    return or_(
        and_(Indicator.direction == Direction.decrease, latest < Indicator.baseline_rate),
        and_(Indicator.direction == Direction.increase, latest > Indicator.baseline_rate),
    )


def has_improved_indicator(problem_id: Any) -> ColumnElement[bool]:
    return exists().where(Indicator.problem_id == problem_id, improved(latest_rate()))


def has_measured_indicator(problem_id: Any) -> ColumnElement[bool]:
    """An indicator with a baseline and a later measurement."""
    return exists().where(
        Indicator.problem_id == problem_id,
        exists().where(Measurement.indicator_id == Indicator.id),
    )
