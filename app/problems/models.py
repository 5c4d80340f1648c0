from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.core.clock import utcnow
from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, str_enum
from app.core.visibility import Visibility


class ProblemStatus(StrEnum):
    """new → open | closed; open → monitoring | closed; monitoring → open | closed; closed →
    open (a reopening note required)."""

    new = "new"
    open = "open"
    monitoring = "monitoring"
    closed = "closed"


class Priority(StrEnum):
    """How urgent the problem is; agendas list the most urgent first."""

    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


PRIORITY_RANK = {Priority.low: 0, Priority.normal: 1, Priority.high: 2, Priority.urgent: 3}


class Outcome(StrEnum):
    """Problem-oriented policing's classic outcomes, plus two ways to close a new problem."""

    eliminated = "eliminated"
    reduced = "reduced"
    harm_reduced = "harm_reduced"
    better_handled = "better_handled"
    responsibility_shifted = "responsibility_shifted"
    no_improvement = "no_improvement"
    duplicate = "duplicate"
    not_in_scope = "not_in_scope"


class Displacement(StrEnum):
    """Whether the trouble moved elsewhere (displacement) or the benefit spread around
    (diffusion)."""

    unknown = "unknown"
    none = "none"
    displacement = "displacement"
    diffusion = "diffusion"


# The conditions of the partial indexes on the problems not closed (written as the queries
# that use them write theirs).
NOT_CLOSED = text("status <> 'closed'")
UNLOCATED_NOT_CLOSED = text("status <> 'closed' AND (lat IS NULL OR lon IS NULL)")


class Problem(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "problems"
    __table_args__ = (
        Index("ix_problems_created_at_id", "created_at", "id"),
        Index("ix_problems_updated_at_id", "updated_at", "id"),
        Index("ix_problems_priority_rank_created_at_id", "priority_rank", "created_at", "id"),
        Index("ix_problems_gpo_id_created_at", "gpo_id", "created_at"),
        Index("ix_problems_status_created_at", "status", "created_at"),
        # The figures' problems closed in a period.
        Index("ix_problems_status_closed_at", "status", "closed_at"),
        # The annual evaluation's problems raised in a year, read from this index alone.
        Index("ix_problems_created_at_groups", "created_at", "gpo_id", "commune_code", "category"),
        Index("ix_problems_commune_code_created_at", "commune_code", "created_at"),
        Index("ix_problems_category_created_at", "category", "created_at"),
        Index("ix_problems_lat_lon", "lat", "lon"),
        # A report's possible duplicates (app/reports/service.py): the problems not closed
        # of its category and commune, located in a box around it or unlocated.
        Index(
            "ix_problems_category_commune_code_lat_lon_not_closed",
            "category",
            "commune_code",
            "lat",
            "lon",
            sqlite_where=NOT_CLOSED,
            postgresql_where=NOT_CLOSED,
        ),
        # The unlocated ones in the order they are listed in (migration 0024): the first
        # 20 the caller may see are read there, not all of them sorted.
        Index(
            "ix_problems_unlocated_not_closed_reference",
            "category",
            "commune_code",
            "reference",
            # Byte order, as the query sorts: "C" on PostgreSQL (SQLite's default is).
            postgresql_ops={"reference": 'COLLATE "C"'},
            sqlite_where=UNLOCATED_NOT_CLOSED,
            postgresql_where=UNLOCATED_NOT_CLOSED,
        ),
    )

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    gpo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gpos.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    address: Mapped[str | None] = mapped_column(String(500))
    sector: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    transport_line: Mapped[str | None] = mapped_column(String(200))
    station: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[Priority] = mapped_column(str_enum(Priority, "problem_priority"))
    # Order of `priority`, kept with it, for the `-priority` sort and its keyset.
    priority_rank: Mapped[int]
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "problem_visibility"))
    objective: Mapped[str | None] = mapped_column(Text)
    time_pattern: Mapped[str | None] = mapped_column(String(500))
    raised_at_meeting_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("meetings.id"))
    status: Mapped[ProblemStatus] = mapped_column(
        str_enum(ProblemStatus, "problem_status"), default=ProblemStatus.new
    )
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome, "problem_outcome"))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    displacement: Mapped[Displacement] = mapped_column(
        str_enum(Displacement, "problem_displacement"), default=Displacement.unknown
    )
    closed_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Reference, title and description, lower-cased without accents, for `q`.
    search_text: Mapped[str] = mapped_column(Text, default="")

    @validates("priority")
    def _rank_priority(self, _key: str, value: Priority) -> Priority:
        self.priority_rank = PRIORITY_RANK[Priority(value)]
        return value


class ProblemComment(UUIDPrimaryKey, Base):
    __tablename__ = "problem_comments"
    __table_args__ = (
        Index("ix_problem_comments_problem_id_created_at", "problem_id", "created_at"),
    )

    problem_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "comment_visibility"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
