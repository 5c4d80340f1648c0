"""The read paths of problems and actions as they were before issue 10, kept as the
reference the fast read paths must match byte for byte: ORM entities, one response model
per item, serialised by FastAPI (Pydantic's `dump_json` of the route's response model;
the GeoJSON page through `JSONResponse`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from sqlalchemy import Date, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access
from app.actions import service as actions
from app.actions.models import OPEN_STATUSES, Action, ActionStatus, is_overdue, overdue
from app.actions.schemas import ActionOut
from app.core.clock import today_in_paris
from app.core.db import AnySelect
from app.core.pagination import Ordering, Page, Paginator, SortKey
from app.core.schemas import instant_param, shape
from app.core.search import contains
from app.core.visibility import classified
from app.identity.principal import Principal
from app.problems.models import Priority, Problem, ProblemStatus
from app.problems.router import _bbox
from app.problems.schemas import ProblemOut, location_out
from app.reports.models import Report

PROBLEM_PAGE = TypeAdapter(Page[ProblemOut])
PROBLEM = TypeAdapter(ProblemOut)
ACTION_PAGE = TypeAdapter(Page[ActionOut])

PROBLEM_ORDERINGS: dict[str, Ordering] = {
    "-created_at": Ordering(
        "-created_at", (SortKey(Problem.created_at, True), SortKey(Problem.id, True))
    ),
    "created_at": Ordering("created_at", (SortKey(Problem.created_at), SortKey(Problem.id))),
    "-updated_at": Ordering(
        "-updated_at", (SortKey(Problem.updated_at, True), SortKey(Problem.id, True))
    ),
    "-priority": Ordering(
        "-priority",
        (
            SortKey(Problem.priority_rank, True),
            SortKey(Problem.created_at, True),
            SortKey(Problem.id, True),
        ),
    ),
}
ACTION_ORDERINGS = {
    "due_date": Ordering("due_date", (SortKey(Action.due_date), SortKey(Action.id))),
    "-due_date": Ordering("-due_date", (SortKey(Action.due_date, True), SortKey(Action.id, True))),
    "created_at": Ordering("created_at", (SortKey(Action.created_at), SortKey(Action.id))),
    "-created_at": Ordering(
        "-created_at", (SortKey(Action.created_at, True), SortKey(Action.id, True))
    ),
}


def _counts() -> tuple[Any, Any, Any]:
    today = bindparam("today", callable_=today_in_paris, type_=Date())
    return (
        select(func.count(Action.id))
        .where(Action.problem_id == Problem.id, Action.status.in_(OPEN_STATUSES))
        .scalar_subquery()
        .label("open_action_count"),
        select(func.count(Action.id))
        .where(Action.problem_id == Problem.id, overdue(today))
        .scalar_subquery()
        .label("overdue_action_count"),
        select(func.count(Report.id))
        .where(Report.problem_id == Problem.id)
        .scalar_subquery()
        .label("report_count"),
    )


def _one(params: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    return values[-1] if values else None


def _uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def _bool(value: str | None) -> bool | None:
    return None if value is None else value == "true"


def _to_out(problem: Problem, open_actions: int, overdue_actions: int, reports: int) -> ProblemOut:
    return shape(
        ProblemOut,
        problem,
        location=location_out(problem),
        report_count=reports,
        open_action_count=open_actions,
        overdue_action_count=overdue_actions,
    )


async def _outs(session: AsyncSession, problems: Sequence[Problem]) -> list[ProblemOut]:
    if not problems:
        return []
    ids = [problem.id for problem in problems]
    counts = {
        problem_id: tuple(numbers)
        for problem_id, *numbers in await session.execute(
            select(Problem.id, *_counts()).where(Problem.id.in_(ids))
        )
    }
    return [_to_out(problem, *counts[problem.id]) for problem in problems]


def _filtered_problems(statement: AnySelect, p: Sequence[tuple[str, str]], geojson: bool) -> Any:
    if statuses := [ProblemStatus(v) for k, v in p if k == "status"]:
        statement = statement.where(Problem.status.in_(statuses))
    if (gpo_id := _uuid(_one(p, "gpo_id"))) is not None:
        statement = statement.where(Problem.gpo_id == gpo_id)
    if (commune := _one(p, "commune_code")) is not None:
        statement = statement.where(Problem.commune_code == commune)
    if (category := _one(p, "category")) is not None:
        statement = statement.where(Problem.category == category)
    if (priority := _one(p, "priority")) is not None:
        statement = statement.where(Problem.priority == Priority(priority))
    if (assignee := _uuid(_one(p, "assignee_organisation_id"))) is not None:
        statement = statement.where(
            exists().where(
                Action.problem_id == Problem.id, Action.assignee_organisation_id == assignee
            )
        )
    if (late_wanted := _bool(_one(p, "has_overdue_actions"))) is not None:
        late = exists().where(Action.problem_id == Problem.id, overdue(today_in_paris()))
        statement = statement.where(late if late_wanted else ~late)
    if q := _one(p, "q"):
        statement = statement.where(contains(Problem.search_text, q))
    if (created_from := instant_param(_one(p, "created_from"), ("query",))) is not None:
        statement = statement.where(Problem.created_at >= created_from)
    created_to = instant_param(_one(p, "created_to"), ("query",), end_of_day=True)
    if created_to is not None:
        statement = statement.where(Problem.created_at <= created_to)
    if (bbox := _bbox(_one(p, "bbox"))) is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        statement = statement.where(
            Problem.lat.between(min_lat, max_lat), Problem.lon.between(min_lon, max_lon)
        )
    if geojson:
        statement = statement.where(Problem.lat.is_not(None), Problem.lon.is_not(None))
    return statement


def _geojson_body(page: Page[ProblemOut]) -> bytes:
    features = [
        {
            "type": "Feature",
            "id": str(item.id),
            "geometry": {
                "type": "Point",
                "coordinates": [item.location.lon, item.location.lat] if item.location else [],
            },
            "properties": item.model_dump(mode="json"),
        }
        for item in page.items
    ]
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "next_cursor": page.next_cursor,
    }
    # Issue 12: a page holding police or restricted problems is marked.
    if classified(item.visibility for item in page.items):
        collection["classification"] = "diffusion-restreinte"
    return bytes(JSONResponse(collection).body)


async def problem_list(
    session: AsyncSession,
    principal: Principal,
    request: Request,
    paginator: Paginator,
    *,
    geojson: bool = False,
) -> bytes:
    """`GET /problems` as it answered before."""
    p = request.query_params.multi_items()
    ordering = PROBLEM_ORDERINGS[_one(p, "sort") or "-created_at"]
    if geojson:
        ordering = Ordering("geojson" + ordering.name, ordering.keys)
    statement = _filtered_problems(
        select(Problem).where(access.problem_scope(principal)), p, geojson
    )
    rows, next_cursor = await paginator.page(
        session,
        statement,
        ordering=ordering,
        request=request,
        limit=int(_one(p, "limit") or 50),
        cursor=_one(p, "cursor"),
    )
    page = Page(items=await _outs(session, [row[0] for row in rows]), next_cursor=next_cursor)
    return _geojson_body(page) if geojson else PROBLEM_PAGE.dump_json(page)


async def problem_detail(
    session: AsyncSession, principal: Principal, problem_id: uuid.UUID
) -> tuple[bytes, int] | None:
    """`GET /problems/{id}` as it answered before (body and version), None for a 404."""
    statement = select(Problem, *_counts()).where(
        access.problem_scope(principal), Problem.id == problem_id
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        return None
    problem, *counts = row
    out = _to_out(problem, *counts)
    return PROBLEM.dump_json(out), out.version


def _action_out(row: Any, today: date) -> ActionOut:
    # The texts as issue 12 reads them: null where the reader is not cleared for them.
    action, description, result_note = row
    return shape(
        ActionOut,
        action,
        overdue=is_overdue(action, today),
        description=description,
        result_note=result_note,
    )


def _visible_actions(principal: Principal) -> Any:
    return (
        select(Action, *actions.readable_texts(principal))
        .join(Problem, Problem.id == Action.problem_id)
        .where(access.action_scope(principal))
    )


async def action_list(
    session: AsyncSession, principal: Principal, request: Request, paginator: Paginator
) -> bytes:
    """`GET /actions` as it answered before."""
    p = request.query_params.multi_items()
    today = today_in_paris()
    statement: Any = _visible_actions(principal)
    if statuses := [ActionStatus(v) for k, v in p if k == "status"]:
        statement = statement.where(Action.status.in_(statuses))
    if (assignee := _uuid(_one(p, "assignee_organisation_id"))) is not None:
        statement = statement.where(Action.assignee_organisation_id == assignee)
    if (late_wanted := _bool(_one(p, "overdue"))) is not None:
        late = overdue(today)
        statement = statement.where(late if late_wanted else ~late)
    if (problem_id := _uuid(_one(p, "problem_id"))) is not None:
        statement = statement.where(Action.problem_id == problem_id)
    if (gpo_id := _uuid(_one(p, "gpo_id"))) is not None:
        statement = statement.where(Problem.gpo_id == gpo_id)
    if (due_before := _one(p, "due_before")) is not None:
        statement = statement.where(Action.due_date < date.fromisoformat(due_before))
    rows, next_cursor = await paginator.page(
        session,
        statement,
        ordering=ACTION_ORDERINGS[_one(p, "sort") or "due_date"],
        request=request,
        limit=int(_one(p, "limit") or 50),
        cursor=_one(p, "cursor"),
    )
    page = Page(items=[_action_out(row, today) for row in rows], next_cursor=next_cursor)
    return ACTION_PAGE.dump_json(page)
