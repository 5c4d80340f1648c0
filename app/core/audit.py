"""Audit events: one row per change, written in the transaction of the change.

A problem's timeline is read from here (events carry the problem they belong to), so what
the timeline shows is exactly what was recorded.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import BigInteger, ForeignKey, Index, String, Table, Text, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base, JSONType, UUIDPrimaryKey, dialect_of, fetch_rows, str_enum
from app.core.requests import current_request_id
from app.core.visibility import Visibility, at_least


class Actor(Protocol):
    @property
    def user_id(self) -> uuid.UUID: ...

    @property
    def token_id(self) -> uuid.UUID | None: ...


class AuditEvent(UUIDPrimaryKey, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_problem_id_at", "problem_id", "at"),
        Index("ix_audit_events_resource_type_resource_id", "resource_type", "resource_id"),
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_seq", "seq", unique=True),
    )

    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    token_id: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(60))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(64))
    problem_id: Mapped[uuid.UUID | None]
    summary: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Who may read the event in a timeline, when stricter than its problem (a comment).
    visibility: Mapped[Visibility | None] = mapped_column(
        str_enum(Visibility, "audit_event_visibility")
    )
    # The hash chain (`app.governance.chain`): set when the transaction commits.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


@dataclass(frozen=True)
class Texts:
    """A record's free-text fields and their level (its `visibility`, no less than its
    problem's): an event recording one of these texts is read at that level, the stricter
    of the old and the new one when the same change moves it, so that a timeline never
    shows an old or a new text to a reader not cleared for it. An event recording none of
    them is read at its problem's level (None)."""

    fields: frozenset[str]
    level: Visibility

    def level_of(self, changes: Mapping[str, Any]) -> Visibility | None:
        if not self.fields & changes.keys():
            return None
        level = self.level
        for value in changes.get("visibility") or ():
            if value is not None:
                level = at_least(level, Visibility(value))
        return level


def plain(value: Any) -> Any:
    """A JSON value for an audit record."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def snapshot(obj: object, fields: Iterable[str]) -> dict[str, Any]:
    return {name: plain(getattr(obj, name)) for name in fields}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changed."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def event_row(
    actor: Actor | None,
    *,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | str,
    summary: str,
    problem_id: uuid.UUID | None = None,
    changes: Mapping[str, Any] | None = None,
    visibility: Visibility | None = None,
) -> dict[str, Any]:
    """An audit event's columns (but its id and its place in the chain): what `record`
    adds through the ORM and `insert_event` writes itself."""
    return {
        "at": utcnow(),
        "actor_id": actor.user_id if actor else None,
        "token_id": actor.token_id if actor else None,
        "request_id": current_request_id(),
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id),
        "problem_id": problem_id,
        "summary": summary,
        "changes": plain(dict(changes)) if changes else None,
        "visibility": visibility,
    }


def record(
    session: AsyncSession,
    actor: Actor | None,
    *,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | str,
    summary: str,
    problem_id: uuid.UUID | None = None,
    changes: Mapping[str, Any] | None = None,
    visibility: Visibility | None = None,
) -> AuditEvent:
    event = AuditEvent(
        **event_row(
            actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            summary=summary,
            problem_id=problem_id,
            changes=changes,
            visibility=visibility,
        )
    )
    session.add(event)  # its outbox events follow by trigger (migration 0016)
    return event


# Session.info: the ids of the audit events inserted without the ORM, sealed at commit
# (`app.governance.chain`) with those the ORM flushed.
UNSEALED = "governance.unsealed_audit"
# ... and the events inserted with RETURNING (PostgreSQL), as stored.
STORED_UNSEALED = "governance.stored_unsealed_audit"
_INSERT = insert(cast(Table, AuditEvent.__table__))
_INSERT_RETURNING = _INSERT.returning(*cast(Table, AuditEvent.__table__).c)
# Every column, so that the statement is the one the ORM's flush sends.
_UNSET = {"seq": None, "prev_hash": None, "hash": None}


async def insert_event(session: AsyncSession, row: dict[str, Any]) -> uuid.UUID:
    """An event (`event_row`) written at once by one statement built in advance, not by
    the ORM's flush: for the hot writes (report intake), where the unit of work cost more
    than the insert. Sealed at commit with the others. On PostgreSQL the insert returns
    the event as stored, kept for the seal (which then need not read it back)."""
    event_id = uuid.uuid4()
    values = row | _UNSET | {"id": event_id}
    if dialect_of(session).name == "postgresql":
        stored = (await fetch_rows(session, _INSERT_RETURNING, values))[0]
        session.info.setdefault(STORED_UNSEALED, []).append(dict(stored.items()))
    else:
        await fetch_rows(session, _INSERT, values)
        session.info.setdefault(UNSEALED, []).append(event_id)
    return event_id


def apply(obj: Any, values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Set the given fields; raise `version` if any stored value changed; return the changes."""
    before = snapshot(obj, values)
    for name, value in values.items():
        setattr(obj, name, value)
    changes = diff(before, snapshot(obj, values))
    if changes:
        obj.version += 1
    return changes


def created_changes(values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """What a creation records: each value given, from nothing."""
    return {name: [None, value] for name, value in values.items() if value is not None}


async def add_created(
    session: AsyncSession,
    actor: Actor | None,
    obj: Any,
    *,
    resource_type: str,
    summary: str,
    values: Mapping[str, Any],
    resource_id: uuid.UUID | str | None = None,
    problem_id: uuid.UUID | None = None,
    texts: Texts | None = None,
) -> None:
    """Insert a new row and record its creation with the values it was given (at the level
    of its `texts` when it was given one of them)."""
    session.add(obj)
    await session.flush()
    changes = created_changes(values)
    record(
        session,
        actor,
        action=f"{resource_type}.create",
        resource_type=resource_type,
        resource_id=resource_id if resource_id is not None else obj.id,
        summary=summary,
        problem_id=problem_id,
        changes=changes,
        visibility=texts.level_of(changes) if texts else None,
    )


async def update(
    session: AsyncSession,
    actor: Actor | None,
    obj: Any,
    values: Mapping[str, Any],
    *,
    resource_type: str,
    summary: str,
    resource_id: uuid.UUID | str | None = None,
    problem_id: uuid.UUID | None = None,
    texts: Texts | None = None,
) -> dict[str, list[Any]]:
    """Apply a partial update; record it only when a stored value changed (at the level of
    its `texts`, read after the update, when one of them changed)."""
    changes = apply(obj, values)
    if changes:
        record(
            session,
            actor,
            action=f"{resource_type}.update",
            resource_type=resource_type,
            resource_id=resource_id if resource_id is not None else obj.id,
            summary=summary,
            problem_id=problem_id,
            changes=changes,
            visibility=texts.level_of(changes) if texts else None,
        )
    await session.flush()
    return changes
