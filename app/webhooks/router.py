"""Webhooks of partners' systems (admins for any organisation, partners for their own)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.access import WebhookManager
from app.core.concurrency import IfMatch, precondition_if_match, set_etag
from app.core.db import DbSession
from app.core.pagination import Page, PageParams
from app.identity.dependencies import (
    API_PREFIX,
    ApiRoute,
    AppSettings,
    Idempotent,
    IdempotentSecret,
)
from app.webhooks import service
from app.webhooks.models import Webhook
from app.webhooks.schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["webhooks"])


async def webhook_to_read(
    webhook_id: uuid.UUID, session: DbSession, principal: WebhookManager
) -> Webhook:
    """A webhook the caller sees (404 otherwise)."""
    return await service.get_webhook(session, principal, webhook_id)


async def webhook_to_change(
    webhook_id: uuid.UUID, session: DbSession, principal: WebhookManager, if_match: IfMatch = None
) -> Webhook:
    """A webhook the caller sees, locked: 404, then 412 on a stale If-Match."""
    webhook = await service.get_webhook(session, principal, webhook_id, lock=True)
    precondition_if_match(if_match, webhook.version)
    return webhook


WebhookToRead = Annotated[Webhook, Depends(webhook_to_read)]
WebhookToChange = Annotated[Webhook, Depends(webhook_to_change)]


def _location(webhook_id: uuid.UUID) -> str:
    return f"/api/v1/webhooks/{webhook_id}"


@router.post(
    "/webhooks",
    status_code=201,
    summary="Register a webhook",
    dependencies=[IdempotentSecret],
)
async def create_webhook(
    data: WebhookCreate,
    session: DbSession,
    principal: WebhookManager,
    settings: AppSettings,
    response: Response,
) -> WebhookWithSecret:
    """The signing secret is in this answer only (a replay of its Idempotency-Key is 409)."""
    created = await service.create_webhook(session, principal, settings, data)
    set_etag(response, created.version)
    response.headers["Location"] = _location(created.id)
    return created


@router.get("/webhooks", summary="List webhooks")
async def list_webhooks(
    session: DbSession, principal: WebhookManager, paging: PageParams
) -> Page[WebhookOut]:
    """Every webhook for admins; a partner's organisation's."""
    return await service.list_webhooks(session, principal, paging)


@router.get("/webhooks/{webhook_id}", summary="Read a webhook")
async def get_webhook(webhook: WebhookToRead, response: Response) -> WebhookOut:
    set_etag(response, webhook.version)
    return service.to_out(webhook)


@router.patch("/webhooks/{webhook_id}", summary="Update a webhook")
async def update_webhook(
    webhook: WebhookToChange,
    data: WebhookUpdate,
    session: DbSession,
    principal: WebhookManager,
    settings: AppSettings,
    response: Response,
) -> WebhookOut:
    """`active: true` re-enables an endpoint the service disabled."""
    webhook = await service.update_webhook(session, principal, settings, webhook, data)
    set_etag(response, webhook.version)
    return service.to_out(webhook)


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook")
async def delete_webhook(
    webhook: WebhookToChange, session: DbSession, principal: WebhookManager
) -> Response:
    """Its pending deliveries go with it."""
    await service.delete_webhook(session, principal, webhook)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    summary="Replace the signing secret",
    dependencies=[IdempotentSecret],
)
async def rotate_secret(
    webhook: WebhookToChange,
    session: DbSession,
    principal: WebhookManager,
    settings: AppSettings,
    response: Response,
) -> WebhookWithSecret:
    """The new secret signs every message from now on, retries included."""
    rotated = await service.rotate_secret(session, principal, settings, webhook)
    set_etag(response, rotated.version)
    return rotated


@router.get("/webhooks/{webhook_id}/deliveries", summary="A webhook's deliveries")
async def list_deliveries(
    webhook: WebhookToRead, session: DbSession, paging: PageParams
) -> Page[DeliveryOut]:
    """Newest first."""
    return await service.list_deliveries(session, webhook, paging)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    summary="Send a delivery again",
    dependencies=[Idempotent],
)
async def retry_delivery(
    webhook: WebhookToChange,
    delivery_id: uuid.UUID,
    session: DbSession,
    principal: WebhookManager,
) -> DeliveryOut:
    """Pending again, due now (a failed one too)."""
    return await service.retry_delivery(session, principal, webhook, delivery_id)
