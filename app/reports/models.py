from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, str_enum


class ReportStatus(StrEnum):
    """received until triaged; then accepted (a problem made or attached) or rejected."""

    received = "received"
    accepted = "accepted"
    rejected = "rejected"


class ReportSource(StrEnum):
    api = "api"
    open311 = "open311"


class Report(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_created_at_id", "created_at", "id"),
        Index(
            "ix_reports_submitted_by_organisation_id_created_at",
            "submitted_by_organisation_id",
            "created_at",
        ),
        Index("ix_reports_gpo_id_status_created_at", "gpo_id", "status", "created_at"),
        Index("ix_reports_problem_id", "problem_id"),
        Index("ix_reports_status_created_at", "status", "created_at"),
        Index("ix_reports_category_commune_code", "category", "commune_code"),
        Index("ix_reports_external_ref", "external_ref"),
    )

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[ReportStatus] = mapped_column(
        str_enum(ReportStatus, "report_status"), default=ReportStatus.received
    )
    source: Mapped[ReportSource] = mapped_column(
        str_enum(ReportSource, "report_source"), default=ReportSource.api
    )
    category: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(500))
    sector: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    transport_line: Mapped[str | None] = mapped_column(String(200))
    station: Mapped[str | None] = mapped_column(String(200))
    observed_at: Mapped[datetime | None]
    time_pattern: Mapped[str | None] = mapped_column(String(500))
    external_ref: Mapped[str | None] = mapped_column(String(200))
    media_url: Mapped[str | None] = mapped_column(String(2000))
    gpo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("gpos.id"))
    submitted_by_organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    submitted_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    problem_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("problems.id"))
    public_note: Mapped[str | None] = mapped_column(Text)
    triaged_at: Mapped[datetime | None]
    triaged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
