"""Database: declarative base, column types shared by every domain, engine and sessions."""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, NoReturn, Protocol, TypeAlias, TypeVar, cast

from fastapi import Depends, Request
from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Dialect,
    Enum,
    MetaData,
    Row,
    Select,
    Uuid,
    event,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection, ExceptionContext
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only, greenlet_spawn

from app.config import Settings
from app.core.clock import utcnow
from app.core.errors import NotFound

# A SELECT of any columns, for helpers that filter, sort or page whatever they are given.
logger = logging.getLogger("app.db")

AnySelect: TypeAlias = Select[*tuple[Any, ...]]
AnyRow: TypeAlias = Row[*tuple[Any, ...]]
SelectT = TypeVar("SelectT", bound=AnySelect)
StatementT = TypeVar("StatementT")

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


class uuid_of_text(FunctionElement[uuid.UUID]):
    """A UUID held as text (an audit event's `resource_id`) compared with a UUID column:
    PostgreSQL casts it; SQLite stores UUIDs as 32 hex digits, without the dashes."""

    type = Uuid()
    inherit_cache = True


@compiles(uuid_of_text, "postgresql")
def _uuid_of_text_postgresql(element: uuid_of_text, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS UUID)"


@compiles(uuid_of_text)
def _uuid_of_text_sqlite(element: uuid_of_text, compiler: Any, **kw: Any) -> str:
    return f"replace({compiler.process(element.clauses, **kw)}, '-', '')"


_CODE = re.compile(r"^[a-z_]+$")


def among(column: Any, codes: Iterable[str]) -> ColumnElement[bool]:
    """`column IN ('a', 'b')`, the codes written into the statement's text when it is
    compiled: for the code's own constants (the open statuses, a clearance's levels), never
    a caller's values. A list given to `in_` is an expanding parameter instead, which
    SQLAlchemy renders again at every execution (4 % of a problem's detail); and a prepared
    statement's generic plan can use a partial index only on literals."""
    values = [str(code) for code in codes]
    if not values or not all(_CODE.match(value) for value in values):
        raise ValueError(f"not codes: {values!r}")
    return cast(ColumnElement[bool], column.in_([literal_column(f"'{v}'") for v in values]))


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


# Why a statement could not run that is no fault of the request's: PostgreSQL's SQLSTATE
# classes 08 (connection), 53 (resources: too many connections), 57 (operator intervention:
# shutting down, statement timeout), and SQLite's lock and file errors.
UNAVAILABLE_SQLSTATES = ("08", "53", "57")
SQLITE_UNAVAILABLE = ("database is locked", "table is locked", "unable to open", "disk i/o")


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached, or did not answer in time: the client should retry
    later (503), and nothing the request sent is at fault."""
    if isinstance(exc, PoolTimeout | OSError | TimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        # A statement sent straight to the driver (the access log's append) raises the
        # driver's own error, with its SQLSTATE.
        raw = str(getattr(exc, "sqlstate", "") or "")
        return bool(raw) and raw.startswith(UNAVAILABLE_SQLSTATES)
    if exc.connection_invalidated:
        return True
    original = exc.orig
    if isinstance(original, OSError | TimeoutError):
        return True
    sqlstate = str(getattr(original, "sqlstate", "") or getattr(original, "pgcode", "") or "")
    if sqlstate.startswith(UNAVAILABLE_SQLSTATES):
        return True
    message = str(original).lower()
    return isinstance(exc, OperationalError) and any(m in message for m in SQLITE_UNAVAILABLE)


def describe_unavailable(exc: BaseException) -> str:
    """What went wrong, for the operator: classes and SQLSTATE, never a statement's text."""
    original = getattr(exc, "orig", None)
    parts = [type(exc).__name__]
    if original is not None:
        parts.append(type(original).__name__)
        if sqlstate := getattr(original, "sqlstate", None):
            parts.append(f"SQLSTATE {sqlstate}")
    return ", ".join(parts)


class Outage:
    """One warning when the database becomes unavailable and one when it is back, not a
    traceback per request: an operator on call reads the incident, not a flood."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.count = 0

    def failed(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.count += 1
            logger.warning(
                "database unavailable (%s): answering 503 until it is back",
                describe_unavailable(exc),
            )

    def recovered(self) -> None:
        if self.since is not None:
            logger.warning("database available again after %.1f s", time.monotonic() - self.since)
            self.since = None


# Statements' parameters never reach a log line (`hide_parameters`): they carry what people
# wrote, restricted problems' texts among them.
def create_engines(settings: Settings) -> tuple[AsyncEngine, AsyncEngine]:
    """The engine of writing transactions and the one of reading transactions.

    On SQLite they differ: one writer connection (the file has one write lock: writers
    queue in the pool, in order, for at most the lock timeout) and a pool of readers, which
    write-ahead logging lets read while a writer writes, so reads never wait for writers.
    PostgreSQL has one engine, with timeouts on connecting and on each statement (asyncpg's
    on the client, for a frozen server; the server's own, so that it stops working too).
    """
    if settings.is_sqlite:
        if (path := settings.sqlite_path) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        writer = create_async_engine(
            settings.async_database_url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=settings.gpo_sqlite_lock_timeout,
            hide_parameters=True,
        )
        reader = create_async_engine(
            settings.async_database_url,
            pool_size=settings.gpo_db_pool_size,
            max_overflow=0,
            pool_timeout=settings.gpo_db_pool_timeout,
            hide_parameters=True,
        )
        _configure_sqlite(writer, settings, writer=True)
        _configure_sqlite(reader, settings, writer=False)
        return writer, reader
    statement_timeout = settings.gpo_db_statement_timeout
    engine = create_async_engine(
        settings.async_database_url,
        pool_size=settings.gpo_db_pool_size,
        max_overflow=0,
        pool_timeout=settings.gpo_db_pool_timeout,
        pool_recycle=1800,
        hide_parameters=True,
        connect_args={
            "timeout": settings.gpo_db_connect_timeout,
            # The server cancels a statement that runs too long; the client gives up on a
            # server that does not answer at all.
            "command_timeout": statement_timeout,
            "server_settings": {"statement_timeout": str(int(statement_timeout * 1000))},
        },
    )
    _drop_connections_that_timed_out(engine)
    return engine, engine


def _drop_connections_that_timed_out(engine: AsyncEngine) -> None:
    """A connection whose statement timed out is dropped, not rolled back: a ROLLBACK on a
    hung server would wait for the same timeout again, doubling the client's wait."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, OSError | TimeoutError):
            context.is_disconnect = True


def _configure_sqlite(engine: AsyncEngine, settings: Settings, *, writer: bool) -> None:
    """Let SQLAlchemy emit BEGIN itself (savepoints work) and take the write lock up front.

    A write request starts with BEGIN IMMEDIATE: another process's writer makes it wait
    for the lock timeout at most (then 503), instead of failing with SQLITE_BUSY later
    when one read before the other committed.
    """
    busy_ms = int(settings.gpo_sqlite_lock_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if writer:
            _use_write_ahead_log(cursor)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = writer and conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _use_write_ahead_log(cursor: Any) -> None:
    """Switch the file to write-ahead logging (it stays so). The switch needs the file to
    itself: while another process uses it, leave it to a later connection."""
    cursor.execute("PRAGMA journal_mode")
    if cursor.fetchone()[0] == "wal":
        return
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        logger.info("SQLite file busy: write-ahead logging switched on by a later connection")


def drop_if_broken(pooled: PoolProxiedConnection, exc: BaseException) -> None:
    """Drop a pooled connection the driver failed on: SQLAlchemy does not see the driver's
    own errors. One that failed or timed out (as `_drop_connections_that_timed_out` does
    for SQLAlchemy's), and one whose statement a cancelled request cut off: asyncpg's state
    (a transaction it began, a reply not read) is then unknown to SQLAlchemy's adapter, and
    the pool would hand it on as it is."""
    if not isinstance(exc, Exception) or is_unavailable(exc):
        pooled.invalidate(exc)


# --- A transaction the driver begins, SQLAlchemy joining it when it is needed --------------

_DRIVER_HELD = "driver_held_connection"


class DriverHeld:
    """A pooled connection a session's first statement took straight from the pool
    (`fetch_rows`), its transaction begun by the driver; and the SQLAlchemy `Connection`
    around it, made only if the session runs a statement of its own."""

    def __init__(self, engine: Any, pooled: PoolProxiedConnection) -> None:
        self.engine = engine  # the sync Engine
        self.pooled = pooled
        self.connection: Connection | None = None

    def bind(self) -> Connection:
        if self.connection is None:
            self.connection = Connection(self.engine, self.pooled)
        return self.connection

    def begun(self) -> bool:
        """Whether a transaction the adapter knows of is open on the connection."""
        adapter: Any = self.pooled.dbapi_connection
        return adapter is not None and adapter._transaction is not None

    def end(self, *, commit: bool) -> None:
        """COMMIT or ROLLBACK what the driver began (in the session's greenlet)."""
        adapter: Any = self.pooled.dbapi_connection
        try:
            adapter.commit() if commit else adapter.rollback()
        except BaseException as exc:
            drop_if_broken(self.pooled, exc)
            raise

    def release(self) -> None:
        """Back to the pool (in a greenlet: a transaction left open is rolled back there
        through SQLAlchemy's adapter). One asyncpg holds open though the adapter does not
        know it (a BEGIN cut off by a cancelled request) would never be rolled back: the
        connection is dropped instead."""
        adapter: Any = self.pooled.dbapi_connection
        driver = self.pooled.driver_connection
        unknown = driver is not None and (driver.is_in_transaction() or driver._top_xact)
        if adapter is not None and adapter._transaction is None and unknown:
            self.pooled.invalidate()
        if self.connection is not None:
            self.connection.close()
        else:
            self.pooled.close()


class RequestSession(Session):
    """The session of a request or a task on PostgreSQL. When its first statement is a read
    sent to the driver (the token's lookup, `fetch_rows`), it takes a pooled connection
    straight from the pool and lets the driver begin the transaction; SQLAlchemy is bound to
    that same connection only if a statement of its own follows, and a commit or rollback
    with nothing of SQLAlchemy's to end goes to the driver. A detail read spent a seventh
    of its CPU checking out, beginning and ending SQLAlchemy's connection and transaction
    around two statements it did not send."""

    def get_bind(self, mapper: Any = None, **kw: Any) -> Any:
        held: DriverHeld | None = self.info.get(_DRIVER_HELD)
        if held is not None:
            return held.bind()
        return super().get_bind(mapper, **kw)

    def commit(self) -> None:
        held: DriverHeld | None = self.info.get(_DRIVER_HELD)
        if held is not None and not self.in_transaction():
            # What commits write (the audit seal). Should it begin SQLAlchemy's transaction,
            # SQLAlchemy's commit runs the hooks again: the seal finds nothing left queued.
            self.dispatch.before_commit(self)
            if not self.in_transaction():  # adding or changing an object begins one
                held.end(commit=True)
                return
        super().commit()  # SQLAlchemy's work: flushed and committed on the held connection
        if held is not None and held.begun():
            # SQLAlchemy's transaction never asked for the connection (an object added, then
            # let go by a rollback to the driver's savepoint): what the driver began is
            # still open, and still to commit.
            held.end(commit=True)

    def rollback(self) -> None:
        held: DriverHeld | None = self.info.get(_DRIVER_HELD)
        if held is not None and not self.in_transaction():
            held.end(commit=False)
            self.dispatch.after_rollback(self)
            return
        super().rollback()
        if held is not None and held.begun():
            held.end(commit=False)


async def _driver_held(session: AsyncSession) -> DriverHeld | None:
    """The session's driver-held connection; taken now if nothing else holds one: not a
    session in SQLAlchemy's transaction, nor one bound to a connection (tests, scripts)."""
    info = session.info
    held: DriverHeld | None = info.get(_DRIVER_HELD)
    if held is not None or session.in_transaction():
        return held
    bind = session.bind
    if not isinstance(bind, AsyncEngine) or not isinstance(session.sync_session, RequestSession):
        return None
    held = info[_DRIVER_HELD] = DriverHeld(bind.sync_engine, await bind.raw_connection())
    return held


def execute_on_driver(session: Session, sql: str, *arguments: Any) -> None:
    """One statement sent to the driver (asyncpg) in the session's transaction, from a hook
    of its commit (run in its greenlet): on the connection the driver holds for it
    (`RequestSession`), without making it SQLAlchemy's, or on SQLAlchemy's own."""
    held: DriverHeld | None = session.info.get(_DRIVER_HELD)
    pooled = held.pooled if held is not None else session.connection().connection
    await_only(_execute(pooled, dialect_of(session), sql, *arguments))


async def _execute(
    pooled: PoolProxiedConnection, dialect: Dialect, sql: str, *arguments: Any
) -> None:
    """`sql` sent by the driver's `execute`, its errors raised as SQLAlchemy's."""
    driver, adapter = pooled.driver_connection, pooled.dbapi_connection
    assert driver is not None
    try:
        await driver.execute(sql, *arguments)
    except BaseException as exc:
        driver_failed(exc, sql, dialect, pooled, adapter)


class Savepoint(Protocol):
    """Where a request's effect begins, to roll back to (an Idempotency-Key's refusal)."""

    @property
    def is_active(self) -> bool: ...

    async def rollback(self) -> None: ...


_SAVEPOINT = "request_effect"
# Set in `Session.info` while `after_rollback` tells of a rollback to a driver's savepoint.
ROLLING_BACK_TO_SAVEPOINT = "rolling_back_to_savepoint"


class DriverSavepoint:
    """A savepoint the driver takes in the transaction it holds (`RequestSession`) before
    SQLAlchemy has begun anything: SQLAlchemy's savepoint would begin its transaction, then
    end it at the commit with a RELEASE the COMMIT makes needless (two round trips and a
    seventh of a report's CPU). SQLAlchemy had nothing of this transaction when it was
    taken (an object added or read begins its transaction), so rolling back to it also lets
    go of every object the session holds; and the commit hooks are told, as of
    SQLAlchemy's savepoints (`after_rollback` with `ROLLING_BACK_TO_SAVEPOINT` set)."""

    def __init__(self, session: AsyncSession, held: DriverHeld) -> None:
        self.session, self.held = session, held
        self.transaction = self._adapter()._transaction
        self.rolled_back = False

    def _adapter(self) -> Any:
        return self.held.pooled.dbapi_connection  # SQLAlchemy's asyncpg adapter

    @property
    def is_active(self) -> bool:
        """Until rolled back to, or its transaction ended (a rollback of the whole, after an
        IntegrityError): as SQLAlchemy's savepoint says."""
        return not self.rolled_back and self._adapter()._transaction is self.transaction

    async def rollback(self) -> None:
        self.rolled_back = True
        held = self.held
        await _execute(held.pooled, held.engine.dialect, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        sync = self.session.sync_session
        sync.expunge_all()
        sync.info[ROLLING_BACK_TO_SAVEPOINT] = True
        try:
            sync.dispatch.after_rollback(sync)
        finally:
            del sync.info[ROLLING_BACK_TO_SAVEPOINT]


async def savepoint(session: AsyncSession) -> Savepoint:
    """A savepoint here: the driver's while it alone holds the transaction, else
    SQLAlchemy's (`begin_nested`)."""
    held: DriverHeld | None = session.info.get(_DRIVER_HELD)
    if held is not None and not session.sync_session.in_transaction():
        await _execute(held.pooled, held.engine.dialect, f"SAVEPOINT {_SAVEPOINT}")
        return DriverSavepoint(session, held)
    return await session.begin_nested()


async def _end(session: AsyncSession) -> None:
    """Close the session (rolling back what is left open), then give back the connection
    the driver held for it."""
    try:
        await session.close()
    finally:
        held: DriverHeld | None = session.info.pop(_DRIVER_HELD, None)
        if held is not None:
            await greenlet_spawn(held.release)


class Database:
    """The engines and the session factories of one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine, self.read_engine = create_engines(settings)
        options: dict[str, Any] = {"expire_on_commit": False, "autoflush": False}
        if not settings.is_sqlite:
            options["sync_session_class"] = RequestSession
        self.sessionmaker = async_sessionmaker(self.engine, **options)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, **options)

    @asynccontextmanager
    async def session(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        """A session whose transaction the caller commits; rolled back if left open."""
        session = (self.sessionmaker if write else self.read_sessionmaker)()
        try:
            if write and self.settings.is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            yield session
        finally:
            # Shielded, as `async with AsyncSession` closes: a second cancellation (a
            # shutdown) must not leave the connection half returned.
            await asyncio.shield(asyncio.ensure_future(_end(session)))

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """A pooled connection's own driver connection (asyncpg's), outside any
        transaction: each statement commits by itself. For the one statement a read
        request writes after its transaction (`app.governance.chain.append_after`)."""
        # Straight from the pool (a fifth of the cost of an AsyncConnection around it).
        pooled = await self.engine.raw_connection()
        adapter = pooled.dbapi_connection
        try:
            yield pooled.driver_connection
        except BaseException as exc:
            driver_failed(exc, None, self.engine.dialect, pooled, adapter)
        finally:
            pooled.close()  # back to the pool (or, invalidated, discarded)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


# Start-up work (migrations, seeding) takes this lock, so that replicas starting together
# run it one after the other: the second finds the schema at head and the rows there.
START_UP_LOCK_KEY = 0x67706F5F73746172  # "gpo_star", a PostgreSQL advisory lock key


async def hold_start_up_lock(session: AsyncSession) -> None:
    """Wait for the start-up lock; PostgreSQL releases it when the transaction ends.

    On SQLite the write session's BEGIN IMMEDIATE is the lock already.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": START_UP_LOCK_KEY}
        )


_built: dict[Hashable, Any] = {}


def built_once(key: Hashable, build: Callable[[], StatementT]) -> StatementT:
    """The statement of this form, built on its first use and kept: SQLAlchemy then finds
    its compiled form by the key it memoised, instead of building the statement and its key
    again at every request. `key` names everything that shapes the statement (its values
    are bound parameters); the forms are a few dozen at most."""
    statement = _built.get(key)
    if statement is None:
        statement = _built[key] = build()
    return cast(StatementT, statement)


class DriverForm:
    """A statement compiled once for PostgreSQL's driver: its text (what SQLAlchemy itself
    sends), the order of its parameters and their types' conversions. An insert's columns
    are those of the values it is sent with, as SQLAlchemy renders them at each execution."""

    def __init__(self, statement: Any, dialect: Dialect, column_keys: Any = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.compiled = compiled
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        # As SQLAlchemy converts them: a type's form for the dialect (JSONB for JSON).
        converters = compiled._bind_processors
        self.processors = tuple(converters.get(name) for name in self.names)
        # A list for `IN` (a filter's statuses) is rendered at each execution, as
        # SQLAlchemy does, into as many parameters as it has values.
        self.expanding = bool(compiled.post_compile_params)

    def query(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        """The text and the arguments to send for these values."""
        if self.expanding:
            state = self.compiled.construct_expanded_state(values)
            processors, params = state.processors, state.parameters
            return state.statement, [
                process(params[name]) if (process := processors.get(name)) else params[name]
                for name in state.positiontup or ()
            ]
        params = self.compiled.construct_params(values)
        return self.sql, [
            params[name] if process is None else process(params[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]


_driver_forms: dict[Hashable, tuple[Any, DriverForm]] = {}


_HELD = "fetch_rows_connection"


def dialect_of(session: AsyncSession | Session) -> Dialect:
    """The session's dialect, without asking for its bind (`RequestSession.get_bind` would
    make the connection it holds a SQLAlchemy one)."""
    bind = session.bind
    assert bind is not None
    return bind.dialect


async def _held_connection(session: AsyncSession) -> tuple[Dialect, Any]:
    """The dialect and pooled connection of the session's transaction, kept for the rest of
    it: asking the session for its connection at each read went through its state machine
    (a twelfth of a detail read's CPU, for the token's lookup and the problem's). A session
    with nothing of SQLAlchemy's begun takes one straight from the pool (`RequestSession`).

    Once SQLAlchemy's transaction is begun, its connection is asked for again whenever its
    innermost transaction changes: a savepoint's SAVEPOINT is sent by that first asking,
    which must come before the savepoint's first statement, whoever sends it."""
    sync = session.sync_session
    if not sync.in_transaction():
        driver_held = await _driver_held(session)
        if driver_held is not None:
            return dialect_of(session), driver_held.pooled
    held = session.info.get(_HELD)
    if held is not None and held[0] is (sync.get_nested_transaction() or sync.get_transaction()):
        return held[1], held[2]
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    innermost = sync.get_nested_transaction() or sync.get_transaction()
    session.info[_HELD] = (innermost, connection.dialect, pooled)
    return connection.dialect, pooled


async def fetch_rows(session: AsyncSession, statement: Any, values: dict[str, Any]) -> Any:
    """The rows of a statement built once (`built_once`), by position (and by name). On
    PostgreSQL they come straight from the driver, in the request's transaction, without
    SQLAlchemy's execution and result layers: the hot reads (the token's lookup, a problem,
    a page of problems or actions) spent more there than in the database. Their values are
    then the driver's own, which write the same JSON (tests/test_read_bytes.py); SQLite's
    go through SQLAlchemy, which turns its text into those types.

    A write goes the same way (intake's: the key's claim, the report, its audit event):
    its rows are those it returns, none without RETURNING. An insert sends the columns of
    its values, every value given (no column's default is filled in), and the driver's
    errors are raised as SQLAlchemy raises them (`IntegrityError`, `DataError`...), which
    the service's error handling knows.

    A statement sent first (the token's lookup) begins the transaction as SQLAlchemy
    would: through its asyncpg adapter, which the commit or rollback then ends."""
    if dialect_of(session).name != "postgresql":
        connection = await session.connection()
        result = await connection.execute(statement, values)
        return result.all() if result.returns_rows else []
    dialect, pooled = await _held_connection(session)
    key: Hashable = id(statement)
    is_insert = getattr(statement, "is_insert", False)
    if is_insert:
        key = (key, *values)
    kept = _driver_forms.get(key)
    if kept is None:  # the statement is kept with its form: its id stays its own
        form = DriverForm(statement, dialect, list(values) if is_insert else None)
        kept = _driver_forms[key] = (statement, form)
    form = kept[1]
    driver = pooled.driver_connection
    assert driver is not None
    adapter: Any = pooled.dbapi_connection  # SQLAlchemy's asyncpg adapter
    try:
        if adapter._transaction is None:
            # BEGIN, as SQLAlchemy's first statement would send it: the statements that
            # follow, and the commit or rollback the route ends with, are in the same
            # transaction.
            await adapter._start_transaction()
        sql, arguments = form.query(values)
        return await driver.fetch(sql, *arguments)
    except BaseException as exc:
        driver_failed(exc, form.sql, dialect, pooled, adapter)


def driver_failed(
    exc: BaseException,
    sql: str | None,
    dialect: Dialect,
    pooled: PoolProxiedConnection,
    adapter: Any,
) -> NoReturn:
    """Raise what the driver raised on a statement sent to it as SQLAlchemy would from its
    own execution (`adapter`, SQLAlchemy's asyncpg adapter, taken before the failure): the
    driver's errors translated into the DB-API's classes and wrapped, parameters hidden, a
    lost connection flagged as one (`connection_invalidated`: 503). The connection is
    dropped when lost or broken (`drop_if_broken`); anything else is raised as it is."""
    error = _as_sqlalchemy_error(exc, sql, dialect, adapter)
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        pooled.invalidate(exc)
    else:
        drop_if_broken(pooled, exc)
    if error is exc:
        raise exc
    raise error from exc


def _as_sqlalchemy_error(
    exc: BaseException, sql: str | None, dialect: Dialect, adapter: Any
) -> BaseException:
    import asyncpg  # type: ignore[import-untyped]  # PostgreSQL's only

    if not isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return exc  # cancelled, timed out, or not the driver's
    try:
        adapter._handle_exception(exc)  # raises the DB-API's error
    except Exception as translated:
        dbapi = dialect.loaded_dbapi
        if not isinstance(translated, dbapi.Error):
            return cast(BaseException, translated)
        lost = dialect.is_disconnect(translated, adapter, None)
        return cast(
            BaseException,
            DBAPIError.instance(
                sql,
                None,
                translated,
                dbapi.Error,
                hide_parameters=True,
                connection_invalidated=lost,
                dialect=dialect,
            ),
        )
    raise AssertionError("SQLAlchemy's adapter raises the error it is given")


def dialect_insert(session: AsyncSession) -> Any:
    """`insert` of the session's dialect, for ON CONFLICT clauses (SQLite and PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect_of(session).name == "postgresql" else sqlite.insert


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
