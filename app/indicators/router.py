from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.pagination import Page
from app.core.routing import DbSession
from app.identity.dependencies import ApiRoute, CurrentUser
from app.indicators import service
from app.indicators.schemas import (
    IndicatorCreate,
    IndicatorOut,
    IndicatorUpdate,
    MeasurementCreate,
    MeasurementOut,
)
from app.problems import service as problems

router = APIRouter(route_class=ApiRoute, tags=["indicators"])


@router.post("/problems/{problem_id}/indicators", status_code=201, summary="Add an indicator")
async def create_indicator(
    problem_id: uuid.UUID,
    data: IndicatorCreate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> IndicatorOut:
    """Facilitators of the problem's GPO (and admins): something countable, with a baseline
    over a period before the response, the better direction and an optional target."""
    problem = await problems.get_problem(session, principal, problem_id)
    indicator = await service.create_indicator(session, principal, problem, data)
    set_etag(response, indicator.version)
    response.headers["Location"] = f"/api/v1/indicators/{indicator.id}"
    return await service.view(session, principal, indicator.id)


@router.get("/problems/{problem_id}/indicators", summary="A problem's indicators")
async def list_indicators(
    problem_id: uuid.UUID, session: DbSession, principal: CurrentUser
) -> Page[IndicatorOut]:
    """Oldest first, each with its measurements and computed rates."""
    problem = await problems.get_problem(session, principal, problem_id)
    return Page(items=await service.of_problem(session, principal, problem), next_cursor=None)


@router.get("/indicators/{indicator_id}", summary="Read an indicator and its results")
async def get_indicator(
    indicator_id: uuid.UUID, session: DbSession, principal: CurrentUser, response: Response
) -> IndicatorOut:
    """Rates are per 30 days (`value × 30 / days`, both dates of a period included);
    `change_pct`, `improved` and `target_met` compare the latest measurement with the
    baseline and the target in the indicator's direction."""
    out = await service.view(session, principal, indicator_id)
    set_etag(response, out.version)
    return out


@router.patch("/indicators/{indicator_id}", summary="Rename an indicator or set its target")
async def update_indicator(
    indicator_id: uuid.UUID,
    data: IndicatorUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> IndicatorOut:
    """The baseline and direction are fixed once set: they are what results compare with."""
    indicator, problem = await service.get_indicator(
        session, principal, indicator_id, for_update=True
    )
    check_if_match(if_match, indicator.version)
    await service.update_indicator(session, principal, indicator, problem, data)
    out = await service.view(session, principal, indicator.id)
    set_etag(response, out.version)
    return out


@router.post(
    "/indicators/{indicator_id}/measurements", status_code=201, summary="Record a measurement"
)
async def add_measurement(
    indicator_id: uuid.UUID,
    data: MeasurementCreate,
    session: DbSession,
    principal: CurrentUser,
    if_match: IfMatch = None,
) -> MeasurementOut:
    """A value over a period after the baseline period. A period overlapping the baseline,
    ending before it starts, or a negative value is refused (422)."""
    indicator, problem = await service.get_indicator(
        session, principal, indicator_id, for_update=True
    )
    check_if_match(if_match, indicator.version)
    measurement = await service.add_measurement(session, principal, indicator, problem, data)
    return MeasurementOut.model_validate(measurement)
