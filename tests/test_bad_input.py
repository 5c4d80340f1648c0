"""Values no field may hold get 4xx naming the field, never 500, and leave nothing behind:
dates beyond what the service accepts, non-finite numbers, characters a text column cannot
store, cursors forged with a known key, oversized request heads. Runs on both databases."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.core.db import Database
from tests.api import World, expect, live_server, problem_of
from tests.databases import SECRET_KEY
from tests.test_indicators import add_indicator, measure, open_problem

OUT_OF_RANGE = [
    "9999-12-31T23:59:59-12:00",  # past datetime's limit once in UTC
    "0001-01-01T00:00:00+01:00",  # before it
    "0001-01-01",
    "9999-12-31",
    "1899-12-31",
    "3000-01-01T00:00:00Z",
]


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [list(error["loc"]) for error in body["errors"]]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
async def test_dates_out_of_range_are_422_at_their_field(world: World, value: str) -> None:
    api, fac = world.api, world.facilitator
    queries = [
        ("/problems", "created_from", "created_from"),
        ("/problems", "created_to", "created_to"),
        ("/stats/overview", "from", "from"),
        ("/stats/overview", "to", "to"),
        ("/actions", "due_before", "due_before"),
    ]
    for path, name, loc in queries:
        body = problem_of(await api.get(world.admin, path, params={name: value[:10]}), 422)
        assert ["query", loc] in locs(body), (path, name)
        if len(value) > 10 and name != "due_before":
            body = problem_of(await api.get(world.admin, path, params={name: value}), 422)
            assert ["query", loc] in locs(body), (path, name)

    open311 = await api.client.get(
        "/open311/v2/requests.json",
        params={"end_date": value},
        headers=world.landlord_partner.headers,
    )
    assert open311.status_code == 400, open311.text
    assert "end_date" in open311.text

    meetings = f"/gpos/{world.gpo['id']}/meetings"
    before = expect(await api.get(fac, meetings), 200)["items"]
    body = problem_of(await api.post(fac, meetings, json={"scheduled_at": value}), 422)
    assert ["body", "scheduled_at"] in locs(body)
    assert expect(await api.get(fac, meetings), 200)["items"] == before

    report = {
        "category": "hall_occupation",
        "commune_code": "57463",
        "description": "Regroupements dans le hall.",
        "observed_at": value,
    }
    body = problem_of(await api.post(world.landlord_partner, "/reports", json=report), 422)
    assert ["body", "observed_at"] in locs(body)

    problem = await api.problem(fac, world.gpo)
    action = {
        "title": "Patrouille",
        "kind": "foot_patrol",
        "assignee_organisation_id": world.national_police["id"],
        "due_date": value[:10],
    }
    path = f"/problems/{problem['id']}/actions"
    body = problem_of(await api.post(fac, path, json=action), 422)
    assert ["body", "due_date"] in locs(body)


async def test_the_accepted_range_is_said_in_french_too(world: World) -> None:
    body = problem_of(
        await world.api.get(world.admin, "/problems", params={"created_from": "0001-01-01"}), 422
    )
    assert "1900" in body["errors"][0]["msg"]


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e309", "-1e309"])
async def test_non_finite_numbers_are_refused_and_are_no_evidence(
    world: World, number: str
) -> None:
    api, fac = world.api, world.facilitator
    problem = await open_problem(api, fac, world)
    indicator = await add_indicator(api, fac, problem)
    raw = '{"period_start": "2026-02-01", "period_end": "2026-02-28", "value": VALUE}'
    raw = raw.replace("VALUE", number)
    response = await api.client.post(
        f"/api/v1/indicators/{indicator['id']}/measurements",
        content=raw.encode(),
        headers={**fac.headers, "Content-Type": "application/json"},
    )
    body = problem_of(response, 422)
    assert ["body", "value"] in locs(body)
    read = expect(await api.get(fac, f"/indicators/{indicator['id']}"), 200)
    assert read["measurements"] == []
    # Nothing was stored, so nothing counts as evidence of a result.
    problem_of(await api.move(fac, problem, "closed", outcome="eliminated"), 409)
    # The baseline of a new indicator is refused the same way.
    response = await api.client.post(
        f"/api/v1/problems/{problem['id']}/indicators",
        content=(
            '{"name": "Appels", "unit": "appels", "direction": "decrease", "source": "CIC",'
            ' "baseline": {"period_start": "2026-01-01", "period_end": "2026-01-31",'
            ' "value": VALUE}}'
        ).replace("VALUE", number),
        headers={**fac.headers, "Content-Type": "application/json"},
    )
    assert problem_of(response, 422)["errors"][0]["loc"][:2] == ["body", "baseline"]
    expect(await measure(api, fac, indicator, "2026-02-01", "2026-02-28", 1), 201)


UNSTORABLE = ["a\x00b", "\x00", "bell\x07", "lone \ud800 surrogate"]


@pytest.mark.parametrize("text", UNSTORABLE)
async def test_characters_a_column_cannot_hold_are_422(world: World, text: str) -> None:
    api, fac = world.api, world.facilitator
    before = expect(await api.get(fac, "/problems", params={"limit": 200}), 200)["items"]
    body = {
        "gpo_id": world.gpo["id"],
        "title": text,
        "description": "Regroupements nocturnes.",
        "category": "hall_occupation",
        "commune_code": "57463",
        "priority": "normal",
    }
    # A lone surrogate is sent as JSON writes it (\ud800), which Python's parser accepts.
    raw = json.dumps(body).encode()
    response = await api.client.post(
        "/api/v1/problems", content=raw, headers={**fac.headers, "Content-Type": "application/json"}
    )
    assert ["body", "title"] in locs(problem_of(response, 422))
    assert expect(await api.get(fac, "/problems", params={"limit": 200}), 200)["items"] == before

    if "\ud800" not in text:
        found = problem_of(await api.get(fac, "/problems", params={"q": text}), 422)
        assert ["query", "q"] in locs(found)
    # Tab and line breaks are ordinary text.
    body["title"] = "Hall\tB\r\nescalier 2"
    expect(await api.post(fac, "/problems", json=body), 201)


async def test_open311_refuses_unstorable_text_in_its_own_shape(world: World) -> None:
    response = await world.api.client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": world.landlord_partner.token,
            "service_code": "hall_occupation",
            "lat": "49.1193",
            "long": "6.1757",
            "description": "Regroupements\x00 dans le hall",
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()[0]["code"] == 400
    assert "description" in response.json()[0]["description"]


def forged(payload: Any) -> str:
    """A cursor signed with the key, as someone who learnt the key could make one."""
    key = hmac.new(SECRET_KEY.encode(), b"pagination-cursor", hashlib.sha256).digest()
    data = json.dumps(payload, separators=(",", ":")).encode()
    signature = hmac.new(key, data, hashlib.sha256).hexdigest()[:32]
    return base64.urlsafe_b64encode(data).decode().rstrip("=") + "." + signature


async def test_a_genuine_cursor_from_the_helper_is_accepted(world: World) -> None:
    """The forging helper signs as the service does, so the refusals below are about content."""
    api = world.api
    for _ in range(2):
        await api.problem(world.facilitator, world.gpo)
    first = expect(await api.get(world.admin, "/problems", params={"limit": 1}), 200)
    cursor = first["next_cursor"]
    encoded = cursor.partition(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert forged(payload).partition(".")[2] == cursor.partition(".")[2]
    expect(await api.get(world.admin, "/problems", params={"limit": 1, "cursor": cursor}), 200)


async def test_forged_cursors_of_any_content_are_400(world: World) -> None:
    api = world.api
    for _ in range(2):
        await api.problem(world.facilitator, world.gpo)
    first = expect(await api.get(world.admin, "/problems", params={"limit": 1}), 200)
    encoded = first["next_cursor"].partition(".")[0]
    genuine = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))

    def with_keys(*keys: Any) -> dict[str, Any]:
        return {**genuine, "k": list(keys)}

    sample = genuine["k"]
    assert len(sample) >= 2
    payloads: list[Any] = [
        [1, 2],
        "text",
        None,
        {**genuine, "k": "not a list"},
        with_keys(*[10**30 for _ in sample]),
        with_keys(*[-(10**30) for _ in sample]),
        with_keys(*["2026-03-01T00:00:00" for _ in sample]),  # naive
        with_keys(*["0001-01-01T00:00:00+14:00" for _ in sample]),
        with_keys(*["9999-12-31T23:59:59-12:00" for _ in sample]),
        with_keys(*["a\x00b" for _ in sample]),
        with_keys(*[True for _ in sample]),
        with_keys(*[[1] for _ in sample]),
        with_keys(*[1.5 for _ in sample]),
    ]
    for payload in payloads:
        response = await api.get(
            world.admin, "/problems", params={"limit": 1, "cursor": forged(payload)}
        )
        assert problem_of(response, 400)["detail"].startswith("The cursor"), payload
    for raw in ["", ".", "%%%.abc", "eyJ9." + "0" * 32, "\u00e9t\u00e9.x"]:
        response = await api.get(world.admin, "/problems", params={"cursor": raw})
        assert response.status_code == 400, (raw, response.text)


async def test_an_oversized_head_is_431(world: World) -> None:
    response = await world.api.client.get(
        "/api/v1/me", headers={**world.admin.headers, "X-Padding": "a" * (40 * 1024)}
    )
    assert problem_of(response, 431)["title"] == "Request Header Fields Too Large"
    expect(await world.api.get(world.admin, "/me", headers={"X-Padding": "a" * 4096}), 200)


@pytest.mark.commits
def test_the_server_refuses_a_huge_head_before_reading_it_all(settings: Settings) -> None:
    """Through uvicorn as served: the connection is answered 431 and closed while the client
    is still sending, instead of the server buffering 64 MiB."""
    from app.main import create_app

    app: FastAPI = create_app(settings)
    with live_server(app) as (host, port), socket.create_connection((host, port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ")
        sent = 0
        chunk = b"a" * 65536
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 8 * 1024 * 1024, "the server read megabytes of headers"
        sock.settimeout(5)
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
        # The 431 may be lost when the server resets the half-sent connection; what matters
        # is that it stopped reading. When it did arrive, it says 431.
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:100]
        with httpx.Client(base_url=f"http://{host}:{port}") as client:
            assert client.get("/health").status_code == 200
            big = client.get("/health", headers={"X-Padding": "a" * (40 * 1024)})
            assert big.status_code == 431


@pytest.mark.commits
async def test_failed_statements_never_log_their_parameters(settings: Settings) -> None:
    """The safety net below validation: what the database refuses is logged without the
    values (a restricted problem's text may be among them)."""
    from sqlalchemy import text
    from sqlalchemy.exc import StatementError

    from app.core.db import is_bad_value

    database = Database(settings)
    secret = "Trafic au 4 rue de Toul, témoin sous protection"
    try:
        async with database.engine.connect() as connection:
            with pytest.raises((StatementError, OverflowError)) as raised:
                # Too long for the column on PostgreSQL, an overflow on SQLite: a bad value.
                await connection.execute(
                    text("SELECT CAST(:v AS INTEGER) + :n"), {"v": secret, "n": 10**30}
                )
    finally:
        await database.dispose()
    assert secret not in str(raised.value)
    assert str(10**30) not in str(raised.value)
    assert is_bad_value(raised.value)
