"""Idempotency-Key on POST: one effect per key, the first answer replayed.

The key row is inserted in the same transaction as the effect, before it. A concurrent
repeat blocks on the row's unique index (PostgreSQL) or on the write lock (SQLite, where
writes begin IMMEDIATE) until the first commits, then finds the stored answer and replays
it. A crash rolls back the key and the effect together, so there is never a marker
without an answer: a key left "in progress" cannot exist, and the 60 s abandonment rule
of API.md needs no sweeper. Waiting longer than the lock timeout gives 409.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from fastapi import Depends, Header, params
from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    bindparam,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import Response

from app.core.clock import utcnow
from app.core.db import (
    Base,
    JSONType,
    Savepoint,
    UUIDPrimaryKey,
    dialect_insert,
    dialect_of,
    fetch_rows,
    savepoint,
)
from app.core.errors import Conflict, Invalid

KEY_HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)
LOCK_TIMEOUT = "30s"
LOCK_TIMEOUT_SECONDS = 30
REPLAYED_HEADERS = ("etag", "location", "content-type")
# Mark the claim dependency, so the route class can tell that a POST route declares it, and
# whether a repeat replays the stored answer (with `Idempotent-Replayed`).
CLAIMS_KEY = "claims_idempotency_key"
REPLAYS_ANSWER = "replays_idempotent_answer"

OwnerDependency = Callable[..., Awaitable[uuid.UUID]]


class IdempotencyKey(UUIDPrimaryKey, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("uq_idempotency_keys_owner_key", "owner_id", "key", unique=True),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Replay(Exception):
    """Raised to answer with a stored response instead of running the operation.

    The stored answer is copied out of the row at once: the transaction is rolled back
    before the response is built, and a rolled-back row cannot be read any more.
    """

    def __init__(self, row: IdempotencyKey) -> None:
        super().__init__(row.key)
        self.status_code = row.status_code or 200
        self.body = (row.response_body or "").encode()
        self.headers = dict(row.response_headers or {})

    def response(self) -> Response:
        headers = dict(self.headers)
        media_type = headers.pop("content-type", "application/json")
        headers["Idempotent-Replayed"] = "true"
        return Response(
            content=self.body, status_code=self.status_code, headers=headers, media_type=media_type
        )


@dataclass
class Claim:
    """A key this request holds; its answer is stored before the transaction commits."""

    row_id: uuid.UUID
    store_response: bool
    savepoint: Savepoint


async def _fingerprint(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        canonical: Any = sorted((k, str(v)) for k, v in form.multi_items())
    else:
        raw = await request.body()
        try:
            canonical = json.loads(raw) if raw else None
        except ValueError:
            canonical = raw.decode("utf-8", "replace")
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _outlasts_statements(request: Request) -> bool:
    """Whether the lock timeout can fire before the statement timeout (configurable): when
    it cannot, setting it would change nothing and cost a round trip on every claim."""
    settings = getattr(request.app.state, "settings", None)
    statement_timeout = getattr(settings, "gpo_db_statement_timeout", None)
    return statement_timeout is None or statement_timeout >= LOCK_TIMEOUT_SECONDS


_KEYS = cast(Table, IdempotencyKey.__table__)


@functools.cache
def _claim_statement(insert: Any) -> Any:
    """The key's insert, built once for the dialect's `insert` (its values bound at each
    execution)."""
    return (
        insert(_KEYS)
        .on_conflict_do_nothing(index_elements=["owner_id", "key"])
        .returning(_KEYS.c.id)
    )


_STORE_ANSWER = (
    update(_KEYS)
    .where(_KEYS.c.id == bindparam("row_id"))
    .values(
        status_code=bindparam("status_code"),
        response_body=bindparam("response_body"),
        response_headers=bindparam("response_headers"),
    )
)


async def claim(
    request: Request, session: AsyncSession, owner_id: uuid.UUID, *, store_response: bool = True
) -> Claim | None:
    """Take the request's key for its owner, or raise Replay / 409 / 422."""
    key = request.headers.get(KEY_HEADER)
    if key is None or request.method != "POST":
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise Invalid(["header", KEY_HEADER], "must be 1 to 255 printable characters")
    fingerprint = await _fingerprint(request)
    path = request.url.path
    now = utcnow()
    if dialect_of(session).name == "postgresql" and _outlasts_statements(request):
        await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    row_id = uuid.uuid4()
    statement = _claim_statement(dialect_insert(session))
    values = {
        "id": row_id,
        "owner_id": owner_id,
        "key": key,
        "method": request.method,
        "path": path,
        "fingerprint": fingerprint,
        "created_at": now,
    }
    existing = None
    for _ in range(2):
        try:
            inserted = await fetch_rows(session, statement, values)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise Conflict(
                    "A request with this Idempotency-Key is still being processed; retry later."
                ) from exc
            raise
        if inserted:
            return Claim(row_id, store_response, await savepoint(session))
        existing = (
            await session.execute(
                select(IdempotencyKey).where(
                    IdempotencyKey.owner_id == owner_id, IdempotencyKey.key == key
                )
            )
        ).scalar_one()
        if existing.created_at >= now - RETENTION:
            break
        # Kept past its 24 hours: the key is free again (the first time only; a repeat
        # that took it meanwhile is answered from its row).
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == existing.id))
    assert existing is not None
    if (existing.method, existing.path, existing.fingerprint) != (
        request.method,
        path,
        fingerprint,
    ):
        raise Invalid(
            ["header", KEY_HEADER],
            "this key was already used for another request (method, path or body differ)",
        )
    if existing.status_code is None:
        raise Conflict(
            "This Idempotency-Key was already used; its response holds a secret shown only once."
        )
    raise Replay(existing)


def idempotent(owner: OwnerDependency, *, store_response: bool = True) -> params.Depends:
    """The dependency a POST route declares to honour Idempotency-Key, for keys owned by
    what `owner` returns (the token's user). Without `store_response` a repeat gives 409:
    the answer holds a secret shown once."""

    async def claim_idempotency_key(
        request: Request,
        # A default rather than Annotated: the closure's `owner` is not a module name.
        owner_id: uuid.UUID = Depends(owner),
        _key: str | None = Header(
            default=None,
            alias=KEY_HEADER,
            min_length=1,
            max_length=255,
            description=(
                "Makes the POST safe to retry: a repeat with the same key and body replays "
                "the first response (with `Idempotent-Replayed: true`); the same key with "
                "another body gives 422. Scoped to the token's owner, kept 24 h."
            ),
            examples=["7b0f5a9e-3c2d-4a43-9a51-0c1f0d6d2f10"],
        ),
    ) -> None:
        request.state.idempotency = await claim(
            request, request.state.session, owner_id, store_response=store_response
        )

    setattr(claim_idempotency_key, CLAIMS_KEY, True)
    setattr(claim_idempotency_key, REPLAYS_ANSWER, store_response)
    dependency: params.Depends = Depends(claim_idempotency_key)
    return dependency


async def remember(session: AsyncSession, held: Claim, response: Response) -> None:
    """Store the answer with the effect, in the same transaction."""
    if not held.store_response:
        return
    headers = {
        name: value for name, value in response.headers.items() if name.lower() in REPLAYED_HEADERS
    }
    await fetch_rows(
        session,
        _STORE_ANSWER,
        {
            "row_id": held.row_id,
            "status_code": response.status_code,
            "response_body": bytes(response.body).decode(),
            "response_headers": headers,
        },
    )


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)
