from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import service
from app.actions.models import Action, ActionStatus
from app.actions.schemas import ActionCreate, ActionOut, ActionUpdate, ActionWritten
from app.core.concurrency import IfMatch, precondition_if_match, set_etag
from app.core.db import DbSession
from app.core.pagination import Page, PageParams
from app.core.schemas import Day, json_response
from app.governance import screening
from app.governance import service as governance
from app.identity.dependencies import API_PREFIX, ApiRoute, CurrentUser, Idempotent
from app.identity.principal import Principal
from app.problems.dependencies import ProblemToExtend
from app.problems.models import Problem

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["actions"])

ActionSort = Literal["due_date", "-due_date", "created_at", "-created_at"]


async def action_to_change(
    action_id: uuid.UUID, session: DbSession, principal: CurrentUser, if_match: IfMatch = None
) -> tuple[Action, Problem]:
    """The action and its problem, the action locked: 404 unless the caller sees it, 412
    on a stale If-Match. Who may change which field depends on the body (the service)."""
    action, problem = await service.get_action(session, principal, action_id, for_update=True)
    precondition_if_match(if_match, action.version)
    return action, problem


ActionToChange = Annotated[tuple[Action, Problem], Depends(action_to_change)]


@router.post(
    "/problems/{problem_id}/actions",
    status_code=201,
    summary="Assign an action",
    dependencies=[Idempotent],
)
async def create_action(
    problem: ProblemToExtend,
    data: ActionCreate,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ActionWritten:
    """Facilitators of the problem's GPO (and admins). Starts `planned`."""
    action = await service.create_action(session, principal, problem, data)
    set_etag(response, action.version)
    response.headers["Location"] = f"/api/v1/actions/{action.id}"
    return await _written(request, session, principal, action.id)


@router.get("/actions", summary="List actions", response_model=Page[ActionOut])
async def list_actions(
    request: Request,
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
) -> Response:
    """Actions the caller may see (a partner also sees its organisation's actions on
    problems it may not see), soonest due first."""
    filters = service.Filters(
        statuses=status or (),
        assignee_organisation_id=assignee_organisation_id,
        overdue=overdue,
        problem_id=problem_id,
        gpo_id=gpo_id,
        due_before=due_before,
    )
    items, next_cursor, logged = await service.action_page(
        session, principal, filters, sort, paging
    )
    await governance.log_read(
        session, principal, request, resource_type="action", resource_ids=logged
    )
    return json_response({"items": items, "next_cursor": next_cursor})


@router.get("/actions/{action_id}", summary="Read an action")
async def get_action(
    action_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ActionOut:
    """Visible with its problem, and to its assignee organisation even when the problem is
    not (the problem then stays 404 to it). The description and the result note are null
    to a reader not cleared for the action's level (or its problem's, if stricter)."""
    action = await service.view(session, principal, action_id)
    await governance.log_read_among(session, principal, request, Action, [action.id])
    set_etag(response, action.version)
    return action


async def _written(
    request: Request, session: AsyncSession, principal: Principal, action_id: uuid.UUID
) -> ActionWritten:
    """A write's answer: the action as it now stands, a read of it too (logged like one)."""
    view = await service.view(session, principal, action_id)
    await governance.log_read_among(session, principal, request, Action, [action_id])
    return screening.answer(ActionWritten, view, session)


@router.patch("/actions/{action_id}", summary="Update an action")
async def update_action(
    target: ActionToChange,
    data: ActionUpdate,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ActionWritten:
    """Facilitators of the GPO (and admins) change anything; a partner of the assignee
    organisation changes only `status` and `result_note` (anything else: 403)."""
    action, problem = target
    action = await service.update_action(session, principal, action, problem, data)
    set_etag(response, action.version)
    return await _written(request, session, principal, action.id)
