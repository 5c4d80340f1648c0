"""Reports: submission and routing to a GPO, possible duplicates, reading, triage."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Float,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.core import audit
from app.core.audit import created_changes
from app.core.clock import utcnow
from app.core.db import AnySelect, built_once, dialect_of, fetch_rows, one_entity, one_row
from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.core.lifecycle import Lifecycle, Move
from app.core.pagination import Ordering, Page, Paging, SortKey
from app.core.references import insert_with_reference
from app.core.schemas import shape
from app.governance import screening
from app.gpos.models import Gpo, GpoCommune, GpoKind
from app.identity.principal import Principal
from app.problems import service as problems
from app.problems.models import Priority, Problem, ProblemStatus
from app.problems.schemas import Location, ProblemCreate, location_columns, location_out
from app.reference.models import Category, CategoryFamily, Commune, Organisation
from app.reports.models import Report, ReportSource, ReportStatus
from app.reports.schemas import (
    Decision,
    DuplicateOut,
    ReportCreate,
    ReportCreated,
    ReportOut,
    ReportUpdate,
    TriageIn,
)

DUPLICATE_RADIUS_M = 250.0
MAX_DUPLICATES = 20
AnswerT = TypeVar("AnswerT", bound=ReportOut)
EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


# --- Reading ---------------------------------------------------------------------------


def with_problem(principal: Principal) -> AnySelect:
    """Visible reports with the status and outcome of the problem behind them.

    The problem is joined without its own visibility rule on purpose: a reporter learns
    what became of its report even when the problem is restricted police business.
    """
    return (
        select(Report, Problem.status, Problem.outcome)
        .outerjoin(Problem, Problem.id == Report.problem_id)
        .where(access.report_scope(principal))
    )


def answer(
    model: type[AnswerT], report: Any, problem_status: Any, problem_outcome: Any, **computed: Any
) -> AnswerT:
    """A report's answer from its stored row (an entity, or the row intake wrote), with
    what the problem behind it became and the fields `model` adds (`computed`)."""
    return shape(
        model,
        report,
        location=location_out(report),
        problem_status=problem_status,
        problem_outcome=problem_outcome,
        **computed,
    )


def to_out(report: Report, problem_status: Any, problem_outcome: Any) -> ReportOut:
    return answer(ReportOut, report, problem_status, problem_outcome)


async def view(session: AsyncSession, principal: Principal, report_id: uuid.UUID) -> ReportOut:
    statement = with_problem(principal).where(Report.id == report_id)
    return to_out(*await one_row(session, statement, missing="No such report."))


async def get_report(
    session: AsyncSession, principal: Principal, report_id: uuid.UUID, *, for_update: bool = False
) -> Report:
    statement = select(Report).where(access.report_scope(principal), Report.id == report_id)
    report: Report = await one_entity(
        session, statement, missing="No such report.", lock=for_update
    )
    return report


# --- Submission -----------------------------------------------------------------------


def route_statement(transport: bool, commune_code: Any) -> Select[uuid.UUID]:
    """The GPO that covers a report: for a transport-family category, the transport GPO an
    admin designated, else the oldest transport GPO (never one created later, whatever it
    covers); for the others, the oldest general GPO whose communes include the report's
    (`commune_code`: a value or a bound parameter)."""
    oldest = (Gpo.created_at, Gpo.id)
    if transport:
        return (
            select(Gpo.id)
            .where(Gpo.kind == GpoKind.transport)
            .order_by(Gpo.transport_reports.desc(), *oldest)
            .limit(1)
        )
    covers = Gpo.id.in_(select(GpoCommune.gpo_id).where(GpoCommune.commune_code == commune_code))
    return select(Gpo.id).where(Gpo.kind == GpoKind.general, covers).order_by(*oldest).limit(1)


def _category_and_route_statement() -> AnySelect:
    commune_code = bindparam("commune_code", type_=String())
    commune_known = select(Commune.code).where(Commune.code == commune_code).exists()
    gpo_id = case(
        (
            Category.family == CategoryFamily.transport,
            route_statement(True, commune_code).scalar_subquery(),
        ),
        else_=route_statement(False, commune_code).scalar_subquery(),
    )
    return select(Category.label_fr, Category.reportable, commune_known, gpo_id).where(
        Category.code == bindparam("category", type_=String())
    )


@dataclass(frozen=True)
class Routed:
    """A report's category (its French label) and the GPO that covers the report."""

    category_label: str
    gpo_id: uuid.UUID | None


async def reportable_category_and_route(
    session: AsyncSession, category_code: str, commune_code: str
) -> Routed:
    """The category of a report (known and reportable), its commune (known) and the GPO
    that covers it, in one round trip: 422 at the field that is wrong."""
    statement = built_once("report_category_and_route", _category_and_route_statement)
    values = {"category": category_code, "commune_code": commune_code}
    rows = await fetch_rows(session, statement, values)
    if not rows:
        raise Invalid(["body", "category"], f"unknown category {category_code!r}")
    label, reportable, known, covering_gpo_id = rows[0]
    if not reportable:
        raise Invalid(["body", "category"], f"category {category_code!r} is not reportable")
    if not known:
        raise Invalid(["body", "commune_code"], f"unknown commune code {commune_code!r}")
    return Routed(label, covering_gpo_id)


# Written as a literal, not a bound parameter: the partial indexes on the problems that are
# not closed serve the statement only when the planner can prove their condition, which a
# generic plan of a prepared statement cannot do from a parameter.
NOT_CLOSED = Problem.status != literal_column(f"'{ProblemStatus.closed.value}'")
# Python's order of strings (code points), which the references of equal distance sort by.
BINARY_COLLATION = {"postgresql": "C", "sqlite": "BINARY"}


_DUPLICATE_COLUMNS = (
    Problem.id,
    Problem.reference,
    Problem.title,
    Problem.status,
    Problem.lat,
    Problem.lon,
)


def _duplicates_statement(scope: Principal, dialect: str, located: bool) -> Any:
    same_kind = and_(
        access.problem_scope(scope),
        Problem.category == bindparam("category", type_=String()),
        Problem.commune_code == bindparam("commune_code", type_=String()),
        NOT_CLOSED,
    )
    by_reference = Problem.reference.collate(BINARY_COLLATION[dialect])
    first_by_reference = (
        select(*_DUPLICATE_COLUMNS)
        .where(same_kind)
        .order_by(by_reference)
        .limit(bindparam("most", type_=Integer()))
    )
    if not located:
        return first_by_reference
    in_box = select(*_DUPLICATE_COLUMNS).where(
        same_kind,
        Problem.lat.between(
            bindparam("lat_low", type_=Float()), bindparam("lat_high", type_=Float())
        ),
        Problem.lon.between(
            bindparam("lon_low", type_=Float()), bindparam("lon_high", type_=Float())
        ),
    )
    unlocated = first_by_reference.where(
        or_(Problem.lat.is_(None), Problem.lon.is_(None))
    ).subquery()
    return union_all(in_box, select(*unlocated.c))


async def possible_duplicates(
    session: AsyncSession,
    principal: Principal,
    category: str,
    commune_code: str,
    lat: float | None,
    lon: float | None,
) -> list[DuplicateOut]:
    """Open problems of the same category and commune the caller may see; when both are
    located, only those within 250 m, and every unlocated one. Nearest first, then by
    reference; at most 20.

    Two index-served parts (the partial indexes on problems not closed): the located
    problems in a bounding box around the report, whose exact distance is then measured on
    the few that remain, and the first unlocated ones by reference (they come after every
    located one, so no more than 20 of them can be listed). An unlocated report's are all
    at no distance: the first 20 by reference."""
    dialect = dialect_of(session).name
    located = lat is not None and lon is not None
    scope_key, scope, values = access.scope_template(principal)
    statement = built_once(
        ("report_duplicates", scope_key, dialect, located),
        lambda: _duplicates_statement(scope, dialect, located),
    )
    values |= {"category": category, "commune_code": commune_code, "most": MAX_DUPLICATES}
    if lat is not None and lon is not None:
        d_lat = DUPLICATE_RADIUS_M / 111_320
        d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
        values |= {
            "lat_low": lat - d_lat,
            "lat_high": lat + d_lat,
            "lon_low": lon - d_lon,
            "lon_high": lon + d_lon,
        }
    # (distance, row): sorted as listed, the models built for the 20 kept only (a dense
    # neighbourhood has hundreds in its box). Read from the driver (`fetch_rows`).
    candidates = []
    for row in await fetch_rows(session, statement, values):
        p_lat, p_lon = row[4], row[5]
        distance = None
        if lat is not None and lon is not None and p_lat is not None and p_lon is not None:
            distance = round(distance_m(lat, lon, p_lat, p_lon), 1)
            if distance > DUPLICATE_RADIUS_M:
                continue
        candidates.append((distance, row))
    candidates.sort(key=lambda c: (c[0] is None, c[0] or 0.0, c[1][1]))
    return [
        DuplicateOut(id=row[0], reference=row[1], title=row[2], status=row[3], distance_m=distance)
        for distance, row in candidates[:MAX_DUPLICATES]
    ]


# A report's free texts: its reporter reads them (and the report's public note), whatever
# becomes of the problem behind it.
REPORT_TEXTS = (
    "description",
    "time_pattern",
    *(f"location.{name}" for name in problems.LOCATION_TEXTS),
)


async def intake(
    session: AsyncSession,
    principal: Principal,
    data: ReportCreate,
    *,
    source: ReportSource = ReportSource.api,
    media_url: str | None = None,
) -> ReportCreated:
    """A partner's report, from the API or Open311: stored, routed to the GPO that covers
    it, with the open problems it may duplicate (those the reporter may see).

    Its reference is taken as the report is stored: on PostgreSQL by the insert itself,
    from the year's sequence, which locks nothing; on SQLite from the counter's row just
    before, locked until the transaction ends (SQLite's one writer serialises intake
    anyway)."""
    organisation_id = access.member_organisation(principal)
    if organisation_id is None:
        raise Forbidden("Reports are submitted by partners, for their organisation.")
    routed = await reportable_category_and_route(session, data.category, data.commune_code)
    report_id = uuid.uuid4()
    data = screening.screen_model(
        session,
        principal,
        data,
        REPORT_TEXTS,
        level=access.kind_clearance(principal.organisation_kind),
        resource_type="report",
        resource_id=report_id,
    )
    values = data.model_dump(exclude={"location"}) | location_columns(data.location)
    duplicates = await possible_duplicates(
        session, principal, data.category, data.commune_code, values["lat"], values["lon"]
    )
    now = utcnow()
    row = dict.fromkeys(_REPORT_COLUMNS) | values
    if row["observed_at"] is not None:  # answered as stored, in UTC, as a read gives it
        row["observed_at"] = row["observed_at"].astimezone(UTC)
    row |= {
        "id": report_id,
        "status": ReportStatus.received,
        "source": source,
        "media_url": media_url,
        "gpo_id": routed.gpo_id,
        "submitted_by_organisation_id": organisation_id,
        "submitted_by_user_id": principal.user_id,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    # Written by Core, not by the ORM's unit of work: intake is the hot write, and nothing
    # here reads the report back as an entity. Its reference is taken as it is stored.
    reference = await insert_with_reference(session, _REPORT_TABLE, row, "R", now)
    event = audit.event_row(
        principal,
        action="report.create",
        resource_type="report",
        resource_id=report_id,
        summary=wording.summary(
            "report.create", reference=reference, category=routed.category_label
        ),
        changes=created_changes(values | {"gpo_id": routed.gpo_id, "source": source}),
    )
    await audit.insert_event(session, event)
    return answer(
        ReportCreated,
        SimpleNamespace(**row),
        None,
        None,
        possible_duplicates=duplicates,
        warnings=screening.warnings(session),
    )


_REPORT_TABLE = cast(Table, Report.__table__)
_REPORT_COLUMNS = tuple(_REPORT_TABLE.c.keys())


# --- Routing and triage ------------------------------------------------------------------


async def reroute(
    session: AsyncSession, principal: Principal, report: Report, data: ReportUpdate
) -> Report:
    """An admin routes a report that awaits triage to a GPO."""
    values = data.provided()
    if "gpo_id" in values:
        if report.status is not ReportStatus.received:
            raise Conflict(
                "The report has been triaged already; it stays with its GPO.",
                fr=wording.refused("report.routed_already_triaged"),
            )
        if await session.get(Gpo, values["gpo_id"]) is None:
            raise Invalid(["body", "gpo_id"], "unknown GPO")
    await audit.update(
        session,
        principal,
        report,
        values,
        resource_type="report",
        summary=wording.summary("report.update", reference=report.reference),
    )
    return report


async def _problem_of_gpo(
    session: AsyncSession, principal: Principal, report: Report, problem_id: uuid.UUID
) -> Problem:
    try:
        problem = await problems.get_problem(session, principal, problem_id, for_update=True)
    except NotFound:
        raise Invalid(["body", "problem_id"], "unknown problem") from None
    if problem.gpo_id != report.gpo_id:
        raise Invalid(
            ["body", "problem_id"],
            "the problem belongs to another GPO",
            fr=wording.refused("report.problem_of_another_gpo"),
        )
    return problem


async def _default_title(session: AsyncSession, report: Report) -> str:
    category = await session.get_one(Category, report.category)
    commune = await session.get_one(Commune, report.commune_code)
    return f"{category.label_fr} — {report.address or commune.name}"[:200]


@dataclass(frozen=True)
class Triaging:
    """What a guard of a triage reads."""

    report: Report
    data: TriageIn


async def problem_named(t: Triaging) -> None:
    if t.data.decision is Decision.attach and t.data.problem_id is None:
        raise Invalid(
            ["body", "problem_id"],
            "attaching needs the problem",
            fr=wording.refused("report.attach_needs_problem"),
        )


async def public_note_for_the_reporter(t: Triaging) -> None:
    if t.data.public_note is None:
        raise Invalid(
            ["body", "public_note"],
            "rejecting needs a public note for the reporter",
            fr=wording.refused("report.reject_needs_note"),
        )


R = ReportStatus
# A report is triaged once: accepted (a new problem, or attached to one) or rejected.
LIFECYCLE: Lifecycle[ReportStatus, Triaging] = Lifecycle(
    "report",
    refusal_fr=wording.move_refused,
    moves=[
        Move(R.received, R.accepted, (problem_named,)),
        Move(R.received, R.rejected, (public_note_for_the_reporter,)),
    ],
)
OUTCOME_OF = {
    Decision.create_problem: R.accepted,
    Decision.attach: R.accepted,
    Decision.reject: R.rejected,
}


async def triage(
    session: AsyncSession, principal: Principal, report: Report, data: TriageIn
) -> Report:
    """Triage by a runner of the report's GPO: a new problem, an existing one, or a refusal
    the reporter reads."""
    if report.gpo_id is None:
        raise Conflict(
            "The report is not routed to a GPO yet; an admin routes it first.",
            fr=wording.refused("report.not_routed"),
        )
    await LIFECYCLE.check(report.status, OUTCOME_OF[data.decision], Triaging(report, data))
    before = audit.snapshot(report, ("status", "problem_id", "public_note"))
    if data.decision is not Decision.reject:
        problem = await _accepting_problem(session, principal, report, data)
        report.problem_id = problem.id
        audit.record(
            session,
            principal,
            action="report.attach",
            resource_type="report",
            resource_id=report.id,
            problem_id=problem.id,
            summary=wording.summary(
                "report.attach", report=report.reference, problem=problem.reference
            ),
            changes={"report": [None, report.reference]},
        )
    reporter = await session.get_one(Organisation, report.submitted_by_organisation_id)
    data = screening.screen_model(
        session,
        principal,
        data,
        ["public_note"],
        level=access.kind_clearance(reporter.kind),
        resource_type="report",
        resource_id=report.id,
    )
    report.status = OUTCOME_OF[data.decision]
    report.public_note = data.public_note
    report.triaged_at = utcnow()
    report.triaged_by = principal.user_id
    report.version += 1
    report.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="report.triage",
        resource_type="report",
        resource_id=report.id,
        summary=wording.summary(
            "report.triage", reference=report.reference, decision=data.decision
        ),
        changes=audit.diff(before, audit.snapshot(report, before)),
    )
    await session.flush()
    return report


async def _accepting_problem(
    session: AsyncSession, principal: Principal, report: Report, data: TriageIn
) -> Problem:
    """The problem an accepted report joins: the one named, or a new one made from it."""
    assert report.gpo_id is not None  # routed: checked before
    if data.decision is Decision.attach:
        assert data.problem_id is not None  # the move's guard
        return await _problem_of_gpo(session, principal, report, data.problem_id)
    location = location_out(report)
    return await problems.create_problem(
        session,
        principal,
        ProblemCreate(
            gpo_id=report.gpo_id,
            title=data.title or await _default_title(session, report),
            description=report.description,
            category=report.category,
            commune_code=report.commune_code,
            location=Location(**location.model_dump()) if location else None,
            priority=data.priority or Priority.normal,
            time_pattern=report.time_pattern,
        ),
        from_report=report.reference,
    )


NEWEST_FIRST = Ordering("-created_at", (SortKey(Report.created_at, True), SortKey(Report.id, True)))


@dataclass(frozen=True)
class Filters:
    statuses: Sequence[ReportStatus] = ()
    gpo_id: uuid.UUID | None = None
    unrouted: bool | None = None
    category: str | None = None
    commune_code: str | None = None
    external_ref: str | None = None
    problem_id: uuid.UUID | None = None


async def list_reports(
    session: AsyncSession, principal: Principal, filters: Filters, paging: Paging
) -> Page[ReportOut]:
    """One page of the reports the principal sees, newest first."""
    statement = filtered(with_problem(principal), filters)
    rows, next_cursor = await paging.fetch(session, statement, NEWEST_FIRST)
    return Page(items=[to_out(*row) for row in rows], next_cursor=next_cursor)


def filtered(statement: AnySelect, filters: Filters) -> AnySelect:
    f = filters
    if f.statuses:
        statement = statement.where(Report.status.in_(f.statuses))
    if f.gpo_id is not None:
        statement = statement.where(Report.gpo_id == f.gpo_id)
    if f.unrouted is not None:
        statement = statement.where(
            Report.gpo_id.is_(None) if f.unrouted else Report.gpo_id.is_not(None)
        )
    if f.category is not None:
        statement = statement.where(Report.category == f.category)
    if f.commune_code is not None:
        statement = statement.where(Report.commune_code == f.commune_code)
    if f.external_ref is not None:
        statement = statement.where(Report.external_ref == f.external_ref)
    if f.problem_id is not None:
        statement = statement.where(Report.problem_id == f.problem_id)
    return statement
