"""Start-up tasks as ./scripts/run runs them: migrate, seed reference data, demo data once."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from app.cli import main
from app.config import Settings
from app.main import create_app
from tests.test_migrations import empty_database  # noqa: F401 - a fixture

# Each test runs the start-up tasks on a new empty database of its own.
pytestmark = pytest.mark.commits

TOKEN_LINE = re.compile(r"^\s+(\w+)\s+(.+?)\s+(gpo_\S+)$", re.MULTILINE)


async def _as(database_url: str, token: str, path: str) -> httpx.Response:
    app = create_app(Settings(database_url=database_url, gpo_demo_data=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as client:
            return await client.get("/api/v1" + path, headers={"Authorization": f"Bearer {token}"})


def test_prestart_seeds_demo_data_once_and_prints_working_tokens(
    empty_database: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.setenv("GPO_DEMO_DATA", "1")
    assert main(["prestart"]) == 0
    tokens = {role: token for role, _name, token in TOKEN_LINE.findall(capsys.readouterr().out)}
    assert {"admin", "facilitator", "commander", "partner"} <= tokens.keys()

    me = asyncio.run(_as(empty_database, tokens["facilitator"], "/me"))
    assert me.status_code == 200
    assert me.json()["role"] == "facilitator"
    problems = asyncio.run(_as(empty_database, tokens["commander"], "/problems")).json()
    assert len(problems["items"]) >= 3
    communes = asyncio.run(_as(empty_database, tokens["commander"], "/communes")).json()
    assert len(communes["items"]) == 10

    # A second start reuses everything: no new demo data, no tokens printed again.
    assert main(["prestart"]) == 0
    assert "gpo_" not in capsys.readouterr().out
    again = asyncio.run(_as(empty_database, tokens["commander"], "/problems")).json()
    assert len(again["items"]) == len(problems["items"])


def test_prestart_without_demo_data_seeds_reference_data_only(
    empty_database: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.setenv("GPO_DEMO_DATA", "0")
    monkeypatch.setenv("GPO_BOOTSTRAP_ADMIN_TOKEN", "gpo_cli_test_bootstrap_0123456789")
    assert main(["prestart"]) == 0
    assert "gpo_" not in capsys.readouterr().out
    admin = "gpo_cli_test_bootstrap_0123456789"
    categories = asyncio.run(_as(empty_database, admin, "/categories"))
    assert categories.status_code == 200
    assert any(c["code"] == "drug_dealing" for c in categories.json()["items"])
    assert asyncio.run(_as(empty_database, admin, "/gpos")).json()["items"] == []
