"""The GPO information-sharing charter (issue 12, item 8): accepted before a person's first
read in the console, recorded with its version and audited; a new version asks again; for API
tokens the same gate only with GPO_CHARTER_FOR_TOKENS=1."""

from __future__ import annotations

import html
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from app.config import Settings
from app.core.audit import AuditEvent
from app.identity.charter import DEFAULT_FILE, Charter
from app.identity.models import CharterAcceptance
from tests.api import Api, Caller, World, expect, problem_of
from tests.console import Person, csrf_of, text_of
from tests.test_console_dashboard import Console

CHARTER = "/console/charte"


async def acceptances(app: FastAPI, caller: Caller) -> list[CharterAcceptance]:
    async with app.state.database.session(write=False) as session:
        rows = await session.scalars(
            select(CharterAcceptance)
            .where(CharterAcceptance.user_id == uuid.UUID(caller.id))
            .order_by(CharterAcceptance.accepted_at)
        )
        return list(rows)


async def charter_events(app: FastAPI, caller: Caller) -> list[AuditEvent]:
    async with app.state.database.session(write=False) as session:
        rows = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "charter.accept", AuditEvent.resource_id == caller.id
            )
        )
        return list(rows)


def version_on(page: str) -> str:
    found = re.search(r'name="version" value="([^"]+)"', page)
    assert found, "the page offers no acceptance"
    return html.unescape(found[1])


async def accept_in_console(person: Person, location: str) -> Any:
    """Read the charter where the console sent the person, and accept it."""
    page = await person.get(location)
    assert page.status_code == 200
    person.csrf = csrf_of(page.text)
    next_url = html.unescape(re.search(r'name="next" value="([^"]*)"', page.text)[1])  # type: ignore[index]
    return await person.post(CHARTER, {"next": next_url, "version": version_on(page.text)})


@pytest.fixture
def tokens_wait(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """GPO_CHARTER_FOR_TOKENS=1 for this test's requests."""
    settings = app.state.settings.model_copy(update={"gpo_charter_for_tokens": True})
    monkeypatch.setattr(app.state, "settings", settings)


# --- the console -----------------------------------------------------------------------------


async def test_the_first_page_waits_for_the_charter_then_comes_back(
    world: World, console: Console, app: FastAPI
) -> None:
    person = await console(world.landlord_partner, accept_charter=False)
    asked = await person.get("/console/problemes?statut=open")
    assert asked.status_code == 303
    assert asked.headers["location"] == f"{CHARTER}?next=/console/problemes%3Fstatut%3Dopen"
    page = await person.get(asked.headers["location"])
    text = text_of(page.text)
    assert "Charte de partage de l'information des groupes de partenariat opérationnel" in text
    assert "J'accepte la charte" in text
    assert app.state.charter.version in text
    assert await acceptances(app, world.landlord_partner) == []

    accepted = await accept_in_console(person, asked.headers["location"])
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/console/problemes?statut=open"
    assert (await person.get("/console/problemes?statut=open")).status_code == 200

    (row,) = await acceptances(app, world.landlord_partner)
    assert row.version == app.state.charter.version
    assert row.session_id is not None
    assert row.token_id is None
    (event,) = await charter_events(app, world.landlord_partner)
    assert event.actor_id == uuid.UUID(world.landlord_partner.id)
    assert event.changes == {
        "charter_version": [None, app.state.charter.version],
        "via": [None, "console"],
    }
    assert "acceptée par Sophie Leroy (console)" in event.summary
    # Read again later, it says when it was accepted, and offers nothing to sign.
    again = await person.get(CHARTER)
    assert "Acceptée le" in text_of(again.text)
    assert 'name="version"' not in again.text


async def test_every_page_waits_not_only_the_first(world: World, console: Console) -> None:
    person = await console(world.facilitator, accept_charter=False)
    for path in ("/console", "/console/gpo", f"/console/problemes/{uuid.uuid4()}"):
        response = await person.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith(f"{CHARTER}?next=")
    # A form sent meanwhile is not replayed after: back to the home page.
    sent = await person.post(f"/console/gpo/{world.gpo['id']}/reunions", {})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{CHARTER}?next=/console"


async def test_signing_out_and_the_charter_stay_open(world: World, console: Console) -> None:
    person = await console(world.facilitator, accept_charter=False)
    page = await person.get(CHARTER)
    assert page.status_code == 200
    person.csrf = csrf_of(page.text)
    out = await person.post("/console/logout")
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    assert (await person.get(CHARTER)).headers["location"].startswith("/console/login")


async def test_a_new_version_asks_again(
    world: World, console: Console, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await console(world.commander)  # accepted the version shipped
    assert (await person.get("/console/tableau-de-bord")).status_code == 200
    # The deployment changes the charter: another text, another version.
    changed = Charter(text="# Charte révisée\n\nUn engagement de plus.", version="2027-01")
    monkeypatch.setattr(app.state, "charter", changed)
    asked = await person.get("/console/tableau-de-bord")
    assert asked.status_code == 303
    page = await person.get(asked.headers["location"])
    assert "Un engagement de plus." in text_of(page.text)
    accepted = await accept_in_console(person, asked.headers["location"])
    assert accepted.headers["location"] == "/console/tableau-de-bord"
    assert [row.version for row in await acceptances(app, world.commander)][-1] == "2027-01"
    assert len(await acceptances(app, world.commander)) == 2  # the first one is kept
    assert (await person.get("/console/tableau-de-bord")).status_code == 200


async def test_a_charter_changed_while_read_is_not_accepted_for_it(
    world: World, console: Console, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await console(world.facilitator, accept_charter=False)
    page = await person.get(CHARTER)
    person.csrf = csrf_of(page.text)
    read = version_on(page.text)
    monkeypatch.setattr(app.state, "charter", Charter(text="Autre texte.", version="v9"))
    refused = await person.post(CHARTER, {"next": "/console", "version": read})
    assert refused.status_code == 409
    assert "relisez-la" in text_of(refused.text)
    assert "Autre texte." in text_of(refused.text)
    assert await acceptances(app, world.facilitator) == []


async def test_the_way_back_stays_in_the_console(world: World, console: Console) -> None:
    person = await console(world.facilitator, accept_charter=False)
    page = await person.get(CHARTER)
    person.csrf = csrf_of(page.text)
    sent = await person.post(
        CHARTER, {"next": "https://evil.example/", "version": version_on(page.text)}
    )
    assert sent.headers["location"] == "/console"


# --- API tokens ------------------------------------------------------------------------------


async def test_tokens_do_not_wait_by_default(world: World, app: FastAPI) -> None:
    api, reader = world.api, world.landlord_partner
    assert not app.state.settings.gpo_charter_for_tokens
    expect(await api.get(reader, "/problems"), 200)
    state = expect(await api.get(reader, "/me/charter"), 200)
    assert state["accepted"] is False
    assert state["accepted_at"] is None
    assert state["required_for_tokens"] is False
    assert state["version"] == app.state.charter.version
    assert state["text"].startswith("# Charte de partage")


async def test_with_the_setting_tokens_read_once_the_charter_is_accepted(
    world: World, app: FastAPI, tokens_wait: None
) -> None:
    api, reader = world.api, world.landlord_partner
    refused = await api.get(reader, "/problems")
    body = problem_of(refused, 403)
    assert body["type"] == "urn:gpo:problem:charter-required"
    assert "/api/v1/me/charter" in body["detail"]
    assert refused.headers["link"] == '</api/v1/me/charter>; rel="terms-of-service"'
    problem_of(await api.get(reader, f"/problems/{uuid.uuid4()}"), 403)
    problem_of(
        await api.post(reader, "/reports", json={"category": "x", "commune_code": "57463"}), 403
    )

    # Open before: who am I, the charter itself.
    assert expect(await api.get(reader, "/me"), 200)["user"]["id"] == reader.id
    state = expect(await api.get(reader, "/me/charter"), 200)
    assert state["accepted"] is False
    assert state["required_for_tokens"] is True

    first = expect(await api.post(reader, "/me/charter"), 200)
    assert first["accepted"] is True
    again = expect(await api.post(reader, "/me/charter", json={"version": first["version"]}), 200)
    assert again["accepted_at"] == first["accepted_at"]
    expect(await api.get(reader, "/problems"), 200)

    (row,) = await acceptances(app, reader)
    assert row.version == app.state.charter.version
    assert row.token_id is not None
    assert row.session_id is None
    (event,) = await charter_events(app, reader)  # audited once
    assert event.changes == {
        "charter_version": [None, app.state.charter.version],
        "via": [None, "token"],
    }


async def test_a_token_can_be_revoked_before_the_charter_is_accepted(
    api: Api, app: FastAPI, tokens_wait: None
) -> None:
    expect(await api.post(api.admin, "/me/charter"), 200)  # the admin, to set up
    caller = await api.user("commander")
    tokens = expect(await api.get(caller, f"/users/{caller.id}/tokens"), 403)
    assert tokens["type"] == "urn:gpo:problem:charter-required"
    listed = expect(await api.get(api.admin, f"/users/{caller.id}/tokens"), 200)
    (token,) = listed["items"]
    revoked = await api.delete(caller, f"/tokens/{token['token_id']}")
    assert revoked.status_code == 204
    problem_of(await api.get(caller, "/me"), 401)


async def test_a_stale_version_is_refused_and_a_new_one_asks_again(
    world: World, app: FastAPI, tokens_wait: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, reader = world.api, world.police_partner
    current = expect(await api.get(reader, "/me/charter"), 200)["version"]
    problem_of(await api.post(reader, "/me/charter", json={"version": "1999"}), 409)
    assert await acceptances(app, reader) == []
    expect(await api.post(reader, "/me/charter", json={"version": current}), 200)
    expect(await api.get(reader, "/problems"), 200)
    monkeypatch.setattr(app.state, "charter", Charter(text="Nouvelle charte.", version="v2"))
    problem_of(await api.get(reader, "/problems"), 403)
    expect(await api.post(reader, "/me/charter"), 200)
    expect(await api.get(reader, "/problems"), 200)
    assert [row.version for row in await acceptances(app, reader)] == [current, "v2"]


# --- the text and its version ---------------------------------------------------------------


def test_the_text_is_configurable_and_its_version_follows_it(tmp_path: Path) -> None:
    shipped = Charter.of(Settings())
    assert shipped.text == DEFAULT_FILE.read_text(encoding="utf-8").strip()
    assert "L132-5" in shipped.text
    written = tmp_path / "charte.md"
    written.write_text("# Charte du GPO\n\nPremière rédaction.\n", encoding="utf-8")
    first = Charter.of(Settings(gpo_charter_file=written))
    assert first.text == "# Charte du GPO\n\nPremière rédaction."
    assert first.version.startswith("sha256-")
    written.write_text("# Charte du GPO\n\nDeuxième rédaction.\n", encoding="utf-8")
    second = Charter.of(Settings(gpo_charter_file=written))
    assert second.version != first.version
    named = Charter.of(Settings(gpo_charter_file=written, gpo_charter_version="2027-01"))
    assert named.version == "2027-01"
    with pytest.raises(ValidationError, match="no such file"):
        Settings(gpo_charter_file=tmp_path / "absente.md")


async def test_open311_keys_wait_likewise(
    world: World, client: httpx.AsyncClient, tokens_wait: None
) -> None:
    api, reader = world.api, world.landlord_partner
    path = "/open311/v2/requests.json"
    refused = await client.get(path, params={"api_key": reader.token})
    assert refused.status_code == 403
    (error,) = refused.json()
    assert error["code"] == 403
    assert "/api/v1/me/charter" in error["description"]
    expect(await api.post(reader, "/me/charter"), 200)
    assert (await client.get(path, params={"api_key": reader.token})).status_code == 200
