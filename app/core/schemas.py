"""Base models for request and response bodies."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, TypeVar

import orjson
from fastapi import Query, Response
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import to_jsonable_python

from app.core.clock import check_day, check_moment, parse_instant
from app.core.errors import Invalid


class Input(BaseModel):
    """A request body: unknown fields are refused, server-owned fields cannot be set."""

    # JSON has no Infinity or NaN (Python's parser still reads them, and 1e309 as infinity):
    # a non-finite number is refused at its field, never stored (SQLite would keep NULL).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        check_text(value)
        return value

    def provided(self) -> dict[str, Any]:
        """The fields the client sent (PATCH: what was left out stays untouched)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


# Characters no text column may hold: NUL (PostgreSQL refuses it), lone surrogates (they have
# no UTF-8 form) and the other C0 controls but tab and line breaks (nobody types them).
UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
UNSTORABLE_MESSAGE = "may not contain control characters or lone surrogates"


def check_text(value: Any) -> None:
    """ValueError when a string, or a string in a list or mapping, is not storable."""
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            raise ValueError(UNSTORABLE_MESSAGE)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# Trimmed strings with bounds; a blank string is refused.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


def level_field(texts: str, *, floor: str = "the problem's visibility") -> Any:
    """The `visibility` of a record's free texts, as a request field (API.md, "Information
    governance"): optional, defaulting like a comment's."""
    return Field(
        default=None,
        description=f"Who may read {texts}; defaults to {floor} and can only be as strict or "
        "stricter, within what the writer may read (a level below is raised to it; one the "
        "writer could not read gives 422).",
        examples=["police"],
    )


def level_out(texts: str) -> Any:
    """The `visibility` of a record's free texts, in a response."""
    return Field(
        description=f"Who reads {texts}; a reader not cleared for it (or for the problem's "
        "level, if stricter) gets them as null.",
        examples=["partners"],
    )


Code = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")]
CommuneCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]


class Patch(Input):
    """A partial update: fields left out are untouched; null clears only nullable fields."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null")
        return value


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _number(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # built in code, not parsed from a request
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError("must be a date, YYYY-MM-DD")
    return value


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# JSON scalars as JSON means them: no "5" for 5, no true for 1, no 0 for false, no
# 1700000000 for a date (Pydantic's lax mode would accept each).
Integer = Annotated[int, BeforeValidator(_integral), Strict()]
Boolean = Annotated[bool, Strict()]
Number = Annotated[float, BeforeValidator(_number)]
Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(check_day)]
# An instant a client gives in a body: with its offset, within the accepted days.
Moment = Annotated[AwareDatetime, AfterValidator(check_moment)]


INSTANT_PATTERN = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2}))?$"
# A query parameter bounding a period: parsed by `instant_param` once its name is known.
Instant = Annotated[
    str | None,
    Query(
        pattern=INSTANT_PATTERN,
        description="A date (Europe/Paris day) or an RFC 3339 date-time with offset.",
        examples=["2026-03-01"],
    ),
]


def instant_param(
    value: str | None, loc: Sequence[str | int], *, end_of_day: bool = False
) -> datetime | None:
    """An instant given as a date or a date-time (see `parse_instant`); 422 at `loc`."""
    if value is None:
        return None
    try:
        return parse_instant(value, end_of_day=end_of_day)
    except ValueError as exc:
        raise Invalid(loc, str(exc)) from None


def _as_pydantic_writes(value: Any) -> Any:
    """What orjson does not write itself, as Pydantic would: a driver's own UUID class
    (asyncpg's subclass) as its text, anything else by Pydantic's rules."""
    if isinstance(value, uuid.UUID):
        return str(value)
    return to_jsonable_python(value)


_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def to_json(content: Any) -> bytes:
    """Plain data as JSON, byte for byte as Pydantic's serialiser (FastAPI's) writes it
    (tests/test_read_bytes.py), by orjson: a page of 50 problems from asyncpg's rows costs
    Pydantic 0.5 ms, its UUID subclass defeating the fast path, and orjson 0.04 ms."""
    return orjson.dumps(content, default=_as_pydantic_writes, option=_JSON_OPTIONS)


def json_response(content: Any) -> Response:
    """Plain data (dicts in a response model's field order) as JSON, as FastAPI writes the
    model: the reads that skip building models."""
    return Response(to_json(content), media_type="application/json")


OutputT = TypeVar("OutputT", bound=BaseModel)


def shape(model: type[OutputT], obj: object, **computed: Any) -> OutputT:
    """A response model from a stored row's attributes, plus the fields it computes."""
    fields = {name: getattr(obj, name) for name in model.model_fields if name not in computed}
    return model(**fields, **computed)
