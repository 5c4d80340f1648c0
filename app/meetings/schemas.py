from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from app.core.schemas import (
    Input,
    LongText,
    Moment,
    Output,
    Patch,
    ShortText,
    level_field,
    level_out,
)
from app.core.visibility import Visibility
from app.governance.screening import Screened
from app.meetings.models import MeetingStatus
from app.problems.schemas import LocationOut, Note


class MeetingCreate(Input):
    scheduled_at: Moment = Field(
        description="A date-time with offset; a past one records a meeting already held.",
        examples=["2026-03-14T18:30:00+01:00"],
    )
    location: ShortText | None = Field(default=None, examples=["Commissariat central de Metz"])
    attendee_organisation_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    notes: LongText | None = None
    visibility: Visibility | None = level_field("the notes in the minutes", floor="partners")


class MeetingUpdate(Patch):
    nullable = frozenset({"location", "notes"})

    scheduled_at: Moment | None = Field(default=None, examples=["2026-03-21T18:30:00+01:00"])
    location: ShortText | None = Field(default=None, examples=["Mairie de Woippy"])
    status: MeetingStatus | None = Field(
        default=None, description="planned → held | cancelled.", examples=["held"]
    )
    attendee_organisation_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)
    notes: LongText | None = None
    visibility: Visibility | None = level_field("the notes in the minutes", floor="partners")


class MeetingOut(Output):
    id: uuid.UUID
    gpo_id: uuid.UUID
    scheduled_at: datetime
    location: str | None = Field(
        description="Where the meeting takes place.", examples=["Commissariat central de Metz"]
    )
    status: MeetingStatus
    attendee_organisation_ids: list[uuid.UUID]
    notes: str | None
    visibility: Visibility = level_out("the notes in the minutes")
    created_at: datetime
    updated_at: datetime
    version: int = Field(examples=[1])


class MeetingWritten(Screened, MeetingOut):
    """A meeting as a write left it, with what its texts held."""


class ReviewCreate(Input):
    problem_id: uuid.UUID
    note: Note = Field(examples=["Baisse des regroupements depuis la pose du contrôle d'accès."])
    visibility: Visibility | None = level_field("the note")


class ReviewOut(Output):
    id: uuid.UUID
    meeting_id: uuid.UUID
    problem_id: uuid.UUID
    problem_reference: str = Field(examples=["P-2026-000123"])
    note: str
    visibility: Visibility = level_out("the note")
    created_by: uuid.UUID | None
    created_at: datetime


class ReviewWritten(Screened, ReviewOut):
    """A review as stored, with what its note held."""


class AgendaReport(Output):
    id: uuid.UUID
    reference: str = Field(examples=["R-2026-000045"])
    category: str
    commune_code: str
    description: str
    location: LocationOut | None
    submitted_by_organisation_id: uuid.UUID
    created_at: datetime


class AgendaProblem(Output):
    id: uuid.UUID
    reference: str = Field(examples=["P-2026-000123"])
    title: str
    status: str = Field(examples=["open"])
    priority: str = Field(examples=["urgent"])
    visibility: Visibility = Field(
        description="The problem's level: the floor of the texts written on it at the "
        "meeting; a meeting page showing a `police` or `restricted` one is marked "
        "« diffusion restreinte »."
    )
    category: str
    commune_code: str
    open_action_count: int
    overdue_action_count: int
    created_at: datetime


class AgendaAction(Output):
    id: uuid.UUID
    title: str
    problem_id: uuid.UUID
    problem_reference: str
    assignee_organisation_id: uuid.UUID
    assignee_name: str
    status: str = Field(examples=["planned"])
    due_date: date
    days_overdue: int


class AgendaIndicator(Output):
    id: uuid.UUID
    name: str
    unit: str
    problem_id: uuid.UUID
    problem_reference: str
    last_period_end: date = Field(
        description="End of the latest measurement, or of the baseline when none."
    )
    days_since: int


class Agenda(Output):
    meeting_id: uuid.UUID
    gpo_id: uuid.UUID
    new_reports: list[AgendaReport] = Field(description="Reports awaiting triage, oldest first.")
    problems: list[AgendaProblem] = Field(
        description="The GPO's problems not closed, most urgent first."
    )
    overdue_actions: list[AgendaAction] = Field(description="Actions past due, most late first.")
    indicators_due: list[AgendaIndicator] = Field(
        description="Indicators of open problems with no measurement in the GPO's interval."
    )
