"""Webhooks as a landlord's IT team meets them: registered through the API, messages signed
as Standard Webhooks says (checked with the `standardwebhooks` package), retried with the
same id, in order per resource, disabled after a day of failures, and never carrying what
the organisation may not read. The receiver is a real HTTP server on a loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook as StandardWebhook

from app import worker
from app.actions.models import Action
from app.config import Settings
from app.core.clock import PARIS, utcnow
from app.core.db import Database
from app.core.outbox import OutboxEvent
from app.main import PROJECT_ROOT, create_app
from app.webhooks.models import Delivery, DeliveryStatus, Webhook
from tests.api import Api, Caller, World, expect, live_server, problem_of
from tests.databases import installed
from tests.intake import submit, triage

EVENTS = ["report.triaged", "report.problem_changed"]


@dataclass
class Receiver:
    """An endpoint that records what it receives and answers the statuses it is told."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)

    def app(self) -> FastAPI:
        receiver = FastAPI()

        @receiver.post("/hook")
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            if self.delays:
                await asyncio.sleep(self.delays.pop(0))
            return Response(status_code=self.answers.pop(0) if self.answers else 204)

        return receiver

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _headers, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    with live_server(found.app()) as (host, port):
        found.url = f"http://{host}:{port}/hook"
        yield found


@pytest.fixture
async def deliver(database: Any) -> AsyncIterator[Any]:
    """Worker rounds until there is nothing left to do now, as `python -m app.worker` runs
    them (a resource's next message goes out in the round after the one before it)."""
    async with worker.http_client() as client:

        async def run() -> int:
            done = 0
            for _ in range(20):
                if not (did := await worker.run_once(database, database.settings, client)):
                    return done
                done += did
            raise AssertionError("the worker never ran out of work")

        yield run


async def register(
    api: Api, caller: Caller, url: str, events: list[str] = EVENTS, **body: Any
) -> dict[str, Any]:
    created = expect(
        await api.post(caller, "/webhooks", json={"url": url, "events": events, **body}), 201
    )
    return dict(created)


def verified(secret: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The message as a receiver using the reference library reads it (raises if forged)."""
    payload: dict[str, Any] = StandardWebhook(secret).verify(body, headers)
    return payload


async def outbox_types(app_database: Any, resource_id: str) -> list[str]:
    async with app_database.session(write=False) as session:
        found = await session.scalars(
            select(OutboxEvent.type)
            .where(OutboxEvent.resource_id == resource_id)
            .order_by(OutboxEvent.seq)
        )
        return list(found)


async def test_each_change_writes_its_event_and_nothing_else_does(
    world: World, database: Any
) -> None:
    """The trigger on the audit events (migration 0016): an action assigned then updated, a
    meeting planned then held, one recorded as held at once, a problem moved, a report
    triaged; a refused change and an unrelated one write nothing."""
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    action = await api.action(fac, problem, world.landlord)
    moved = expect(
        await api.patch(
            fac,
            f"/actions/{action['id']}",
            json={"status": "in_progress"},
            headers={"If-Match": f'"{action["version"]}"'},
        ),
        200,
    )
    assert await outbox_types(database, action["id"]) == ["action.assigned", "action.updated"]
    stale = await api.patch(
        fac,
        f"/actions/{action['id']}",
        json={"title": "Autre"},
        headers={"If-Match": f'"{action["version"]}"'},
    )
    assert stale.status_code == 412
    assert await outbox_types(database, action["id"]) == ["action.assigned", "action.updated"]
    assert moved["version"] > action["version"]

    meetings = f"/gpos/{world.gpo['id']}/meetings"
    soon = (utcnow() + timedelta(days=3)).astimezone(PARIS).isoformat()
    past = (utcnow() - timedelta(days=3)).astimezone(PARIS).isoformat()
    planned = expect(await api.post(fac, meetings, json={"scheduled_at": soon}), 201)
    assert await outbox_types(database, planned["id"]) == ["meeting.planned"]
    expect(
        await api.patch(
            fac,
            f"/meetings/{planned['id']}",
            json={"location": "Mairie"},
            headers={"If-Match": f'"{planned["version"]}"'},
        ),
        200,
    )
    assert await outbox_types(database, planned["id"]) == ["meeting.planned"]
    held = expect(await api.post(fac, meetings, json={"scheduled_at": past}), 201)
    assert held["status"] == "held"
    assert await outbox_types(database, held["id"]) == ["meeting.held"]

    expect(await api.move(fac, problem, "open"), 200)
    assert await outbox_types(database, problem["id"]) == ["problem.changed"]
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, fac, report, "create_problem"), 200)
    assert await outbox_types(database, report["id"]) == ["report.triaged"]


# --- the resource ----------------------------------------------------------------------------


async def test_a_partner_registers_a_webhook_and_sees_its_secret_once(world: World) -> None:
    api = world.api
    response = await api.post(
        world.landlord_partner,
        "/webhooks",
        json={"url": "https://si.example/gpo", "events": ["report.triaged"]},
    )
    created = expect(response, 201)
    assert created["secret"].startswith("whsec_")
    assert created["organisation_id"] == world.landlord["id"]
    assert response.headers["location"] == f"/api/v1/webhooks/{created['id']}"
    read = expect(await api.get(world.landlord_partner, f"/webhooks/{created['id']}"), 200)
    assert "secret" not in read
    listed = expect(await api.get(world.landlord_partner, "/webhooks"), 200)
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    # Another organisation's partner does not see it; a facilitator manages none.
    problem_of(await api.get(world.outsider_partner, f"/webhooks/{created['id']}"), 404)
    assert expect(await api.get(world.outsider_partner, "/webhooks"), 200)["items"] == []
    problem_of(await api.get(world.facilitator, "/webhooks"), 403)
    # An admin sees it and must name the organisation of a webhook it creates.
    expect(await api.get(api.admin, f"/webhooks/{created['id']}"), 200)
    body = {"url": "https://si.example/x", "events": ["report.triaged"]}
    missing = problem_of(await api.post(api.admin, "/webhooks", json=body), 422)
    assert ["body", "organisation_id"] in [e["loc"] for e in missing["errors"]]
    # A partner may not register one for another organisation.
    other = {**body, "organisation_id": world.national_police["id"]}
    problem_of(await api.post(world.landlord_partner, "/webhooks", json=other), 403)


async def test_rotating_gives_a_new_secret_and_unknown_events_are_422(world: World) -> None:
    api = world.api
    created = await register(api, world.landlord_partner, "https://si.example/gpo")
    rotated = expect(
        await api.post(world.landlord_partner, f"/webhooks/{created['id']}/rotate-secret"), 200
    )
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["version"] == created["version"] + 1
    bad = {"url": "https://si.example/gpo", "events": ["problem.deleted"]}
    problem = problem_of(await api.post(world.landlord_partner, "/webhooks", json=bad), 422)
    assert ["body", "events", 0] in [e["loc"] for e in problem["errors"]]


async def test_production_refuses_plain_http_and_internal_addresses(
    world: World, database: Any
) -> None:
    production: FastAPI = create_app(database.settings.model_copy(update={"gpo_env": "production"}))
    async with production.router.lifespan_context(production):
        with installed(production, database):
            transport = httpx.ASGITransport(app=production)
            async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as http:
                api = Api(http, "")
                for url in (
                    "http://203.0.113.10/hook",
                    "https://127.0.0.1/hook",
                    "https://10.1.2.3/hook",
                    "https://169.254.169.254/latest",
                    "https://[::1]/hook",
                    "https://localhost/hook",
                    "https://user:pass@203.0.113.10/hook",
                ):
                    body = {"url": url, "events": ["report.triaged"]}
                    response = await api.post(world.landlord_partner, "/webhooks", json=body)
                    problem = problem_of(response, 422)
                    assert ["body", "url"] in [e["loc"] for e in problem["errors"]], url
                public = {"url": "https://93.184.215.14/gpo", "events": ["report.triaged"]}
                expect(await api.post(world.landlord_partner, "/webhooks", json=public), 201)


# --- delivery --------------------------------------------------------------------------------


@pytest.mark.commits
async def test_a_landlord_hears_its_report_triaged_then_its_problem_moved(
    world: World, receiver: Receiver, deliver: Any
) -> None:
    api = world.api
    hook = await register(api, world.landlord_partner, receiver.url)
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    await deliver()
    ((headers, body),) = receiver.received
    message = verified(hook["secret"], headers, body)
    assert message["type"] == "report.triaged"
    assert message["data"]["id"] == report["id"]
    problem_id = message["data"]["problem_id"]
    assert message["data"]["problem_status"] == "new"

    moved = await api.post(
        world.facilitator, f"/problems/{problem_id}/transitions", json={"to": "open"}
    )
    expect(moved, 200)
    await deliver()
    assert len(receiver.received) == 2
    changed = verified(hook["secret"], *receiver.received[1])
    assert changed["type"] == "report.problem_changed"
    assert changed["data"]["problem_status"] == "open"
    assert receiver.received[0][0]["webhook-id"] != receiver.received[1][0]["webhook-id"]
    deliveries = expect(
        await api.get(world.landlord_partner, f"/webhooks/{hook['id']}/deliveries"), 200
    )
    assert [d["status"] for d in deliveries["items"]] == ["succeeded", "succeeded"]
    assert [d["type"] for d in deliveries["items"]] == ["report.problem_changed", "report.triaged"]


@pytest.mark.commits
async def test_a_restricted_problem_text_never_reaches_the_reporter(
    world: World, receiver: Receiver, deliver: Any
) -> None:
    api = world.api
    await register(api, world.landlord_partner, receiver.url)
    secret_title = "Point de deal rue de Toul, guetteurs identifiés"
    problem = await api.problem(
        world.facilitator,
        world.gpo,
        title=secret_title,
        description="Informations de la BAC : trois guetteurs, véhicule signalé.",
        category="drug_dealing",
        visibility="restricted",
    )
    report = await submit(api, world.landlord_partner)
    attached = await triage(api, world.facilitator, report, "attach", problem_id=problem["id"])
    expect(attached, 200)
    closed = await api.post(
        world.facilitator, f"/problems/{problem['id']}/transitions", json={"to": "open"}
    )
    expect(closed, 200)
    await deliver()
    assert [b["type"] for b in receiver.bodies()] == ["report.triaged", "report.problem_changed"]
    everything = b"".join(body for _headers, body in receiver.received).decode()
    assert "guetteurs" not in everything
    assert "Point de deal" not in everything
    assert receiver.bodies()[1]["data"]["problem_status"] == "open"


@pytest.mark.commits
async def test_a_failed_delivery_is_retried_with_the_same_id_until_it_succeeds(
    world: World, receiver: Receiver, deliver: Any
) -> None:
    api = world.api
    hook = await register(api, world.landlord_partner, receiver.url)
    receiver.answers = [500, 200]
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    await deliver()
    path = f"/webhooks/{hook['id']}/deliveries"
    (pending,) = expect(await api.get(world.landlord_partner, path), 200)["items"]
    assert pending["status"] == "pending"
    assert pending["attempts"] == 1
    assert pending["last_status_code"] == 500
    # Next attempt a minute later, not at once.
    wait = instant(pending["next_attempt_at"]) - instant(pending["last_attempt_at"])
    assert timedelta(seconds=55) <= wait <= timedelta(seconds=65)
    await deliver()
    assert len(receiver.received) == 1  # not due yet
    retried = await api.post(world.landlord_partner, f"{path}/{pending['id']}/retry")
    assert expect(retried, 200)["status"] == "pending"
    await deliver()
    first, second = receiver.received
    assert first[0]["webhook-id"] == second[0]["webhook-id"]
    assert first[1] == second[1]
    verified(hook["secret"], *second)
    (done,) = expect(await api.get(world.landlord_partner, path), 200)["items"]
    assert done["status"] == "succeeded"
    assert done["attempts"] == 2
    assert done["last_status_code"] == 200


@pytest.mark.commits
async def test_an_endpoint_failing_for_a_day_is_disabled_and_re_enabled_by_its_owner(
    world: World, receiver: Receiver, deliver: Any, database: Any
) -> None:
    api = world.api
    hook = await register(api, world.landlord_partner, receiver.url)
    async with database.session(write=True) as session:
        await session.execute(
            update(Webhook)
            .where(Webhook.id == uuid.UUID(hook["id"]))
            .values(failing_since=utcnow() - timedelta(days=1, minutes=1))
        )
        await session.commit()
    receiver.answers = [503]
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    await deliver()
    read = expect(await api.get(world.landlord_partner, f"/webhooks/{hook['id']}"), 200)
    assert read["active"] is False
    assert read["disabled_reason"]
    enabled = await api.patch(
        world.landlord_partner, f"/webhooks/{hook['id']}", json={"active": True}
    )
    assert expect(enabled, 200)["disabled_reason"] is None


@pytest.mark.commits
async def test_messages_of_one_resource_arrive_in_order(
    world: World, receiver: Receiver, deliver: Any
) -> None:
    """While the first message of a report waits for its retry, the next one waits too."""
    api = world.api
    await register(api, world.landlord_partner, receiver.url)
    receiver.answers = [500]
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    await deliver()  # the triage fails, to be retried in a minute
    problem_id = (await api.get(world.landlord_partner, f"/reports/{report['id']}")).json()[
        "problem_id"
    ]
    moved = await api.post(
        world.facilitator, f"/problems/{problem_id}/transitions", json={"to": "open"}
    )
    expect(moved, 200)
    await deliver()
    assert [b["type"] for b in receiver.bodies()] == ["report.triaged"]  # nothing overtook


@pytest.mark.commits
async def test_the_web_process_delivers_by_itself_on_sqlite(
    world: World, receiver: Receiver, settings: Settings
) -> None:
    if not settings.is_sqlite:
        pytest.skip("the in-process worker is the embedded database's default")
    own: FastAPI = create_app(settings.model_copy(update={"gpo_worker": None}))
    async with own.router.lifespan_context(own):
        transport = httpx.ASGITransport(app=own)
        async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as http:
            api = Api(http, world.api.admin.token)
            await register(api, world.landlord_partner, receiver.url)
            report = await submit(api, world.landlord_partner)
            started = time.monotonic()
            expect(await triage(api, world.facilitator, report, "create_problem"), 200)
            while not receiver.received:
                assert time.monotonic() - started < 2.0, "not delivered within 2 s"
                await asyncio.sleep(0.05)
    assert receiver.bodies()[0]["type"] == "report.triaged"


def instant(value: str) -> Any:
    return datetime.fromisoformat(value)


# --- several workers, and a worker that dies -------------------------------------------------


@pytest.mark.commits
async def test_two_workers_deliver_each_message_once(
    world: World, receiver: Receiver, settings: Settings
) -> None:
    """Two workers with connections of their own (as two processes) share the work: every
    message arrives, none twice."""
    if settings.is_sqlite:
        pytest.skip("one worker per SQLite file; several share PostgreSQL with SKIP LOCKED")
    api = world.api
    await register(api, world.landlord_partner, receiver.url)
    reports = [await submit(api, world.landlord_partner) for _ in range(12)]
    for report in reports:
        expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    first, second = Database(settings), Database(settings)
    stop = asyncio.Event()
    try:
        running = [
            asyncio.ensure_future(worker.run(first, settings, stop)),
            asyncio.ensure_future(worker.run(second, settings, stop)),
        ]
        started = time.monotonic()
        while len(receiver.received) < len(reports):
            assert time.monotonic() - started < 10, f"{len(receiver.received)} delivered"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # time for a duplicate to show up, if there were one
        stop.set()
        await asyncio.gather(*running)
    finally:
        await first.dispose()
        await second.dispose()
    ids = [headers["webhook-id"] for headers, _body in receiver.received]
    assert len(ids) == len(set(ids)) == len(reports)
    assert {b["data"]["id"] for b in receiver.bodies()} == {r["id"] for r in reports}


async def worker_process(settings: Settings) -> asyncio.subprocess.Process:
    """`python -m app.worker` on the test's database, as an operator starts it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GPO_", "DATABASE_URL"))},
        "DATABASE_URL": settings.database_url,
        "GPO_SECRET_KEY": settings.gpo_secret_key.get_secret_value(),
        "GPO_LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.worker", cwd=PROJECT_ROOT, env=env
    )


@pytest.mark.commits
async def test_a_worker_killed_mid_delivery_loses_nothing(
    world: World, receiver: Receiver, settings: Settings, database: Any
) -> None:
    """`python -m app.worker` is killed (SIGKILL) while the receiver is still answering; once
    its lease has run out, another worker sends that message again, with the same id, and
    the others: at least once, deduplicable."""
    api = world.api
    hook = await register(api, world.landlord_partner, receiver.url)
    receiver.delays = [3.0]
    reports = [await submit(api, world.landlord_partner) for _ in range(3)]
    for report in reports:
        expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    process = await worker_process(settings)
    try:
        started = time.monotonic()
        while not receiver.received:
            assert time.monotonic() - started < 20, "the worker sent nothing"
            await asyncio.sleep(0.05)
    finally:
        process.kill()
        await process.wait()
    in_flight = {headers["webhook-id"] for headers, _body in receiver.received}
    # The lease of what the dead worker held runs out (a minute: moved forward here).
    async with database.session(write=True) as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.pending)
            .values(next_attempt_at=utcnow())
        )
        await session.commit()
    async with worker.http_client() as client:
        while await worker.run_once(database, settings, client):
            pass
    delivered = {headers["webhook-id"] for headers, _body in receiver.received}
    assert in_flight <= delivered
    assert {b["data"]["id"] for b in receiver.bodies()} == {r["id"] for r in reports}
    deliveries = expect(
        await api.get(world.landlord_partner, f"/webhooks/{hook['id']}/deliveries"), 200
    )
    assert {d["status"] for d in deliveries["items"]} == {"succeeded"}


@pytest.mark.commits
async def test_a_worker_stopped_mid_delivery_finishes_it_first(
    world: World, receiver: Receiver, settings: Settings, database: Any
) -> None:
    """SIGTERM while the receiver is still answering: the worker waits for the answer,
    records it and exits cleanly; nothing it sent is sent again, and nothing is lost."""
    api = world.api
    hook = await register(api, world.landlord_partner, receiver.url)
    receiver.delays = [2.0]
    reports = [await submit(api, world.landlord_partner) for _ in range(2)]
    for report in reports:
        expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    process = await worker_process(settings)
    try:
        started = time.monotonic()
        while not receiver.received:
            assert time.monotonic() - started < 20, "the worker sent nothing"
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    first = receiver.received[0][0]["webhook-id"]
    async with database.session(write=False) as session:
        recorded = (
            await session.execute(
                select(Delivery.status, Delivery.attempts).where(
                    Delivery.id == uuid.UUID(first.removeprefix("msg_"))
                )
            )
        ).all()
    assert [tuple(row) for row in recorded] == [(DeliveryStatus.succeeded, 1)]
    # What was left is delivered by the next worker, the finished one not again.
    async with worker.http_client() as client:
        while await worker.run_once(database, settings, client):
            pass
    sent = [headers["webhook-id"] for headers, _body in receiver.received]
    assert sent.count(first) == 1
    assert {b["data"]["id"] for b in receiver.bodies()} == {r["id"] for r in reports}
    deliveries = expect(
        await api.get(world.landlord_partner, f"/webhooks/{hook['id']}/deliveries"), 200
    )
    assert {d["status"] for d in deliveries["items"]} == {"succeeded"}


# --- the morning's reminders -----------------------------------------------------------------


@pytest.mark.commits
async def test_the_morning_reminders_are_written_once_across_workers(
    world: World, receiver: Receiver, deliver: Any, database: Any, settings: Settings
) -> None:
    """At 07:00 Paris time, actions due within a week and actions overdue are reminded of,
    once per action and due date, whatever the number of workers or rounds."""
    api = world.api
    await register(
        api, world.landlord_partner, receiver.url, events=["action.due_soon", "action.overdue"]
    )
    problem = await api.problem(world.facilitator, world.gpo)
    today = utcnow().astimezone(PARIS).date()
    soon = await api.action(
        world.facilitator, problem, world.landlord, due_date=str(today + timedelta(days=3))
    )
    late = await api.action(world.facilitator, problem, world.landlord)
    await api.action(world.facilitator, problem, world.landlord)  # due in 2030: no reminder
    async with database.session(write=True) as session:
        await session.execute(
            update(Action)
            .where(Action.id == uuid.UUID(late["id"]))
            .values(due_date=today - timedelta(days=2))
        )
        await session.commit()
    await deliver()  # the creations' own messages (none subscribed) are out of the way
    morning = datetime.combine(today, dtime(7, 5), PARIS)
    assert await worker.run_jobs(database, morning - timedelta(hours=1)) == 0  # 06:05
    second = Database(settings)
    try:
        made = await asyncio.gather(
            worker.run_jobs(database, morning), worker.run_jobs(second, morning)
        )
    finally:
        await second.dispose()
    async with database.session(write=False) as session:
        reminders = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.key.is_not(None))
        )
    assert reminders == 2
    assert sum(made) >= 2  # the reminders, and the morning's mails (tests/test_mail.py)
    assert await worker.run_jobs(database, morning + timedelta(hours=3)) == 0
    await deliver()
    got = {(b["type"], b["data"]["id"]) for b in receiver.bodies()}
    assert got == {("action.due_soon", soon["id"]), ("action.overdue", late["id"])}
    assert len(receiver.received) == 2


@pytest.mark.commits
async def test_in_production_the_address_is_checked_again_before_each_request(
    world: World, receiver: Receiver, database: Any, settings: Settings
) -> None:
    """A host that was public when registered may resolve inside the network later: in
    production a delivery to a non-public address is not sent (and is retried later)."""
    api = world.api
    hook = await register(api, world.landlord_partner, receiver.url)  # loopback: development
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    production = settings.model_copy(update={"gpo_env": "production"})
    async with worker.http_client() as client:
        await worker.run_once(database, production, client)
    assert receiver.received == []
    (delivery,) = expect(
        await api.get(world.landlord_partner, f"/webhooks/{hook['id']}/deliveries"), 200
    )["items"]
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] is None


@pytest.mark.commits
async def test_two_webhooks_of_one_organisation_each_get_the_message(
    world: World, receiver: Receiver, deliver: Any
) -> None:
    """The organisation's view of the report is read once, and sent to each endpoint."""
    api = world.api
    first = await register(api, world.landlord_partner, receiver.url)
    second = await register(api, world.landlord_partner, receiver.url)
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    await deliver()
    assert len(receiver.received) == 2
    secrets = {first["secret"], second["secret"]}
    verified_by = set()
    for headers, body in receiver.received:
        for secret in secrets:
            try:
                verified(secret, headers, body)
            except Exception:  # noqa: S112 - signed with the other endpoint's secret
                continue
            verified_by.add(secret)
    assert verified_by == secrets
    assert receiver.bodies()[0]["data"] == receiver.bodies()[1]["data"]
