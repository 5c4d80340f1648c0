"""The benchmark's floor: the least a Python server can do to answer the benchmarked routes.

Starlette + asyncpg + orjson, one worker like the service. For each route it sends the
statements the service sends, in the same order and transactions, with the same
parameters, and answers the same JSON bytes; everything else the service does (FastAPI's
dependency injection and validation, SQLAlchemy's statement compilation and ORM, Pydantic's
models, the middlewares) is left out. The service's req/s over the floor's is the share of
what Python could do that the framework layers keep.

How the statements were captured: `scripts/bench capture --print` runs the service in
process on a seeded PostgreSQL database, calls each route twice, and prints what SQLAlchemy
handed asyncpg the second time (its `before_cursor_execute` event, plus BEGIN/COMMIT from
the `begin`/`commit` events); it then does the same with this app (`TRACE`) and says where
the two differ. The literals below are those statements as printed, placeholders and casts
included; a list of values is rendered as SQLAlchemy renders an expanding IN (`$6, $7,
...`, numbered after the other parameters). `scripts/bench run` repeats the comparison
before measuring: when the service's statements change (an optimisation), it says so, and
the literals here must be captured again.

Only PostgreSQL; only the commander's, the admin's and a partner's views (the benchmark's
callers; a facilitator gets 501). Run: `uvicorn bench_floor:create_app --factory --app-dir
scripts` with BENCH_DATABASE_URL and GPO_SECRET_KEY set (scripts/bench run does).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The service's screening of free text and its audit digest (issue 12) are plain Python
# (regular expressions, sha256 over canonical JSON) run per request with no framework in
# them: the floor calls the same functions rather than copies of them.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
from app.governance import chain, masking

PARIS = ZoneInfo("Europe/Paris")
OPEN_STATUSES = ("planned", "in_progress")
READABLE = {"partners": ["partners"], "police": ["partners", "police"]}
CLEARANCE = {"national_police": "restricted", "municipal_police": "police"}
LOCATION_FIELDS = ("address", "sector", "lat", "lon", "transport_line", "station")
DEFAULT_LIMIT = 50
LOGGED_LEVELS = frozenset({"police", "restricted"})
DUPLICATE_RADIUS_M = 250.0
MAX_DUPLICATES = 20
EARTH_RADIUS_M = 6_371_008.8

POOL_TIMEOUT = float(os.environ.get("GPO_DB_POOL_TIMEOUT", "2"))
# Set to a list to record every statement sent (scripts/bench capture); None when serving.
TRACE: list[str] | None = None


def plain(first: int, count: int) -> str:
    """An expanding IN's placeholders as SQLAlchemy renders them."""
    return ", ".join(f"${n}" for n in range(first, first + count))


def literals(codes: list[str]) -> str:
    """The code's own constants in an IN, as `app.core.db.among` writes them."""
    return ", ".join(f"'{code}'" for code in codes)


# --- The service's statements (captured with `scripts/bench capture`) ---------------------

# A statement, not a secret (S105).
TOKEN_LOOKUP = (
    "SELECT api_tokens.id, api_tokens.revoked_at, api_tokens.expires_at, users.id AS id_1, "  # noqa: S105
    "users.role, users.organisation_id, users.display_name, users.active, organisations.kind \n"
    "FROM api_tokens JOIN users ON users.id = api_tokens.user_id LEFT OUTER JOIN organisations "
    "ON organisations.id = users.organisation_id \nWHERE api_tokens.token_hash = $1::VARCHAR"
)

# GET /problems?status=open&commune_code=..., a caller who sees everything, the page and its
# counts in one statement: $1 today, $2 commune, $3 limit + 1, $4 $5 open statuses, $6..
# the statuses. Columns: the problem's, then open, overdue actions and reports (anon_1..3).
LIST_ALL = "SELECT page.id, page.reference, page.gpo_id, page.title, page.description, page.category, page.commune_code, page.priority, page.visibility, page.objective, page.time_pattern, page.raised_at_meeting_id, page.status, page.outcome, page.outcome_note, page.displacement, page.created_by, page.created_at, page.updated_at, page.closed_at, page.version, page.address, page.sector, page.lat, page.lon, page.transport_line, page.station, page.priority_rank, (SELECT count(actions.id) AS count_1 \nFROM actions \nWHERE actions.problem_id = page.id AND actions.status IN ('planned', 'in_progress')) AS anon_1, (SELECT count(actions.id) AS count_2 \nFROM actions \nWHERE actions.problem_id = page.id AND actions.status IN ('planned', 'in_progress') AND actions.due_date < $1::DATE) AS anon_2, (SELECT count(reports.id) AS count_3 \nFROM reports \nWHERE reports.problem_id = page.id) AS anon_3 \nFROM (SELECT problems.id AS id, problems.reference AS reference, problems.gpo_id AS gpo_id, problems.title AS title, problems.description AS description, problems.category AS category, problems.commune_code AS commune_code, problems.priority AS priority, problems.visibility AS visibility, problems.objective AS objective, problems.time_pattern AS time_pattern, problems.raised_at_meeting_id AS raised_at_meeting_id, problems.status AS status, problems.outcome AS outcome, problems.outcome_note AS outcome_note, problems.displacement AS displacement, problems.created_by AS created_by, problems.created_at AS created_at, problems.updated_at AS updated_at, problems.closed_at AS closed_at, problems.version AS version, problems.address AS address, problems.sector AS sector, problems.lat AS lat, problems.lon AS lon, problems.transport_line AS transport_line, problems.station AS station, problems.priority_rank AS priority_rank \nFROM problems \nWHERE problems.status IN ({statuses}) AND problems.commune_code = $2::VARCHAR ORDER BY problems.created_at DESC, problems.id DESC \n LIMIT $3) AS page ORDER BY page.created_at DESC, page.id DESC \n LIMIT $3"  # noqa: E501

# The same for a partner: $1 today, $2 organisation, $3 commune, $4 limit + 1, $5 $6 open
# statuses, then the readable levels, then the statuses.
LIST_PARTNER = "SELECT page.id, page.reference, page.gpo_id, page.title, page.description, page.category, page.commune_code, page.priority, page.visibility, page.objective, page.time_pattern, page.raised_at_meeting_id, page.status, page.outcome, page.outcome_note, page.displacement, page.created_by, page.created_at, page.updated_at, page.closed_at, page.version, page.address, page.sector, page.lat, page.lon, page.transport_line, page.station, page.priority_rank, (SELECT count(actions.id) AS count_1 \nFROM actions \nWHERE actions.problem_id = page.id AND actions.status IN ('planned', 'in_progress')) AS anon_1, (SELECT count(actions.id) AS count_2 \nFROM actions \nWHERE actions.problem_id = page.id AND actions.status IN ('planned', 'in_progress') AND actions.due_date < $1::DATE) AS anon_2, (SELECT count(reports.id) AS count_3 \nFROM reports \nWHERE reports.problem_id = page.id) AS anon_3 \nFROM (SELECT problems.id AS id, problems.reference AS reference, problems.gpo_id AS gpo_id, problems.title AS title, problems.description AS description, problems.category AS category, problems.commune_code AS commune_code, problems.priority AS priority, problems.visibility AS visibility, problems.objective AS objective, problems.time_pattern AS time_pattern, problems.raised_at_meeting_id AS raised_at_meeting_id, problems.status AS status, problems.outcome AS outcome, problems.outcome_note AS outcome_note, problems.displacement AS displacement, problems.created_by AS created_by, problems.created_at AS created_at, problems.updated_at AS updated_at, problems.closed_at AS closed_at, problems.version AS version, problems.address AS address, problems.sector AS sector, problems.lat AS lat, problems.lon AS lon, problems.transport_line AS transport_line, problems.station AS station, problems.priority_rank AS priority_rank \nFROM problems \nWHERE problems.gpo_id IN (SELECT gpo_members.gpo_id \nFROM gpo_members \nWHERE gpo_members.organisation_id = $2::UUID) AND problems.visibility IN ({levels}) AND problems.status IN ({statuses}) AND problems.commune_code = $3::VARCHAR ORDER BY problems.created_at DESC, problems.id DESC \n LIMIT $4) AS page ORDER BY page.created_at DESC, page.id DESC \n LIMIT $4"  # noqa: E501

# GET /problems/{id}: (partner) $1 today, $2 organisation, $3 id, $4 $5 open statuses, $6..
# levels; (everything, not measured: derived from the partner's) $1 today, $2 id, $3 $4.
DETAIL_PARTNER = "SELECT problems.id, problems.reference, problems.gpo_id, problems.title, problems.description, problems.category, problems.commune_code, problems.priority, problems.visibility, problems.objective, problems.time_pattern, problems.raised_at_meeting_id, problems.status, problems.outcome, problems.outcome_note, problems.displacement, problems.created_by, problems.created_at, problems.updated_at, problems.closed_at, problems.version, problems.address, problems.sector, problems.lat, problems.lon, problems.transport_line, problems.station, problems.priority_rank, (SELECT count(actions.id) AS count_1 \nFROM actions \nWHERE actions.problem_id = problems.id AND actions.status IN ('planned', 'in_progress')) AS anon_1, (SELECT count(actions.id) AS count_2 \nFROM actions \nWHERE actions.problem_id = problems.id AND actions.status IN ('planned', 'in_progress') AND actions.due_date < $1::DATE) AS anon_2, (SELECT count(reports.id) AS count_3 \nFROM reports \nWHERE reports.problem_id = problems.id) AS anon_3 \nFROM problems \nWHERE problems.gpo_id IN (SELECT gpo_members.gpo_id \nFROM gpo_members \nWHERE gpo_members.organisation_id = $2::UUID) AND problems.visibility IN ({levels}) AND problems.id = $3::UUID"  # noqa: E501

DETAIL_ALL = "SELECT problems.id, problems.reference, problems.gpo_id, problems.title, problems.description, problems.category, problems.commune_code, problems.priority, problems.visibility, problems.objective, problems.time_pattern, problems.raised_at_meeting_id, problems.status, problems.outcome, problems.outcome_note, problems.displacement, problems.created_by, problems.created_at, problems.updated_at, problems.closed_at, problems.version, problems.address, problems.sector, problems.lat, problems.lon, problems.transport_line, problems.station, problems.priority_rank, (SELECT count(actions.id) AS count_1 \nFROM actions \nWHERE actions.problem_id = problems.id AND actions.status IN ('planned', 'in_progress')) AS anon_1, (SELECT count(actions.id) AS count_2 \nFROM actions \nWHERE actions.problem_id = problems.id AND actions.status IN ('planned', 'in_progress') AND actions.due_date < $1::DATE) AS anon_2, (SELECT count(reports.id) AS count_3 \nFROM reports \nWHERE reports.problem_id = problems.id) AS anon_3 \nFROM problems \nWHERE problems.id = $2::UUID"  # noqa: E501

# GET /actions?overdue=true, a caller who sees everything: $1 today, $2 limit + 1.
OVERDUE_ACTIONS = "SELECT actions.id, actions.problem_id, actions.title, actions.kind, actions.assignee_organisation_id, actions.status, actions.due_date, actions.description, actions.result_note, actions.visibility, actions.completed_at, actions.decided_at_meeting_id, actions.created_by, actions.created_at, actions.updated_at, actions.version, problems.visibility AS visibility_1 \nFROM actions JOIN problems ON problems.id = actions.problem_id \nWHERE actions.status IN ('planned', 'in_progress') AND actions.due_date < $1::DATE ORDER BY actions.due_date ASC, actions.id ASC \n LIMIT $2"  # noqa: E501


# POST /reports

CLAIM_KEY = "INSERT INTO idempotency_keys (owner_id, key, method, path, fingerprint, created_at, id) VALUES ($1::UUID, $2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR, $6::TIMESTAMP WITH TIME ZONE, $7::UUID) ON CONFLICT (owner_id, key) DO NOTHING RETURNING idempotency_keys.id"  # noqa: E501

STORED_KEY = "SELECT idempotency_keys.owner_id, idempotency_keys.key, idempotency_keys.method, idempotency_keys.path, idempotency_keys.fingerprint, idempotency_keys.status_code, idempotency_keys.response_body, idempotency_keys.response_headers, idempotency_keys.created_at, idempotency_keys.id \nFROM idempotency_keys \nWHERE idempotency_keys.owner_id = $1::UUID AND idempotency_keys.key = $2::VARCHAR"  # noqa: E501

SAVEPOINT = "SAVEPOINT request_effect"

# The category, whether the commune exists (anon_1) and the covering GPO (anon_2), in one:
# $1 commune, $2 $3 'transport', $4 1, $5 'general', $6 commune, $7 1, $8 category.
CATEGORY_AND_ROUTE = "SELECT categories.label_fr, categories.reportable, EXISTS (SELECT communes.code \nFROM communes \nWHERE communes.code = $1::VARCHAR) AS anon_1, CASE WHEN (categories.family = $2) THEN (SELECT gpos.id \nFROM gpos \nWHERE gpos.kind = $3 ORDER BY gpos.transport_reports DESC, gpos.created_at, gpos.id \n LIMIT $4::INTEGER) ELSE (SELECT gpos.id \nFROM gpos \nWHERE gpos.kind = $5 AND gpos.id IN (SELECT gpo_communes.gpo_id \nFROM gpo_communes \nWHERE gpo_communes.commune_code = $1::VARCHAR) ORDER BY gpos.created_at, gpos.id \n LIMIT $6::INTEGER) END AS anon_2 \nFROM categories \nWHERE categories.code = $7::VARCHAR"  # noqa: E501

# Possible duplicates, a partner, both located: those in the box, then the first unlocated
# by reference. $1 organisation, $2 category, $3 commune, $4..$7 the box, $8 20, then the
# readable levels.
DUPLICATES_LOCATED = "SELECT problems.id, problems.reference, problems.title, problems.status, problems.lat, problems.lon \nFROM problems \nWHERE problems.gpo_id IN (SELECT gpo_members.gpo_id \nFROM gpo_members \nWHERE gpo_members.organisation_id = $1::UUID) AND problems.visibility IN ({levels}) AND problems.category = $2::VARCHAR AND problems.commune_code = $3::VARCHAR AND problems.status != 'closed' AND problems.lat BETWEEN $4::FLOAT AND $5::FLOAT AND problems.lon BETWEEN $6::FLOAT AND $7::FLOAT UNION ALL SELECT anon_1.id, anon_1.reference, anon_1.title, anon_1.status, anon_1.lat, anon_1.lon \nFROM (SELECT problems.id AS id, problems.reference AS reference, problems.title AS title, problems.status AS status, problems.lat AS lat, problems.lon AS lon \nFROM problems \nWHERE problems.gpo_id IN (SELECT gpo_members.gpo_id \nFROM gpo_members \nWHERE gpo_members.organisation_id = $1::UUID) AND problems.visibility IN ({levels}) AND problems.category = $2::VARCHAR AND problems.commune_code = $3::VARCHAR AND problems.status != 'closed' AND (problems.lat IS NULL OR problems.lon IS NULL) ORDER BY problems.reference COLLATE \"C\" \n LIMIT $8::INTEGER) AS anon_1"  # noqa: E501

# An unlocated report (not measured: derived): $1 organisation, $2 category, $3 commune, $4 20.
DUPLICATES = "SELECT problems.id, problems.reference, problems.title, problems.status, problems.lat, problems.lon \nFROM problems \nWHERE problems.gpo_id IN (SELECT gpo_members.gpo_id \nFROM gpo_members \nWHERE gpo_members.organisation_id = $1::UUID) AND problems.visibility IN ({levels}) AND problems.category = $2::VARCHAR AND problems.commune_code = $3::VARCHAR AND problems.status != 'closed' ORDER BY problems.reference COLLATE \"C\" \n LIMIT $4::INTEGER"  # noqa: E501


# The reference taken by the insert itself (migration 0023's reference_take).
INSERT_REPORT = "INSERT INTO reports (reference, status, source, category, commune_code, description, address, sector, lat, lon, transport_line, station, observed_at, time_pattern, external_ref, media_url, gpo_id, submitted_by_organisation_id, submitted_by_user_id, problem_id, public_note, triaged_at, triaged_by, id, created_at, updated_at, version) VALUES (reference_take($1::VARCHAR), $2, $3, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR, $8::VARCHAR, $9::FLOAT, $10::FLOAT, $11::VARCHAR, $12::VARCHAR, $13::TIMESTAMP WITH TIME ZONE, $14::VARCHAR, $15::VARCHAR, $16::VARCHAR, $17::UUID, $18::UUID, $19::UUID, $20::UUID, $21::VARCHAR, $22::TIMESTAMP WITH TIME ZONE, $23::UUID, $24::UUID, $25::TIMESTAMP WITH TIME ZONE, $26::TIMESTAMP WITH TIME ZONE, $27::INTEGER) RETURNING reports.reference"  # noqa: E501

STORE_ANSWER = "UPDATE idempotency_keys SET status_code=$1::INTEGER, response_body=$2::VARCHAR, response_headers=$3::JSONB WHERE idempotency_keys.id = $4::UUID"  # noqa: E501

INSERT_AUDIT = "INSERT INTO audit_events (at, actor_id, token_id, request_id, action, resource_type, resource_id, problem_id, summary, changes, visibility, seq, prev_hash, hash, id) VALUES ($1::TIMESTAMP WITH TIME ZONE, $2::UUID, $3::UUID, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR, $8::UUID, $9::VARCHAR, $10::JSONB, $11, $12::BIGINT, $13::VARCHAR, $14::VARCHAR, $15::UUID) RETURNING audit_events.at, audit_events.actor_id, audit_events.token_id, audit_events.request_id, audit_events.action, audit_events.resource_type, audit_events.resource_id, audit_events.problem_id, audit_events.summary, audit_events.changes, audit_events.visibility, audit_events.seq, audit_events.prev_hash, audit_events.hash, audit_events.id"  # noqa: E501
# The hash chain (app.governance.chain): the events read back as stored, then sealed.
# The events to seal within the COMMIT (migration 0026's trigger), as "id:digest".
SEAL_AUDIT = "SELECT set_config('gpo.audit_seal', concat_ws(',', nullif(current_setting('gpo.audit_seal', true), ''), $1::VARCHAR), true)"  # noqa: E501


# GET /stats/overview, a caller who sees everything: the summary rows the triggers keep.

# The totals over every GPO and commune (migration 0025).
TOTALS = "SELECT 'status', figures_status_totals.status, figures_status_totals.outcome, figures_status_totals.measured, figures_status_totals.problems \nFROM figures_status_totals UNION ALL SELECT 'category', figures_category_totals.category, NULL AS anon_1, NULL AS anon__1, figures_category_totals.problems \nFROM figures_category_totals UNION ALL SELECT 'commune', figures_commune_totals.commune_code, NULL AS anon_1, NULL AS anon__1, figures_commune_totals.problems \nFROM figures_commune_totals"  # noqa: E501

DAY_TOTALS = "SELECT figures_day_totals.day, figures_day_totals.problems \nFROM figures_day_totals ORDER BY figures_day_totals.day"  # noqa: E501

# $1 day, $2 day + 1, $3 limit, $4 offset.
CLOSED_DAYS = "SELECT figures_closed_problems.days AS days \nFROM figures_closed_problems \nWHERE figures_closed_problems.days >= $1::INTEGER AND figures_closed_problems.days < $2::INTEGER ORDER BY figures_closed_problems.days \n LIMIT $3::INTEGER OFFSET $4::INTEGER"  # noqa: E501

OVERDUE_BY_ORGANISATION = "SELECT figures_open_actions.assignee_organisation_id, sum(figures_open_actions.actions) AS sum_1 \nFROM figures_open_actions \nWHERE figures_open_actions.due_date < $1::DATE GROUP BY figures_open_actions.assignee_organisation_id"  # noqa: E501


# GET /evaluations/annual?year=..., a caller who sees everything.

# $1 $2 the year.
YEAR_RAISED = "SELECT grouping(problems.gpo_id, problems.commune_code, problems.category) AS grouping_1, problems.gpo_id AS gpo_id, problems.commune_code AS commune_code, problems.category AS category, count(*) AS count_1 \nFROM problems \nWHERE problems.created_at >= $1::TIMESTAMP WITH TIME ZONE AND problems.created_at < $2::TIMESTAMP WITH TIME ZONE GROUP BY GROUPING SETS((problems.gpo_id), (problems.commune_code), (problems.category), ())"  # noqa: E501

# The closed problems' summary rows (migration 0014). $1..$3 1 0 0, $4 $5 the year.
YEAR_CLOSED = "SELECT grouping(figures_closed_problems.gpo_id, figures_closed_problems.commune_code, figures_closed_problems.category) AS grouping_1, figures_closed_problems.gpo_id AS gpo_id, figures_closed_problems.commune_code, figures_closed_problems.category, figures_closed_problems.outcome, count(*) AS count_1, coalesce(sum(CASE WHEN (figures_closed_problems.improved IS true) THEN $1::INTEGER ELSE $2::INTEGER END), $3::INTEGER) AS coalesce_1 \nFROM figures_closed_problems \nWHERE figures_closed_problems.closed_at >= $4::TIMESTAMP WITH TIME ZONE AND figures_closed_problems.closed_at < $5::TIMESTAMP WITH TIME ZONE GROUP BY GROUPING SETS((figures_closed_problems.gpo_id, figures_closed_problems.outcome), (figures_closed_problems.commune_code, figures_closed_problems.outcome), (figures_closed_problems.category, figures_closed_problems.outcome), (figures_closed_problems.outcome))"  # noqa: E501

# $1 the middle ranks, $2 $3 the year: each breakdown's and the total's two middle values.
YEAR_MEDIANS = "SELECT grouping(figures_closed_problems.gpo_id, figures_closed_problems.commune_code, figures_closed_problems.category) AS grouping_1, figures_closed_problems.gpo_id AS gpo_id, figures_closed_problems.commune_code, figures_closed_problems.category, percentile_disc($1::FLOAT[]) WITHIN GROUP (ORDER BY figures_closed_problems.days) AS percentile_disc_1 \nFROM figures_closed_problems \nWHERE figures_closed_problems.closed_at >= $2::TIMESTAMP WITH TIME ZONE AND figures_closed_problems.closed_at < $3::TIMESTAMP WITH TIME ZONE GROUP BY GROUPING SETS((figures_closed_problems.gpo_id), (figures_closed_problems.commune_code), (figures_closed_problems.category), ())"  # noqa: E501
MIDDLE_RANKS = [0.5, 0.5 + 1e-8]
GROUPING_BITS = {0b011: "gpo", 0b101: "commune", 0b110: "category", 0b111: "all"}

GPO_LABELS = "SELECT gpos.id AS id, gpos.id AS id_1, gpos.name \nFROM gpos"

COMMUNE_LABELS = (
    "SELECT communes.code AS code, communes.code AS code_1, communes.name \nFROM communes"
)

CATEGORY_LABELS = "SELECT categories.code AS code, categories.code AS code_1, categories.label_fr \nFROM categories"  # noqa: E501

YEAR_ORGANISATIONS = "SELECT actions.assignee_organisation_id, organisations.name, count(*) AS count_1, coalesce(sum(CASE WHEN (actions.status = $1) THEN $2::INTEGER ELSE $3::INTEGER END), $4::INTEGER) AS coalesce_1, coalesce(sum(CASE WHEN (actions.status IN ('planned', 'in_progress') AND actions.due_date < $5::DATE) THEN $6::INTEGER ELSE $7::INTEGER END), $8::INTEGER) AS coalesce_3, coalesce(sum(CASE WHEN (actions.status = $9) THEN $10::INTEGER ELSE $11::INTEGER END), $12::INTEGER) AS coalesce_5 \nFROM actions JOIN organisations ON organisations.id = actions.assignee_organisation_id \nWHERE actions.created_at >= $13::TIMESTAMP WITH TIME ZONE AND actions.created_at < $14::TIMESTAMP WITH TIME ZONE GROUP BY actions.assignee_organisation_id, organisations.name ORDER BY organisations.name"  # noqa: E501


# --- Plumbing ---------------------------------------------------------------------------


class Tx:
    """A connection in a transaction; records the statements when TRACE is a list."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.c = connection

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if TRACE is not None:
            TRACE.append(sql)
        return await self.c.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        if TRACE is not None:
            TRACE.append(sql)
        return await self.c.fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> Any:
        if TRACE is not None:
            TRACE.append(sql)
        return await self.c.execute(sql, *args)


class Transaction:
    """`async with Transaction(pool) as tx`: BEGIN ... COMMIT (ROLLBACK on an error)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def __aenter__(self) -> Tx:
        try:
            self.connection = await self.pool.acquire(timeout=POOL_TIMEOUT)
        except TimeoutError:
            # As the service: no pooled connection within GPO_DB_POOL_TIMEOUT, 503.
            raise Refused(refused(503, "The database is unavailable; retry later.")) from None
        self.transaction = self.connection.transaction()
        if TRACE is not None:
            TRACE.append("BEGIN")
        await self.transaction.start()
        return Tx(self.connection)

    async def __aexit__(self, kind: Any, *_: Any) -> None:
        try:
            if kind is None:
                if TRACE is not None:
                    TRACE.append("COMMIT")
                await self.transaction.commit()
            else:
                if TRACE is not None:
                    TRACE.append("ROLLBACK")
                await self.transaction.rollback()
        finally:
            await self.pool.release(self.connection)


class Principal:
    __slots__ = ("kind", "name", "organisation_id", "role", "token_id", "user_id")

    def __init__(self, row: Any) -> None:
        (
            self.token_id,
            _revoked,
            _expires,
            self.user_id,
            self.role,
            self.organisation_id,
            self.name,
            _active,
            self.kind,
        ) = row

    @property
    def sees_everything(self) -> bool:
        return self.role in ("admin", "commander")

    def readable(self) -> list[str]:
        level = CLEARANCE.get(self.kind or "", "partners")
        return READABLE.get(level, ["partners", "police", "restricted"])


def dumps(body: Any) -> bytes:
    """JSON as the service writes it. asyncpg's UUIDs are its own class, which orjson
    leaves to `default`: written as their text."""
    return orjson.dumps(body, default=str, option=orjson.OPT_UTC_Z)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(body),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def refused(status: int, detail: str) -> Response:
    return json_response({"status": status, "detail": detail}, status)


class Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def authenticate(request: Request, tx: Tx) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Refused(refused(401, "The token is missing, invalid, expired or revoked."))
    digest = hmac.new(request.app.state.secret, token.encode(), hashlib.sha256).hexdigest()
    row = await tx.fetchrow(TOKEN_LOOKUP, digest)
    now = datetime.now(UTC)
    if row is None or row[1] is not None or (row[2] is not None and row[2] <= now) or not row[7]:
        raise Refused(refused(401, "The token is missing, invalid, expired or revoked."))
    principal = Principal(row)
    if not principal.sees_everything and principal.role != "partner":
        raise Refused(refused(501, "The floor answers commanders, admins and partners only."))
    return principal


def route(
    handler: Callable[[Request, Tx, Principal], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """One transaction per request, the caller authenticated first, as the service does;
    then the read's access-log entry, if the handler left one (`log_read`)."""

    async def endpoint(request: Request) -> Response:
        try:
            async with Transaction(request.app.state.pool) as tx:
                principal = await authenticate(request, tx)
                response = await handler(request, tx, principal)
        except Refused as refusal:
            return refusal.response
        if (entry := getattr(request.state, "access_entry", None)) is not None:
            await append_access(request.app.state.pool, entry)
        return response

    return endpoint


# --- The access log (app.governance): a read of police data, written after its transaction


def log_read(
    request: Request, principal: Principal, resource_type: str, ids: list[Any], template: str
) -> None:
    """As `app.governance.service.log_read` on a read: the entry, for `route` to append once
    the transaction is over; none when no id is at a logged level."""
    if not ids:
        return
    request.state.access_entry = {
        "id": uuid.uuid4(),
        "at": datetime.now(UTC),
        "user_id": principal.user_id,
        "organisation_id": principal.organisation_id,
        "session_or_token_id": principal.token_id,
        "resource_type": resource_type,
        "resource_ids": [str(i) for i in ids],
        "route": template,
        "purpose": "unspecified",
        "request_id": uuid.uuid4().hex,
    }


async def append_access(pool: asyncpg.Pool, entry: dict[str, Any]) -> None:
    """As `app.governance.chain.append_after` on PostgreSQL: one statement by itself."""
    if TRACE is not None:
        TRACE.append(chain.APPEND_SQL)
    e = entry
    async with pool.acquire(timeout=POOL_TIMEOUT) as connection:
        await connection.execute(
            chain.APPEND_SQL,
            e["id"],
            e["at"],
            e["user_id"],
            e["organisation_id"],
            e["session_or_token_id"],
            e["resource_type"],
            json.dumps(e["resource_ids"]),
            e["route"],
            e["purpose"],
            e["request_id"],
            chain.access_digest(e),
            True,
        )


def no_store(response: Response, request: Request) -> Response:
    if getattr(request.state, "access_entry", None) is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def today_in_paris() -> date:
    return datetime.now(PARIS).date()


# --- Cursors, as app.core.pagination makes them ----------------------------------------


def filters_digest(request: Request) -> str:
    items = sorted(
        (k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "limit")
    )
    return hashlib.sha256(json.dumps([request.url.path, items]).encode()).hexdigest()[:16]


def cursor(request: Request, ordering: str, values: list[Any]) -> str:
    encoded = [v.isoformat() if isinstance(v, date) else str(v) for v in values]
    payload = json.dumps(
        {"o": ordering, "f": filters_digest(request), "k": encoded}, separators=(",", ":")
    ).encode()
    signature = hmac.new(request.app.state.cursor_key, payload, hashlib.sha256).hexdigest()[:32]
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + signature


def page_limit(request: Request) -> int:
    if "cursor" in request.query_params:
        raise Refused(refused(501, "The floor answers first pages only."))
    return int(request.query_params.get("limit", DEFAULT_LIMIT))


# --- Problems -----------------------------------------------------------------------------


def problem_out(row: Any, open_actions: int, overdue_actions: int, reports: int) -> dict:
    location = (
        None
        if all(row[name] is None for name in LOCATION_FIELDS)
        else {name: row[name] for name in LOCATION_FIELDS}
    )
    return {
        "id": row["id"],
        "reference": row["reference"],
        "gpo_id": row["gpo_id"],
        "title": row["title"],
        "description": row["description"],
        "category": row["category"],
        "commune_code": row["commune_code"],
        "location": location,
        "priority": row["priority"],
        "visibility": row["visibility"],
        "objective": row["objective"],
        "time_pattern": row["time_pattern"],
        "raised_at_meeting_id": row["raised_at_meeting_id"],
        "status": row["status"],
        "outcome": row["outcome"],
        "outcome_note": row["outcome_note"],
        "displacement": row["displacement"],
        "report_count": reports,
        "open_action_count": open_actions,
        "overdue_action_count": overdue_actions,
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "closed_at": row["closed_at"],
        "version": row["version"],
    }


async def list_problems(request: Request, tx: Tx, principal: Principal) -> Response:
    limit = page_limit(request)
    params = request.query_params
    statuses = params.getlist("status")
    commune = params.get("commune_code")
    if commune is None or not statuses or set(params) - {"status", "commune_code", "limit"}:
        raise Refused(refused(501, "The floor lists by status and commune only."))
    today = today_in_paris()
    if principal.sees_everything:
        sql = LIST_ALL.format(statuses=plain(4, len(statuses)))
        rows = await tx.fetch(sql, today, commune, limit + 1, *statuses)
    else:
        levels = principal.readable()
        sql = LIST_PARTNER.format(levels=literals(levels), statuses=plain(5, len(statuses)))
        rows = await tx.fetch(sql, today, principal.organisation_id, commune, limit + 1, *statuses)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = cursor(request, "-created_at", [last["created_at"], last["id"]])
    items = [problem_out(row, row["anon_1"], row["anon_2"], row["anon_3"]) for row in rows]
    logged = [row["id"] for row in rows if row["visibility"] in LOGGED_LEVELS]
    log_read(request, principal, "problem", logged, "/api/v1/problems")
    return no_store(json_response({"items": items, "next_cursor": next_cursor}), request)


async def get_problem(request: Request, tx: Tx, principal: Principal) -> Response:
    try:
        problem_id = uuid.UUID(request.path_params["problem_id"])
    except ValueError:
        return refused(404, "No such resource.")
    today = today_in_paris()
    if principal.sees_everything:
        row = await tx.fetchrow(DETAIL_ALL, today, problem_id)
    else:
        levels = principal.readable()
        row = await tx.fetchrow(
            DETAIL_PARTNER.format(levels=literals(levels)),
            today,
            principal.organisation_id,
            problem_id,
        )
    if row is None:
        return refused(404, "No such problem.")
    body = problem_out(row, row["anon_1"], row["anon_2"], row["anon_3"])
    logged = [row["id"]] if row["visibility"] in LOGGED_LEVELS else []
    log_read(request, principal, "problem", logged, "/api/v1/problems/{problem_id}")
    return no_store(json_response(body, headers={"ETag": f'"{row["version"]}"'}), request)


# --- Actions ------------------------------------------------------------------------------


async def list_actions(request: Request, tx: Tx, principal: Principal) -> Response:
    limit = page_limit(request)
    if dict(request.query_params) != {"overdue": "true"} or not principal.sees_everything:
        raise Refused(refused(501, "The floor lists overdue actions for commanders only."))
    today = today_in_paris()
    rows = await tx.fetch(OVERDUE_ACTIONS, today, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor(request, "due_date", [rows[-1]["due_date"], rows[-1]["id"]])
    items = [
        {
            "id": r["id"],
            "problem_id": r["problem_id"],
            "title": r["title"],
            "kind": r["kind"],
            "assignee_organisation_id": r["assignee_organisation_id"],
            "status": r["status"],
            "due_date": r["due_date"],
            "description": r["description"],
            "result_note": r["result_note"],
            "visibility": r["visibility"],
            "completed_at": r["completed_at"],
            "decided_at_meeting_id": r["decided_at_meeting_id"],
            "overdue": r["status"] in OPEN_STATUSES and r["due_date"] < today,
            "created_by": r["created_by"],
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
            "version": r["version"],
        }
        for r in rows
    ]
    logged = [r["id"] for r in rows if LOGGED_LEVELS & {r["visibility"], r["visibility_1"]}]
    log_read(request, principal, "action", logged, "/api/v1/actions")
    return no_store(json_response({"items": items, "next_cursor": next_cursor}), request)


# --- Reports ------------------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def iso(value: datetime) -> str:
    """An instant as Pydantic writes it: UTC with Z, microseconds only when there are."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()[1:-1]


async def report_endpoint(request: Request) -> Response:
    """POST /reports with an Idempotency-Key, as the service stores and answers it."""
    raw = await request.body()
    try:
        async with Transaction(request.app.state.pool) as tx:
            principal = await authenticate(request, tx)
            if principal.role != "partner" or principal.organisation_id is None:
                return refused(403, "Reports are submitted by partners, for their organisation.")
            return await intake(request, tx, principal, raw)
    except Refused as refusal:
        return refusal.response


async def intake(request: Request, tx: Tx, principal: Principal, raw: bytes) -> Response:
    key = request.headers.get("idempotency-key")
    data = json.loads(raw)
    now = datetime.now(UTC)
    row_id = None
    path = request.url.path
    if key is not None:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        row_id = uuid.uuid4()
        inserted = await tx.fetchrow(
            CLAIM_KEY, principal.user_id, key, "POST", path, fingerprint, now, row_id
        )
        if inserted is None:
            # (A key kept past its 24 hours, which the service frees and takes again: not
            # the benchmark's, whose keys are new.)
            stored = await tx.fetchrow(STORED_KEY, principal.user_id, key)
            if (stored["method"], stored["path"], stored["fingerprint"]) != (
                "POST",
                path,
                fingerprint,
            ):
                return refused(422, "this key was already used for another request")
            headers = json.loads(stored["response_headers"] or "{}")
            media_type = headers.pop("content-type", "application/json")
            headers["Idempotent-Replayed"] = "true"
            return Response(
                stored["response_body"].encode(),
                status_code=stored["status_code"] or 200,
                headers=headers,
                media_type=media_type,
            )
        # The claim's savepoint, where a refusal would roll back to (the COMMIT releases it).
        await tx.execute(SAVEPOINT)
    commune_code = data["commune_code"]
    category = await tx.fetchrow(
        CATEGORY_AND_ROUTE,
        commune_code,
        "transport",
        "transport",
        1,
        "general",
        1,
        data["category"],
    )
    if category is None or not category["reportable"] or not category["anon_1"]:
        return refused(422, "unknown category or commune")
    gpo_id = category["anon_2"]
    location = data.get("location") or {}
    columns = {name: location.get(name) for name in LOCATION_FIELDS}
    # A partner's report is read beyond the police: its identifiers are masked. (The
    # benchmark's texts hold none, so no `text_screenings` row follows, as in the service.)
    data["description"] = shared_text(data["description"])
    data["time_pattern"] = shared_text(data.get("time_pattern"))
    columns |= {name: shared_text(columns[name]) for name in LOCATION_TEXTS}
    duplicates = await possible_duplicates(tx, principal, data, columns["lat"], columns["lon"])
    observed_at = data.get("observed_at")
    observed = datetime.fromisoformat(observed_at).astimezone(UTC) if observed_at else None
    # The report, whose insert takes its reference, as the service stores it.
    created = datetime.now(UTC)
    year = created.astimezone(PARIS).year
    report_id = uuid.uuid4()
    stored_report = await tx.fetchrow(
        INSERT_REPORT,
        f"R-{year}",
        "received",
        "api",
        data["category"],
        commune_code,
        data["description"],
        columns["address"],
        columns["sector"],
        columns["lat"],
        columns["lon"],
        columns["transport_line"],
        columns["station"],
        observed,
        data.get("time_pattern"),
        data.get("external_ref"),
        None,
        gpo_id,
        principal.organisation_id,
        principal.user_id,
        None,
        None,
        None,
        None,
        report_id,
        created,
        created,
        1,
    )
    reference = stored_report[0]
    body = {
        "id": report_id,
        "reference": reference,
        "status": "received",
        "category": data["category"],
        "commune_code": commune_code,
        "description": data["description"],
        "location": None if all(v is None for v in columns.values()) else columns,
        "observed_at": observed,
        "time_pattern": data.get("time_pattern"),
        "external_ref": data.get("external_ref"),
        "gpo_id": gpo_id,
        "submitted_by_organisation_id": principal.organisation_id,
        "problem_id": None,
        "problem_status": None,
        "problem_outcome": None,
        "public_note": None,
        "created_at": created,
        "updated_at": created,
        "version": 1,
        "warnings": [],
        "possible_duplicates": duplicates,
    }
    content = dumps(body)
    headers = {"etag": '"1"', "location": f"/api/v1/reports/{report_id}"}
    values = {
        "category": data["category"],
        "commune_code": data["commune_code"],
        "description": data["description"],
        "observed_at": iso(observed) if observed else None,
        "time_pattern": data.get("time_pattern"),
        "external_ref": data.get("external_ref"),
        **columns,
        "gpo_id": str(gpo_id) if gpo_id else None,
        "source": "api",
    }
    changes = {name: [None, value] for name, value in values.items() if value is not None}
    event_id = uuid.uuid4()
    # Returned as stored, and digested so at commit (the service's `insert_event`).
    stored = await tx.fetchrow(
        INSERT_AUDIT,
        datetime.now(UTC),
        principal.user_id,
        principal.token_id,
        uuid.uuid4().hex,
        "report.create",
        "report",
        str(report_id),
        None,
        f"Signalement {reference} reçu ({category['label_fr']})",
        json.dumps(changes),
        None,
        None,
        None,
        None,
        event_id,
    )
    if row_id is not None:
        stored_headers = {"content-type": "application/json", **headers}
        await tx.execute(STORE_ANSWER, 201, content.decode(), json.dumps(stored_headers), row_id)
    # Sealed at commit, as the service's `before_commit` hook does: digested, handed to the
    # transaction, chained by the trigger within the COMMIT.
    await tx.execute(SEAL_AUDIT, f"{event_id}:{audit_digest(stored)}")
    return Response(content, status_code=201, headers=headers, media_type="application/json")


LOCATION_TEXTS = ("address", "sector", "transport_line", "station")


def shared_text(text: str | None) -> str | None:
    return None if text is None else masking.screen(text, shared=True).text


def audit_digest(row: Any) -> str:
    """The event's content digest, by the service's own function (JSON as stored)."""
    changes = row["changes"]
    return chain.audit_digest({**row, "changes": None if changes is None else json.loads(changes)})


async def possible_duplicates(
    tx: Tx, principal: Principal, data: dict, lat: float | None, lon: float | None
) -> list[dict]:
    levels = principal.readable()
    common = (principal.organisation_id, data["category"], data["commune_code"])
    if lat is not None and lon is not None:
        d_lat = DUPLICATE_RADIUS_M / 111_320
        d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
        rows = await tx.fetch(
            DUPLICATES_LOCATED.format(levels=literals(levels)),
            *common,
            lat - d_lat,
            lat + d_lat,
            lon - d_lon,
            lon + d_lon,
            MAX_DUPLICATES,
        )
    else:
        rows = await tx.fetch(DUPLICATES.format(levels=literals(levels)), *common, MAX_DUPLICATES)
    found = []
    for problem_id, reference, title, status, p_lat, p_lon in rows:
        distance = None
        if None not in (lat, lon, p_lat, p_lon):
            distance = round(distance_m(lat, lon, p_lat, p_lon), 1)  # type: ignore[arg-type]
            if distance > DUPLICATE_RADIUS_M:
                continue
        found.append(
            {
                "id": problem_id,
                "reference": reference,
                "title": title,
                "status": status,
                "distance_m": distance,
            }
        )
    found.sort(key=lambda d: (d["distance_m"] is None, d["distance_m"] or 0.0, d["reference"]))
    return found[:MAX_DUPLICATES]


# --- Figures ------------------------------------------------------------------------------


def present(counts: dict[str, int]) -> dict[str, int]:
    """Keys with a count, in key order."""
    return {key: counts[key] for key in sorted(counts) if counts[key]}


async def summary_median(tx: Tx, closed: int) -> float | None:
    """The median from the histogram of whole days to close, the middle values read
    inside their day (`app.figures.service._summary_median`)."""
    histogram = await tx.fetch(DAY_TOTALS)
    size = sum(n for _, n in histogram)
    if size != closed or not size:
        return None
    ranks = sorted({(size - 1) // 2, size // 2})
    middle: list[Any] = []
    before = 0
    for day, n in histogram:
        wanted = [rank - before for rank in ranks if before <= rank < before + n]
        if wanted:
            found = await tx.fetch(CLOSED_DAYS, day, day + 1, wanted[-1] - wanted[0] + 1, wanted[0])
            middle += [r[0] for r in found]
        before += n
        if before > ranks[-1]:
            break
    return round(float(sum(middle)) / len(middle), 1)


async def overview(request: Request, tx: Tx, principal: Principal) -> Response:
    if request.query_params or not principal.sees_everything:
        raise Refused(refused(501, "The floor answers the unfiltered overview for commanders."))
    by_status = dict.fromkeys(("new", "open", "monitoring", "closed"), 0)
    by_category: dict[str, int] = {}
    by_commune: dict[str, int] = {}
    closed = worked_on = measured_ = 0
    for total, key, outcome, measured, n in await tx.fetch(TOTALS):
        if total == "status":
            by_status[key] = by_status.get(key, 0) + n
            if key == "closed":
                closed += n
                if outcome not in ("duplicate", "not_in_scope", ""):
                    worked_on += n
                    measured_ += n if measured else 0
        elif total == "category":
            by_category[key] = n
        else:
            by_commune[key] = n
    median = await summary_median(tx, closed)
    if median is None and closed:
        raise Refused(refused(501, "The floor reads the median from the summary rows only."))
    overdue = await tx.fetch(OVERDUE_BY_ORGANISATION, today_in_paris())
    body = {
        "problems_by_status": by_status,
        "problems_by_category": present(by_category),
        "problems_by_commune": present(by_commune),
        "overdue_actions_by_organisation": present({str(k): n for k, n in overdue}),
        "median_days_to_close": median,
        "closed_with_evidence_ratio": round(measured_ / worked_on, 4) if worked_on else None,
    }
    return json_response(body)


class Tally:
    __slots__ = ("closed", "improved", "median", "outcomes", "raised")

    def __init__(self) -> None:
        self.raised = self.closed = self.improved = 0
        self.outcomes: dict[str, int] = {}
        self.median: float | None = None

    def row(self, key: str, label: str) -> dict:
        return {
            "key": key,
            "label": label,
            "problems_raised": self.raised,
            "problems_closed": self.closed,
            "outcomes": {outcome: self.outcomes[outcome] for outcome in sorted(self.outcomes)},
            "median_days_to_close": self.median,
            "closed_with_improved_indicator": self.improved,
        }


async def annual(request: Request, tx: Tx, principal: Principal) -> Response:
    if set(request.query_params) - {"year"} or not principal.sees_everything:
        raise Refused(refused(501, "The floor answers the JSON evaluation for commanders."))
    year = int(request.query_params.get("year", today_in_paris().year))
    start = datetime(year, 1, 1, tzinfo=PARIS).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=PARIS).astimezone(UTC)
    tallies: dict[tuple[str, str], Tally] = {}

    def tally(place: tuple[str, str]) -> Tally:
        found = tallies.get(place)
        if found is None:
            found = tallies[place] = Tally()
        return found

    # Raised and closed apart, each breakdown and the total summed by the database (grouping
    # sets), as the service sums them (`app.figures.service._grouped_tallies`).
    def place(bits: int, gpo_id: Any, commune: str, category: str) -> tuple[str, str]:
        name = GROUPING_BITS[bits]
        raw = {"gpo": str(gpo_id), "commune": commune, "category": category, "all": "all"}[name]
        return name, raw

    for bits, gpo_id, commune, category, n_raised in await tx.fetch(YEAR_RAISED, start, end):
        if n_raised:
            tally(place(bits, gpo_id, commune, category)).raised += n_raised
    # CASE WHEN ... THEN 1 ELSE 0 END, coalesce(..., 0): SQLAlchemy binds every literal.
    sums = (1, 0, 0)
    closed_groups = await tx.fetch(YEAR_CLOSED, *sums, start, end)
    for bits, gpo_id, commune, category, outcome, n_closed, n_improved in closed_groups:
        t = tally(place(bits, gpo_id, commune, category))
        t.closed += n_closed
        t.improved += n_improved
        if outcome:  # '' in the summary rows: no outcome
            t.outcomes[outcome] = n_closed
    for bits, gpo_id, commune, category, middle in await tx.fetch(
        YEAR_MEDIANS, MIDDLE_RANKS, start, end
    ):
        if middle is None:
            continue
        tally(place(bits, gpo_id, commune, category)).median = round(
            (float(middle[0]) + float(middle[1])) / 2, 1
        )
    labels = {
        "gpo": {str(raw): (str(k), v) for raw, k, v in await tx.fetch(GPO_LABELS)},
        "commune": {str(raw): (str(k), v) for raw, k, v in await tx.fetch(COMMUNE_LABELS)},
        "category": {str(raw): (str(k), v) for raw, k, v in await tx.fetch(CATEGORY_LABELS)},
    }
    rows: dict[str, list[dict]] = {"gpo": [], "commune": [], "category": [], "all": []}
    for (name, raw), t in tallies.items():
        if name == "all":
            rows["all"].append(t.row("all", "Total"))
        else:
            key, label = labels[name].get(raw, (raw, raw))
            rows[name].append(t.row(key, label))
    for found in rows.values():
        found.sort(key=lambda row: (row["label"], row["key"]))
    today = today_in_paris()
    organisations = [
        {
            "key": str(k),
            "label": name,
            "actions_assigned": assigned,
            "actions_done": done,
            "actions_overdue": overdue,
            "actions_cancelled": cancelled,
        }
        for k, name, assigned, done, overdue, cancelled in await tx.fetch(
            YEAR_ORGANISATIONS,
            "done",
            *sums,
            today,
            *sums,
            "cancelled",
            *sums,
            start,
            end,
        )
    ]
    totals = rows["all"][0] if rows["all"] else Tally().row("all", "Total")
    for field in ("assigned", "done", "overdue", "cancelled"):
        totals[f"actions_{field}"] = sum(r[f"actions_{field}"] for r in organisations)
    body = {
        "year": year,
        "totals": totals,
        "by_gpo": rows["gpo"],
        "by_commune": rows["commune"],
        "by_category": rows["category"],
        "by_organisation": organisations,
    }
    return json_response(body)


# --- The app ------------------------------------------------------------------------------


async def health(_request: Request) -> Response:
    return json_response({"status": "ok"})


def create_app(database_url: str | None = None, secret_key: str | None = None) -> Starlette:
    url = database_url or os.environ["BENCH_DATABASE_URL"]
    secret = (secret_key or os.environ["GPO_SECRET_KEY"]).encode()
    pool_size = int(os.environ.get("GPO_DB_POOL_SIZE", "10"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # As the service's engine: the same pool size, statement timeout on the server.
        app.state.pool = await asyncpg.create_pool(
            "postgresql://" + url.partition("://")[2],
            min_size=1,
            max_size=pool_size,
            command_timeout=5,
            server_settings={"statement_timeout": "5000"},
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/api/v1/problems", route(list_problems)),
            Route("/api/v1/problems/{problem_id}", route(get_problem)),
            Route("/api/v1/actions", route(list_actions)),
            Route("/api/v1/reports", report_endpoint, methods=["POST"]),
            Route("/api/v1/stats/overview", route(overview)),
            Route("/api/v1/evaluations/annual", route(annual)),
        ],
        lifespan=lifespan,
    )
    app.state.secret = secret
    app.state.cursor_key = hmac.new(secret, b"pagination-cursor", hashlib.sha256).digest()
    return app
