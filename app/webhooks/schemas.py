"""Webhook bodies (API.md, "Notifications and webhooks")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.outbox import EventType
from app.core.schemas import Boolean, Input, Output, Patch, ShortText
from app.webhooks.models import DeliveryStatus

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Events = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]


class WebhookCreate(Input):
    url: Url = Field(
        description="Where events are POSTed: `https` outside development, never a private "
        "or loopback address in production.",
        examples=["https://si.metzhabitat.example/gpo/events"],
    )
    events: Events = Field(description="The event types to receive.", examples=[["report.triaged"]])
    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="Whose events: a partner's own organisation (the default for a partner); "
        "admins name any.",
    )
    description: ShortText | None = Field(default=None, examples=["SI de Metz Habitat"])
    active: Boolean = Field(default=True, examples=[True])


class WebhookUpdate(Patch):
    nullable = frozenset({"description"})

    url: Url | None = Field(default=None, examples=["https://si.metzhabitat.example/gpo/v2"])
    events: Events | None = Field(
        default=None, examples=[["report.triaged", "report.problem_changed"]]
    )
    description: ShortText | None = Field(default=None, examples=["SI de Metz Habitat"])
    active: Boolean | None = Field(
        default=None, description="Re-enabling clears `disabled_reason`.", examples=[True]
    )


class WebhookOut(Output):
    id: uuid.UUID
    organisation_id: uuid.UUID
    url: str = Field(examples=["https://si.metzhabitat.example/gpo/events"])
    events: list[str] = Field(examples=[["report.triaged"]])
    description: str | None = Field(examples=["SI de Metz Habitat"])
    active: bool = Field(examples=[True])
    disabled_reason: str | None = Field(
        description="Why the service disabled the endpoint (a day of failed deliveries).",
        examples=[None],
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(examples=[1])


class WebhookWithSecret(WebhookOut):
    secret: str = Field(
        description="The signing secret (`whsec_<base64>`), shown once: keep it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class DeliveryOut(Output):
    id: uuid.UUID = Field(description="Also the `webhook-id` header of the message.")
    event_id: uuid.UUID
    type: str = Field(examples=["report.triaged"])
    status: DeliveryStatus = Field(examples=["succeeded"])
    attempts: int = Field(examples=[1])
    last_status_code: int | None = Field(examples=[200])
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime
