"""The databases of one test worker, and the rolled-back transaction each test runs in.

Every pytest-xdist worker (or the one process of a serial run) has databases of its own:

- two templates, built once and never connected to afterwards: `base_template` (migrated
  with Alembic, reference data, the bootstrap admin) and `world_template` (the same plus
  the rows of `tests.world`);
- a working copy of each, `base` and `world`, where a test runs inside one transaction
  that is rolled back at its end (`rolled_back`);
- for a test that needs real commits, a scratch copy of a template of its own, dropped
  after it (`Worker.scratch`).

A copy is `CREATE DATABASE ... TEMPLATE ...` on PostgreSQL (which wants no connection to
the template: hence templates apart from the working copies) and SQLite's backup API,
a consistent copy of the file whatever its write-ahead log holds.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.config import Settings
from app.core.db import Database
from app.identity.service import sync_bootstrap_admin
from app.main import PROJECT_ROOT
from app.models import metadata
from app.reference.seed import seed_reference_data
from tests.world import WorldRows, insert_world

BOOTSTRAP_TOKEN = "gpo_test_bootstrap_admin_token_0123456789"
SECRET_KEY = "test-secret-key-0123456789-0123456789-abcdef"


def settings_for(database_url: str) -> Settings:
    """The settings every test app runs with, on the database given.

    Built anew for each database: `Settings.model_copy` would keep the cached async URL
    of the database copied from.
    """
    return Settings(
        database_url=database_url,
        gpo_env="development",
        gpo_secret_key=SECRET_KEY,
        gpo_bootstrap_admin_token=BOOTSTRAP_TOKEN,
        gpo_demo_data=False,
        gpo_rate_limit_per_minute=1_000_000,
        # The address the in-process test clients call (links the service writes use it).
        gpo_public_url="http://gpo.test",
        # Every test client calls from one address; the limits are tested on apps of their own.
        gpo_auth_failures_per_minute=1_000_000,
        gpo_anonymous_rate_per_minute=1_000_000,
        gpo_db_pool_size=10,
        # Deliveries are tested by workers the tests run themselves.
        gpo_worker=False,
    )


def with_database(url: str, name: str) -> str:
    """The URL of database `name` on the server of `url`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def postgres(admin_url: str, statement: str) -> None:
    """Run one statement (CREATE or DROP DATABASE) outside any transaction."""
    connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def _copy_sqlite(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class Server:
    """Creates, copies and drops the databases of one worker.

    `target` is "sqlite" (files in `folder`) or the URL of a PostgreSQL server where
    databases may be created; theirs are named `<prefix>_<name>`, the prefix holding the
    worker's id and a random part, so that runs and workers never meet.
    """

    def __init__(self, target: str, worker_id: str, folder: Path) -> None:
        self.target = target
        self.folder = folder
        self.prefix = f"gpo_test_{worker_id}_{secrets.token_hex(3)}"

    @property
    def is_sqlite(self) -> bool:
        return self.target == "sqlite"

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.sqlite3"

    def url(self, name: str) -> str:
        if self.is_sqlite:
            return f"sqlite:///{self._path(name)}"
        return with_database(self.target, f"{self.prefix}_{name}")

    async def create(self, name: str, *, template: str | None = None) -> str:
        """A new database, empty or a copy of `template`; its URL."""
        if self.is_sqlite:
            if template is not None:
                await asyncio.to_thread(_copy_sqlite, self._path(template), self._path(name))
        else:
            copied = f' TEMPLATE "{self.prefix}_{template}"' if template else ""
            await postgres(self.target, f'CREATE DATABASE "{self.prefix}_{name}"{copied}')
        return self.url(name)

    async def drop(self, name: str) -> None:
        if self.is_sqlite:
            await asyncio.to_thread(_remove_sqlite, self._path(name))
        else:
            statement = f'DROP DATABASE IF EXISTS "{self.prefix}_{name}" WITH (FORCE)'
            await postgres(self.target, statement)


class Worker:
    """The working databases of this worker, and scratch copies for real commits."""

    def __init__(
        self, server: Server, base: Database, world: Database, world_rows: WorldRows
    ) -> None:
        self.server = server
        self.base = base
        self.world = world
        self.world_rows = world_rows
        self._scratch_numbers = itertools.count(1)

    @asynccontextmanager
    async def scratch(self, *, world: bool) -> AsyncIterator[Settings]:
        """A database of its own, a copy of the base or the world template, dropped after."""
        name = f"scratch_{next(self._scratch_numbers)}"
        template = "world_template" if world else "base_template"
        url = await self.server.create(name, template=template)
        try:
            yield settings_for(url)
        finally:
            await self.server.drop(name)


@asynccontextmanager
async def open_worker(target: str, worker_id: str, folder: Path) -> AsyncIterator[Worker]:
    """Build this worker's databases; drop them all at the end."""
    server = Server(target, worker_id, folder)
    try:
        await _build_base(server)
        world_rows = await _build_world(server)
        base = Database(settings_for(await server.create("base", template="base_template")))
        world = Database(settings_for(await server.create("world", template="world_template")))
        try:
            before = [await _row_counts(base), await _row_counts(world)]
            yield Worker(server, base, world, world_rows)
            after = [await _row_counts(base), await _row_counts(world)]
            assert after == before, "a test committed to a shared database: mark it `commits`"
        finally:
            await base.dispose()
            await world.dispose()
    finally:
        for name in ("world", "base", "world_template", "base_template"):
            await server.drop(name)


async def _row_counts(database: Database) -> dict[str, int]:
    async with database.session(write=False) as session:
        return {
            table.name: (
                await session.execute(select(func.count()).select_from(table))
            ).scalar_one()
            for table in metadata.sorted_tables
        }


async def _build_base(server: Server) -> None:
    """The base template: the schema at head, reference data, the bootstrap admin."""
    url = await server.create("base_template")
    # Alembic's environment runs its own event loop: not in this one.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    database = Database(settings_for(url))
    try:
        async with database.session(write=True) as session:
            await seed_reference_data(session)
            await sync_bootstrap_admin(session, database.settings)
            await session.commit()
    finally:
        await database.dispose()


async def _build_world(server: Server) -> WorldRows:
    """The world template: the base one plus the World rows."""
    url = await server.create("world_template", template="base_template")
    database = Database(settings_for(url))
    try:
        async with database.session(write=True) as session:
            rows = await insert_world(session, SECRET_KEY)
            await session.commit()
    finally:
        await database.dispose()
    return rows


class RolledBackDatabase:
    """What the app uses as `app.state.database` during a test: one connection, one
    transaction, rolled back at the end of the test.

    Every session, the app's per request and the test's own, joins that transaction
    through a savepoint: its commit releases the savepoint and its rollback returns to it,
    so business refusals and replays behave as they do on a real database. Writes do not
    ask for SQLite's BEGIN IMMEDIATE: the connection is already in its transaction.
    """

    def __init__(self, settings: Settings, engine: AsyncEngine, connection: AsyncConnection):
        self.settings = settings
        self.engine = engine
        self._connection = connection
        self._in_use = False

    @asynccontextmanager
    async def session(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        if self._in_use:
            raise RuntimeError(
                "Two sessions at once on the test's one connection: a test that sends "
                "requests concurrently needs real commits (@pytest.mark.commits)."
            )
        self._in_use = True
        try:
            async with AsyncSession(
                bind=self._connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
                autoflush=False,
            ) as session:
                yield session
        finally:
            self._in_use = False

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """The test's connection (its statements stay in the test's transaction)."""
        raw = await self._connection.get_raw_connection()
        yield raw.driver_connection

    async def dispose(self) -> None:
        """The engine belongs to the worker, which disposes of it."""


@asynccontextmanager
async def rolled_back(database: Database) -> AsyncIterator[RolledBackDatabase]:
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield RolledBackDatabase(database.settings, database.engine, connection)
        finally:
            if transaction.is_active:
                await transaction.rollback()


@contextmanager
def installed(app: FastAPI, database: Any) -> Iterator[None]:
    """`database` as the app's for a while, then the app's own again."""
    own = app.state.database
    app.state.database = database
    try:
        yield
    finally:
        app.state.database = own
