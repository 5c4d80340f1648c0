"""Human references (`P-2026-000123`): a counter row per prefix and year.

The counter is bumped with an upsert in the caller's transaction, so two concurrent
creations never get the same number (unlike `max() + 1`), and a rolled-back creation
gives its number back.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam
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


async def next_reference(session: AsyncSession, prefix: str, at: datetime) -> str:
    year = at.astimezone(PARIS).year
    name = f"{prefix}-{year}"
    connection = await session.connection()
    value = (await connection.execute(_bump(dialect_insert(session)), {"name": name})).scalar_one()
    return f"{name}-{value:06d}"
