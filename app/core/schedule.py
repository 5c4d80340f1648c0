"""Jobs that run once per period across every worker (the morning's reminders).

A worker claims a (job, period) by inserting its row; the insert and the job's work are
one transaction, so of several workers exactly one does it, and a worker that dies while
doing it leaves the period unclaimed for the next one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, dialect_insert


class ScheduledRun(Base):
    __tablename__ = "scheduled_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(20), primary_key=True)
    ran_at: Mapped[datetime]


async def claim(session: AsyncSession, job: str, period: str, now: datetime) -> bool:
    """True if this transaction is the one that runs `job` for `period` (it waits for a
    concurrent claimer to end, then finds the row there)."""
    insert = dialect_insert(session)
    statement = (
        insert(ScheduledRun)
        .values(job=job, period=period, ran_at=now)
        .on_conflict_do_nothing(index_elements=["job", "period"])
        .returning(ScheduledRun.job)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None
