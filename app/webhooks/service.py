"""Webhooks: the endpoints partners register, the messages the outbox's events become, and
their delivery as the Standard Webhooks specification says (signed, retried, in order per
resource).

A message carries what the webhook's organisation may read through the API, read with its
own access rules (`access.as_organisation`) when the event is fanned out: a reporter
learns its report's `problem_status` and `problem_outcome`, never a hidden problem's text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import exists, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import access, wording
from app.actions import service as actions
from app.config import Settings
from app.core import audit
from app.core.clock import utcnow
from app.core.db import one_entity
from app.core.errors import Invalid, NotFound
from app.core.outbox import OutboxEvent
from app.core.pagination import Ordering, Page, Paging, SortKey
from app.gpos.models import Gpo
from app.identity.principal import Principal
from app.mail import service as mail
from app.meetings.models import Meeting
from app.reference.models import Organisation
from app.reports import service as reports
from app.reports.models import Report
from app.webhooks.models import Delivery, DeliveryStatus, Webhook
from app.webhooks.schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
)

logger = logging.getLogger("app.webhooks")

# After the first attempt fails, the next ones wait this long: about a day in all.
RETRY_DELAYS = (60, 300, 1800, 7200, 28800, 86400)
DISABLE_AFTER = timedelta(days=1)
REQUEST_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
# A claimed delivery is in flight for at most this long, beyond what its round's requests
# may take; a worker that died with it in hand lets another take it after that (at least
# once, never lost).
LEASE = timedelta(seconds=60)
# Requests in flight at once to one endpoint (`app.worker`): its messages go over a few
# kept-alive connections (a connection per message costs more than the message, and
# httpx's pool slows down with hundreds of requests waiting in it).
PER_ENDPOINT = 4
CLAIMED_PER_ROUND = 200
WEBHOOKS_BY_CREATION = Ordering("created", (SortKey(Webhook.created_at), SortKey(Webhook.id)))
DELIVERIES_NEWEST_FIRST = Ordering(
    "newest", (SortKey(Delivery.event_seq, descending=True), SortKey(Delivery.id))
)


# --- the signing secret ------------------------------------------------------------------


def secret_of(settings: Settings, webhook: Webhook) -> str:
    """`whsec_<base64 key>`, derived from the service's key and the webhook's salt: shown
    at creation and rotation, recomputed to sign, never stored."""
    server_key = settings.gpo_secret_key.get_secret_value().encode()
    material = f"webhook:{webhook.id}:{webhook.secret_salt}".encode()
    key = hmac.new(server_key, material, hashlib.sha256).digest()[:24]
    return "whsec_" + base64.b64encode(key).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks' `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# --- the endpoint's address ----------------------------------------------------------------


async def check_url(settings: Settings, url: str, *, loc: Sequence[str] = ("body", "url")) -> None:
    """An `https` URL outside development; in production, never one whose host is (or
    resolves to) a loopback, private, link-local or otherwise internal address: a webhook
    must not make the service call into its own network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(
            loc, "must be an absolute http(s) URL", fr=wording.refused("webhook.url_absolute")
        )
    if parts.username or parts.password:
        raise Invalid(
            loc,
            "may not carry credentials (the signature authenticates)",
            fr=wording.refused("webhook.url_credentials"),
        )
    if settings.gpo_env != "development" and parts.scheme != "https":
        raise Invalid(loc, "must be https", fr=wording.refused("webhook.url_https"))
    if settings.is_production and not await _public_host(parts.hostname, parts.port):
        raise Invalid(
            loc,
            "must be a public address, not a private, loopback or local one",
            fr=wording.refused("webhook.url_public"),
        )


async def _public_host(host: str, port: int | None) -> bool:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port or 443)
    except OSError:
        return False
    addresses = {ipaddress.ip_address(info[4][0]) for info in found}
    return bool(addresses) and all(address.is_global for address in addresses)


# --- the resource --------------------------------------------------------------------------


def to_out(webhook: Webhook) -> WebhookOut:
    return WebhookOut.model_validate(webhook)


async def create_webhook(
    session: AsyncSession, principal: Principal, settings: Settings, data: WebhookCreate
) -> WebhookWithSecret:
    organisation_id = access.webhook_owner(principal, data.organisation_id)
    if await session.get(Organisation, organisation_id) is None:
        raise Invalid(["body", "organisation_id"], "unknown organisation")
    await check_url(settings, data.url)
    now = utcnow()
    webhook = Webhook(
        id=uuid.uuid4(),
        organisation_id=organisation_id,
        url=data.url,
        events=sorted({event.value for event in data.events}),
        description=data.description,
        active=data.active,
        secret_salt=secrets.token_hex(16),
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await audit.add_created(
        session,
        principal,
        webhook,
        resource_type="webhook",
        summary=f"Webhook vers {data.url}",
        values={"url": data.url, "events": webhook.events, "organisation_id": organisation_id},
    )
    return WebhookWithSecret(**to_out(webhook).model_dump(), secret=secret_of(settings, webhook))


async def get_webhook(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, *, lock: bool = False
) -> Webhook:
    statement = select(Webhook).where(
        Webhook.id == webhook_id, access.webhook_scope(principal, Webhook.organisation_id)
    )
    webhook: Webhook = await one_entity(session, statement, missing="No such webhook.", lock=lock)
    return webhook


async def list_webhooks(
    session: AsyncSession, principal: Principal, paging: Paging
) -> Page[WebhookOut]:
    statement = select(Webhook).where(access.webhook_scope(principal, Webhook.organisation_id))
    rows, next_cursor = await paging.fetch(session, statement, WEBHOOKS_BY_CREATION)
    return Page(items=[to_out(row[0]) for row in rows], next_cursor=next_cursor)


async def update_webhook(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    webhook: Webhook,
    data: WebhookUpdate,
) -> Webhook:
    values = data.provided()
    if "url" in values:
        await check_url(settings, values["url"])
    if "events" in values:
        values["events"] = sorted({event.value for event in values["events"]})
    if values.get("active") is True:
        values["disabled_reason"] = None
        values["failing_since"] = None
    changes = await audit.update(
        session,
        principal,
        webhook,
        values,
        resource_type="webhook",
        summary=f"Webhook vers {webhook.url} modifié",
    )
    if changes:
        webhook.updated_at = utcnow()
    return webhook


async def delete_webhook(session: AsyncSession, principal: Principal, webhook: Webhook) -> None:
    audit.record(
        session,
        principal,
        action="webhook.delete",
        resource_type="webhook",
        resource_id=webhook.id,
        summary=f"Webhook vers {webhook.url} supprimé",
    )
    await session.delete(webhook)
    await session.flush()


async def rotate_secret(
    session: AsyncSession, principal: Principal, settings: Settings, webhook: Webhook
) -> WebhookWithSecret:
    webhook.secret_salt = secrets.token_hex(16)
    webhook.version += 1
    webhook.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="webhook.rotate_secret",
        resource_type="webhook",
        resource_id=webhook.id,
        summary=f"Secret du webhook vers {webhook.url} renouvelé",
    )
    await session.flush()
    return WebhookWithSecret(**to_out(webhook).model_dump(), secret=secret_of(settings, webhook))


async def list_deliveries(
    session: AsyncSession, webhook: Webhook, paging: Paging
) -> Page[DeliveryOut]:
    statement = select(Delivery).where(Delivery.webhook_id == webhook.id)
    rows, next_cursor = await paging.fetch(session, statement, DELIVERIES_NEWEST_FIRST)
    return Page(items=[DeliveryOut.model_validate(row[0]) for row in rows], next_cursor=next_cursor)


async def retry_delivery(
    session: AsyncSession, principal: Principal, webhook: Webhook, delivery_id: uuid.UUID
) -> DeliveryOut:
    statement = select(Delivery).where(
        Delivery.id == delivery_id, Delivery.webhook_id == webhook.id
    )
    delivery: Delivery = await one_entity(
        session, statement, missing="No such delivery.", lock=True
    )
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = utcnow()
    audit.record(
        session,
        principal,
        action="delivery.retry",
        resource_type="webhook",
        resource_id=webhook.id,
        summary=f"Nouvel envoi demandé ({delivery.type})",
    )
    await session.flush()
    return DeliveryOut.model_validate(delivery)


# --- fan-out: events into messages ---------------------------------------------------------


async def message_data(
    session: AsyncSession, event_type: str, resource_id: str, reader: Principal
) -> dict[str, Any] | None:
    """What `reader` may read of the resource an event is about; None if nothing."""
    try:
        key = uuid.UUID(resource_id)
        if event_type.startswith("report."):
            return (await reports.view(session, reader, key)).model_dump(mode="json")
        if event_type.startswith("action."):
            return (await actions.view(session, reader, key)).model_dump(mode="json")
        if event_type.startswith("gpo."):
            gpo = await session.scalar(
                select(Gpo).where(Gpo.id == key, access.gpo_scope(reader, Gpo.id))
            )
            if gpo is None:
                return None
            return {
                "id": str(gpo.id),
                "name": gpo.name,
                "last_meeting_at": gpo.last_meeting_at.isoformat() if gpo.last_meeting_at else None,
                "next_meeting_due": gpo.next_meeting_due.isoformat(),
            }
        if event_type.startswith("meeting."):
            meeting = await session.scalar(
                select(Meeting).where(Meeting.id == key, access.meeting_scope(reader))
            )
            if meeting is None:
                return None
            # A partner does not read meetings through the API (only their minutes): when
            # and where, no more.
            return {
                "id": str(meeting.id),
                "gpo_id": str(meeting.gpo_id),
                "scheduled_at": meeting.scheduled_at.isoformat(),
                "status": meeting.status.value,
            }
    except NotFound:
        return None
    return None


@dataclass(frozen=True)
class Recipient:
    webhook_id: uuid.UUID
    events: frozenset[str]
    reader: Principal


async def _recipients(session: AsyncSession) -> list[Recipient]:
    rows = await session.execute(
        select(Webhook.id, Webhook.events, Organisation.id, Organisation.kind, Organisation.name)
        .join(Organisation, Organisation.id == Webhook.organisation_id)
        .where(Webhook.active)
    )
    return [
        Recipient(webhook_id, frozenset(events), access.as_organisation(org_id, kind, name))
        for webhook_id, events, org_id, kind, name in rows
    ]


async def _expanded(session: AsyncSession, event: OutboxEvent) -> list[tuple[str, str]]:
    """The (type, resource) messages an event makes: a problem's change, one per report of
    the problem (its reporter hears what became of it)."""
    if event.type != "problem.changed":
        return [(event.type, event.resource_id)]
    report_ids = await session.scalars(
        select(Report.id).where(Report.problem_id == uuid.UUID(event.resource_id))
    )
    return [("report.problem_changed", str(report_id)) for report_id in report_ids]


async def fan_out(session: AsyncSession, *, limit: int = 200) -> int:
    """Make the next events into deliveries, one per webhook that subscribes and may read
    the resource; the events are claimed (SKIP LOCKED) so that workers share them."""
    events = list(
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.fanned_out.is_(False))
            .order_by(OutboxEvent.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not events:
        return 0
    recipients = await _recipients(session)
    now = utcnow()
    messages = [(event, await _expanded(session, event)) for event in events]
    # What one organisation reads of one resource, read once per batch however many of its
    # webhooks subscribe (and however many of the batch's events name the resource); the
    # reports, nearly all of the messages, in one statement per organisation.
    read: dict[tuple[str, str, uuid.UUID | None], dict[str, Any] | None] = {}
    await _read_reports(session, [m for _e, found in messages for m in found], recipients, read)
    for event, found in messages:
        event.fanned_out = True
        for event_type, resource_id in found:
            for recipient in recipients:
                if event_type not in recipient.events:
                    continue
                key = (event_type, resource_id, recipient.reader.organisation_id)
                if key not in read:
                    read[key] = await message_data(
                        session, event_type, resource_id, recipient.reader
                    )
                data = read[key]
                if data is None:
                    continue
                session.add(
                    Delivery(
                        id=uuid.uuid4(),
                        webhook_id=recipient.webhook_id,
                        event_id=event.id,
                        event_seq=event.seq,
                        type=event_type,
                        resource_id=resource_id,
                        body={
                            "type": event_type,
                            "timestamp": event.occurred_at.isoformat(),
                            "data": data,
                        },
                        status=DeliveryStatus.pending,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    await session.flush()
    return len(events)


async def _read_reports(
    session: AsyncSession,
    messages: list[tuple[str, str]],
    recipients: list[Recipient],
    read: dict[tuple[str, str, uuid.UUID | None], dict[str, Any] | None],
) -> None:
    """Fill `read` with what each subscribed organisation reads of the reports that the
    messages name (None for one it may not read), as `message_data` would, per batch."""
    about = [(t, r) for t, r in messages if t.startswith("report.")]
    readers = {
        rc.reader.organisation_id: rc.reader
        for rc in recipients
        if any(e.startswith("report.") for e in rc.events)
    }
    ids = sorted({r for _t, r in about})
    for organisation_id, reader in readers.items():
        seen: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = [uuid.UUID(r) for r in ids[start : start + 500]]
            rows = await session.execute(reports.with_problem(reader).where(Report.id.in_(chunk)))
            for report, status, outcome in rows:
                seen[str(report.id)] = reports.to_out(report, status, outcome).model_dump(
                    mode="json"
                )
        for event_type, resource_id in about:
            read[(event_type, resource_id, organisation_id)] = seen.get(resource_id)


async def has_work(session: AsyncSession) -> bool:
    """An event to fan out, or a delivery due: two index lookups, read only."""
    waiting = select(OutboxEvent.seq).where(OutboxEvent.fanned_out.is_(False)).exists()
    due = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= utcnow())
        .exists()
    )
    return bool(await session.scalar(select(waiting | due)))


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    url: str
    secret: str
    body: bytes
    # In production the host is checked again before each request: a name that resolved
    # to a public address at registration may point inside the network since.
    public_only: bool = False


async def claim_due(
    session: AsyncSession, settings: Settings, *, limit: int = CLAIMED_PER_ROUND
) -> list[Claimed]:
    """The deliveries due now whose resource has no earlier message still pending for the
    same endpoint (in order per resource), leased for `LEASE`."""
    now = utcnow()
    earlier = aliased(Delivery)
    blocked = exists().where(
        earlier.webhook_id == Delivery.webhook_id,
        earlier.resource_id == Delivery.resource_id,
        earlier.event_seq < Delivery.event_seq,
        earlier.status == DeliveryStatus.pending,
    )
    rows = (
        await session.execute(
            select(Delivery, Webhook)
            .join(Webhook, Webhook.id == Delivery.webhook_id)
            .where(
                Webhook.active,
                Delivery.status == DeliveryStatus.pending,
                Delivery.next_attempt_at <= now,
                ~blocked,
            )
            .order_by(Delivery.event_seq, Delivery.id)
            .limit(limit)
            .with_for_update(of=Delivery, skip_locked=True)
        )
    ).all()
    # A lease long enough for the round even if an endpoint times out on each of its
    # messages, sent PER_ENDPOINT at a time: no other worker takes them while in flight.
    per_endpoint = Counter(webhook.id for _delivery, webhook in rows)
    claimed = []
    for delivery, webhook in rows:
        turns = -(-per_endpoint[webhook.id] // PER_ENDPOINT)
        delivery.next_attempt_at = now + LEASE + timedelta(seconds=REQUEST_TIMEOUT * turns)
        body = json.dumps(delivery.body, ensure_ascii=False, separators=(",", ":")).encode()
        secret = secret_of(settings, webhook)
        public_only = settings.is_production
        claimed.append(Claimed(delivery.id, webhook.id, webhook.url, secret, body, public_only))
    await session.flush()
    return claimed


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(client: httpx.AsyncClient, message: Claimed) -> Outcome:
    """POST the message, signed; any 2xx within the timeout is a success."""
    timestamp = int(utcnow().timestamp())
    message_id = f"msg_{message.delivery_id.hex}"
    headers = {
        "content-type": "application/json",
        "user-agent": "gpo-metz-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(message.secret, message_id, timestamp, message.body),
    }
    if message.public_only:
        parts = urlsplit(message.url)
        if not await _public_host(parts.hostname or "", parts.port):
            return Outcome(None, "address not public")
    try:
        async with client.stream(
            "POST", message.url, content=message.body, headers=headers
        ) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > MAX_RESPONSE_BYTES:
                    break  # the answer's body is not needed: its status is
            return Outcome(response.status_code, None)
    except httpx.TimeoutException:
        return Outcome(None, "timeout")
    except httpx.HTTPError as exc:
        return Outcome(None, type(exc).__name__)


async def record_outcomes(
    session: AsyncSession, results: Sequence[tuple[Claimed, Outcome]], at: datetime
) -> None:
    """A round's outcomes: the successes (nearly all of them) in two statements, each
    failure by `record_outcome` (its back-off, perhaps its endpoint disabled)."""
    succeeded: dict[int, list[uuid.UUID]] = defaultdict(list)
    for message, outcome in results:
        if outcome.succeeded:
            assert outcome.status_code is not None
            succeeded[outcome.status_code].append(message.delivery_id)
        else:
            await record_outcome(session, message, outcome, at)
    for status_code, ids in succeeded.items():
        # Still pending: not deleted meanwhile, nor recorded by a worker that took it over.
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.pending)
            .values(
                status=DeliveryStatus.succeeded,
                attempts=Delivery.attempts + 1,
                last_attempt_at=at,
                last_status_code=status_code,
                last_error=None,
                next_attempt_at=None,
            )
            .execution_options(synchronize_session=False)
        )
    endpoints = {m.webhook_id for m, outcome in results if outcome.succeeded}
    if endpoints:
        await session.execute(
            update(Webhook)
            .where(Webhook.id.in_(endpoints), Webhook.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )


async def record_outcome(
    session: AsyncSession, message: Claimed, outcome: Outcome, at: datetime
) -> None:
    delivery = await session.get(Delivery, message.delivery_id, with_for_update=True)
    webhook = await session.get(Webhook, message.webhook_id, with_for_update=True)
    if delivery is None or webhook is None or delivery.status is not DeliveryStatus.pending:
        return  # deleted meanwhile, or already recorded by a worker that took it over
    delivery.attempts += 1
    delivery.last_attempt_at = at
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    if outcome.succeeded:
        delivery.status = DeliveryStatus.succeeded
        delivery.next_attempt_at = None
        webhook.failing_since = None
        await session.flush()
        return
    if delivery.attempts > len(RETRY_DELAYS):
        delivery.status = DeliveryStatus.failed
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = at + timedelta(seconds=RETRY_DELAYS[delivery.attempts - 1])
    webhook.failing_since = webhook.failing_since or at
    if webhook.active and at - webhook.failing_since >= DISABLE_AFTER:
        webhook.active = False
        webhook.disabled_reason = (
            f"Every delivery failed for a day (last: {outcome.error or outcome.status_code})."
        )
        webhook.version += 1
        audit.record(
            session,
            None,
            action="webhook.disable",
            resource_type="webhook",
            resource_id=webhook.id,
            summary=f"Webhook vers {webhook.url} désactivé : un jour d'échecs",
        )
        await mail.webhook_disabled(session, webhook.id, webhook.organisation_id, at)
        logger.warning(
            "webhook disabled after a day of failures",
            extra={"fields": {"webhook_id": str(webhook.id)}},
        )
    await session.flush()


# --- what an operator watches (GET /metrics) ---------------------------------------------


async def outbox_lag_seconds(session: AsyncSession) -> float:
    """Age of the oldest event not yet fanned out (0 when none waits)."""
    oldest = await session.scalar(
        select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.fanned_out.is_(False))
    )
    return 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())


async def deliveries_waiting(session: AsyncSession) -> dict[str, float]:
    """Deliveries waiting for their first attempt (`pending`), waiting for a retry after a
    failed attempt (`retrying`), and given up (`failed`). Succeeded ones are history: not
    counted at each scrape."""
    # A literal, not a parameter: PostgreSQL matches the grouped expression by its text.
    tried = Delivery.attempts > literal_column("0")
    rows = await session.execute(
        select(Delivery.status, tried, func.count())
        .where(Delivery.status.in_([DeliveryStatus.pending, DeliveryStatus.failed]))
        .group_by(Delivery.status, tried)
    )
    counts = dict.fromkeys(("pending", "retrying", "failed"), 0.0)
    for status, was_tried, count in rows:
        name = "retrying" if status is DeliveryStatus.pending and was_tried else status.value
        counts[name] += float(count)
    return counts


async def webhooks_disabled(session: AsyncSession) -> float:
    count = await session.scalar(
        select(func.count()).select_from(Webhook).where(Webhook.disabled_reason.is_not(None))
    )
    return float(count or 0)
