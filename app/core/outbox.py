"""The outbox: what someone outside may need to hear about, written in the transaction of
the change, delivered later by the worker (`app.worker`).

Events are derived from the audit events by a trigger on `audit_events` (migration 0016,
which holds the rules: an audit action, the event it makes, and for some the status the
change ends in): every change is audited in its own transaction already, so no change can
happen without the event it implies, and no event can outlive a rolled-back change. An
audit action `problem.transition` makes an internal `problem.changed`, which the worker
makes a `report.problem_changed` for each report of the problem. An event holds what
happened to which resource, never its content: what each recipient may read of it is
decided when the worker fans it out, with the recipient's own access rules.

`seq` orders the events as they were committed... nearly: two transactions may commit in
the other order than they took their numbers. Order matters per resource only, and the
changes of one resource are serialised by its row lock, so per resource `seq` is the order
of the changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base, dialect_insert

# SQLite gives an autoincrement only to an INTEGER PRIMARY KEY.
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_fanned_out_seq", "fanned_out", "seq"),
        # A reminder is written once per resource and occasion (an action's due date).
        Index("uq_outbox_events_type_resource_id_key", "type", "resource_id", "key", unique=True),
    )

    seq: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4, unique=True)
    type: Mapped[str] = mapped_column(String(40))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # For the scheduled reminders only: what makes one unique (the due date reminded of).
    key: Mapped[str | None] = mapped_column(String(40))
    # Set once the worker has made the event into deliveries (or found no one to tell).
    fanned_out: Mapped[bool] = mapped_column(default=False, server_default=false())


class EventType(StrEnum):
    """What partners' systems may subscribe to (API.md, "Notifications and webhooks")."""

    report_triaged = "report.triaged"
    report_problem_changed = "report.problem_changed"
    action_assigned = "action.assigned"
    action_updated = "action.updated"
    action_due_soon = "action.due_soon"
    action_overdue = "action.overdue"
    meeting_planned = "meeting.planned"
    meeting_held = "meeting.held"
    gpo_cadence_breached = "gpo.cadence_breached"


async def remind(
    session: AsyncSession, event_type: str, resource_type: str, keyed: list[tuple[str, str]]
) -> int:
    """Reminders of `event_type` for (resource id, key) pairs, each written once ever: a
    pair already reminded of is skipped. Returns how many were new."""
    if not keyed:
        return 0
    insert = dialect_insert(session)
    now = utcnow()
    statement = (
        insert(OutboxEvent)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "type": event_type,
                    "resource_type": resource_type,
                    "resource_id": resource_id,
                    "key": key,
                    "occurred_at": now,
                    "fanned_out": False,
                }
                for resource_id, key in keyed
            ]
        )
        .on_conflict_do_nothing(index_elements=["type", "resource_id", "key"])
        .returning(OutboxEvent.seq)
    )
    return len((await session.execute(statement)).all())
