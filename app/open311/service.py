"""GeoReport v2 over reports: services are reportable categories, requests are reports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.core.db import AnySelect, one_row
from app.core.errors import Invalid, NotFound
from app.governance.screening import TextWarning
from app.gpos.models import Gpo
from app.identity.principal import Principal
from app.open311.schemas import (
    Attribute,
    AttributeValue,
    RequestCreated,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from app.problems.models import Problem, ProblemStatus
from app.problems.schemas import Location
from app.reference.models import Category, Commune
from app.reports import service as reports
from app.reports.models import Report, ReportSource, ReportStatus
from app.reports.schemas import ReportCreate

COMMUNE_ATTRIBUTE = "commune_code"
MAX_REQUESTS = 200
# How far past its communes the district reaches. A commune's centre is rarely its middle and
# outlying streets lie farther from it than from a neighbour's, so the reach is the widest
# gap between a commune centre and its nearest neighbour (4.1 km, Marly, in the seeded
# district) plus this margin: some 9 km from the nearest centre. Paris, 275 km away, or
# Thionville, 23 km, is not filed under the nearest commune; the caller names the commune.
DISTRICT_MARGIN_M = 5_000.0


def _service(category: Category) -> Service:
    return Service(
        service_code=category.code,
        service_name=category.label_fr,
        description=f"{category.label_fr} ({category.label_en})",
        metadata=True,
        type="realtime",
        keywords=f"{category.family.value}, {category.code}",
        group=category.family.value,
    )


async def services(session: AsyncSession) -> list[Service]:
    categories = await session.scalars(
        select(Category).where(Category.reportable.is_(True)).order_by(Category.code)
    )
    return [_service(category) for category in categories]


async def find_service(session: AsyncSession, code: str) -> Category | None:
    category = await session.get(Category, code)
    return category if category is not None and category.reportable else None


async def definition(session: AsyncSession, code: str) -> ServiceDefinition:
    if await find_service(session, code) is None:
        raise NotFound(f"No service {code!r}.")
    communes = await session.scalars(select(Commune).order_by(Commune.name))
    return ServiceDefinition(
        service_code=code,
        attributes=[
            Attribute(
                variable=True,
                code=COMMUNE_ATTRIBUTE,
                datatype="singlevaluelist",
                required=False,
                datatype_description="Code INSEE de la commune ; à défaut, la commune dont le "
                "centre est le plus proche du point signalé.",
                order=1,
                description="Commune",
                values=[AttributeValue(key=c.code, name=c.name) for c in communes],
            )
        ],
    )


def district_reach_m(communes: Sequence[Commune]) -> float:
    """How far from its nearest commune centre a point may be and still be in the district."""
    if len(communes) < 2:
        return DISTRICT_MARGIN_M
    widest_gap = max(
        min(reports.distance_m(c.lat, c.lon, o.lat, o.lon) for o in communes if o is not c)
        for c in communes
    )
    return widest_gap + DISTRICT_MARGIN_M


async def nearest_commune(session: AsyncSession, lat: float, lon: float) -> str:
    """The commune whose centre is nearest the point; a point outside the district is 400."""
    communes = (await session.scalars(select(Commune))).all()
    distance, nearest = min((reports.distance_m(lat, lon, c.lat, c.lon), c.code) for c in communes)
    reach = district_reach_m(communes)
    if distance > reach:
        raise Invalid(
            ["lat"],
            f"the point is {distance / 1000:.1f} km from the nearest commune centre of the "
            f"district, which reaches {reach / 1000:.1f} km; give attribute[{COMMUNE_ATTRIBUTE}] "
            "to file it under a commune anyway",
        )
    return nearest


@dataclass(frozen=True)
class NewRequest:
    service_code: str
    lat: float | None
    long: float | None
    address_string: str | None
    description: str | None
    media_url: str | None
    commune_code: str | None


async def create_request(
    session: AsyncSession, principal: Principal, request: NewRequest
) -> list[RequestCreated]:
    """A partner's service request, taken in as any report (routing, duplicates)."""
    category = await find_service(session, request.service_code)
    if category is None:
        raise Invalid(["service_code"], f"unknown service {request.service_code!r}")
    if (request.lat is None) != (request.long is None):
        raise Invalid(["lat"], "lat and long go together")
    if request.lat is None and not request.address_string:
        raise Invalid(["lat"], "a location is required: lat and long, or address_string")
    commune_code = request.commune_code
    if commune_code is None:
        if request.lat is None or request.long is None:
            raise Invalid(
                [f"attribute[{COMMUNE_ATTRIBUTE}]"],
                "required when the location is only an address",
            )
        commune_code = await nearest_commune(session, request.lat, request.long)
    elif await session.get(Commune, commune_code) is None:
        raise Invalid([f"attribute[{COMMUNE_ATTRIBUTE}]"], f"unknown commune {commune_code!r}")
    location = Location(address=request.address_string, lat=request.lat, lon=request.long)
    data = ReportCreate(
        category=category.code,
        commune_code=commune_code,
        description=request.description or f"{category.label_fr} (signalé via Open311)",
        location=location,
    )
    created = await reports.intake(
        session, principal, data, source=ReportSource.open311, media_url=request.media_url
    )
    notice = f"Signalement {created.reference} reçu."
    if created.possible_duplicates:
        known = ", ".join(d.reference for d in created.possible_duplicates)
        notice += f" Problèmes proches déjà suivis : {known}."
    warnings = [
        TextWarning(loc=OPEN311_LOC.get(tuple(w.loc), w.loc), kind=w.kind) for w in created.warnings
    ]
    if warnings:
        said = "; ".join(wording.text_warning(str(w.loc[-1]), w.kind) for w in warnings)
        notice += f" {said}."
    return [
        RequestCreated(service_request_id=str(created.id), service_notice=notice, warnings=warnings)
    ]


# The fields of a report, as an Open311 request names them.
OPEN311_LOC: dict[tuple[str | int, ...], list[str | int]] = {
    ("body", "location", "address"): ["body", "address_string"],
}


def _closed() -> Any:
    return or_(Report.status == ReportStatus.rejected, Problem.status == ProblemStatus.closed)


def _open() -> Any:
    problem_open = or_(Problem.status.is_(None), Problem.status != ProblemStatus.closed)
    return and_(Report.status != ReportStatus.rejected, problem_open)


@dataclass(frozen=True)
class RequestFilters:
    ids: Sequence[uuid.UUID] = ()
    service_codes: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: Sequence[str] = ()


def filtered(statement: AnySelect, f: RequestFilters) -> AnySelect:
    if f.ids:
        # As the specification says, ids override every other filter.
        return statement.where(Report.id.in_(f.ids))
    if f.service_codes:
        statement = statement.where(Report.category.in_(f.service_codes))
    if f.start is not None:
        statement = statement.where(Report.created_at >= f.start)
    if f.end is not None:
        statement = statement.where(Report.created_at <= f.end)
    if set(f.statuses) == {"closed"}:
        statement = statement.where(_closed())
    elif set(f.statuses) == {"open"}:
        statement = statement.where(_open())
    return statement


def requests_query(principal: Principal) -> AnySelect:
    """The reports the caller sees (a partner: its organisation's), as service requests."""
    return (
        select(Report, Problem.status, Problem.updated_at, Category.label_fr, Gpo.name)
        .join(Category, Category.code == Report.category)
        .outerjoin(Problem, Problem.id == Report.problem_id)
        .outerjoin(Gpo, Gpo.id == Report.gpo_id)
        .where(access.report_scope(principal))
    )


async def list_requests(
    session: AsyncSession, principal: Principal, filters: RequestFilters
) -> list[ServiceRequest]:
    """Newest first, at most MAX_REQUESTS (GeoReport v2 has no paging)."""
    statement = filtered(requests_query(principal), filters)
    rows = await session.execute(
        statement.order_by(Report.created_at.desc(), Report.id.desc()).limit(MAX_REQUESTS)
    )
    return [to_service_request(row) for row in rows]


async def get_request(
    session: AsyncSession, principal: Principal, report_id: uuid.UUID
) -> ServiceRequest:
    statement = requests_query(principal).where(Report.id == report_id)
    return to_service_request(await one_row(session, statement, missing="No such service request."))


def to_service_request(row: Sequence[Any]) -> ServiceRequest:
    report, problem_status, problem_updated_at, service_name, gpo_name = row
    closed = report.status is ReportStatus.rejected or problem_status is ProblemStatus.closed
    updated = max(filter(None, (report.updated_at, problem_updated_at)))
    return ServiceRequest(
        service_request_id=str(report.id),
        status="closed" if closed else "open",
        status_notes=report.public_note,
        service_name=service_name,
        service_code=report.category,
        description=report.description,
        agency_responsible=gpo_name or "GPO à désigner",
        service_notice=f"Signalement {report.reference}",
        requested_datetime=report.created_at,
        updated_datetime=updated,
        expected_datetime=None,
        address=report.address,
        address_id=None,
        zipcode=None,
        lat=report.lat,
        long=report.lon,
        media_url=report.media_url,
    )
