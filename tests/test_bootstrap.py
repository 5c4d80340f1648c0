"""GPO_BOOTSTRAP_ADMIN_TOKEN: accepted as the built-in admin's token, replaced (the old one
revoked) when the variable changes, and revoked when it is unset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.api import Api, expect, problem_of
from tests.conftest import BOOTSTRAP_TOKEN

NEW_TOKEN = "gpo_rotated_bootstrap_token_9876543210"


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app started with these settings (its start-up synchronises the token)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_bootstrap_token_is_the_builtin_admin(api: Api) -> None:
    me = expect(await api.get(api.admin, "/me"), 200)
    assert me["role"] == "admin"
    assert me["user"]["active"] is True
    tokens = expect(await api.get(api.admin, f"/users/{me['user']['id']}/tokens"), 200)
    (token,) = tokens["items"]
    assert token["expires_at"] is None
    assert BOOTSTRAP_TOKEN.startswith(token["prefix"])


@pytest.mark.commits
async def test_changing_the_variable_replaces_the_token(api: Api, settings: Settings) -> None:
    rotated = settings.model_copy(update={"gpo_bootstrap_admin_token": SecretStr(NEW_TOKEN)})
    async with started(rotated) as client:
        old = await client.get("/api/v1/me", headers=bearer(BOOTSTRAP_TOKEN))
        problem_of(old, 401)
        assert old.headers["WWW-Authenticate"].startswith("Bearer")
        me = expect(await client.get("/api/v1/me", headers=bearer(NEW_TOKEN)), 200)
        assert me["role"] == "admin"
        listed = expect(
            await client.get(f"/api/v1/users/{me['user']['id']}/tokens", headers=bearer(NEW_TOKEN)),
            200,
        )
        states = sorted((t["prefix"], t["active"]) for t in listed["items"])
        assert states == sorted([(BOOTSTRAP_TOKEN[:10], False), (NEW_TOKEN[:10], True)])


@pytest.mark.commits
async def test_unsetting_the_variable_revokes_the_token(api: Api, settings: Settings) -> None:
    async with started(settings.model_copy(update={"gpo_bootstrap_admin_token": None})) as client:
        problem_of(await client.get("/api/v1/me", headers=bearer(BOOTSTRAP_TOKEN)), 401)
