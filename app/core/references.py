"""Human references (`P-2026-000123`): a number per prefix and year.

A problem's number comes from a counter row bumped by an upsert in the caller's
transaction: two concurrent creations never get the same number (unlike `max() + 1`), and
a rolled-back creation gives its number back. The row stays locked until that
transaction ends, so creations of the same prefix take turns: right for a facilitator's
problems, consecutive in the minutes.

A report's number, on PostgreSQL, comes from a sequence of its year (`reference_next`,
migration 0023), which holds nothing: reports arrive from partners' systems at a rate a
locked row made queue. Never the same number twice either, but one taken by an intake that
fails is not given back. SQLite, one writer at a time, keeps the counter for both.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import PARIS
from app.core.db import Base, dialect_insert


class Counter(Base):
    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int]


@functools.cache
def _bump(insert: Any) -> Any:
    """The counter's upsert, built once for the dialect's `insert`."""
    return (
        insert(Counter)
        .values(name=bindparam("name", type_=String()), value=1)
        .on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )


# The prefixes whose numbers come from a sequence on PostgreSQL (see above).
SEQUENCED = frozenset({"R"})
_FROM_SEQUENCE = select(func.reference_next(bindparam("name", type_=String())))


async def next_reference(session: AsyncSession, prefix: str, at: datetime) -> str:
    year = at.astimezone(PARIS).year
    name = f"{prefix}-{year}"
    connection = await session.connection()
    if prefix in SEQUENCED and connection.dialect.name == "postgresql":
        statement = _FROM_SEQUENCE
    else:
        statement = _bump(dialect_insert(session))
    value = (await connection.execute(statement, {"name": name})).scalar_one()
    return f"{name}-{value:06d}"
