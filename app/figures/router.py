from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from app.access import FiguresReader
from app.core.clock import today_in_paris
from app.core.db import DbSession
from app.core.schemas import CommuneCode, Instant, instant_param
from app.figures import service
from app.figures.schemas import AnnualEvaluation, Overview
from app.identity.dependencies import ApiRoute

router = APIRouter(route_class=ApiRoute, tags=["figures"])
CSV = "text/csv; charset=utf-8"


@router.get("/stats/overview", summary="Commanders' overview")
async def overview(
    session: DbSession,
    principal: FiguresReader,
    gpo_id: Annotated[uuid.UUID | None, Query()] = None,
    commune_code: Annotated[CommuneCode | None, Query()] = None,
    created_from: Annotated[Instant, Query(alias="from")] = None,
    created_to: Annotated[Instant, Query(alias="to")] = None,
) -> Overview:
    """Counts of problems by status, category and commune, overdue actions by organisation,
    the median days to close and the share of closed problems backed by measurements.
    `from` and `to` bound the problems' creation (dates are Europe/Paris days, `to`
    included). Commanders and admins see everything, facilitators their GPOs; partners 403."""
    filters = service.OverviewFilters(
        gpo_id=gpo_id,
        commune_code=commune_code,
        created_from=instant_param(created_from, ("query", "from")),
        created_to=instant_param(created_to, ("query", "to"), end_of_day=True),
    )
    return await service.overview(session, principal, filters)


@router.get(
    "/evaluations/annual",
    summary="The contract's annual evaluation",
    response_model=AnnualEvaluation,
    responses={
        200: {
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "breakdown,key,label,problems_raised,...\r\n",
                }
            },
            "description": "JSON, or CSV (one row per breakdown and key) on `Accept: text/csv`.",
        }
    },
)
async def annual_evaluation(
    session: DbSession,
    principal: FiguresReader,
    year: Annotated[
        int | None,
        Query(ge=2000, le=2100, description="Defaults to the current year.", examples=[2026]),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Per GPO, commune, category and organisation: problems raised and closed during the
    year (Europe/Paris), outcomes, median days to close, problems closed with an improved
    indicator; actions assigned, done, overdue and cancelled. Same readers as the overview."""
    evaluation = await service.annual(session, principal, year or today_in_paris().year)
    if "text/csv" not in (accept or ""):
        return evaluation
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=service.CSV_COLUMNS, extrasaction="raise")
    writer.writeheader()
    writer.writerows(service.csv_rows(evaluation))
    filename = f"evaluation-gpo-{evaluation.year}.csv"
    return Response(
        buffer.getvalue(),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
