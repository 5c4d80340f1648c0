from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, ForeignKey, Index, String, UniqueConstraint, and_, or_
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, str_enum


class Role(StrEnum):
    """admin: users, organisations, reference data; facilitator: runs the GPOs it facilitates;
    commander: reads everything, comments; partner: a member of an organisation;
    auditor: reads the access log and verifies the hash chains, nothing else."""

    admin = "admin"
    facilitator = "facilitator"
    commander = "commander"
    partner = "partner"
    auditor = "auditor"


class Digest(StrEnum):
    """How often a person gets the e-mail digest of what is due, late or waiting."""

    daily = "daily"
    weekly = "weekly"
    off = "off"


class User(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_organisation_id", "organisation_id"),
        Index("ix_users_email", "email"),
        Index("ix_users_created_at_id", "created_at", "id"),
    )

    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # The admin created for GPO_BOOTSTRAP_ADMIN_TOKEN.
    builtin: Mapped[bool] = mapped_column(default=False)
    # Argon2id, for the console; null until the person accepts an invitation.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    digest: Mapped[Digest] = mapped_column(
        str_enum(Digest, "user_digest"), default=Digest.daily, server_default=Digest.daily.value
    )


class ApiToken(UUIDPrimaryKey, Base):
    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    # HMAC-SHA256 of the secret under GPO_SECRET_KEY; the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    bootstrap: Mapped[bool] = mapped_column(default=False)

    @classmethod
    def live(cls, now: datetime) -> ColumnElement[bool]:
        """Neither revoked nor expired at `now`."""
        return and_(cls.revoked_at.is_(None), or_(cls.expires_at.is_(None), cls.expires_at > now))


class Invitation(UUIDPrimaryKey, Base):
    """A one-use link where a person sets the console password (7 days)."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # HMAC-SHA256 of the link's secret, as for tokens.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Set when used, or when a newer invitation replaces it.
    closed_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class ConsoleSession(UUIDPrimaryKey, Base):
    """A person signed in to the console; the cookie carries only the random secret."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Every form of the session carries it (CSRF).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    address: Mapped[str | None] = mapped_column(String(64))
    # Why the person reads police data in this session (asked once, `app.governance`).
    access_purpose: Mapped[str | None] = mapped_column(String(20))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class SignInAttempt(UUIDPrimaryKey, Base):
    """Each sign-in, kept to slow down guessing: too many failures for an e-mail or an
    address in a while, and sign-in waits. Requests for a reset link are counted here too,
    apart (`purpose`), so that they neither flood a mailbox nor lock anyone out."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_email_at", "email", "at"),
        Index("ix_sign_in_attempts_address_at", "address", "at"),
    )

    at: Mapped[datetime] = mapped_column(default=utcnow)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    # `sign_in`, or `password_reset` (a request for a reset link, limited the same way).
    purpose: Mapped[str] = mapped_column(String(20), default="sign_in", server_default="sign_in")


class CharterAcceptance(UUIDPrimaryKey, Base):
    """A person's acceptance of one version of the GPO information-sharing charter, from a
    console session or with an API token (`app.identity.charter`). Kept as the proof: one
    row per person and version, never changed."""

    __tablename__ = "charter_acceptances"
    __table_args__ = (UniqueConstraint("user_id", "version"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Exactly one is set: where the person accepted it.
    session_id: Mapped[uuid.UUID | None]
    token_id: Mapped[uuid.UUID | None]
