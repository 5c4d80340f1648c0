from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from app.core.schemas import (
    Day,
    Input,
    Name,
    Number,
    Output,
    Patch,
    ShortText,
    level_field,
    level_out,
)
from app.core.visibility import Visibility
from app.governance.screening import Screened
from app.indicators.models import Direction
from app.problems.schemas import Note

Value = Annotated[Number, Field(ge=0, examples=[42])]


class Period(Input):
    period_start: Day = Field(examples=["2026-01-01"])
    period_end: Day = Field(description="Included.", examples=["2026-01-31"])

    @field_validator("period_end")
    @classmethod
    def _not_before_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("period_start")
        if start is not None and value < start:
            raise ValueError("period_end is before period_start")
        return value


class Baseline(Period):
    value: Value


class IndicatorCreate(Input):
    name: Name = Field(examples=["Appels au 17 pour le 4 rue de Toul"])
    unit: Name = Field(examples=["appels"])
    direction: Direction = Field(examples=["decrease"])
    baseline: Baseline
    target_value: Value | None = Field(
        default=None, description="A rate per 30 days to reach.", examples=[10]
    )
    source: ShortText | None = Field(default=None, examples=["Main courante, CIC Metz"])
    visibility: Visibility | None = level_field("the source")


class IndicatorUpdate(Patch):
    nullable = frozenset({"target_value", "source"})

    name: Name | None = Field(default=None, examples=["Appels au 17, 4 rue de Toul"])
    unit: Name | None = None
    target_value: Value | None = None
    source: ShortText | None = None
    visibility: Visibility | None = level_field("the source")


class MeasurementCreate(Period):
    value: Value
    note: Note | None = Field(default=None, examples=["Chiffres CIC, février."])
    visibility: Visibility | None = level_field("the note")


class BaselineOut(Output):
    value: float
    period_start: date
    period_end: date


class MeasurementOut(Output):
    id: uuid.UUID
    indicator_id: uuid.UUID
    period_start: date
    period_end: date
    value: float
    rate: float = Field(description="value × 30 / days of the period (both dates included).")
    note: str | None
    visibility: Visibility = level_out("the note")
    created_at: datetime


class IndicatorOut(Output):
    id: uuid.UUID
    problem_id: uuid.UUID
    name: str = Field(examples=["Appels au 17 pour le 4 rue de Toul"])
    unit: str
    direction: Direction
    baseline: BaselineOut
    target_value: float | None
    source: str | None
    visibility: Visibility = level_out("the source")
    measurements: list[MeasurementOut] = Field(description="Oldest period first.")
    baseline_rate: float = Field(description="Baseline value × 30 / days.")
    latest_rate: float | None = Field(description="Rate of the latest measurement.")
    change_pct: float | None = Field(
        description="(latest_rate - baseline_rate) / baseline_rate × 100; null when the "
        "baseline rate is 0 or nothing was measured."
    )
    improved: bool | None = Field(description="latest_rate better than baseline_rate.")
    target_met: bool | None = Field(
        description="latest_rate at or beyond target_value in the indicator's direction."
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(examples=[2])


class IndicatorWritten(Screened, IndicatorOut):
    """An indicator as a write left it, with what its texts held."""


class MeasurementWritten(Screened, MeasurementOut):
    """A measurement as stored, with what its note held."""
