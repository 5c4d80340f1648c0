"""Rate limits per token (429 with Retry-After) and the body size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.core.ratelimit import RateLimiter
from app.main import create_app
from tests.api import Api, expect, problem_of
from tests.conftest import BOOTSTRAP_TOKEN


@pytest.fixture
async def limited(settings: Settings, api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The same database, served by an app that allows three requests a minute per token."""
    strict: FastAPI = create_app(settings.model_copy(update={"gpo_rate_limit_per_minute": 3}))
    async with strict.router.lifespan_context(strict):
        transport = httpx.ASGITransport(app=strict)
        async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as client:
            yield client


@pytest.mark.commits
async def test_a_token_over_its_limit_gets_429_with_retry_after(
    limited: httpx.AsyncClient, api: Api
) -> None:
    other = await api.user("commander")
    headers = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    for _ in range(3):
        expect(await limited.get("/api/v1/me", headers=headers), 200)
    refused = problem_of(await limited.get("/api/v1/me", headers=headers), 429)
    assert "Too many" in refused["detail"]
    response = await limited.get("/api/v1/communes", headers=headers)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # The limit is per token: another token is still served.
    expect(await limited.get("/api/v1/me", headers=other.headers), 200)


def test_each_key_has_its_own_minute() -> None:
    limiter = RateLimiter(per_minute=2)
    assert limiter.retry_after("t", now=59.5) is None
    assert limiter.retry_after("t", now=60.5) is None
    # The third within a minute of the first is refused, though the clock's minute turned.
    assert limiter.retry_after("t", now=61.0) == 59
    assert limiter.retry_after("u", now=61.0) is None  # another key counts apart
    assert limiter.retry_after("t", now=119.5) is None  # the window of 59.5 is over
    assert limiter.retry_after("t", now=120.0) is None
    assert limiter.retry_after("t", now=121.0) == 59
    # Closed windows are forgotten.
    assert limiter.retry_after("v", now=300.0) is None
    assert set(limiter._windows) == {"v"}


async def test_a_chunked_body_over_the_limit_gets_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    response = await api.client.post(
        "/api/v1/organisations",
        content=chunks(),
        headers={**api.admin.headers, "Content-Type": "application/json"},
    )
    problem_of(response, 413)
    listed = expect(await api.get(api.admin, "/organisations"), 200)
    assert listed["items"] == []
