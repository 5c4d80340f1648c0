from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app import access
from app.core.concurrency import IfMatch, precondition_if_match, set_etag
from app.core.db import DbSession
from app.core.pagination import Page
from app.governance import screening
from app.governance import service as governance
from app.identity.dependencies import API_PREFIX, ApiRoute, CurrentUser, Idempotent
from app.indicators import service
from app.indicators.models import Indicator
from app.indicators.schemas import (
    IndicatorCreate,
    IndicatorOut,
    IndicatorUpdate,
    IndicatorWritten,
    MeasurementCreate,
    MeasurementOut,
    MeasurementWritten,
)
from app.problems.dependencies import ProblemToExtend, VisibleProblem
from app.problems.models import Problem

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["indicators"])
IndicatorOfProblem = tuple[Indicator, Problem]


async def indicator_to_run(
    indicator_id: uuid.UUID, session: DbSession, principal: CurrentUser, if_match: IfMatch = None
) -> IndicatorOfProblem:
    """The indicator and its problem, the indicator locked: 404 unless the caller sees the
    problem, 403 unless it runs its GPO, 412 on a stale If-Match."""
    indicator, problem = await service.get_indicator(
        session, principal, indicator_id, for_update=True
    )
    await access.require_runner(session, principal, problem.gpo_id)
    precondition_if_match(if_match, indicator.version)
    return indicator, problem


IndicatorToRun = Annotated[IndicatorOfProblem, Depends(indicator_to_run)]


@router.post(
    "/problems/{problem_id}/indicators",
    status_code=201,
    summary="Add an indicator",
    dependencies=[Idempotent],
)
async def create_indicator(
    problem: ProblemToExtend,
    data: IndicatorCreate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> IndicatorWritten:
    """Facilitators of the problem's GPO (and admins): something countable, with a baseline
    over a period before the response, the better direction and an optional target."""
    indicator = await service.create_indicator(session, principal, problem, data)
    set_etag(response, indicator.version)
    response.headers["Location"] = f"/api/v1/indicators/{indicator.id}"
    out = await service.view(session, principal, indicator.id)
    return screening.answer(IndicatorWritten, out, session)


@router.get("/problems/{problem_id}/indicators", summary="A problem's indicators")
async def list_indicators(
    problem: VisibleProblem, request: Request, session: DbSession, principal: CurrentUser
) -> Page[IndicatorOut]:
    """Oldest first, each with its measurements and computed rates."""
    page = await service.of_problem(session, principal, problem)
    logged = governance.is_logged(problem.visibility) and page.items
    await governance.log_problem_read(
        session, principal, request, problem.id, police_data=bool(logged)
    )
    return page


@router.get("/indicators/{indicator_id}", summary="Read an indicator and its results")
async def get_indicator(
    indicator_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> IndicatorOut:
    """Rates are per 30 days (`value × 30 / days`, both dates of a period included);
    `change_pct`, `improved` and `target_met` compare the latest measurement with the
    baseline and the target in the indicator's direction."""
    out = await service.view(session, principal, indicator_id)
    await governance.log_read_among(session, principal, request, Problem, [out.problem_id])
    set_etag(response, out.version)
    return out


@router.patch("/indicators/{indicator_id}", summary="Rename an indicator or set its target")
async def update_indicator(
    target: IndicatorToRun,
    data: IndicatorUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> IndicatorWritten:
    """The baseline and direction are fixed once set: they are what results compare with."""
    indicator, problem = target
    await service.update_indicator(session, principal, indicator, problem, data)
    out = await service.view(session, principal, indicator.id)
    set_etag(response, out.version)
    return screening.answer(IndicatorWritten, out, session)


@router.post(
    "/indicators/{indicator_id}/measurements",
    status_code=201,
    summary="Record a measurement",
    dependencies=[Idempotent],
)
async def add_measurement(
    target: IndicatorToRun,
    data: MeasurementCreate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> MeasurementWritten:
    """A value over a period after the baseline period. A period overlapping the baseline,
    ending before it starts, or a negative value is refused (422). A measurement has no URL
    of its own: `Location` is its indicator, which lists it."""
    indicator, problem = target
    measurement = await service.add_measurement(session, principal, indicator, problem, data)
    response.headers["Location"] = f"/api/v1/indicators/{indicator.id}"
    out = MeasurementOut.model_validate(measurement)
    return screening.answer(MeasurementWritten, out, session)
