"""The access log: writing an entry for a read of police data, listing, verifying the chains."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from fastapi import Request
from sqlalchemy import ColumnElement, func, or_, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Action
from app.core.audit import AuditEvent
from app.core.clock import utcnow
from app.core.errors import Invalid
from app.core.metrics import route_of
from app.core.pagination import Ordering, Paging, SortKey, after_params
from app.core.requests import current_request_id
from app.core.routing import WRITE_METHODS
from app.core.visibility import Visibility
from app.governance import chain
from app.governance.models import GENESIS, AccessLogEntry, AccessPurpose
from app.identity.principal import Principal
from app.problems.models import Problem

PURPOSE_HEADER = "X-Access-Purpose"
# The levels whose reading is logged (police-justice directive, art. 25).
LOGGED_LEVELS = frozenset({Visibility.police, Visibility.restricted})


def is_logged(visibility: Any) -> bool:
    return visibility in LOGGED_LEVELS


def logged_ids(
    items: Iterable[Any], *, visibility: str = "visibility", key: str = "id"
) -> list[Any]:
    """The ids of the items (dicts or objects) at a logged level."""
    return [
        item[key] if isinstance(item, dict) else getattr(item, key)
        for item in items
        if (item.get(visibility) if isinstance(item, dict) else getattr(item, visibility))
        in LOGGED_LEVELS
    ]


async def logged_among(
    session: AsyncSession, kind: type[Any], ids: Iterable[Any]
) -> list[uuid.UUID]:
    """Those of the ids (of problems, actions or audit events) whose record is at a logged
    level: a problem's own, an action's own (its texts') or its problem's, an event's own or
    its problem's. For
    answers that do not carry the level; one indexed query, none without ids."""
    wanted = set(ids)
    if not wanted:
        return []
    logged = Problem.visibility.in_(LOGGED_LEVELS)
    if kind is Problem:
        statement = select(Problem.id).where(Problem.id.in_(wanted), logged)
    elif kind is Action:
        statement = (select(Action.id).join(Problem, Problem.id == Action.problem_id)).where(
            Action.id.in_(wanted), or_(logged, Action.visibility.in_(LOGGED_LEVELS))
        )
    else:
        statement = (
            select(AuditEvent.id)
            .outerjoin(Problem, Problem.id == AuditEvent.problem_id)
            .where(
                AuditEvent.id.in_(wanted),
                or_(AuditEvent.visibility.in_(LOGGED_LEVELS), logged),
            )
        )
    return list((await session.scalars(statement)).all())


def purpose_of(request: Request, principal: Principal) -> AccessPurpose:
    """The header's purpose (422 on an unknown one), else the console session's, else
    `unspecified`."""
    given = request.headers.get(PURPOSE_HEADER)
    if given is None:
        chosen = principal.access_purpose
        return AccessPurpose(chosen) if chosen else AccessPurpose.unspecified
    try:
        return AccessPurpose(given.strip())
    except ValueError:
        codes = ", ".join(p.value for p in AccessPurpose)
        raise Invalid(["header", PURPOSE_HEADER], f"expected one of {codes}") from None


async def log_read(
    session: AsyncSession,
    principal: Principal,
    request: Request,
    *,
    resource_type: str,
    resource_ids: Iterable[Any],
    route: str | None = None,
) -> None:
    """Log that the request read these `police` or `restricted` records (one entry a
    request, whatever the number of ids; none when there are none) and keep its answer out
    of caches. Always checks `X-Access-Purpose`, so a bad purpose is refused on every route
    that logs, whatever it found."""
    purpose = purpose_of(request, principal)
    ids = [str(i) for i in resource_ids]
    if not ids:
        return
    request.state.no_store = True
    entry: dict[str, Any] = {
        "id": uuid.uuid4(),
        "at": utcnow(),
        "user_id": principal.user_id,
        "organisation_id": principal.organisation_id,
        "session_or_token_id": principal.token_id or principal.session_id,
        "resource_type": resource_type,
        "resource_ids": ids,
        "route": route or route_of(request.scope),
        "purpose": purpose,
        "request_id": current_request_id(),
    }
    if request.method not in WRITE_METHODS:
        # A read's transaction writes nothing: its route writes the entry once that
        # transaction is over, before the answer leaves (`app.core.routing`).
        request.state.deferred_writes = [
            *getattr(request.state, "deferred_writes", []),
            functools.partial(chain.append_after, entry=entry),
        ]
        return
    chain.queue(session.sync_session, entry)


# The resource types the log names, by the table `log_read_among` looks the levels up in.
RESOURCE_TYPES: dict[type[Any], str] = {Problem: "problem", Action: "action"}


async def log_read_among(
    session: AsyncSession,
    principal: Principal,
    request: Request,
    kind: type[Problem] | type[Action],
    ids: Iterable[Any],
) -> None:
    """Log the read of those of these problems or actions that hold police data (for
    answers that do not carry their level: an agenda, minutes, actions)."""
    await log_read(
        session,
        principal,
        request,
        resource_type=RESOURCE_TYPES[kind],
        resource_ids=await logged_among(session, kind, ids),
    )


async def log_problems_read(
    session: AsyncSession, principal: Principal, request: Request, problems: Iterable[Any]
) -> None:
    """Log the read of those of these problems (answers carrying their `visibility`) that
    hold police data."""
    await log_read(
        session,
        principal,
        request,
        resource_type="problem",
        resource_ids=logged_ids(problems),
    )


async def log_problem_read(
    session: AsyncSession,
    principal: Principal,
    request: Request,
    problem_id: uuid.UUID,
    *,
    police_data: bool,
) -> None:
    """Log the read of a part of one problem (its comments, timeline, indicators) when
    that part holds police data."""
    await log_read(
        session,
        principal,
        request,
        resource_type="problem",
        resource_ids=[problem_id] if police_data else [],
    )


# --- the log, for admins and auditors --------------------------------------------------


@dataclass(frozen=True)
class LogFilters:
    user_id: uuid.UUID | None = None
    resource_id: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None


LOG_ORDER = Ordering("-seq", (SortKey(AccessLogEntry.seq, descending=True),))


def _naming(session: AsyncSession, resource_id: str) -> ColumnElement[bool]:
    """Entries whose `resource_ids` hold the id."""
    if session.get_bind().dialect.name == "postgresql":
        as_jsonb = type_coerce(AccessLogEntry.resource_ids, JSONB)
        condition: ColumnElement[bool] = as_jsonb.contains([resource_id])
        return condition
    listed = func.json_each(AccessLogEntry.resource_ids).table_valued("value")
    return select(listed.c.value).where(listed.c.value == resource_id).exists()


def _filtered(session: AsyncSession, filters: LogFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [true()]
    if filters.user_id is not None:
        conditions.append(AccessLogEntry.user_id == filters.user_id)
    if filters.resource_id is not None:
        conditions.append(_naming(session, filters.resource_id))
    if filters.at_from is not None:
        conditions.append(AccessLogEntry.at >= filters.at_from)
    if filters.at_to is not None:
        conditions.append(AccessLogEntry.at <= filters.at_to)
    return conditions


async def log_page(
    session: AsyncSession, filters: LogFilters, paging: Paging
) -> tuple[list[AccessLogEntry], str | None]:
    """Newest first."""
    statement = (
        select(AccessLogEntry, AccessLogEntry.seq)
        .where(*_filtered(session, filters))
        .order_by(*LOG_ORDER.order_by())
        .limit(paging.limit + 1)
    )
    after = paging.after(LOG_ORDER)
    if after is not None:
        statement = statement.where(LOG_ORDER.after_template())
    rows = (await session.execute(statement, after_params(after))).all()
    page, next_cursor = paging.page_of(rows, LOG_ORDER)
    return [row[0] for row in page], next_cursor


async def log_rows(session: AsyncSession, filters: LogFilters) -> list[AccessLogEntry]:
    """Every entry the filters select, newest first (the CSV export)."""
    statement = (
        select(AccessLogEntry).where(*_filtered(session, filters)).order_by(*LOG_ORDER.order_by())
    )
    return list((await session.scalars(statement)).all())


async def reads_by_purpose(
    session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, int]:
    """Entries by purpose over a period (the governance report)."""
    statement = select(AccessLogEntry.purpose, func.count()).group_by(AccessLogEntry.purpose)
    if since is not None:
        statement = statement.where(AccessLogEntry.at >= since)
    if until is not None:
        statement = statement.where(AccessLogEntry.at <= until)
    return {str(purpose): count for purpose, count in (await session.execute(statement)).all()}


# --- verify ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    chain: str
    seq: int | None
    id: uuid.UUID
    at: datetime


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_broken_at: Broken | None


BATCH = 2000


async def _first_broken(session: AsyncSession, link: chain.Chain) -> tuple[int, Broken | None]:
    """Walk the chain in `seq` order, recomputing each hash; (entries, first broken)."""
    table = link.table
    checked, previous, last_seq = 0, GENESIS, None
    unsealed = await session.scalar(
        select(table.c.id).where(table.c.seq.is_(None)).order_by(table.c.at).limit(1)
    )
    while True:
        statement = select(table).order_by(table.c.seq).limit(BATCH)
        statement = statement.where(
            table.c.seq.is_not(None) if last_seq is None else table.c.seq > last_seq
        )
        rows = (await session.execute(statement)).mappings().all()
        for row in rows:
            checked += 1
            if row["prev_hash"] != previous or row["hash"] != chain.link(
                previous, link.digest(row)
            ):
                return checked, Broken(link.name, row["seq"], row["id"], row["at"])
            previous = row["hash"]
        if len(rows) < BATCH:
            break
        last_seq = rows[-1]["seq"]
    if unsealed is not None:
        at = await session.scalar(select(table.c.at).where(table.c.id == unsealed))
        return checked, Broken(link.name, None, unsealed, cast(datetime, at))
    return checked, None


async def verify(session: AsyncSession) -> Verification:
    """Both chains recomputed from their genesis: the access log, then the audit events."""
    total, first = 0, None
    for link in chain.CHAINS:
        checked, broken = await _first_broken(session, link)
        total += checked
        first = first or broken
    return Verification(ok=first is None, entries=total, first_broken_at=first)
