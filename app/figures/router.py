from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from app import wording
from app.access import FiguresReader
from app.core import exports
from app.core.clock import today_in_paris
from app.core.db import DbSession
from app.core.schemas import CommuneCode, Instant, instant_param
from app.figures import service
from app.figures.schemas import AnnualEvaluation, Overview
from app.identity.dependencies import API_PREFIX, ApiRoute

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["figures"])


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


CSV_EXAMPLE = (
    "\ufeffbreakdown;key;label;problems_raised;problems_closed;median_days_to_close;...\r\n"
    "totals;all;Total;5;4;7,0;...\r\n"
)
FORMATS = (exports.JSON, exports.CSV, exports.XLSX)


@router.get(
    "/evaluations/annual",
    summary="The contract's annual evaluation",
    response_model=AnnualEvaluation,
    responses={
        200: {
            "content": {
                exports.CSV: {
                    "schema": {"type": "string"},
                    "example": CSV_EXAMPLE,
                },
                exports.XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "JSON by default (also for `*/*` and for an `Accept` naming nothing "
            "offered here). `Accept: text/csv`: one row per breakdown and key, a header row of "
            "the column names, as French Excel opens it: `text/csv; charset=utf-8; "
            "header=present`, UTF-8 with a byte order mark, `;` between cells, decimal commas "
            "(`7,0`), CRLF line ends, `evaluation-gpo-YYYY.csv` as attachment. With "
            "`delimiter=,` in the query, the same rows for machines: `,` between cells, "
            "decimal points, no byte order mark. In both, text that a spreadsheet would "
            "evaluate (beginning with `=`, `+`, `-`, `@`, a tab or a carriage return) has a "
            "leading apostrophe; numbers are left as they are. `Accept: application/"
            "vnd.openxmlformats-officedocument.spreadsheetml.sheet`: the same rows and columns "
            "in one sheet, numbers as numbers, text as text cells (never formulas), "
            "`evaluation-gpo-YYYY.xlsx`. Files are sent with `Cache-Control: no-store`.",
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
    delimiter: Annotated[
        exports.Delimiter,
        Query(
            description="Between the cells of the CSV (`Accept: text/csv` only): `;` for "
            "French spreadsheets (with a byte order mark and decimal commas), `,` for machines "
            "(no byte order mark, decimal points).",
            examples=[","],
        ),
    ] = ";",
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Per GPO, commune, category and organisation: problems raised and closed during the
    year (Europe/Paris), outcomes, median days to close, problems closed with an improved
    indicator; actions assigned, done, overdue and cancelled. Same readers as the overview."""
    evaluation = await service.annual(session, principal, year or today_in_paris().year)
    media_type = exports.negotiate(accept, FORMATS)
    if media_type == exports.JSON:
        return evaluation
    return exports.table_file(
        media_type,
        service.EXPORT_COLUMNS,
        service.export_rows(evaluation),
        name=f"evaluation-gpo-{evaluation.year}",
        sheet_title=wording.evaluation_sheet(evaluation.year),
        delimiter=delimiter,
    )
