from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, String, Text, and_, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, among, str_enum
from app.core.visibility import Visibility


class ActionStatus(StrEnum):
    """planned → in_progress | done | cancelled; in_progress → done | cancelled; done |
    cancelled → in_progress."""

    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


OPEN_STATUSES = (ActionStatus.planned, ActionStatus.in_progress)
# The index of open actions is partial on this; statements state it with the same literal
# values (`overdue`), so that the planner may prove they fall under it.
OPEN_PREDICATE = "status IN ('planned', 'in_progress')"


class Action(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "actions"
    __table_args__ = (
        # Not (problem_id, status, due_date): SQLite 3.40 may misread a status list probed
        # between an equality and a range (migration 0021).
        Index("ix_actions_problem_id_due_date_status", "problem_id", "due_date", "status"),
        Index("ix_actions_due_date_id", "due_date", "id"),
        Index(
            "ix_actions_assignee_organisation_id_due_date", "assignee_organisation_id", "due_date"
        ),
        Index("ix_actions_status_due_date", "status", "due_date"),
        Index("ix_actions_decided_at_meeting_id", "decided_at_meeting_id"),
        # Open actions in the lists' keyset order: the overdue ones are read without
        # stepping over the finished ones, however long the history.
        Index(
            "ix_actions_open_due_date_id",
            "due_date",
            "id",
            postgresql_where=text(OPEN_PREDICATE),
            sqlite_where=text(OPEN_PREDICATE),
        ),
    )

    problem_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("problems.id"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(ForeignKey("action_kinds.code"))
    assignee_organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[ActionStatus] = mapped_column(
        str_enum(ActionStatus, "action_status"), default=ActionStatus.planned
    )
    due_date: Mapped[date]
    description: Mapped[str | None] = mapped_column(Text)
    result_note: Mapped[str | None] = mapped_column(Text)
    # Who reads the description and the result note (never less than the problem's level).
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "action_visibility"))
    completed_at: Mapped[datetime | None]
    decided_at_meeting_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("meetings.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


# --- The overdue rule, once: planned or in progress, due before today (Europe/Paris) ---------
# Actions, problems' counts, the agenda, the minutes and the figures all use these two.


def is_overdue(action: Action, today: date) -> bool:
    return action.status in OPEN_STATUSES and action.due_date < today


# "Due soon": within this many days (API.md's `action.due_soon`, the digest, the bell).
DUE_SOON_DAYS = 7


def overdue(today: Any) -> ColumnElement[bool]:
    """`today` is a date, or a bound parameter giving it when the statement runs.

    The statuses are written in the statement as literals, not parameters: a prepared
    statement's generic plan could not use the partial index of open actions otherwise.
    """
    return and_(among(Action.status, OPEN_STATUSES), Action.due_date < today)
