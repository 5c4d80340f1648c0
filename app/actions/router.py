from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.actions import service
from app.actions.models import Action, ActionStatus
from app.actions.schemas import ActionCreate, ActionOut, ActionUpdate
from app.core.clock import today_in_paris
from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.pagination import Ordering, Page, PageParams, SortKey
from app.core.routing import DbSession
from app.core.schemas import Day
from app.identity.dependencies import ApiRoute, CurrentUser
from app.problems import service as problems

router = APIRouter(route_class=ApiRoute, tags=["actions"])

ActionSort = Literal["due_date", "-due_date", "created_at", "-created_at"]
ORDERINGS = {
    "due_date": Ordering("due_date", (SortKey(Action.due_date), SortKey(Action.id))),
    "-due_date": Ordering("-due_date", (SortKey(Action.due_date, True), SortKey(Action.id, True))),
    "created_at": Ordering("created_at", (SortKey(Action.created_at), SortKey(Action.id))),
    "-created_at": Ordering(
        "-created_at", (SortKey(Action.created_at, True), SortKey(Action.id, True))
    ),
}


@router.post("/problems/{problem_id}/actions", status_code=201, summary="Assign an action")
async def create_action(
    problem_id: uuid.UUID,
    data: ActionCreate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ActionOut:
    """Facilitators of the problem's GPO (and admins). Starts `planned`."""
    problem = await problems.get_problem(session, principal, problem_id, for_update=True)
    action = await service.create_action(session, principal, problem, data)
    set_etag(response, action.version)
    response.headers["Location"] = f"/api/v1/actions/{action.id}"
    return service.to_out(action)


@router.get("/actions", summary="List actions")
async def list_actions(
    session: DbSession,
    principal: CurrentUser,
    paging: PageParams,
    status: Annotated[list[ActionStatus] | None, Query(description="Repeatable.")] = None,
    assignee_organisation_id: Annotated[uuid.UUID | None, Query()] = None,
    overdue: Annotated[
        bool | None, Query(description="Planned or in progress and past due (Europe/Paris).")
    ] = None,
    problem_id: Annotated[uuid.UUID | None, Query()] = None,
    gpo_id: Annotated[uuid.UUID | None, Query()] = None,
    due_before: Annotated[
        Day | None, Query(description="Due strictly before this date.", examples=["2026-04-01"])
    ] = None,
    sort: Annotated[ActionSort, Query(description="Sort order.")] = "due_date",
) -> Page[ActionOut]:
    """Actions the caller may see (a partner also sees its organisation's actions on
    problems it may not see), soonest due first."""
    today = today_in_paris()
    filters = service.Filters(
        statuses=status or (),
        assignee_organisation_id=assignee_organisation_id,
        overdue=overdue,
        problem_id=problem_id,
        gpo_id=gpo_id,
        due_before=due_before,
    )
    statement = service.filtered(service.visible_actions(principal), filters, today)
    rows, next_cursor = await paging.fetch(session, statement, ORDERINGS[sort])
    return Page(items=[service.to_out(row[0], today) for row in rows], next_cursor=next_cursor)


@router.get("/actions/{action_id}", summary="Read an action")
async def get_action(
    action_id: uuid.UUID, session: DbSession, principal: CurrentUser, response: Response
) -> ActionOut:
    """Visible with its problem, and to its assignee organisation even when the problem is
    not (the problem then stays 404 to it)."""
    action = await service.get_action(session, principal, action_id)
    set_etag(response, action.version)
    return service.to_out(action)


@router.patch("/actions/{action_id}", summary="Update an action")
async def update_action(
    action_id: uuid.UUID,
    data: ActionUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> ActionOut:
    """Facilitators of the GPO (and admins) change anything; a partner of the assignee
    organisation changes only `status` and `result_note` (anything else: 403)."""
    action = await service.get_action(session, principal, action_id, for_update=True)
    check_if_match(if_match, action.version)
    action = await service.update_action(session, principal, action, data)
    set_etag(response, action.version)
    return service.to_out(action)
