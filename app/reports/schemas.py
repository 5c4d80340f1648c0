from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from app.core.schemas import (
    Code,
    CommuneCode,
    Input,
    LongText,
    Moment,
    Name,
    Output,
    Patch,
    ShortText,
)
from app.governance.screening import Screened
from app.problems.models import Outcome, Priority, ProblemStatus
from app.problems.schemas import Location, LocationOut, Note
from app.reports.models import ReportStatus


class ReportCreate(Input):
    category: Code = Field(description="A reportable category code.", examples=["hall_occupation"])
    commune_code: CommuneCode = Field(examples=["57463"])
    description: LongText = Field(
        examples=["Une dizaine de jeunes dans le hall du 4 rue de Toul chaque soir après 22 h."]
    )
    location: Location | None = None
    observed_at: Moment | None = Field(
        default=None, description="When it was seen.", examples=["2026-03-14T22:30:00+01:00"]
    )
    time_pattern: ShortText | None = Field(default=None, examples=["Tous les soirs, 22 h - 1 h"])
    external_ref: Name | None = Field(
        default=None,
        description="The reporter's own reference (a ticket number in its system).",
        examples=["MHT-2026-00412"],
    )


class ReportUpdate(Patch):
    """Admins route a report that found no GPO."""

    gpo_id: uuid.UUID | None = Field(default=None, description="The GPO to route it to.")


class Decision(StrEnum):
    """create_problem: a new problem from the report; attach: to an existing problem; reject:
    with a public note."""

    create_problem = "create_problem"
    attach = "attach"
    reject = "reject"


class TriageIn(Input):
    decision: Decision = Field(examples=["create_problem"])
    problem_id: uuid.UUID | None = Field(
        default=None, description="For `attach`: a problem of the report's GPO."
    )
    title: Name | None = Field(
        default=None,
        description="For `create_problem`; defaults to the category and the commune.",
        examples=["Regroupements dans le hall, 4 rue de Toul"],
    )
    priority: Priority | None = Field(default=None, examples=["high"])
    public_note: Note | None = Field(
        default=None,
        description="Shown to the reporter; required to reject.",
        examples=["Pris en compte par le GPO Metz-Borny."],
    )


class DuplicateOut(Output):
    id: uuid.UUID
    reference: str = Field(examples=["P-2026-000123"])
    title: str
    status: ProblemStatus
    distance_m: float | None = Field(
        description="Metres between the report and the problem, when both are located.",
        examples=[84.2],
    )


class ReportOut(Output):
    id: uuid.UUID
    reference: str = Field(examples=["R-2026-000045"])
    status: ReportStatus
    category: str = Field(examples=["hall_occupation"])
    commune_code: str = Field(examples=["57463"])
    description: str
    location: LocationOut | None
    observed_at: datetime | None
    time_pattern: str | None
    external_ref: str | None = Field(examples=["MHT-2026-00412"])
    gpo_id: uuid.UUID | None = Field(description="The GPO it was routed to; null if none.")
    submitted_by_organisation_id: uuid.UUID
    problem_id: uuid.UUID | None
    problem_status: ProblemStatus | None = Field(
        description="The status of the problem behind an accepted report, even one the "
        "reporter may not see."
    )
    problem_outcome: Outcome | None = Field(examples=[None])
    public_note: str | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(examples=[1])


class ReportWritten(Screened, ReportOut):
    """A report as a triage left it, with what its public note held."""


class ReportCreated(Screened, ReportOut):
    possible_duplicates: list[DuplicateOut] = Field(
        description="Open problems of the same category in the same commune (within 250 m "
        "when both are located) that the caller may see, nearest first."
    )
