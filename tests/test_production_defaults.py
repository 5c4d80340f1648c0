"""Safe defaults for a deployment: no demo data unless asked, strong secrets in production,
a bad setting stopped by one line, and authentication that tells an attacker nothing and
slows their guessing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.cli import main
from app.config import Settings
from app.core.clock import utcnow
from app.identity.models import ApiToken
from app.main import PROJECT_ROOT, create_app
from tests.api import Api, Caller, World, expect, problem_of
from tests.test_migrations import empty_database  # noqa: F401 - a fixture

STRONG = "k" * 40
GOOD_TOKEN = "gpo_" + "b" * 40


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m app.cli` as a deployment runs it, with only the environment given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GPO_", "DATABASE_URL"))}
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "app.cli", *args],
        cwd=PROJECT_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.commits
def test_production_without_demo_flag_seeds_no_demo_and_prints_no_token(
    empty_database: str,  # noqa: F811
) -> None:
    env = {
        "DATABASE_URL": empty_database,
        "GPO_ENV": "production",
        "GPO_SECRET_KEY": STRONG,
        "GPO_BOOTSTRAP_ADMIN_TOKEN": GOOD_TOKEN,
    }
    done = run_cli(env, "prestart")
    assert done.returncode == 0, done.stderr
    assert "gpo_" not in done.stdout + done.stderr
    assert "Demonstration" not in done.stdout


@pytest.mark.commits
def test_development_also_needs_the_flag_for_demo_data(
    empty_database: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.delenv("GPO_DEMO_DATA", raising=False)
    assert main(["prestart"]) == 0
    assert "gpo_" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"GPO_ENV": "production"}, "GPO_SECRET_KEY"),
        ({"GPO_ENV": "production", "GPO_SECRET_KEY": "short"}, "GPO_SECRET_KEY"),
        (
            {"GPO_ENV": "production", "GPO_SECRET_KEY": STRONG, "GPO_BOOTSTRAP_ADMIN_TOKEN": "x"},
            "GPO_BOOTSTRAP_ADMIN_TOKEN",
        ),
        ({"GPO_DB_POOL_SIZE": "many"}, "GPO_DB_POOL_SIZE"),
        ({"DATABASE_URL": "mysql://db/gpo"}, "DATABASE_URL"),
        ({"GPO_ENV": "staging"}, "GPO_ENV"),
    ],
)
def test_a_bad_setting_stops_the_start_with_one_line(
    env: dict[str, str],
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`python -m app.cli migrate` in this process (the subprocess test below covers the
    factory uvicorn calls): exit status 2, one line on stderr naming the variable."""
    for name in list(os.environ):
        if name.startswith("GPO_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        main(["migrate"])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"gpo: invalid configuration: {variable}: ")


def test_the_app_factory_refuses_a_bad_setting_the_same_way() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from app.main import create_app; create_app()"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "GPO_ENV": "production", "GPO_SECRET_KEY": "short"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("gpo: invalid configuration: GPO_SECRET_KEY: ")


# --- 401: one answer whatever failed --------------------------------------------------------


async def test_every_failed_token_gets_the_same_401(world: World, app: FastAPI) -> None:
    api = world.api
    revoked = await api.user("commander")
    token_id = expect(await api.get(api.admin, f"/users/{revoked.id}/tokens"), 200)["items"][0]
    expect(await api.delete(api.admin, f"/tokens/{token_id['token_id']}"), 204)
    expired = await api.user("commander")
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == uuid.UUID(expired.id))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        await session.commit()
    disabled = await api.user("commander")
    expect(await api.patch(api.admin, f"/users/{disabled.id}", json={"active": False}), 200)

    answers = set()
    for caller in (Caller("gpo_never_issued_0000000000000000"), revoked, expired, disabled, None):
        response = await api.get(caller, "/me")
        body = problem_of(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        answers.add((body["title"], body["detail"]))
    assert len(answers) == 1, answers


# --- rate limits on failures and on anonymous routes ----------------------------------------


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The same database, served with small per-address limits."""
    limited: FastAPI = create_app(
        settings.model_copy(
            update={"gpo_auth_failures_per_minute": 5, "gpo_anonymous_rate_per_minute": 4}
        )
    )
    async with limited.router.lifespan_context(limited):
        transport = httpx.ASGITransport(app=limited, client=("203.0.113.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as client:
            yield client


@pytest.mark.commits
async def test_failed_authentications_are_limited_per_address(
    strict: httpx.AsyncClient, api: Api
) -> None:
    valid = await api.user("commander")
    guesses = [
        await strict.get("/api/v1/me", headers={"Authorization": f"Bearer gpo_guess_{n:030d}"})
        for n in range(8)
    ]
    assert [r.status_code for r in guesses[:5]] == [401] * 5
    assert {r.status_code for r in guesses[5:]} == {429}
    assert 1 <= int(guesses[-1].headers["Retry-After"]) <= 60
    assert "failed authentications" in guesses[-1].json()["detail"]
    # A colleague behind the same address, with a valid token, is still served.
    expect(await strict.get("/api/v1/me", headers=valid.headers), 200)
    # Open311's api_key counts the same way.
    refused = await strict.get("/open311/v2/requests.json", params={"api_key": "gpo_guess"})
    assert refused.status_code == 429


@pytest.mark.commits
async def test_anonymous_routes_are_limited_per_address(strict: httpx.AsyncClient) -> None:
    answers = [(await strict.get("/open311/v2/services.json")).status_code for _ in range(6)]
    assert answers[:4] == [200] * 4
    assert answers[4:] == [429, 429]
    limited = await strict.get("/open311/v2/discovery.json")
    assert limited.status_code == 429
    assert limited.json()[0]["code"] == 429
    assert int(limited.headers["Retry-After"]) >= 1
    page = await strict.get("/console/login")
    assert page.status_code == 429
    # Health checks are never limited: an orchestrator probes them all the time.
    assert (await strict.get("/health")).status_code == 200
