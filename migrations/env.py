"""Alembic environment: the async engine of DATABASE_URL, or a connection handed in."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.core.db import START_UP_LOCK_KEY, UTCDateTime
from app.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render the app's UTC type as the plain type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )


def run_with(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url: str) -> None:
    """Migrate under the start-up lock: of replicas starting together, one migrates and the
    others, once it is done, find the schema at head."""
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Taken before alembic reads the schema's version, held to the commit.
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": START_UP_LOCK_KEY}
            )
        await connection.run_sync(run_with)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    settings = Settings(
        database_url=config.attributes.get("database_url") or Settings().database_url
    )
    if (path := settings.sqlite_path) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_async(settings.async_database_url))
