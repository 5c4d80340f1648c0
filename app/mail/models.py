"""The mail outbox: one row per e-mail to send, written in the transaction of its cause.

A row names its kind, its recipient and what it is about (an invitation, a meeting, a
webhook, a day), never its content: the text is composed when it is sent, with the
recipient's own access rules, so that a row keeps neither a secret (an invitation's link
is derived from the invitation's id and the service's key) nor a restricted text.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base, UUIDPrimaryKey, str_enum


class MailKind(StrEnum):
    invitation = "invitation"
    password_reset = "password_reset"  # noqa: S105 - a kind of mail, not a secret
    digest = "digest"
    minutes = "minutes"
    webhook_disabled = "webhook_disabled"


class MailStatus(StrEnum):
    """pending until sent (over SMTP), logged (no SMTP configured), failed (refused by the
    server, or still failing after the last retry) or cancelled (nothing left to say when
    its turn came: a replaced invitation, an empty digest, a disabled recipient)."""

    pending = "pending"
    sent = "sent"
    logged = "logged"
    failed = "failed"
    cancelled = "cancelled"


class Mail(UUIDPrimaryKey, Base):
    __tablename__ = "mails"
    __table_args__ = (
        Index("ix_mails_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_mails_user_id_created_at", "user_id", "created_at"),
    )

    kind: Mapped[MailKind] = mapped_column(str_enum(MailKind, "mail_kind"))
    # What makes the mail unique ("digest:<user>:<day>"): written once, whoever writes it
    # again (a second worker, a second run of a morning job).
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The invitation, meeting or webhook the mail is about; for a digest, its day.
    about: Mapped[str] = mapped_column(String(64))
    status: Mapped[MailStatus] = mapped_column(
        str_enum(MailStatus, "mail_status"), default=MailStatus.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    # As sent: the address and subject (never the body).
    to_address: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
