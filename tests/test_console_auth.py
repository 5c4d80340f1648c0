"""People in the console, through HTTP as a browser sends it: invitations, passwords,
sign-in and sign-out, the session cookie, CSRF, lock-out, and the 404 rule."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.config import Settings
from app.core.audit import AuditEvent
from app.core.clock import utcnow
from app.identity.models import ConsoleSession, SignInAttempt, User
from app.main import create_app
from tests.api import Api, Caller, World, expect, problem_of
from tests.console import Person, csrf_of, text_of
from tests.databases import settings_for

Console = Callable[[Caller | None], Awaitable[Person]]
GOOD_PASSWORD = "Un pont sur la Moselle en hiver"


async def invite(api: Api, caller: Caller) -> str:
    created = expect(await api.post(api.admin, f"/users/{caller.id}/invitations"), 201)
    assert created["expires_at"]
    url: str = created["invitation_url"]
    assert url.startswith("http://gpo.test/console/invitation/")
    return url.removeprefix("http://gpo.test")


async def accept(
    person: Person, link: str, password: str, confirmation: str | None = None
) -> httpx.Response:
    page = await person.get(link)
    assert page.status_code == 200, page.text
    person.csrf = csrf_of(page.text)
    return await person.post(link, {"password": password, "confirmation": confirmation or password})


async def sign_in(
    person: Person, email: str, password: str, next_url: str = "/console"
) -> httpx.Response:
    page = await person.get("/console/login", params={"next": next_url})
    person.csrf = csrf_of(page.text)
    return await person.post(
        "/console/login", {"email": email, "password": password, "next": next_url}
    )


def email_of(caller: Caller) -> str:
    return str(caller.user["email"])


async def test_the_console_is_the_home_and_asks_to_sign_in(api: Api, console: Console) -> None:
    anonymous = await console(None)
    root = await anonymous.get("/")
    assert root.status_code == 307
    assert root.headers["location"] == "/console"
    home = await anonymous.get("/console/problemes?statut=open")
    assert home.status_code == 303
    assert home.headers["location"] == "/console/login?next=/console/problemes%3Fstatut%3Dopen"

    login = await anonymous.get("/console/login")
    assert login.status_code == 200
    assert login.headers["content-type"].startswith("text/html")
    text = text_of(login.text)
    for words in ("Adresse électronique", "Mot de passe", "Se connecter"):
        assert words in text
    assert 'lang="fr"' in login.text


async def test_an_invited_person_chooses_a_password_signs_in_and_out(
    world: World, console: Console
) -> None:
    api, person = world.api, await console(None)
    link = await invite(api, world.facilitator)

    # The password rule, said in French next to the field; nothing stored meanwhile.
    short = await accept(person, link, "court")
    assert short.status_code == 422
    assert "au moins 12 caractères" in text_of(short.text)
    common = await accept(person, link, "motdepasse123")
    assert common.status_code == 422
    assert "trop courant" in text_of(common.text)
    different = await accept(person, link, GOOD_PASSWORD, "Un autre pont sur la Seine")
    assert different.status_code == 422
    assert "différents" in text_of(different.text)

    accepted = await accept(person, link, GOOD_PASSWORD)
    assert accepted.status_code == 303, accepted.text
    assert accepted.headers["location"] == "/console"
    cookie = accepted.headers["set-cookie"]
    assert cookie.startswith("gpo_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # development; production sets it (below)
    # The first time, the charter before any page (tests/test_charter.py), then back.
    first = await person.get("/console")
    assert first.status_code == 303
    assert first.headers["location"] == "/console/charte?next=/console"
    charter = await person.get(first.headers["location"])
    person.csrf = csrf_of(charter.text)
    version = re.search(r'name="version" value="([^"]+)"', charter.text)
    assert version is not None
    agreed = await person.post(
        "/console/charte", {"next": "/console", "version": html.unescape(version[1])}
    )
    assert agreed.status_code == 303
    assert agreed.headers["location"] == "/console"
    home = await person.get("/console")
    assert home.status_code == 200
    assert "Mes GPO" in text_of(home.text)
    assert world.gpo["name"] in text_of(home.text)

    # The link is used up.
    again = await person.get(link)
    assert again.status_code == 404
    assert "plus valable" in text_of(again.text)

    # Signing out ends the session on the server, not only in this browser.
    person.csrf = csrf_of(home.text)
    secret = person.client.cookies.get("gpo_session")
    out = await person.post("/console/logout")
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    person.client.cookies.set("gpo_session", secret or "", domain="gpo.test", path="/console")
    assert (await person.get("/console")).status_code == 303

    # And in again with the password.
    wrong = await sign_in(person, email_of(world.facilitator), "pas le bon mot de passe")
    assert wrong.status_code == 401
    assert "incorrect" in text_of(wrong.text)
    right = await sign_in(
        person, email_of(world.facilitator).upper(), GOOD_PASSWORD, "/console/gpo"
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/console/gpo"
    assert (await person.get("/console/gpo")).status_code == 200


async def test_a_new_invitation_replaces_the_unused_one(world: World, console: Console) -> None:
    api = world.api
    first = await invite(api, world.commander)
    second = await invite(api, world.commander)
    person = await console(None)
    assert (await person.get(first)).status_code == 404
    assert (await person.get(second)).status_code == 200
    assert (await person.get("/console/invitation/not-a-link")).status_code == 404


async def test_only_admins_invite_and_the_link_is_shown_once(world: World) -> None:
    api = world.api
    problem_of(await api.post(world.facilitator, f"/users/{world.commander.id}/invitations"), 403)
    problem_of(await api.post(api.admin, f"/users/{uuid.uuid4()}/invitations"), 404)
    key = {"Idempotency-Key": "invite-once"}
    expect(await api.post(api.admin, f"/users/{world.commander.id}/invitations", headers=key), 201)
    problem_of(
        await api.post(api.admin, f"/users/{world.commander.id}/invitations", headers=key), 409
    )
    expect(await api.patch(api.admin, f"/users/{world.commander.id}", json={"active": False}), 200)
    problem_of(await api.post(api.admin, f"/users/{world.commander.id}/invitations"), 409)


async def test_links_and_redirects_stay_in_the_console(world: World, console: Console) -> None:
    person = await console(None)
    await accept(person, await invite(world.api, world.facilitator), GOOD_PASSWORD)
    person.client.cookies.clear()
    answer = await sign_in(
        person, email_of(world.facilitator), GOOD_PASSWORD, "https://evil.example/"
    )
    assert answer.headers["location"] == "/console"
    person.client.cookies.clear()
    answer = await sign_in(person, email_of(world.facilitator), GOOD_PASSWORD, "//evil.example")
    assert answer.headers["location"] == "/console"


async def test_every_form_needs_its_csrf_token(world: World, console: Console) -> None:
    person = await console(world.facilitator)
    refused = await person.post("/console/logout", csrf=False)
    assert refused.status_code == 403
    assert "expiré" in text_of(refused.text)
    person.csrf = "forged"
    assert (await person.post("/console/logout")).status_code == 403
    assert (await person.get("/console")).status_code == 200  # still signed in

    # Before a session: the sign-in form's token must match its cookie.
    stranger = await console(None)
    form = await stranger.client.post(
        "/console/login", data={"email": "x@example.org", "password": "y", "csrf_token": "z"}
    )
    assert form.status_code == 403


async def test_ten_failures_make_sign_in_wait(world: World, console: Console, app: FastAPI) -> None:
    person = await console(None)
    await accept(person, await invite(world.api, world.landlord_partner), GOOD_PASSWORD)
    person.client.cookies.clear()
    email = email_of(world.landlord_partner)
    for _ in range(10):
        assert (await sign_in(person, email, "mauvais mot de passe")).status_code == 401
    locked = await sign_in(person, email, GOOD_PASSWORD)
    assert locked.status_code == 429
    assert "Trop de tentatives" in text_of(locked.text)
    assert "gpo_session=" not in locked.headers.get("set-cookie", "")
    async with app.state.database.session(write=False) as session:
        failures = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "session.sign_in_failed")
        )
    assert failures == 10

    # The lock is for that account (and address); it lifts once the failures are old.
    async with app.state.database.session(write=True) as session:
        await session.execute(update(SignInAttempt).values(at=utcnow() - timedelta(minutes=16)))
        await session.commit()
    assert (await sign_in(person, email, GOOD_PASSWORD)).status_code == 303


async def test_a_session_ends_with_its_user_or_after_twelve_idle_hours(
    world: World, console: Console, app: FastAPI
) -> None:
    person = await console(world.commander)
    assert (await person.get("/console")).status_code == 200
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(hours=12, seconds=1))
        )
        await session.commit()
    assert (await person.get("/console")).status_code == 303

    other = await console(world.facilitator)
    assert (await other.get("/console")).status_code == 200
    expect(
        await world.api.patch(
            world.admin, f"/users/{world.facilitator.id}", json={"active": False}
        ),
        200,
    )
    assert (await other.get("/console")).status_code == 303
    async with app.state.database.session(write=False) as session:
        user = await session.get_one(User, uuid.UUID(world.facilitator.id))
        revoked = await session.scalars(
            select(ConsoleSession.revoked_at).where(ConsoleSession.user_id == user.id)
        )
        assert all(at is not None for at in revoked)


@pytest.mark.commits
async def test_the_cookie_is_secure_in_production(
    api: Api, world: World, settings: Settings
) -> None:
    production = settings_for(settings.database_url).model_copy(update={"gpo_env": "production"})
    app = create_app(production)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://gpo.test"
        ) as client,
    ):
        # Over https: a browser sends a Secure cookie back only there.
        person = Person(client, None)
        created = expect(
            await api.post(api.admin, f"/users/{world.facilitator.id}/invitations"), 201
        )
        link = created["invitation_url"].split("gpo.test", 1)[1]
        answer = await accept(person, link, GOOD_PASSWORD)
        assert answer.status_code == 303, answer.text
        assert re.search(r"(?i)\bsecure\b", answer.headers["set-cookie"])


async def test_what_a_person_may_not_see_is_the_same_404_as_nothing(
    world: World, console: Console
) -> None:
    landlord = await console(world.landlord_partner)
    facilitator = await console(world.other_facilitator)
    meeting = expect(
        await world.api.post(
            world.facilitator,
            f"/gpos/{world.gpo['id']}/meetings",
            json={"scheduled_at": "2030-03-14T18:30:00+01:00"},
        ),
        201,
    )
    unknown = await facilitator.get(f"/console/reunions/{uuid.uuid4()}")
    hidden = await facilitator.get(f"/console/reunions/{meeting['id']}")
    nowhere = await facilitator.get("/console/nulle-part")
    assert unknown.status_code == hidden.status_code == nowhere.status_code == 404
    assert text_of(unknown.text) == text_of(hidden.text)
    # A member sees the GPO but does not run its meetings: refused, not hidden.
    assert (await landlord.get(f"/console/reunions/{meeting['id']}")).status_code == 403
    assert (
        await landlord.get(f"/console/reunions/{meeting['id']}/compte-rendu")
    ).status_code == 200
