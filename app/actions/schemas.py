from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from app.actions.models import ActionStatus
from app.core.schemas import Code, Day, Input, LongText, Name, Output, Patch, level_field, level_out
from app.core.visibility import Visibility
from app.governance.screening import Screened


class ActionCreate(Input):
    title: Name = Field(examples=["Patrouilles pédestres en soirée rue de Toul"])
    kind: Code = Field(description="An action-kind code.", examples=["foot_patrol"])
    assignee_organisation_id: uuid.UUID
    due_date: Day = Field(
        description="May lie in the past: actions are often logged after the meeting.",
        examples=["2026-04-15"],
    )
    description: LongText | None = Field(default=None, examples=["Trois passages par semaine."])
    decided_at_meeting_id: uuid.UUID | None = Field(
        default=None, description="The meeting of the problem's GPO that decided it."
    )
    visibility: Visibility | None = level_field("the description and the result note")


class ActionUpdate(Patch):
    """Partners of the assignee organisation may change only `status` and `result_note`."""

    nullable = frozenset({"description", "result_note", "decided_at_meeting_id"})

    title: Name | None = None
    kind: Code | None = Field(
        default=None, description="An action-kind code.", examples=["joint_operation"]
    )
    assignee_organisation_id: uuid.UUID | None = None
    status: ActionStatus | None = Field(
        default=None,
        description="planned → in_progress | done | cancelled; in_progress → done | cancelled; "
        "done | cancelled → in_progress.",
        examples=["done"],
    )
    due_date: Day | None = Field(default=None, examples=["2026-05-01"])
    description: LongText | None = None
    result_note: LongText | None = Field(
        default=None, examples=["12 patrouilles effectuées, 3 interpellations."]
    )
    decided_at_meeting_id: uuid.UUID | None = None
    visibility: Visibility | None = level_field("the description and the result note")


class ActionOut(Output):
    id: uuid.UUID
    problem_id: uuid.UUID
    title: str = Field(examples=["Patrouilles pédestres en soirée rue de Toul"])
    kind: str = Field(description="An action-kind code.", examples=["foot_patrol"])
    assignee_organisation_id: uuid.UUID
    status: ActionStatus
    due_date: date
    description: str | None
    result_note: str | None
    visibility: Visibility = level_out("the description and the result note")
    completed_at: datetime | None = Field(description="Set when the action is done.")
    decided_at_meeting_id: uuid.UUID | None
    overdue: bool = Field(
        description="Planned or in progress with a due date before today (Europe/Paris)."
    )
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(examples=[2])


class ActionWritten(Screened, ActionOut):
    """An action as a write left it, with what its texts held."""


class ActionWithProblem(ActionOut):
    """An action with what its reader may read of its problem (the console's lists)."""

    problem_reference: str | None = Field(
        description="Null when the reader may not see the problem (an assignee's action on a "
        "problem hidden from it)."
    )
    problem_title: str | None
    texts_hidden: bool = Field(
        description="The action has a description or a result note the reader is not cleared "
        "for (they are null here)."
    )
