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
from app.core.schemas import shape
from app.core.visibility import Visibility, at_least
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
    """Indicators of the problems the principal sees, with their latest rate, whether it
    improved on the baseline, and their source where the principal is cleared for it."""
    source = access.text_if_readable(
        principal, Indicator.source, Indicator.visibility, Problem.visibility
    )
    return (
        select(Indicator, latest_rate(), improved(latest_rate()), source)
        .join(Problem, Problem.id == Indicator.problem_id)
        .where(access.problem_scope(principal))
    )


def to_out(
    indicator: Indicator,
    latest: float | None,
    is_improved: bool | None,
    source: str | None,
    measurements: Sequence[MeasurementOut],
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
        source=source,
        visibility=indicator.visibility,
        measurements=list(measurements),
        baseline_rate=baseline_rate,
        latest_rate=latest,
        change_pct=change_pct,
        improved=None if latest is None else bool(is_improved),
        target_met=target_met,
        created_at=indicator.created_at,
        updated_at=indicator.updated_at,
        version=indicator.version,
    )


async def views(
    session: AsyncSession, principal: Principal, rows: Sequence[Any]
) -> list[IndicatorOut]:
    """Indicator rows (`visible_indicators`) with their measurements, each note null where
    the principal is not cleared for it."""
    by_indicator: dict[uuid.UUID, list[MeasurementOut]] = defaultdict(list)
    ids = [row[0].id for row in rows]
    if ids:
        note = access.text_if_readable(
            principal, Measurement.note, Measurement.visibility, Problem.visibility
        )
        for measurement, shown in await session.execute(
            select(Measurement, note)
            .join(Indicator, Indicator.id == Measurement.indicator_id)
            .join(Problem, Problem.id == Indicator.problem_id)
            .where(Measurement.indicator_id.in_(ids))
            .order_by(Measurement.period_start, Measurement.period_end, Measurement.created_at)
        ):
            out = shape(MeasurementOut, measurement, note=shown)
            by_indicator[measurement.indicator_id].append(out)
    return [
        to_out(indicator, latest, is_improved, source, by_indicator[indicator.id])
        for indicator, latest, is_improved, source in rows
    ]


async def view(
    session: AsyncSession, principal: Principal, indicator_id: uuid.UUID
) -> IndicatorOut:
    statement = visible_indicators(principal).where(Indicator.id == indicator_id)
    row = await one_row(session, statement, missing="No such indicator.")
    return (await views(session, principal, [row]))[0]


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
    return Page(items=await views(session, principal, rows), next_cursor=None)


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
    for out in await views(session, principal, rows):
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


def source_texts(level: Visibility) -> audit.Texts:
    """An indicator's source, read at the indicator's level."""
    return audit.Texts(frozenset({"source"}), level)


async def create_indicator(
    session: AsyncSession, principal: Principal, problem: Problem, data: IndicatorCreate
) -> Indicator:
    level = access.level_to_write(principal, data.visibility, problem.visibility)
    indicator_id = uuid.uuid4()
    data = screening.screen_at(
        session,
        principal,
        data,
        {"name": problem.visibility, "source": level},
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
        visibility=level,
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
        values=data.model_dump() | {"visibility": level},
        texts=source_texts(level),
    )
    return indicator


async def update_indicator(
    session: AsyncSession,
    principal: Principal,
    indicator: Indicator,
    problem: Problem,
    data: IndicatorUpdate,
) -> Indicator:
    values = data.provided()
    level = access.level_after_change(principal, values, indicator.visibility, problem.visibility)
    if screening.masks_identifiers(level) and not screening.masks_identifiers(
        at_least(indicator.visibility, problem.visibility)
    ):
        values = {"source": indicator.source} | values  # lowered: read by more people now
    values = screening.screen_at(
        session,
        principal,
        values,
        {"name": problem.visibility, "source": level},
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
        texts=source_texts(level),
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
    level = access.level_to_write(principal, data.visibility, problem.visibility)
    measurement_id = uuid.uuid4()
    data = screening.screen_model(
        session,
        principal,
        data,
        ["note"],
        level=level,
        resource_type="measurement",
        resource_id=measurement_id,
    )
    measurement = Measurement(
        id=measurement_id,
        indicator_id=indicator.id,
        visibility=level,
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
        values=data.model_dump() | {"visibility": level},
        texts=audit.Texts(frozenset({"note"}), level),
    )
    # A new measurement changes what the indicator shows: its version moves with it.
    indicator.version += 1
    indicator.updated_at = utcnow()
    await session.flush()
    return measurement
