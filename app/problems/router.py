from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic_core import to_jsonable_python

from app.core.audit import AuditEvent
from app.core.concurrency import set_etag
from app.core.db import DbSession
from app.core.errors import Invalid
from app.core.exports import RESTRICTED_DISTRIBUTION, classification_headers
from app.core.pagination import Page, PageParams
from app.core.schemas import Code, CommuneCode, Instant, instant_param, json_response
from app.core.visibility import classified
from app.governance import screening
from app.governance import service as governance
from app.identity.dependencies import API_PREFIX, ApiRoute, CurrentUser, Idempotent
from app.problems import service
from app.problems.dependencies import ProblemToRun, VisibleProblem
from app.problems.models import Priority, ProblemStatus
from app.problems.schemas import (
    CommentCreate,
    CommentOut,
    CommentWritten,
    ProblemCreate,
    ProblemOut,
    ProblemUpdate,
    ProblemWritten,
    TimelineEvent,
    TransitionIn,
)

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["problems"])

ProblemSort = Literal["-created_at", "created_at", "-updated_at", "-priority"]
GEOJSON = "application/geo+json"
FEATURE_COLLECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "GeoJSON FeatureCollection of the located problems; each feature is a "
    "`Point [lon, lat]` with the problem's list fields as properties.",
    "required": ["type", "features", "next_cursor"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "geometry", "properties"],
                "properties": {
                    "type": {"const": "Feature"},
                    "id": {"type": "string", "examples": ["5d1a7c3e-2b4f-4c6a-9e8d-7f6a5b4c3d2e"]},
                    "geometry": {
                        "type": "object",
                        "properties": {
                            "type": {"const": "Point"},
                            "coordinates": {
                                "type": "array",
                                "items": {"type": "number"},
                                "examples": [[6.2105, 49.1072]],
                            },
                        },
                    },
                    "properties": {"$ref": "#/components/schemas/ProblemOut"},
                },
            },
        },
        "next_cursor": {"type": ["string", "null"]},
        "classification": {
            "const": RESTRICTED_DISTRIBUTION,
            "description": "Present when the page holds a `police` or `restricted` problem "
            "(also said by the header `X-Classification`): not to be passed on to third "
            "parties (L132-5 CSI).",
        },
    },
}


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    error = Invalid(["query", "bbox"], "expected minLon,minLat,maxLon,maxLat")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in value.split(","))
    except ValueError:
        raise error from None
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise error
    return min_lon, min_lat, max_lon, max_lat


def geojson_response(items: list[dict[str, Any]], next_cursor: str | None) -> JSONResponse:
    """A page of problems as a GeoJSON FeatureCollection, the cursor as a member; marked
    `classification` (member and header) when it holds police or restricted problems."""
    features = [
        {
            "type": "Feature",
            "id": str(item["id"]),
            "geometry": {
                "type": "Point",
                "coordinates": [location["lon"], location["lat"]] if location else [],
            },
            "properties": to_jsonable_python(item),
        }
        for item in items
        for location in (item["location"],)
    ]
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "next_cursor": next_cursor,
    }
    marked = classified(item["visibility"] for item in items)
    if marked:
        collection["classification"] = RESTRICTED_DISTRIBUTION
    return JSONResponse(collection, media_type=GEOJSON, headers=classification_headers(marked))


@router.post("/problems", status_code=201, summary="Record a problem", dependencies=[Idempotent])
async def create_problem(
    data: ProblemCreate,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ProblemWritten:
    """Facilitators of the GPO (and admins). The problem starts `new`, with a reference
    `P-YYYY-NNNNNN`; its visibility defaults to the category's."""
    problem = await service.create_problem(session, principal, data)
    set_etag(response, problem.version)
    response.headers["Location"] = f"/api/v1/problems/{problem.id}"
    return await _written(request, session, principal, problem.id)


async def _written(
    request: Request, session: DbSession, principal: CurrentUser, problem_id: uuid.UUID
) -> ProblemWritten:
    """A write's answer: the problem as it now stands, which is a read of it too (logged
    like one when it holds police data), with what the texts written held."""
    view = await service.view(session, principal, problem_id)
    await governance.log_problems_read(session, principal, request, [view])
    return screening.answer(ProblemWritten, view, session)


@router.get(
    "/problems",
    summary="List problems",
    response_model=Page[ProblemOut],
    responses={200: {"content": {GEOJSON: {"schema": FEATURE_COLLECTION_SCHEMA}}}},
)
async def list_problems(
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    paging: PageParams,
    status: Annotated[
        list[ProblemStatus] | None, Query(description="Repeatable: any of these statuses.")
    ] = None,
    gpo_id: Annotated[uuid.UUID | None, Query()] = None,
    commune_code: Annotated[CommuneCode | None, Query()] = None,
    category: Annotated[Code | None, Query()] = None,
    priority: Annotated[Priority | None, Query()] = None,
    assignee_organisation_id: Annotated[
        uuid.UUID | None, Query(description="Problems with actions assigned to it.")
    ] = None,
    has_overdue_actions: Annotated[bool | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Words in the reference, title or description; case and accents "
            "are ignored.",
            examples=["hall"],
        ),
    ] = None,
    created_from: Instant = None,
    created_to: Instant = None,
    bbox: Annotated[
        str | None,
        Query(
            pattern=r"^[^,]+,[^,]+,[^,]+,[^,]+$",
            description="minLon,minLat,maxLon,maxLat: located problems inside the box.",
            examples=["6.15,49.10,6.20,49.13"],
        ),
    ] = None,
    sort: Annotated[ProblemSort, Query(description="Sort order.")] = "-created_at",
) -> Response:
    """Problems the caller may see. With `Accept: application/geo+json`, a GeoJSON
    FeatureCollection of the located ones, same filters and cursor."""
    geojson = GEOJSON in request.headers.get("accept", "")
    filters = service.Filters(
        statuses=status or (),
        gpo_id=gpo_id,
        commune_code=commune_code,
        category=category,
        priority=priority,
        assignee_organisation_id=assignee_organisation_id,
        has_overdue_actions=has_overdue_actions,
        q=q,
        created_from=instant_param(created_from, ("query", "created_from")),
        created_to=instant_param(created_to, ("query", "created_to"), end_of_day=True),
        bbox=_bbox(bbox),
        located_only=geojson,
    )
    items, next_cursor = await service.problem_page(session, principal, filters, sort, paging)
    await governance.log_problems_read(session, principal, request, items)
    if geojson:
        return geojson_response(items, next_cursor)
    return json_response({"items": items, "next_cursor": next_cursor})


@router.get("/problems/{problem_id}", summary="Read a problem", response_model=ProblemOut)
async def get_problem(
    problem_id: uuid.UUID, request: Request, session: DbSession, principal: CurrentUser
) -> Response:
    """404 for a problem the caller may not see (its existence is not revealed)."""
    problem = await service.problem_detail(session, principal, problem_id)
    await governance.log_problems_read(session, principal, request, [problem])
    response = json_response(problem)
    set_etag(response, problem["version"])
    return response


@router.patch("/problems/{problem_id}", summary="Edit a problem")
async def update_problem(
    problem: ProblemToRun,
    data: ProblemUpdate,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ProblemWritten:
    """Facilitators of the GPO (and admins): descriptive fields and `displacement`.
    The status changes only through transitions. Lowering the visibility of a problem
    whose record holds identifiers kept while it was restricted gives 409."""
    await service.update_problem(session, principal, problem, data)
    written = await _written(request, session, principal, problem.id)
    set_etag(response, written.version)
    return written


@router.post(
    "/problems/{problem_id}/transitions",
    summary="Move a problem to another status",
    dependencies=[Idempotent],
)
async def transition_problem(
    problem: ProblemToRun,
    data: TransitionIn,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ProblemWritten:
    """new → open; open → monitoring; open or monitoring → closed; monitoring → open;
    closed → open (note required); new → closed (outcome `duplicate` or `not_in_scope`).
    Closing needs an `outcome`; an illegal move gives 409."""
    await service.transition(session, principal, problem, data)
    written = await _written(request, session, principal, problem.id)
    set_etag(response, written.version)
    return written


@router.get("/problems/{problem_id}/timeline", summary="A problem's timeline")
async def problem_timeline(
    problem: VisibleProblem,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    paging: PageParams,
) -> Page[TimelineEvent]:
    """Every recorded event on the problem, oldest first, within what the caller may read."""
    page = await service.timeline(session, principal, problem, paging)
    logged = governance.is_logged(problem.visibility) or await governance.logged_among(
        session, AuditEvent, [event.id for event in page.items]
    )
    await governance.log_problem_read(
        session, principal, request, problem.id, police_data=bool(logged)
    )
    return page


@router.post(
    "/problems/{problem_id}/comments",
    status_code=201,
    summary="Comment on a problem",
    dependencies=[Idempotent],
)
async def add_comment(
    problem: VisibleProblem,
    data: CommentCreate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> CommentWritten:
    """Anyone who sees the problem may comment. A comment has no URL of its own: `Location`
    is the problem's comments."""
    comment = await service.add_comment(session, principal, problem, data)
    response.headers["Location"] = f"/api/v1/problems/{problem.id}/comments"
    return screening.answer(CommentWritten, comment, session)


@router.get("/problems/{problem_id}/comments", summary="A problem's comments")
async def list_comments(
    problem: VisibleProblem,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    paging: PageParams,
) -> Page[CommentOut]:
    """Oldest first, within what the caller may read."""
    page = await service.list_comments(session, principal, problem, paging)
    logged = governance.is_logged(problem.visibility) or governance.logged_ids(page.items)
    await governance.log_problem_read(
        session, principal, request, problem.id, police_data=bool(logged)
    )
    return page
