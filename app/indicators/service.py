"""Indicators: baselines and measurements as rates per 30 days, and their views.

A rate is `value × 30 / days`, days counting both ends of the period, so that periods of
different lengths compare. Rates are computed once, when a baseline or a measurement is
recorded, and stored; the improvement rule is one SQL expression (models.py), used alike
by the evidence check, the indicator view and the commanders' figures.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.core import audit
from app.core.clock import utcnow
from app.core.db import one_row
from app.core.errors import Invalid
from app.core.pagination import Page
from app.governance import screening
from app.identity.principal import Principal
from app.indicators.models import Direction, Indicator, Measurement, improved, latest_rate
from app.indicators.schemas import (
    BaselineOut,
    IndicatorCreate,
    IndicatorOut,
    IndicatorUpdate,
    MeasurementCreate,
    MeasurementOut,
)
from app.problems.models import Problem


def rate(value: float, start: date, end: date) -> float:
    return value * 30 / ((end - start).days + 1)


# --- Reading --------------------------------------------------------------------------


def visible_indicators(principal: Principal) -> Any:
    """Indicators of the problems the principal sees, with their latest rate and whether it
    improved on the baseline."""
    return (
        select(Indicator, latest_rate(), improved(latest_rate()))
        .join(Problem, Problem.id == Indicator.problem_id)
        .where(access.problem_scope(principal))
    )


def to_out(
    indicator: Indicator,
    latest: float | None,
    is_improved: bool | None,
    measurements: Sequence[Measurement],
) -> IndicatorOut:
    baseline_rate = indicator.baseline_rate
    change_pct = None
    if latest is not None and baseline_rate != 0:
        change_pct = (latest - baseline_rate) / baseline_rate * 100
    target_met = None
    if latest is not None and indicator.target_value is not None:
        target = indicator.target_value
        target_met = (
            latest <= target if indicator.direction is Direction.decrease else latest >= target
        )
    return IndicatorOut(
        id=indicator.id,
        problem_id=indicator.problem_id,
        name=indicator.name,
        unit=indicator.unit,
        direction=indicator.direction,
        baseline=BaselineOut(
            value=indicator.baseline_value,
            period_start=indicator.baseline_start,
            period_end=indicator.baseline_end,
        ),
        target_value=indicator.target_value,
        source=indicator.source,
        measurements=[MeasurementOut.model_validate(m) for m in measurements],
        baseline_rate=baseline_rate,
        latest_rate=latest,
        change_pct=change_pct,
        improved=None if latest is None else bool(is_improved),
        target_met=target_met,
        created_at=indicator.created_at,
        updated_at=indicator.updated_at,
        version=indicator.version,
    )


async def views(session: AsyncSession, rows: Sequence[Any]) -> list[IndicatorOut]:
    """Indicator rows (indicator, latest rate, improved) with their measurements."""
    by_indicator: dict[uuid.UUID, list[Measurement]] = defaultdict(list)
    ids = [row[0].id for row in rows]
    if ids:
        for measurement in await session.scalars(
            select(Measurement)
            .where(Measurement.indicator_id.in_(ids))
            .order_by(Measurement.period_start, Measurement.period_end, Measurement.created_at)
        ):
            by_indicator[measurement.indicator_id].append(measurement)
    return [
        to_out(indicator, latest, is_improved, by_indicator[indicator.id])
        for indicator, latest, is_improved in rows
    ]


async def view(
    session: AsyncSession, principal: Principal, indicator_id: uuid.UUID
) -> IndicatorOut:
    statement = visible_indicators(principal).where(Indicator.id == indicator_id)
    row = await one_row(session, statement, missing="No such indicator.")
    return (await views(session, [row]))[0]


async def of_problem(
    session: AsyncSession, principal: Principal, problem: Problem
) -> Page[IndicatorOut]:
    """A problem's indicators, oldest first (few: one page)."""
    rows = (
        await session.execute(
            visible_indicators(principal)
            .where(Indicator.problem_id == problem.id)
            .order_by(Indicator.created_at, Indicator.id)
        )
    ).all()
    return Page(items=await views(session, rows), next_cursor=None)


async def of_problems(
    session: AsyncSession, principal: Principal, problem_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[IndicatorOut]]:
    """The indicators of several problems, in two queries."""
    found: dict[uuid.UUID, list[IndicatorOut]] = defaultdict(list)
    if not problem_ids:
        return found
    rows = (
        await session.execute(
            visible_indicators(principal)
            .where(Indicator.problem_id.in_(problem_ids))
            .order_by(Indicator.created_at, Indicator.id)
        )
    ).all()
    for out in await views(session, rows):
        found[out.problem_id].append(out)
    return found


async def get_indicator(
    session: AsyncSession,
    principal: Principal,
    indicator_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> tuple[Indicator, Problem]:
    statement = (
        select(Indicator, Problem)
        .join(Problem, Problem.id == Indicator.problem_id)
        .where(access.problem_scope(principal), Indicator.id == indicator_id)
    )
    lock = Indicator if for_update else False
    row = await one_row(session, statement, missing="No such indicator.", lock=lock)
    return row[0], row[1]


# --- Writing --------------------------------------------------------------------------


# An indicator's free texts (its name and source; a measurement's note).
INDICATOR_TEXTS = ("name", "source")


async def create_indicator(
    session: AsyncSession, principal: Principal, problem: Problem, data: IndicatorCreate
) -> Indicator:
    indicator_id = uuid.uuid4()
    data = screening.screen_model(
        session,
        principal,
        data,
        INDICATOR_TEXTS,
        level=problem.visibility,
        resource_type="indicator",
        resource_id=indicator_id,
    )
    baseline = data.baseline
    now = utcnow()
    indicator = Indicator(
        id=indicator_id,
        problem_id=problem.id,
        name=data.name,
        unit=data.unit,
        direction=data.direction,
        baseline_value=baseline.value,
        baseline_start=baseline.period_start,
        baseline_end=baseline.period_end,
        baseline_rate=rate(baseline.value, baseline.period_start, baseline.period_end),
        target_value=data.target_value,
        source=data.source,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await audit.add_created(
        session,
        principal,
        indicator,
        resource_type="indicator",
        summary=wording.summary(
            "indicator.create",
            name=indicator.name,
            value=baseline.value,
            unit=indicator.unit,
            start=baseline.period_start,
            end=baseline.period_end,
        ),
        problem_id=problem.id,
        values=data.model_dump(),
    )
    return indicator


async def update_indicator(
    session: AsyncSession,
    principal: Principal,
    indicator: Indicator,
    problem: Problem,
    data: IndicatorUpdate,
) -> Indicator:
    values = screening.screen(
        session,
        principal,
        data.provided(),
        INDICATOR_TEXTS,
        level=problem.visibility,
        resource_type="indicator",
        resource_id=indicator.id,
    )
    await audit.update(
        session,
        principal,
        indicator,
        values,
        resource_type="indicator",
        summary=wording.summary("indicator.update", name=indicator.name),
        problem_id=problem.id,
    )
    return indicator


async def add_measurement(
    session: AsyncSession,
    principal: Principal,
    indicator: Indicator,
    problem: Problem,
    data: MeasurementCreate,
) -> Measurement:
    if data.period_end < indicator.baseline_start:
        raise Invalid(
            ["body", "period_end"],
            "the period ends before the baseline period starts",
            fr=wording.refused("measurement.before_baseline"),
        )
    if data.period_start <= indicator.baseline_end:
        raise Invalid(
            ["body", "period_start"],
            f"the period overlaps the baseline period (which ends {indicator.baseline_end})",
            fr=wording.refused("measurement.overlaps_baseline", end=indicator.baseline_end),
        )
    measurement_id = uuid.uuid4()
    data = screening.screen_model(
        session,
        principal,
        data,
        ["note"],
        level=problem.visibility,
        resource_type="measurement",
        resource_id=measurement_id,
    )
    measurement = Measurement(
        id=measurement_id,
        indicator_id=indicator.id,
        period_start=data.period_start,
        period_end=data.period_end,
        value=data.value,
        rate=rate(data.value, data.period_start, data.period_end),
        note=data.note,
        created_by=principal.user_id,
        created_at=utcnow(),
    )
    await audit.add_created(
        session,
        principal,
        measurement,
        resource_type="measurement",
        summary=wording.summary(
            "measurement.create",
            name=indicator.name,
            value=data.value,
            unit=indicator.unit,
            start=data.period_start,
            end=data.period_end,
        ),
        problem_id=problem.id,
        values=data.model_dump(),
    )
    # A new measurement changes what the indicator shows: its version moves with it.
    indicator.version += 1
    indicator.updated_at = utcnow()
    await session.flush()
    return measurement
