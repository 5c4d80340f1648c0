"""The hash chains of the access log and of the audit events.

Each entry stores `prev_hash` (the hash of the entry before it in `seq` order, `GENESIS` for
the first) and `hash` = sha256(prev_hash + its content digest). The content digest is the
sha256 of a canonical JSON of the entry's columns in which every free text (an audit event's
summary, each old and new value of its `changes`) is replaced by the digest of that value:
the retention purge replaces a value by `{"erased_sha256": <its digest>}`, which digests to
the same thing, so an erased text leaves the chain valid (chain the hashes, not the texts).

Sealing happens just before commit (`seal`, a `before_commit` hook on every ORM session):
the access-log entries a transaction queued are inserted, and the audit events it inserted
(with no hash yet) get their `seq` and hashes. Their content digests are computed first;
only then is the chain's lock taken (PostgreSQL: an advisory transaction lock, released by
the commit), the last hash read and the rows written. So the critical section is one
indexed read and one write a chain, and concurrent transactions still make one unbroken
chain. On PostgreSQL the access-log entries of a write are appended by a function of
migration 0017 (`access_log_append`: lock, read and write in one round trip). The audit
events' digests are handed to the transaction (`gpo.audit_seal`, a setting local to it)
and a deferred trigger of migration 0026 seals them while PostgreSQL runs the COMMIT: the
lock is taken and released inside the commit, never held across the application's turn
of its event loop (it was, when the seal was a call before the COMMIT: under 16 clients
reporting, every write waited ~16 ms for the one before). SQLite has one writer at a
time: its write lock serialises them already.

A read request (GET) writes its entry once its own transaction is over, before its answer
leaves (`append_after`): on PostgreSQL one statement by itself, on a pooled connection
outside any transaction, which takes the lock, appends and commits in one round trip. So
the lock is never held across a round trip to the application, whose event loop may be
busy with other requests (holding it to the read's COMMIT made the requests queue behind
each other's event-loop turns), and the read's transaction stays read-only. That statement
commits with `synchronous_commit = off`: waiting for the disk was most of the log's cost
(a 20k-problem list: 32 % of its throughput with the wait, 5 % without; README). A crash may
then lose the last fraction of a second of such entries (at most three times
`wal_writer_delay`), never a hole in the chain: the write-ahead log is flushed in order,
so what is lost is always the chain's last entries, and a later durable commit (any write
request's) flushes the reads' entries before it. Should the append fail, the read fails
with it (503 when the database is unavailable): no police data leaves unlogged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    Table,
    Uuid,
    bindparam,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from app import wording
from app.core.audit import STORED_UNSEALED, UNSEALED, AuditEvent
from app.core.db import ROLLING_BACK_TO_SAVEPOINT, dialect_of, execute_on_driver
from app.governance.models import GENESIS, AccessLogEntry

ERASED = "erased_sha256"
# Session.info keys: entries to insert at commit, ids of audit events to seal (UNSEALED,
# which `app.core.audit` also fills for the events it inserts itself).
PENDING = "governance.pending_access"


def canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_scalar
    ).encode()


def _scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not canonical: {type(value).__name__}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# An erased summary: a fixed sentence and the digest of what it said.
ERASED_SUMMARY = re.compile(re.escape(wording.ERASED_SUMMARY) + r" \[sha256:([0-9a-f]{64})\]")


def is_erased(value: Any) -> bool:
    if isinstance(value, str):
        return ERASED_SUMMARY.fullmatch(value) is not None
    return isinstance(value, dict) and set(value) == {ERASED}


def value_digest(value: Any) -> str:
    """The digest a free text (a summary, any value of `changes`) enters the chain as; an
    erased value keeps the digest of what it was."""
    if isinstance(value, str) and (erased_text := ERASED_SUMMARY.fullmatch(value)):
        return erased_text.group(1)
    return str(value[ERASED]) if is_erased(value) else sha256(canonical(value))


def erased_summary(summary: str) -> str:
    if is_erased(summary):
        return summary
    return f"{wording.ERASED_SUMMARY} [sha256:{value_digest(summary)}]"


def erased(value: Any) -> Any:
    """What the purge stores in place of `value` (None stays None: nothing to forget)."""
    if value is None or is_erased(value):
        return value
    return {ERASED: value_digest(value)}


def link(prev_hash: str, content_digest: str) -> str:
    return sha256((prev_hash + content_digest).encode())


def _changes_digest(changes: Any) -> Any:
    if not isinstance(changes, Mapping):
        return None if changes is None else value_digest(changes)
    return {
        str(name): [value_digest(v) for v in pair] if isinstance(pair, list) else value_digest(pair)
        for name, pair in changes.items()
    }


def audit_digest(row: Mapping[str, Any]) -> str:
    """The content digest of an audit event, from its stored columns."""
    content = {
        "id": row["id"],
        "at": row["at"],
        "actor_id": row["actor_id"],
        "token_id": row["token_id"],
        "request_id": row["request_id"],
        "action": row["action"],
        "resource_type": row["resource_type"],
        "resource_id": row["resource_id"],
        "problem_id": row["problem_id"],
        "summary": value_digest(row["summary"]),
        "changes": _changes_digest(row["changes"]),
        "visibility": row["visibility"],
    }
    return sha256(canonical(content))


ACCESS_FIELDS = (
    "id",
    "at",
    "user_id",
    "organisation_id",
    "session_or_token_id",
    "resource_type",
    "resource_ids",
    "route",
    "purpose",
    "request_id",
)


def access_digest(row: Mapping[str, Any]) -> str:
    return sha256(canonical({name: row[name] for name in ACCESS_FIELDS}))


@dataclass(frozen=True)
class Chain:
    name: str
    table: Table
    lock_key: int
    digest: Any  # Callable[[Mapping[str, Any]], str]


# Advisory lock keys: "gpo_accs", "gpo_audi".
ACCESS_LOG = Chain(
    "access_log", cast(Table, AccessLogEntry.__table__), 0x67706F5F61636373, access_digest
)
AUDIT = Chain("audit_events", cast(Table, AuditEvent.__table__), 0x67706F5F61756469, audit_digest)
CHAINS = (ACCESS_LOG, AUDIT)


def _last(session: Session, chain: Chain) -> tuple[int, str]:
    """The chain's last (seq, hash), under its lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": chain.lock_key})
    table = chain.table
    row = session.execute(
        select(table.c.seq, table.c.hash)
        .where(table.c.seq.is_not(None))
        .order_by(table.c.seq.desc())
        .limit(1)
    ).one_or_none()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _chained(
    session: Session, chain: Chain, digests: Iterable[tuple[Any, str]]
) -> list[dict[str, Any]]:
    """seq, prev_hash and hash for each (key, content digest), in order, after the chain's
    last entry."""
    seq, previous = _last(session, chain)
    linked = []
    for key, digest in digests:
        seq += 1
        current = link(previous, digest)
        linked.append({"key": key, "seq": seq, "prev_hash": previous, "hash": current})
        previous = current
    return linked


def seal(session: Session) -> None:
    """Chain what the transaction wrote; a no-op (no statement) for the others."""
    info = session.info
    nothing_queued = not info.get(PENDING) and not info.get(UNSEALED)
    nothing_queued &= not info.get(STORED_UNSEALED)
    if nothing_queued and not any(isinstance(obj, AuditEvent) for obj in session.new):
        return
    session.flush()  # audit events still pending are inserted (and `_track`ed)
    pending: list[dict[str, Any]] = session.info.pop(PENDING, [])
    unsealed: list[uuid.UUID] = session.info.pop(UNSEALED, [])
    # Inserted with RETURNING (PostgreSQL): digested as stored, unless this commit seals
    # at once (below), which must read back what a rolled-back savepoint left.
    returned: list[dict[str, Any]] = session.info.pop(STORED_UNSEALED, [])
    joined = isinstance(session.bind, Connection)
    if joined:
        unsealed += [row["id"] for row in returned]
        returned = []
    postgresql = dialect_of(session).name == "postgresql"
    if pending and postgresql:
        # Straight to the driver: the statement costs less than its building would.
        for entry in pending:
            execute_on_driver(session, APPEND_SQL, *_append_args(entry, read_only=False))
    elif pending:
        digests = [(entry, access_digest(entry)) for entry in pending]
        rows = [
            {**entry, **{k: v for k, v in link_.items() if k != "key"}}
            for entry, link_ in zip(pending, _chained(session, ACCESS_LOG, digests), strict=True)
        ]
        session.execute(insert(ACCESS_LOG.table), rows)
    if unsealed or returned:
        # Read back as stored (a savepoint rolled back may have dropped some).
        stored = list(returned)
        if unsealed:
            statement, ids = _UNSEALED_AS_STORED, {"ids": unsealed}
            stored += map(dict, session.connection().execute(statement, ids).mappings())
        stored.sort(key=lambda row: (row["at"], row["id"]))
        digests = [(row["id"], audit_digest(cast(Mapping[str, Any], row))) for row in stored]
        if digests and postgresql:
            if joined:
                # A session bound to a connection joins its transaction (a test's, a
                # script's): its commit is not the COMMIT that would fire the trigger.
                keys, contents = zip(*digests, strict=True)
                session.connection().execute(SEAL_NOW, {"ids": keys, "digests": contents})
            else:
                # Straight to the driver too: a transaction SQLAlchemy has not begun (a
                # report's intake) is then committed by the driver (`RequestSession`).
                listed = ",".join(f"{key}:{digest}" for key, digest in digests)
                execute_on_driver(session, SEAL_AT_COMMIT_SQL, listed)
        elif digests:
            session.execute(
                update(_AUDIT_TABLE)
                .where(_AUDIT_TABLE.c.id == bindparam("key"))
                .values(
                    seq=bindparam("seq"), prev_hash=bindparam("prev_hash"), hash=bindparam("hash")
                ),
                _chained(session, AUDIT, digests),
            )


_AUDIT_TABLE = AUDIT.table
_UNSEALED_AS_STORED = (
    select(_AUDIT_TABLE)
    .where(_AUDIT_TABLE.c.id.in_(bindparam("ids", expanding=True)), _AUDIT_TABLE.c.hash.is_(None))
    .order_by(_AUDIT_TABLE.c.at, _AUDIT_TABLE.c.id)
)


# PostgreSQL: lock, last hash, insert in one round trip (migration 0017's function, whose
# statements each see a fresh snapshot, so the last hash read is the one the previous
# holder of the lock committed). An access log's insert is most of a read's cost otherwise.
APPEND_SQL = "SELECT access_log_append($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)"


# PostgreSQL: the audit events to seal within the commit (migration 0026's trigger), as
# "id:digest,..." in the order to chain them, after those a savepoint's commit listed;
# local to the transaction (and to a savepoint rolled back).
SEAL_AT_COMMIT_SQL = (
    "SELECT set_config('gpo.audit_seal', "
    "concat_ws(',', nullif(current_setting('gpo.audit_seal', true), ''), $1::VARCHAR), true)"
)
# Or sealed at once (migration 0017's function: lock, last hash and update in one call).
SEAL_NOW = text("SELECT audit_events_seal(:ids, :digests)").bindparams(
    bindparam("ids", type_=ARRAY(Uuid())), bindparam("digests", type_=ARRAY(String()))
)


def _append_args(entry: dict[str, Any], read_only: bool) -> tuple[Any, ...]:
    return (
        entry["id"],
        entry["at"],
        entry["user_id"],
        entry["organisation_id"],
        entry["session_or_token_id"],
        entry["resource_type"],
        json.dumps(entry["resource_ids"]),
        entry["route"],
        str(entry["purpose"]),
        entry["request_id"],
        access_digest(entry),
        read_only,
    )


def _track(session: Session, _context: Any) -> None:
    """Remember the audit events a flush inserted, to seal them at commit."""
    for obj in session.new:
        if isinstance(obj, AuditEvent):
            session.info.setdefault(UNSEALED, []).append(obj.id)


def _forget(session: Session) -> None:
    session.info.pop(PENDING, None)
    if session.in_nested_transaction() or session.info.get(ROLLING_BACK_TO_SAVEPOINT):
        # A savepoint's rollback: the events written before it are still to seal (the seal
        # skips those it took away: read back, or the trigger finds no row).
        return
    session.info.pop(UNSEALED, None)
    session.info.pop(STORED_UNSEALED, None)


def queue(session: Session, entry: dict[str, Any]) -> None:
    """An access-log entry (its columns but seq and hashes), inserted when the session
    commits: a write request's, in its own transaction."""
    session.info.setdefault(PENDING, []).append(entry)


class GroupedAppends:
    """SQLite's read entries, written together: each read waits for the write transaction
    that holds its entry, and the entries queued while one commits go in the next, one
    transaction for all of them. SQLite has one writer: a transaction for each read of
    police data made the reads queue behind each other's BEGIN IMMEDIATE and COMMIT (each
    a hop to the driver's thread), a third of the commander's list throughput. A failed
    transaction fails the reads whose entries it held (503 for an unavailable file)."""

    def __init__(self) -> None:
        self.waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def append(self, database: Any, entry: dict[str, Any]) -> None:
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((entry, written))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write(database))
        # Shielded: a read cancelled while it waits leaves its entry to the writer.
        await asyncio.shield(written)

    async def _write(self, database: Any) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            committed = False
            try:
                async with database.session(write=True) as session:
                    for entry, _ in batch:
                        queue(session.sync_session, entry)
                    await session.commit()
                    committed = True
            except Exception as exc:  # written all the same if only the closing failed
                for _, written in batch:
                    _settle(written, None if committed else exc)
            except BaseException:  # cancelled (shutdown): so are the reads still waiting
                for _, written in batch + self.waiting:
                    written.cancel()
                self.waiting = []
                raise
            else:
                for _, written in batch:
                    _settle(written, None)


def _settle(written: asyncio.Future[None], error: Exception | None) -> None:
    if written.done():
        return
    if error is None:
        written.set_result(None)
    else:
        written.set_exception(error)
        # Retrieved here too: a read cancelled meanwhile no longer awaits it.
        written.add_done_callback(lambda future: future.exception())


# One a database (a process has one; the tests one a test database). The value holds no
# reference to its key, which goes with its database.
_grouped: weakref.WeakKeyDictionary[Any, GroupedAppends] = weakref.WeakKeyDictionary()


async def append_after(database: Any, *, entry: dict[str, Any]) -> None:
    """A read request's entry, written once its transaction is over (see the module's
    docstring): on PostgreSQL one statement by itself, on SQLite (whose read transactions
    cannot write) in a write transaction shared with the reads' entries queued beside it
    (`GroupedAppends`)."""
    if database.settings.is_sqlite:
        grouped = _grouped.get(database)
        if grouped is None:
            grouped = _grouped[database] = GroupedAppends()
        await grouped.append(database, entry)
        return
    async with database.driver_connection() as driver:
        await driver.execute(APPEND_SQL, *_append_args(entry, read_only=True))


event.listen(Session, "after_flush", _track)
event.listen(Session, "before_commit", seal)
event.listen(Session, "after_rollback", _forget)
