from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.core.schemas import Boolean, CommuneCode, Input, Integer, Name, Output, Patch
from app.gpos.models import GpoKind

TRANSPORT_REPORTS = (
    "Designated to receive the reports of the transport family (Le Met', SNCF); without a "
    "designated GPO they go to the oldest transport GPO, whatever GPOs are created later."
)


class GpoCreate(Input):
    name: Name = Field(examples=["GPO transports en commun"])
    kind: GpoKind = Field(examples=["transport"])
    commune_codes: list[CommuneCode] = Field(
        default_factory=list, max_length=20, examples=[["57463", "57751"]]
    )
    member_organisation_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    facilitator_user_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="Facilitators; a facilitator creating the GPO is added.",
    )
    meeting_interval_days: Integer | None = Field(
        default=None,
        ge=1,
        le=366,
        description="Defaults to 31 for a transport GPO and 60 for a general one.",
        examples=[31],
    )


class GpoUpdate(Patch):
    name: Name | None = Field(default=None, examples=["GPO Borny"])
    commune_codes: list[CommuneCode] | None = Field(
        default=None, max_length=20, examples=[["57463"]]
    )
    member_organisation_ids: list[uuid.UUID] | None = Field(default=None, max_length=200)
    facilitator_user_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)
    meeting_interval_days: Integer | None = Field(default=None, ge=1, le=366, examples=[60])
    transport_reports: Boolean | None = Field(
        default=None,
        description=TRANSPORT_REPORTS
        + " Only an admin sets it, on a transport GPO; setting it moves it from the GPO that "
        "had it.",
        examples=[True],
    )


class GpoOut(Output):
    id: uuid.UUID
    name: str = Field(examples=["GPO transports en commun"])
    kind: GpoKind
    commune_codes: list[str] = Field(examples=[["57463", "57751"]])
    member_organisation_ids: list[uuid.UUID]
    facilitator_user_ids: list[uuid.UUID]
    meeting_interval_days: int = Field(examples=[31])
    last_meeting_at: datetime | None = Field(description="The latest held meeting.")
    next_meeting_due: datetime = Field(
        description="Last held meeting (or creation) plus the interval."
    )
    cadence_breached: bool = Field(
        description="`next_meeting_due` is past and no meeting was held since."
    )
    transport_reports: bool = Field(description=TRANSPORT_REPORTS)
    created_at: datetime
    updated_at: datetime
    version: int = Field(examples=[1])
