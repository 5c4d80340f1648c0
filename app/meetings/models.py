from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, str_enum
from app.core.visibility import Visibility


class MeetingStatus(StrEnum):
    """A meeting moves from planned to held or cancelled."""

    planned = "planned"
    held = "held"
    cancelled = "cancelled"


class Meeting(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_gpo_id_scheduled_at", "gpo_id", "scheduled_at"),
        Index("ix_meetings_gpo_id_status_scheduled_at", "gpo_id", "status", "scheduled_at"),
    )

    gpo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gpos.id"))
    scheduled_at: Mapped[datetime]
    location: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[MeetingStatus] = mapped_column(
        str_enum(MeetingStatus, "meeting_status"), default=MeetingStatus.planned
    )
    notes: Mapped[str | None] = mapped_column(Text)
    # Who reads the notes in the minutes (a meeting has no problem: no floor).
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "meeting_visibility"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class MeetingAttendee(Base):
    __tablename__ = "meeting_attendees"
    __table_args__ = (Index("ix_meeting_attendees_organisation_id", "organisation_id"),)

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id"), primary_key=True
    )


class Review(UUIDPrimaryKey, Base):
    """A problem discussed at a meeting, with what was said of it."""

    __tablename__ = "meeting_reviews"
    __table_args__ = (
        Index("ix_meeting_reviews_meeting_id_created_at", "meeting_id", "created_at"),
        Index("ix_meeting_reviews_problem_id", "problem_id"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    problem_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("problems.id"))
    note: Mapped[str] = mapped_column(Text)
    # Who reads the note (never less than the problem's level).
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "review_visibility"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
