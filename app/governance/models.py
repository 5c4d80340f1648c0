"""The access log: one row per request that read `police` or `restricted` records."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base, JSONType, UUIDPrimaryKey, str_enum

# The hash a chain's first entry follows.
GENESIS = "0" * 64


class AccessPurpose(StrEnum):
    """Why police data was read: the `X-Access-Purpose` header, or the console's choice."""

    meeting = "meeting"
    follow_up = "follow_up"
    investigation = "investigation"
    statistics = "statistics"
    audit = "audit"
    unspecified = "unspecified"


class AccessLogEntry(UUIDPrimaryKey, Base):
    """Insert-only (triggers of migration 0017 refuse UPDATE and DELETE). `seq` orders the
    chain; `hash` = sha256(prev_hash + digest of the entry's content) (`app.governance.chain`)."""

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_seq", "seq", unique=True),
        Index("ix_access_log_at", "at"),
        Index("ix_access_log_user_id_at", "user_id", "at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[uuid.UUID | None]
    # The API token, or the console session, the read was made with.
    session_or_token_id: Mapped[uuid.UUID | None]
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_ids: Mapped[list[Any]] = mapped_column(JSONType)
    # The route template (`/api/v1/problems/{problem_id}`), never the query's values.
    route: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[AccessPurpose] = mapped_column(str_enum(AccessPurpose, "access_purpose"))
    request_id: Mapped[str | None] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ErasurePermit(UUIDPrimaryKey, Base):
    """A row here, only within the retention purge's own transaction (it adds one and
    deletes it before committing), is what lets the audit events' trigger accept an UPDATE
    that replaces `changes` and nothing else (migration 0017): nothing else ever writes
    here, and no other transaction sees the row (PostgreSQL: not committed; SQLite: one
    writer at a time)."""

    __tablename__ = "audit_erasure_permits"

    at: Mapped[datetime] = mapped_column(default=utcnow)
