"""Test set-up: a fresh real database per run (SQLite file or a new PostgreSQL database),
migrated with Alembic; every test starts from reference data only.

TEST_DATABASE=sqlite (default) or a postgresql:// URL of a server where a scratch
database may be created; the run creates `gpo_test_<random>` there and drops it after.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import text

from app.config import Settings
from app.core.db import Database
from app.identity.service import sync_bootstrap_admin
from app.main import PROJECT_ROOT, create_app
from app.models import metadata
from app.reference.seed import seed_reference_data
from tests.api import Api, World, build_world

BOOTSTRAP_TOKEN = "gpo_test_bootstrap_admin_token_0123456789"
SECRET_KEY = "test-secret-key-0123456789-0123456789-abcdef"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _postgres(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    target = os.environ.get("TEST_DATABASE", "sqlite")
    if target == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gpo-test-") as folder:
            yield f"sqlite:///{Path(folder) / 'test.sqlite3'}"
        return
    name = f"gpo_test_{secrets.token_hex(4)}"
    asyncio.run(_postgres(target, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(target, name)
    finally:
        asyncio.run(_postgres(target, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    command.upgrade(alembic_config(database_url), "head")
    return Settings(
        database_url=database_url,
        gpo_env="development",
        gpo_secret_key=SECRET_KEY,
        gpo_bootstrap_admin_token=BOOTSTRAP_TOKEN,
        gpo_demo_data=False,
        gpo_rate_limit_per_minute=1_000_000,
        gpo_db_pool_size=10,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def reset(database: Database) -> None:
    """Empty every table, then put back the reference data and the bootstrap admin."""
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    async with database.session(write=True) as session:
        if database.settings.is_sqlite:
            for name in tables:
                await session.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608
        else:
            quoted = ", ".join(f'"{name}"' for name in tables)
            await session.execute(text(f"TRUNCATE {quoted} CASCADE"))
        await seed_reference_data(session)
        await sync_bootstrap_admin(session, database.settings)
        await session.commit()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await reset(app.state.database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as http:
        yield http


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client, BOOTSTRAP_TOKEN)


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api)
