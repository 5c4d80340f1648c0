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
    resource_ids: list[str] = Field(examples=[["5d1a7c3e-2b4f-4c6a-9e8d-7f6a5b4c3d2e"]])
    route: str = Field(examples=["/api/v1/problems/{problem_id}"])
    purpose: AccessPurpose
    request_id: str | None
    prev_hash: str = Field(
        description="The hash of the entry before it (64 zeros for the first).",
        examples=["9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"],
    )
    hash: str = Field(
        description="sha256(prev_hash + the digest of this entry's content), hexadecimal.",
        examples=["3f1c2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"],
    )


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
