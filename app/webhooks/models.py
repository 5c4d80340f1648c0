"""Webhooks of partners' systems, and their deliveries (the outbox's events, made into
one message per endpoint that may read them)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONType, Timestamps, UUIDPrimaryKey, Versioned, str_enum


class Webhook(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "webhooks"
    __table_args__ = (
        Index("ix_webhooks_organisation_id_created_at", "organisation_id", "created_at"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The signing secret is never stored: it is derived from the service's key and this
    # salt (see service.secret_of), so a copy of the database does not give it away.
    secret_salt: Mapped[str] = mapped_column(String(64))
    # Since when every delivery has failed (None after a success): a day of it disables.
    failing_since: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class Delivery(UUIDPrimaryKey, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id_event_seq", "webhook_id", "event_seq"),
        Index(
            "ix_webhook_deliveries_webhook_id_resource_id_event_seq",
            "webhook_id",
            "resource_id",
            "event_seq",
        ),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID]
    event_seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(64))
    # The message as sent, fixed when the event was fanned out: a retry sends the same.
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
