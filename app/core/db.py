"""Database: declarative base, column types shared by every domain, engine and sessions."""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeAlias, TypeVar

from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, Dialect, Enum, MetaData, Row, Select, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DataError, StatementError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from app.config import Settings
from app.core.clock import utcnow
from app.core.errors import NotFound

# A SELECT of any columns, for helpers that filter, sort or page whatever they are given.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
AnyRow: TypeAlias = Row[*tuple[Any, ...]]
SelectT = TypeVar("SelectT", bound=AnySelect)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database.

    SQLite has no time zone type: values are stored as naive UTC text there, so that
    text order is time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def str_enum(enum_class: type[enum.Enum], name: str) -> Enum:
    """A VARCHAR column holding the enum's values, guarded by a CHECK constraint."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(str(m.value)) for m in enum_class),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Versioned:
    """Mutable rows carry a version, raised by services on every stored change (ETag)."""

    version: Mapped[int] = mapped_column(default=1)


def is_bad_value(exc: BaseException) -> bool:
    """A statement failed on a value the client sent: a PostgreSQL data exception (SQLSTATE
    class 22: a character or number the column cannot hold), or a value the driver could
    not bind (SQLite's integers beyond 64 bits, raised as they are)."""
    if isinstance(exc, OverflowError):
        return True
    if not isinstance(exc, StatementError):
        return False
    if isinstance(exc, DataError):
        return True
    original = exc.orig
    sqlstate = str(getattr(original, "sqlstate", "") or getattr(original, "pgcode", "") or "")
    return sqlstate.startswith("22") or isinstance(original, OverflowError | UnicodeError)


# Statements' parameters never reach a log line (`hide_parameters`): they carry what people
# wrote, restricted problems' texts among them.
def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        if (path := settings.sqlite_path) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.async_database_url,
            pool_size=settings.gpo_db_pool_size,
            max_overflow=0,
            pool_timeout=60,
            hide_parameters=True,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        settings.async_database_url,
        pool_size=settings.gpo_db_pool_size,
        max_overflow=0,
        pool_timeout=30,
        pool_recycle=1800,
        hide_parameters=True,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Let SQLAlchemy emit BEGIN itself (savepoints work) and take the write lock up front.

    A write request starts with BEGIN IMMEDIATE: two writers then queue on the lock
    instead of failing with SQLITE_BUSY when one read before the other committed.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """The engine and the session factory of one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def session(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        """A session whose transaction the caller commits; rolled back if left open."""
        async with self.sessionmaker() as session:
            if write and self.settings.is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def dialect_insert(session: AsyncSession) -> Any:
    """`insert` of the session's dialect, for ON CONFLICT clauses (SQLite and PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    bind = session.get_bind()
    return postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert


async def one_row(
    session: AsyncSession, statement: AnySelect, *, missing: str, lock: Any = False
) -> AnyRow:
    """The one row `statement` finds, or 404 (`missing` says what: "No such problem.").

    `lock` takes the row for update (True), or only the rows of the table given; callers
    use it before a change, so that concurrent changes queue instead of overwriting.
    """
    if lock is not False:
        statement = (
            statement.with_for_update() if lock is True else statement.with_for_update(of=lock)
        )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise NotFound(missing)
    return row


async def one_entity(
    session: AsyncSession, statement: AnySelect, *, missing: str, lock: Any = False
) -> Any:
    return (await one_row(session, statement, missing=missing, lock=lock))[0]


async def get_session(request: Request) -> AsyncSession:
    """The request's session, opened by the transactional route (one transaction a request).

    `async` on purpose: a plain function dependency would cost a thread-pool hop.
    """
    session: AsyncSession = request.state.session
    return session


DbSession = Annotated[AsyncSession, Depends(get_session)]
