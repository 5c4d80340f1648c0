"""The migrations build the schema the models describe, from empty, and undo it."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.config import to_async_url
from app.models import metadata
from tests.databases import alembic_config, postgres, with_database

# Each test migrates a new empty database of its own.
pytestmark = pytest.mark.commits


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    target = os.environ.get("TEST_DATABASE", "sqlite")
    if target == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"gpo_migrations_{secrets.token_hex(4)}"
    asyncio.run(postgres(target, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(target, name)
    finally:
        asyncio.run(postgres(target, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _inspect(url: str, check: Any) -> Any:
    async def run() -> Any:
        engine = create_async_engine(to_async_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(check)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def test_upgrade_from_empty_matches_the_models(empty_database: str) -> None:
    command.upgrade(alembic_config(empty_database), "head")
    assert _inspect(empty_database, _differences) == []
    assert set(metadata.tables) <= _inspect(empty_database, _tables)


def test_downgrade_to_base_and_up_again(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert _inspect(empty_database, _tables) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert _inspect(empty_database, _differences) == []
