from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, str_enum


class GpoKind(StrEnum):
    """A general GPO covers communes; the transport GPO covers the transport network."""

    general = "general"
    transport = "transport"


DEFAULT_INTERVAL_DAYS = {GpoKind.general: 60, GpoKind.transport: 31}


class Gpo(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "gpos"
    __table_args__ = (
        Index("ix_gpos_created_at_id", "created_at", "id"),
        Index("ix_gpos_kind_created_at", "kind", "created_at"),
        Index("ix_gpos_next_meeting_due", "next_meeting_due"),
        # At most one GPO is designated for the transport reports.
        Index(
            "uq_gpos_transport_reports",
            "transport_reports",
            unique=True,
            sqlite_where=text("transport_reports"),
            postgresql_where=text("transport_reports"),
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[GpoKind] = mapped_column(str_enum(GpoKind, "gpo_kind"))
    meeting_interval_days: Mapped[int]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Kept by the service whenever meetings or the interval change, so that
    # `cadence_breached` is an indexed comparison rather than an aggregate per GPO.
    last_meeting_at: Mapped[datetime | None]
    next_meeting_due: Mapped[datetime]
    # Designated by an admin: the transport GPO the contract names receives the reports of
    # the transport family (without a designation, the oldest transport GPO does).
    transport_reports: Mapped[bool] = mapped_column(default=False, server_default=false())


class GpoCommune(Base):
    __tablename__ = "gpo_communes"
    __table_args__ = (Index("ix_gpo_communes_commune_code", "commune_code"),)

    gpo_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("gpos.id", ondelete="CASCADE"), primary_key=True
    )
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"), primary_key=True)


class GpoMember(Base):
    __tablename__ = "gpo_members"
    __table_args__ = (Index("ix_gpo_members_organisation_id", "organisation_id"),)

    gpo_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("gpos.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id"), primary_key=True
    )


class GpoFacilitator(Base):
    __tablename__ = "gpo_facilitators"
    __table_args__ = (Index("ix_gpo_facilitators_user_id", "user_id"),)

    gpo_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("gpos.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
