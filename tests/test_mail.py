"""E-mail as people receive it: a real SMTP server (aiosmtpd) on a loopback port, mails
written by the API and the console, sent by the real worker round, read back as a mail
client reads them (recipients, subject, French text and HTML parts, links)."""

from __future__ import annotations

import asyncio
import email
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import func, select, update

from app import worker
from app.config import Settings, load_settings
from app.core.audit import AuditEvent
from app.core.clock import PARIS, utcnow
from app.core.db import Database
from app.mail import sender
from app.mail import service as mail
from app.mail.models import Mail, MailKind, MailStatus
from app.webhooks import service as webhooks
from app.webhooks.models import Delivery, DeliveryStatus, Webhook
from tests.api import Caller, World, expect, free_port
from tests.console import csrf_of, text_of
from tests.intake import submit

LINK = re.compile(r"https?://[^\s<>\"]+")


@dataclass
class Received:
    """One message as the server got it."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no {subtype} part"
        assert body.get_content_subtype() == subtype
        return str(body.get_content())  # type: ignore[attr-defined]

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def links(self) -> list[str]:
        return LINK.findall(self.text)


@dataclass
class SmtpServer:
    url: str
    port: int
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    port = free_port()
    server = SmtpServer(f"smtp://127.0.0.1:{port}", port)
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def with_smtp(settings: Settings, url: str) -> Settings:
    return settings.model_copy(
        update={"gpo_smtp_url": SecretStr(url), "gpo_public_url": "https://gpo.example.fr"}
    )


async def send_mails(database: Any, settings: Settings) -> int:
    """Worker rounds of the mail outbox until nothing is due."""
    done = 0
    for _ in range(20):
        if not (did := await sender.deliver_due(database, settings)):
            return done
        done += did
    raise AssertionError("the mail outbox never ran out of work")


async def mails(database: Any, **where: Any) -> list[Mail]:
    async with database.session(write=False) as session:
        statement = select(Mail).filter_by(**where).order_by(Mail.created_at)
        return list(await session.scalars(statement))


def email_of(caller: Caller) -> str:
    return str(caller.user["email"])


# --- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://mail.example", "smtp://"),
        ("smtp://agent:s3cr3t-pw@", "no host"),
        ("smtp://agent:s3cr3t-pw@mail.example:99999", "not a valid URL"),
        ("smtp://agent@mail.example", "without a password"),
        ("smtps://agent:s3cr3t-pw@mail.example/inbox", "no path"),
    ],
)
def test_a_malformed_smtp_url_stops_start_up_without_showing_the_password(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GPO_SMTP_URL", url)
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "GPO_SMTP_URL" in error
    assert reason in error
    assert "s3cr3t-pw" not in error


def test_smtp_urls_name_tls_and_the_default_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPO_SMTP_URL", "smtp://agent:p%40ss@mail.example")
    starttls = load_settings().smtp_server
    assert starttls is not None
    assert (starttls.host, starttls.port, starttls.implicit_tls) == ("mail.example", 587, False)
    assert (starttls.username, starttls.password) == ("agent", "p@ss")
    assert "p@ss" not in repr(starttls)
    assert "p%40ss" not in repr(load_settings())
    monkeypatch.setenv("GPO_SMTP_URL", "smtps://mail.example")
    tls = load_settings().smtp_server
    assert tls is not None
    assert (tls.port, tls.implicit_tls, tls.username) == (465, True, None)


# --- invitations and resets --------------------------------------------------------------


async def test_an_invited_person_receives_the_link_by_mail(
    world: World, database: Any, smtp: SmtpServer, console: Any
) -> None:
    api = world.api
    person = await api.user("partner", world.landlord, name="Nadia Kacem")
    response = await api.post(api.admin, f"/users/{person.id}/invitations")
    link = expect(response, 201)["invitation_url"]  # still shown once, as before
    (row,) = await mails(database, user_id=uuid.UUID(person.id))
    secret = link.rsplit("/", 1)[1]
    # The outbox keeps the invitation's id, never its secret.
    assert row.kind is MailKind.invitation
    assert secret not in repr(vars(row))
    settings = with_smtp(database.settings, smtp.url)
    assert await send_mails(database, settings) == 1
    (got,) = smtp.received
    assert got.recipients == ["nadia.kacem@example.org"]
    assert got.message["From"] == "GPO <no-reply@localhost>"
    assert got.subject == "Votre accès à la console GPO"
    assert "Bonjour Nadia Kacem" in got.text
    assert "choisir votre mot de passe" in got.text
    mailed = f"https://gpo.example.fr/console/invitation/{secret}"
    assert mailed in got.links()
    assert f'href="{mailed}"' in got.html
    assert 'lang="fr"' in got.html
    # The mailed link opens the page where the password is chosen.
    page = await (await console(None)).get(f"/console/invitation/{secret}")
    assert page.status_code == 200
    (sent,) = await mails(database, user_id=uuid.UUID(person.id))
    assert sent.status is MailStatus.sent
    assert sent.to_address == "nadia.kacem@example.org"


async def test_a_replaced_invitation_is_not_mailed(
    world: World, database: Any, smtp: SmtpServer
) -> None:
    api = world.api
    person = await api.user("partner", world.landlord)
    expect(await api.post(api.admin, f"/users/{person.id}/invitations"), 201)
    second = expect(await api.post(api.admin, f"/users/{person.id}/invitations"), 201)
    await send_mails(database, with_smtp(database.settings, smtp.url))
    (got,) = smtp.received  # only the link that still works
    assert second["invitation_url"].rsplit("/", 1)[1] in got.text
    statuses = [m.status for m in await mails(database, user_id=uuid.UUID(person.id))]
    assert statuses == [MailStatus.cancelled, MailStatus.sent]


async def forgot(person: Any, address: str) -> Any:
    page = await person.get("/console/mot-de-passe-oublie")
    assert page.status_code == 200
    person.csrf = csrf_of(page.text)
    return await person.post("/console/mot-de-passe-oublie", {"email": address})


async def test_the_reset_form_answers_the_same_and_mails_only_a_real_account(
    world: World, database: Any, smtp: SmtpServer, console: Any
) -> None:
    login = await (await console(None)).get("/console/login")
    assert 'href="/console/mot-de-passe-oublie"' in login.text
    known = await forgot(await console(None), "Sophie.Leroy@example.org ")
    unknown = await forgot(await console(None), "personne@example.org")
    assert known.status_code == unknown.status_code == 200
    assert text_of(known.text) == text_of(unknown.text)
    assert "Si un compte actif correspond à cette adresse" in text_of(known.text)
    await send_mails(database, with_smtp(database.settings, smtp.url))
    (got,) = smtp.received
    assert got.recipients == [email_of(world.landlord_partner)]
    assert got.subject == "Choisir un nouveau mot de passe pour la console GPO"
    assert "Si vous n'avez rien demandé" in got.text
    (link,) = [u for u in got.links() if "/console/invitation/" in u]
    reset = await (await console(None)).get(link.replace("https://gpo.example.fr", ""))
    assert reset.status_code == 200
    async with database.session(write=False) as session:
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "password_reset.request")
        )
    assert audited == 2  # both requests, the one that matched no account too


async def test_reset_requests_are_rate_limited_like_sign_in(
    world: World, database: Any, console: Any
) -> None:
    person = await console(None)
    for _ in range(5):
        assert (await forgot(person, email_of(world.landlord_partner))).status_code == 200
    refused = await forgot(person, email_of(world.landlord_partner))
    assert refused.status_code == 429
    assert "Trop de demandes" in text_of(refused.text)
    assert len(await mails(database, kind=MailKind.password_reset)) == 5
    # Sign-in is not locked by them.
    page = await person.get("/console/login")
    person.csrf = csrf_of(page.text)
    wrong = await person.post(
        "/console/login", {"email": email_of(world.landlord_partner), "password": "x" * 12}
    )
    assert wrong.status_code == 401


# --- without SMTP, and with SMTP down -----------------------------------------------------


async def test_without_smtp_mails_are_logged_and_recorded(
    world: World, database: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api = world.api
    person = await api.user("partner", world.landlord, name="Louis Bernard")
    expect(await api.post(api.admin, f"/users/{person.id}/invitations"), 201)
    assert database.settings.gpo_smtp_url is None
    with caplog.at_level(logging.INFO, logger="app.mail"):
        assert await send_mails(database, database.settings) == 1
    (line,) = [r for r in caplog.records if r.name == "app.mail"]
    logged = line.getMessage()
    assert "louis.bernard@example.org" in logged
    assert "Votre accès à la console GPO" in logged
    assert "/console/invitation/" in logged
    (row,) = await mails(database, user_id=uuid.UUID(person.id))
    assert row.status is MailStatus.logged
    assert row.sent_at is not None
    async with database.session(write=False) as session:
        counts = await mail.mails_by_status(session)
    assert counts["logged"] >= 1
    assert counts["pending"] == 0


async def test_smtp_down_is_retried_later_and_nothing_is_lost(
    world: World, database: Any, smtp: SmtpServer
) -> None:
    api = world.api
    person = await api.user("partner", world.landlord)
    expect(await api.post(api.admin, f"/users/{person.id}/invitations"), 201)
    down = with_smtp(database.settings, f"smtp://127.0.0.1:{free_port()}")
    assert await send_mails(database, down) == 1
    (row,) = await mails(database, user_id=uuid.UUID(person.id))
    assert row.status is MailStatus.pending
    assert row.attempts == 1
    assert row.last_error
    assert row.next_attempt_at is not None
    wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=50) <= wait <= timedelta(seconds=61)
    up = with_smtp(database.settings, smtp.url)
    assert await send_mails(database, up) == 0  # not due yet
    async with database.session(write=True) as session:
        await session.execute(update(Mail).values(next_attempt_at=utcnow()))
        await session.commit()
    assert await send_mails(database, up) == 1
    assert [r.recipients for r in smtp.received] == [[email_of(person)]]
    (sent,) = await mails(database, user_id=uuid.UUID(person.id))
    assert sent.status is MailStatus.sent
    assert sent.attempts == 2


# --- digests -----------------------------------------------------------------------------


def morning(day: date) -> datetime:
    return datetime.combine(day, dtime(7, 5), PARIS)


def next_weekday(weekday: int) -> date:
    today = utcnow().astimezone(PARIS).date()
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


async def test_the_digest_lists_only_what_each_person_may_see(
    world: World, database: Any, smtp: SmtpServer
) -> None:
    api = world.api
    today = utcnow().astimezone(PARIS).date()
    hidden = await api.problem(
        world.facilitator,
        world.gpo,
        title="Point de deal rue des Cerisiers",
        category="drug_dealing",
        description="Guetteurs signalés par la BAC.",
    )
    assert hidden["visibility"] == "restricted"
    shared = await api.problem(world.facilitator, world.gpo, title="Épaves parking Bellecroix")
    soon = str(today + timedelta(days=3))
    landlord_action = await api.action(
        world.facilitator, hidden, world.landlord, title="Fermer l'accès <cave>", due_date=soon
    )
    await api.action(world.facilitator, shared, world.landlord, title="Courrier aux locataires")
    await api.action(
        world.facilitator, shared, world.outsider_org, title="Action d'un autre", due_date=soon
    )
    await submit(api, world.landlord_partner)  # awaiting triage in the facilitator's GPO
    made = await worker.run_jobs(database, morning(today))
    assert made >= 2
    assert await worker.run_jobs(database, morning(today) + timedelta(hours=2)) == 0
    await send_mails(database, with_smtp(database.settings, smtp.url))

    (landlord,) = smtp.to(email_of(world.landlord_partner))
    assert landlord.subject.startswith("GPO : votre point du ")
    assert "Fermer l'accès <cave>" in landlord.text
    assert "Fermer l&#39;accès &lt;cave&gt;" in landlord.html  # escaped in HTML
    action_link = f"https://gpo.example.fr/console/mon-organisation/actions/{landlord_action['id']}"
    assert action_link in landlord.links()
    for part in (landlord.text, landlord.html):
        assert "Point de deal" not in part
        assert hidden["reference"] not in part
        assert "Guetteurs" not in part
        assert "Action d'un autre" not in part  # another organisation's
        assert "Courrier aux locataires" not in part  # due in 2030
        assert "Signalements à trier" not in part  # not a facilitator

    (facilitator,) = smtp.to(email_of(world.facilitator))
    assert "Signalements à trier" in facilitator.text
    assert world.gpo["name"] in facilitator.text
    assert "https://gpo.example.fr/console/gpo" in facilitator.links()
    # The outsider's organisation has a due action, but its partner sees nothing else.
    (outsider,) = smtp.to(email_of(world.outsider_partner))
    assert "Action d'un autre" in outsider.text
    assert "Fermer" not in outsider.text
    # Nobody got two.
    recipients = [r.recipients[0] for r in smtp.received]
    assert len(recipients) == len(set(recipients))


async def test_digest_preferences_weekly_on_mondays_and_off(
    world: World, database: Any, smtp: SmtpServer
) -> None:
    api = world.api
    today = utcnow().astimezone(PARIS).date()
    problem = await api.problem(world.facilitator, world.gpo)
    await api.action(world.facilitator, problem, world.municipal_police, due_date=str(today))
    weekly, off = world.municipal_partner, await api.user("partner", world.municipal_police)
    daily = await api.user("partner", world.municipal_police)
    for caller, digest in ((weekly, "weekly"), (off, "off")):
        body = {"digest": digest}
        expect(await api.patch(caller, "/me/notifications", json=body), 200)
    settings = with_smtp(database.settings, smtp.url)
    tuesday, monday = next_weekday(1), next_weekday(0)
    await worker.run_jobs(database, morning(tuesday))
    await send_mails(database, settings)
    assert smtp.to(email_of(daily))
    assert not smtp.to(email_of(weekly))
    assert not smtp.to(email_of(off))
    smtp.received.clear()
    await worker.run_jobs(database, morning(monday))
    await send_mails(database, settings)
    assert smtp.to(email_of(daily))
    assert smtp.to(email_of(weekly))
    assert not smtp.to(email_of(off))


@pytest.mark.commits
async def test_one_digest_per_person_per_day_across_two_workers(
    world: World, database: Any, settings: Settings, smtp: SmtpServer
) -> None:
    """Two workers (connections of their own, as two processes) write the digests at the
    same time, even bypassing the once-a-day job claim: the key keeps one per person, and
    sending them together sends each once."""
    api = world.api
    today = utcnow().astimezone(PARIS).date()
    problem = await api.problem(world.facilitator, world.gpo)
    await api.action(world.facilitator, problem, world.landlord, due_date=str(today))
    await api.action(world.facilitator, problem, world.national_police, due_date=str(today))
    first, second = Database(settings), Database(settings)

    async def write(database: Database) -> int:
        async with database.session(write=True) as session:
            made = await mail.digests(session, today, utcnow())
            await session.commit()
            return made

    smtp_settings = with_smtp(settings, smtp.url)
    try:
        if settings.is_sqlite:
            made = [await write(first), await write(second)]
        else:
            made = await asyncio.gather(write(first), write(second))
        # The morning's job on both: the digests of the day exist already.
        await asyncio.gather(
            worker.run_jobs(first, morning(today)), worker.run_jobs(second, morning(today))
        )
        if settings.is_sqlite:
            await send_mails(first, smtp_settings)
        else:
            await asyncio.gather(
                send_mails(first, smtp_settings), send_mails(second, smtp_settings)
            )
    finally:
        await first.dispose()
        await second.dispose()
    digests = await mails(database, kind=MailKind.digest)
    people = [row.user_id for row in digests]
    assert sum(made) == len(people) == len(set(people)) >= 5
    sent = [row for row in digests if row.status is MailStatus.sent]
    # A person whose organisation's due action is in a GPO it does not see (a facilitator
    # of another GPO) has nothing to read: its digest is cancelled, not sent.
    assert {row.status for row in digests} <= {MailStatus.sent, MailStatus.cancelled}
    recipients = [r.recipients[0] for r in smtp.received]
    assert len(recipients) == len(set(recipients)) == len(sent)
    assert email_of(world.landlord_partner) in recipients


# --- minutes, disabled webhooks ----------------------------------------------------------


async def test_the_attendees_get_the_minutes_link_when_the_meeting_is_held(
    world: World, database: Any, smtp: SmtpServer
) -> None:
    api = world.api
    when = (utcnow() + timedelta(days=1)).astimezone(PARIS)
    body = {
        "scheduled_at": when.isoformat(),
        "attendee_organisation_ids": [world.landlord["id"]],
    }
    meeting = expect(
        await api.post(world.facilitator, f"/gpos/{world.gpo['id']}/meetings", json=body), 201
    )
    settings = with_smtp(database.settings, smtp.url)
    await send_mails(database, settings)
    assert smtp.received == []  # planned: no minutes yet
    held = await api.patch(
        world.facilitator,
        f"/meetings/{meeting['id']}",
        json={"status": "held", "notes": "Échanges sur le trafic (CROSS)."},
        headers={"If-Match": f'"{meeting["version"]}"'},
    )
    expect(held, 200)
    await send_mails(database, settings)
    (got,) = smtp.received
    assert got.recipients == [email_of(world.landlord_partner)]
    assert got.subject.startswith(f"Compte rendu disponible : {world.gpo['name']}")
    link = f"https://gpo.example.fr/console/reunions/{meeting['id']}/compte-rendu"
    assert link in got.links()
    assert f'href="{link}"' in got.html
    assert "CROSS" not in got.text
    assert "CROSS" not in got.html
    # Attendance completed afterwards: the new attendees get it, the others not again.
    again = await api.patch(
        world.facilitator,
        f"/meetings/{meeting['id']}",
        json={"attendee_organisation_ids": [world.landlord["id"], world.municipal_police["id"]]},
        headers={"If-Match": f'"{expect(held, 200)["version"]}"'},
    )
    expect(again, 200)
    await send_mails(database, settings)
    assert [r.recipients for r in smtp.received[1:]] == [[email_of(world.municipal_partner)]]


async def test_a_disabled_webhook_is_told_to_its_organisation(
    world: World, database: Any, smtp: SmtpServer
) -> None:
    """The worker disables an endpoint failing for a day (`record_outcome`): its
    organisation's people hear of it."""
    api = world.api
    body = {"url": "https://si.example/gpo", "events": ["report.triaged"]}
    hook = expect(await api.post(world.landlord_partner, "/webhooks", json=body), 201)
    webhook_id, at = uuid.UUID(hook["id"]), utcnow()
    delivery = Delivery(
        id=uuid.uuid4(),
        webhook_id=webhook_id,
        event_id=uuid.uuid4(),
        event_seq=1,
        type="report.triaged",
        resource_id=str(uuid.uuid4()),
        body={},
        status=DeliveryStatus.pending,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )
    async with database.session(write=True) as session:
        session.add(delivery)
        await session.flush()
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(failing_since=at - timedelta(days=1, minutes=1))
        )
        claimed = webhooks.Claimed(delivery.id, webhook_id, body["url"], "", b"")
        await webhooks.record_outcome(session, claimed, webhooks.Outcome(503, None), at)
        await session.commit()
    assert not expect(await api.get(world.landlord_partner, f"/webhooks/{hook['id']}"), 200)[
        "active"
    ]
    await send_mails(database, with_smtp(database.settings, smtp.url))
    (got,) = smtp.received
    assert got.recipients == [email_of(world.landlord_partner)]
    assert got.subject == "Webhook désactivé après une journée d'échecs"
    assert "https://si.example/gpo" in got.text
    assert '{"active": true}' in got.text
    assert "503" in got.text
