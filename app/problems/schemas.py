from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from app.core.schemas import (
    Code,
    CommuneCode,
    Input,
    LongText,
    Name,
    Number,
    Output,
    Patch,
    ShortText,
)
from app.core.visibility import Visibility
from app.governance.screening import Screened
from app.problems.models import Displacement, Outcome, Priority, ProblemStatus

# Metropolitan France, overseas excluded: the contract covers the Metz district.
LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 41.0, 51.5, -5.5, 10.0
Latitude = Annotated[Number, Field(ge=LAT_MIN, le=LAT_MAX, examples=[49.1072])]
Longitude = Annotated[Number, Field(ge=LON_MIN, le=LON_MAX, examples=[6.2105])]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class Location(Input):
    address: ShortText | None = Field(default=None, examples=["12 rue de Toul, Metz"])
    sector: Name | None = Field(
        default=None, description="Sector or neighbourhood (quartier, QPV).", examples=["Borny"]
    )
    lat: Latitude | None = None
    lon: Longitude | None = None
    transport_line: Name | None = Field(default=None, examples=["Mettis A"])
    station: Name | None = Field(default=None, examples=["Gare de Metz-Ville"])

    @model_validator(mode="after")
    def _both_coordinates(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together: give both or neither")
        return self


class ProblemCreate(Input):
    gpo_id: uuid.UUID
    title: Name = Field(examples=["Regroupements nocturnes hall 4, rue de Toul"])
    description: LongText = Field(
        examples=["Regroupements de 22 h à 2 h, nuisances sonores, occupation du hall."]
    )
    category: Code = Field(description="A category code.", examples=["hall_occupation"])
    commune_code: CommuneCode = Field(examples=["57463"])
    location: Location | None = None
    priority: Priority = Field(default=Priority.normal, examples=["high"])
    visibility: Visibility | None = Field(
        default=None,
        description="Defaults to the category's default visibility; a sensitive category's "
        "problem is restricted whatever is asked.",
        examples=["partners"],
    )
    objective: LongText | None = Field(
        default=None, examples=["Faire cesser les regroupements dans le hall d'ici l'été."]
    )
    time_pattern: ShortText | None = Field(default=None, examples=["Soirs de semaine, 22 h - 2 h"])
    raised_at_meeting_id: uuid.UUID | None = Field(
        default=None, description="The meeting of this GPO where the problem was raised."
    )


class ProblemUpdate(Patch):
    nullable = frozenset({"location", "objective", "time_pattern"})

    title: Name | None = Field(default=None, examples=["Regroupements hall 4"])
    description: LongText | None = None
    category: Code | None = Field(default=None, examples=["nuisance_gathering"])
    commune_code: CommuneCode | None = Field(default=None, examples=["57463"])
    location: Location | None = None
    priority: Priority | None = Field(default=None, examples=["urgent"])
    visibility: Visibility | None = Field(
        default=None,
        description="Raised to restricted for a sensitive category; lowering a sensitive "
        "problem's visibility is refused (409).",
        examples=["police"],
    )
    objective: LongText | None = None
    time_pattern: ShortText | None = None
    displacement: Displacement | None = Field(default=None, examples=["none"])


class TransitionIn(Input):
    to: ProblemStatus = Field(examples=["closed"])
    outcome: Outcome | None = Field(
        default=None, description="Required to close.", examples=["reduced"]
    )
    note: Note | None = Field(
        default=None,
        description="Becomes `outcome_note` on closing; required to reopen.",
        examples=["Baisse nette des appels au 17 depuis la fermeture du hall."],
    )
    displacement: Displacement | None = Field(
        default=None, description="May be set on closing.", examples=["none"]
    )


class LocationOut(Output):
    address: str | None = None
    sector: str | None = None
    lat: float | None = None
    lon: float | None = None
    transport_line: str | None = None
    station: str | None = None


# Problems and reports store a location as these columns.
LOCATION_FIELDS = ("address", "sector", "lat", "lon", "transport_line", "station")


def location_columns(location: Location | None) -> dict[str, Any]:
    """The columns of a location given in a request (all null for none)."""
    return {name: getattr(location, name) if location else None for name in LOCATION_FIELDS}


def location_out(row: Any) -> LocationOut | None:
    """The location of a stored problem or report, or null when it has none."""
    if all(getattr(row, name) is None for name in LOCATION_FIELDS):
        return None
    return LocationOut(**{name: getattr(row, name) for name in LOCATION_FIELDS})


class ProblemOut(Output):
    id: uuid.UUID
    reference: str = Field(examples=["P-2026-000123"])
    gpo_id: uuid.UUID
    title: str = Field(examples=["Regroupements nocturnes hall 4, rue de Toul"])
    description: str
    category: str = Field(examples=["hall_occupation"])
    commune_code: str = Field(examples=["57463"])
    location: LocationOut | None
    priority: Priority
    visibility: Visibility
    objective: str | None
    time_pattern: str | None
    raised_at_meeting_id: uuid.UUID | None
    status: ProblemStatus = Field(examples=["closed"])
    outcome: Outcome | None
    outcome_note: str | None
    displacement: Displacement
    report_count: int = Field(description="Reports attached to the problem.", examples=[2])
    open_action_count: int = Field(description="Actions planned or in progress.", examples=[3])
    overdue_action_count: int = Field(
        description="Open actions past their due date (Europe/Paris).", examples=[1]
    )
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int = Field(examples=[4])


class ProblemWritten(Screened, ProblemOut):
    """A problem as a write left it, with what its texts held."""


class CommentCreate(Input):
    body: LongText = Field(examples=["Patrouille renforcée prévue vendredi soir."])
    visibility: Visibility | None = Field(
        default=None,
        description="Who may read the comment; defaults to the problem's visibility and can "
        "only be as strict or stricter, within what the author may read.",
        examples=["police"],
    )


class CommentOut(Output):
    id: uuid.UUID
    problem_id: uuid.UUID
    author_id: uuid.UUID
    author_name: str = Field(examples=["Claire Martin"])
    body: str
    visibility: Visibility
    created_at: datetime


class CommentWritten(Screened, CommentOut):
    """A comment as stored, with what its text held."""


class TimelineEvent(Output):
    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_name: str | None = Field(examples=["Claire Martin"])
    kind: str = Field(
        description="What happened: problem.create, problem.visibility_raised (a sensitive "
        "category kept the problem restricted), problem.update, problem.transition, "
        "comment.create, action.create, action.update, report.attach, review.create, "
        "indicator.create, indicator.update, measurement.create.",
        examples=["problem.transition"],
    )
    summary: str = Field(examples=["Statut : ouvert → clos (réduit en nombre)"])
    changes: dict[str, list[Any]] | None = Field(
        default=None,
        description="For changes: {field: [old, new]}.",
        examples=[{"status": ["open", "closed"]}],
    )
