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

from sqlalchemy import String, Table, bindparam, func, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import PARIS
from app.core.db import Base, dialect_insert, dialect_of, fetch_rows


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


# The prefixes whose numbers come from a sequence on PostgreSQL (see above), taken by the
# insert itself (`reference_take`, migration 0023).
SEQUENCED = frozenset({"R"})
_TAKE = func.reference_take(bindparam("reference_name", type_=String()))


@functools.cache
def _plain_insert(table: Table) -> Any:
    return insert(table)


@functools.cache
def _numbered_insert(table: Table) -> Any:
    return insert(table).values(reference=_TAKE).returning(table.c.reference)


async def insert_with_reference(
    session: AsyncSession, table: Table, row: dict[str, Any], prefix: str, at: datetime
) -> str:
    """Store `row` (every column but `reference`) with a new reference, and return it (also
    set in `row`). On PostgreSQL for a sequenced prefix the insert takes the number itself:
    one round trip. Otherwise it is taken just before the insert."""
    if prefix in SEQUENCED and dialect_of(session).name == "postgresql":
        name = f"{prefix}-{at.astimezone(PARIS).year}"
        values = {k: v for k, v in row.items() if k != "reference"} | {"reference_name": name}
        found = await fetch_rows(session, _numbered_insert(table), values)
        row["reference"] = reference = str(found[0][0])
        return reference
    row["reference"] = reference = await next_reference(session, prefix, at)
    await fetch_rows(session, _plain_insert(table), row)
    return reference


async def next_reference(session: AsyncSession, prefix: str, at: datetime) -> str:
    """The next reference from the counter's row (a sequenced prefix on PostgreSQL takes
    its own in `insert_with_reference`)."""
    year = at.astimezone(PARIS).year
    name = f"{prefix}-{year}"
    connection = await session.connection()
    value = (await connection.execute(_bump(dialect_insert(session)), {"name": name})).scalar_one()
    return f"{name}-{value:06d}"
