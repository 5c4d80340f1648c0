from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, str_enum


class Role(StrEnum):
    admin = "admin"
    facilitator = "facilitator"
    commander = "commander"
    partner = "partner"


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
