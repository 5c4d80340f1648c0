from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.governance.models import AccessPurpose


class AccessLogEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    user_id: uuid.UUID
    organisation_id: uuid.UUID | None
    session_or_token_id: uuid.UUID | None = Field(
        description="The API token, or the console session, the read was made with."
    )
    resource_type: str = Field(examples=["problem"])
    resource_ids: list[str]
    route: str = Field(examples=["/api/v1/problems/{problem_id}"])
    purpose: AccessPurpose
    request_id: str | None
    prev_hash: str
    hash: str


class BrokenEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain: str = Field(description="`access_log` or `audit_events`.", examples=["access_log"])
    seq: int | None = Field(description="Its place in the chain (null: never chained).")
    id: uuid.UUID
    at: datetime


class VerificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ok: bool
    entries: int = Field(description="Entries checked, both chains together.")
    first_broken_at: BrokenEntry | None = Field(
        description="The first entry whose hash does not follow from the one before it and "
        "its content (access log first, then audit events); null when both chains hold."
    )
