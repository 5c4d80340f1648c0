from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlalchemy import select

from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.pagination import Ordering, Page, PageParams, SortKey
from app.core.routing import DbSession
from app.gpos import service as gpos
from app.identity.dependencies import ApiRoute, CurrentUser
from app.meetings import minutes as rendering
from app.meetings import service
from app.meetings.models import Meeting
from app.meetings.schemas import (
    Agenda,
    MeetingCreate,
    MeetingOut,
    MeetingUpdate,
    ReviewCreate,
    ReviewOut,
)

router = APIRouter(route_class=ApiRoute, tags=["meetings"])
BY_DATE = Ordering("scheduled_at", (SortKey(Meeting.scheduled_at, True), SortKey(Meeting.id, True)))
MARKDOWN = "text/markdown; charset=utf-8"


@router.post("/gpos/{gpo_id}/meetings", status_code=201, summary="Schedule or record a meeting")
async def create_meeting(
    gpo_id: uuid.UUID,
    data: MeetingCreate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> MeetingOut:
    """Facilitators of the GPO, commanders and admins. A past `scheduled_at` records a
    meeting already held (status `held`); a future one is `planned`."""
    gpo = await gpos.get_gpo(session, principal, gpo_id, for_update=True)
    meeting = await service.create_meeting(session, principal, gpo, data)
    set_etag(response, meeting.version)
    response.headers["Location"] = f"/api/v1/meetings/{meeting.id}"
    return await service.out(session, meeting)


@router.get("/gpos/{gpo_id}/meetings", summary="A GPO's meetings")
async def list_meetings(
    gpo_id: uuid.UUID, session: DbSession, principal: CurrentUser, paging: PageParams
) -> Page[MeetingOut]:
    """Latest first."""
    gpo = await gpos.get_gpo(session, principal, gpo_id)
    await service.require_meeting_runner(session, principal, gpo.id)
    rows, next_cursor = await paging.fetch(
        session, select(Meeting).where(Meeting.gpo_id == gpo.id), BY_DATE
    )
    meetings = [row[0] for row in rows]
    attendees = await service.attendees_of(session, [m.id for m in meetings])
    return Page(
        items=[service.to_out(m, attendees[m.id]) for m in meetings], next_cursor=next_cursor
    )


@router.get("/meetings/{meeting_id}", summary="Read a meeting")
async def get_meeting(
    meeting_id: uuid.UUID, session: DbSession, principal: CurrentUser, response: Response
) -> MeetingOut:
    """Facilitators of the GPO, commanders and admins."""
    meeting, gpo = await service.get_meeting(session, principal, meeting_id)
    await service.require_meeting_runner(session, principal, gpo.id)
    set_etag(response, meeting.version)
    return await service.out(session, meeting)


@router.patch("/meetings/{meeting_id}", summary="Update a meeting, mark it held or cancelled")
async def update_meeting(
    meeting_id: uuid.UUID,
    data: MeetingUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingOut:
    """`status` moves planned → held | cancelled. Holding a meeting resets the GPO's
    cadence (`last_meeting_at`, `next_meeting_due`)."""
    meeting, gpo = await service.get_meeting(session, principal, meeting_id, for_update=True)
    await service.require_meeting_runner(session, principal, gpo.id)
    check_if_match(if_match, meeting.version)
    meeting = await service.update_meeting(session, principal, meeting, gpo, data)
    set_etag(response, meeting.version)
    return await service.out(session, meeting)


@router.post("/meetings/{meeting_id}/reviews", status_code=201, summary="Record a review")
async def add_review(
    meeting_id: uuid.UUID, data: ReviewCreate, session: DbSession, principal: CurrentUser
) -> ReviewOut:
    """The problem (of this meeting's GPO) was discussed: it shows in the problem's timeline
    and in the minutes."""
    meeting, gpo = await service.get_meeting(session, principal, meeting_id)
    review, problem = await service.add_review(session, principal, meeting, gpo, data)
    return ReviewOut(
        id=review.id,
        meeting_id=review.meeting_id,
        problem_id=review.problem_id,
        problem_reference=problem.reference,
        note=review.note,
        created_by=review.created_by,
        created_at=review.created_at,
    )


@router.get("/meetings/{meeting_id}/agenda", summary="The meeting's agenda")
async def get_agenda(meeting_id: uuid.UUID, session: DbSession, principal: CurrentUser) -> Agenda:
    """Computed from the record: reports awaiting triage for the GPO, its problems not
    closed (most urgent first), actions past due, indicators not measured within the GPO's
    meeting interval."""
    meeting, gpo = await service.get_meeting(session, principal, meeting_id)
    return await service.agenda(session, principal, meeting, gpo)


@router.get(
    "/meetings/{meeting_id}/minutes",
    summary="The minutes (compte rendu)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "The minutes in French: Markdown, or HTML on `Accept: text/html`.",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
)
async def get_minutes(
    meeting_id: uuid.UUID,
    session: DbSession,
    principal: CurrentUser,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Attendees, problems reviewed, problems opened and closed since the previous held
    meeting, actions decided, overdue actions by organisation. Partners of the GPO read them
    too, with only what they may see."""
    meeting, gpo = await service.get_meeting(session, principal, meeting_id)
    content = await service.minutes(session, principal, meeting, gpo)
    if "text/html" in (accept or ""):
        return HTMLResponse(rendering.html_page(content))
    return PlainTextResponse(rendering.markdown(content), media_type=MARKDOWN)
