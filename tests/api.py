"""Test helpers that act like the API's users: everything goes through HTTP."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix} {next(_counter)}"


@dataclass
class Caller:
    token: str
    user: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.user.get("id"))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def resource(answer: dict[str, Any]) -> dict[str, Any]:
    """A write's answer as the resource reads back: without the write's `warnings`."""
    return {name: value for name, value in answer.items() if name != "warnings"}


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}, "
        f"expected {status}: {response.text}"
    )
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The RFC 9457 body of an expected error."""
    body = expect(response, status)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["status"] == status
    assert {"type", "title", "detail", "request_id"} <= body.keys()
    return dict(body)


async def every_page(
    api: Api,
    caller: Caller,
    path: str,
    params: Mapping[str, Any] | Sequence[tuple[str, str]] | None = None,
    *,
    limit: int = 200,
    headers: dict[str, str] | None = None,
    items: str = "items",
) -> list[dict[str, Any]]:
    """All items of a list, following `next_cursor`."""
    given = list(params.items()) if isinstance(params, Mapping) else list(params or [])
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query = [*given, ("limit", str(limit))]
        if cursor is not None:
            query.append(("cursor", cursor))
        body = expect(await api.get(caller, path, params=query, headers=headers or {}), 200)
        found.extend(body[items])
        cursor = body["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("the list never ended")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(app: FastAPI, port: int | None = None, **options: Any) -> Iterator[tuple[str, int]]:
    """The app served by uvicorn on a free port (or `port`), in a thread with its own event
    loop; `options` go to uvicorn (`forwarded_allow_ips=...`)."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        http="app.core.server:BoundedHttpToolsProtocol",  # as ./scripts/run serves
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(20)


class Api:
    def __init__(self, client: httpx.AsyncClient, admin_token: str) -> None:
        self.client = client
        self.admin = Caller(admin_token)

    async def call(
        self, caller: Caller | None, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if caller is not None:
            headers.setdefault("Authorization", f"Bearer {caller.token}")
        return await self.client.request(method, "/api/v1" + path, headers=headers, **kwargs)

    async def get(self, caller: Caller | None, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call(caller, "GET", path, **kwargs)

    async def post(self, caller: Caller | None, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call(caller, "POST", path, **kwargs)

    async def patch(self, caller: Caller | None, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call(caller, "PATCH", path, **kwargs)

    async def delete(self, caller: Caller | None, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call(caller, "DELETE", path, **kwargs)

    # --- factories ---------------------------------------------------------------------

    async def organisation(
        self, kind: str = "landlord", name: str | None = None, commune_code: str | None = "57463"
    ) -> dict[str, Any]:
        body = {"name": name or unique(kind), "kind": kind, "commune_code": commune_code}
        return dict(expect(await self.post(self.admin, "/organisations", json=body), 201))

    async def user(
        self, role: str, organisation: dict[str, Any] | None = None, name: str | None = None
    ) -> Caller:
        display_name = name or unique(role)
        body = {
            "email": f"{display_name.replace(' ', '.').lower()}@example.org",
            "display_name": display_name,
            "role": role,
            "organisation_id": organisation["id"] if organisation else None,
        }
        user = expect(await self.post(self.admin, "/users", json=body), 201)
        created = expect(
            await self.post(self.admin, f"/users/{user['id']}/tokens", json={"name": "tests"}),
            201,
        )
        return Caller(created["token"], user)

    async def gpo(
        self,
        facilitator: Caller,
        *,
        kind: str = "general",
        communes: list[str] | None = None,
        members: list[dict[str, Any]] = (),  # type: ignore[assignment]
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "name": unique(f"GPO {kind}"),
            "kind": kind,
            "commune_codes": communes if communes is not None else ["57463"],
            "member_organisation_ids": [m["id"] for m in members],
            **extra,
        }
        return dict(expect(await self.post(facilitator, "/gpos", json=body), 201))

    async def problem(
        self, facilitator: Caller, gpo: dict[str, Any], **overrides: Any
    ) -> dict[str, Any]:
        body = {
            "gpo_id": gpo["id"],
            "title": unique("Regroupements dans le hall"),
            "description": "Regroupements nocturnes, nuisances sonores.",
            "category": "hall_occupation",
            "commune_code": "57463",
            "priority": "normal",
            **overrides,
        }
        return dict(expect(await self.post(facilitator, "/problems", json=body), 201))

    async def action(
        self,
        facilitator: Caller,
        problem: dict[str, Any],
        assignee: dict[str, Any],
        **overrides: Any,
    ) -> dict[str, Any]:
        body = {
            "title": unique("Patrouille"),
            "kind": "foot_patrol",
            "assignee_organisation_id": assignee["id"],
            "due_date": "2030-01-31",
            **overrides,
        }
        response = await self.post(facilitator, f"/problems/{problem['id']}/actions", json=body)
        return dict(expect(response, 201))

    async def move(
        self, facilitator: Caller, problem: dict[str, Any], to: str, **extra: Any
    ) -> httpx.Response:
        return await self.post(
            facilitator, f"/problems/{problem['id']}/transitions", json={"to": to, **extra}
        )


@dataclass
class World:
    """A GPO in Metz with its members, and people around it (rows of `tests.world`)."""

    api: Api
    national_police: dict[str, Any]
    municipal_police: dict[str, Any]
    landlord: dict[str, Any]
    outsider_org: dict[str, Any]
    facilitator: Caller
    other_facilitator: Caller
    commander: Caller
    police_partner: Caller
    municipal_partner: Caller
    landlord_partner: Caller
    outsider_partner: Caller
    gpo: dict[str, Any]

    @property
    def admin(self) -> Caller:
        return self.api.admin
