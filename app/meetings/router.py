from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from app import access
from app.core.concurrency import IfMatch, precondition_if_match, set_etag
from app.core.db import DbSession
from app.core.exports import classification_headers
from app.core.pagination import Page, PageParams
from app.governance import screening
from app.governance import service as governance
from app.gpos import service as gpos
from app.gpos.models import Gpo
from app.identity.dependencies import API_PREFIX, ApiRoute, CurrentUser, Idempotent
from app.meetings import minutes as rendering
from app.meetings import service
from app.meetings.models import Meeting
from app.meetings.schemas import (
    Agenda,
    MeetingCreate,
    MeetingOut,
    MeetingUpdate,
    MeetingWritten,
    ReviewCreate,
    ReviewWritten,
)
from app.problems.models import Problem

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["meetings"])
MARKDOWN = "text/markdown; charset=utf-8"
MeetingOfGpo = tuple[Meeting, Gpo]


async def gpo_meetings(gpo_id: uuid.UUID, session: DbSession, principal: CurrentUser) -> Gpo:
    """The GPO whose meetings are read: 404 unless the caller sees it, 403 unless it runs
    its meetings."""
    gpo = await gpos.get_gpo(session, principal, gpo_id)
    await access.require_meeting_runner(session, principal, gpo.id)
    return gpo


async def gpo_to_meet(gpo_id: uuid.UUID, session: DbSession, principal: CurrentUser) -> Gpo:
    """The GPO, locked (a meeting moves its cadence): 404, 403 as for reading its meetings."""
    gpo = await gpos.get_gpo(session, principal, gpo_id, for_update=True)
    await access.require_meeting_runner(session, principal, gpo.id)
    return gpo


async def meeting_to_read(
    meeting_id: uuid.UUID, session: DbSession, principal: CurrentUser
) -> MeetingOfGpo:
    """The meeting and its GPO: 404 unless the caller sees the GPO, 403 unless it runs its
    meetings."""
    meeting, gpo = await service.get_meeting(session, principal, meeting_id)
    await access.require_meeting_runner(session, principal, gpo.id)
    return meeting, gpo


async def meeting_to_run(
    meeting_id: uuid.UUID, session: DbSession, principal: CurrentUser, if_match: IfMatch = None
) -> MeetingOfGpo:
    """The meeting, locked for a change: 404, 403 as for reading it, 412 on a stale
    If-Match."""
    meeting, gpo = await service.get_meeting(session, principal, meeting_id, for_update=True)
    await access.require_meeting_runner(session, principal, gpo.id)
    precondition_if_match(if_match, meeting.version)
    return meeting, gpo


async def meeting_minutes(
    meeting_id: uuid.UUID, session: DbSession, principal: CurrentUser
) -> MeetingOfGpo:
    """The meeting whose minutes are read: its runners, and the GPO's member partners."""
    meeting, gpo = await service.get_meeting(session, principal, meeting_id)
    await access.require_minutes_reader(session, principal, gpo.id)
    return meeting, gpo


GpoMeetings = Annotated[Gpo, Depends(gpo_meetings)]
GpoToMeet = Annotated[Gpo, Depends(gpo_to_meet)]
MeetingToRead = Annotated[MeetingOfGpo, Depends(meeting_to_read)]
MeetingToRun = Annotated[MeetingOfGpo, Depends(meeting_to_run)]
MeetingMinutes = Annotated[MeetingOfGpo, Depends(meeting_minutes)]


@router.post(
    "/gpos/{gpo_id}/meetings",
    status_code=201,
    summary="Schedule or record a meeting",
    dependencies=[Idempotent],
)
async def create_meeting(
    gpo: GpoToMeet,
    data: MeetingCreate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> MeetingWritten:
    """Facilitators of the GPO, commanders and admins. A past `scheduled_at` records a
    meeting already held (status `held`); a future one is `planned`."""
    meeting = await service.create_meeting(session, principal, gpo, data)
    set_etag(response, meeting.version)
    response.headers["Location"] = f"/api/v1/meetings/{meeting.id}"
    return screening.answer(MeetingWritten, await service.out(session, meeting), session)


@router.get("/gpos/{gpo_id}/meetings", summary="A GPO's meetings")
async def list_meetings(
    gpo: GpoMeetings, session: DbSession, paging: PageParams
) -> Page[MeetingOut]:
    """Latest first."""
    return await service.list_meetings(session, gpo, paging)


@router.get("/meetings/{meeting_id}", summary="Read a meeting")
async def get_meeting(target: MeetingToRead, session: DbSession, response: Response) -> MeetingOut:
    """Facilitators of the GPO, commanders and admins."""
    meeting, _ = target
    set_etag(response, meeting.version)
    return await service.out(session, meeting)


@router.patch("/meetings/{meeting_id}", summary="Update a meeting, mark it held or cancelled")
async def update_meeting(
    target: MeetingToRun,
    data: MeetingUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> MeetingWritten:
    """`status` moves planned → held | cancelled. Holding a meeting resets the GPO's
    cadence (`last_meeting_at`, `next_meeting_due`)."""
    meeting, gpo = target
    meeting = await service.update_meeting(session, principal, meeting, gpo, data)
    set_etag(response, meeting.version)
    return screening.answer(MeetingWritten, await service.out(session, meeting), session)


@router.post(
    "/meetings/{meeting_id}/reviews",
    status_code=201,
    summary="Record a review",
    dependencies=[Idempotent],
)
async def add_review(
    target: MeetingToRead,
    data: ReviewCreate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> ReviewWritten:
    """The problem (of this meeting's GPO) was discussed: it shows in the problem's timeline
    and in the minutes. A review has no URL of its own: `Location` is the timeline."""
    meeting, gpo = target
    review = await service.add_review(session, principal, meeting, gpo, data)
    response.headers["Location"] = f"/api/v1/problems/{review.problem_id}/timeline"
    return screening.answer(ReviewWritten, review, session)


@router.get("/meetings/{meeting_id}/agenda", summary="The meeting's agenda")
async def get_agenda(
    target: MeetingToRead, request: Request, session: DbSession, principal: CurrentUser
) -> Agenda:
    """Computed from the record: reports awaiting triage for the GPO, its problems not
    closed (most urgent first), actions past due, indicators not measured within the GPO's
    meeting interval."""
    meeting, gpo = target
    agenda = await service.agenda(session, principal, meeting, gpo)
    await governance.log_read_among(
        session, principal, request, Problem, service.problems_of_agenda(agenda)
    )
    return agenda


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
    target: MeetingMinutes,
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Attendees, problems reviewed, problems opened and closed since the previous held
    meeting, actions decided, overdue actions by organisation. Partners of the GPO read them
    too, with only what they may see. Minutes showing a `police` or `restricted` problem begin
    with the notice "DIFFUSION RESTREINTE" (and carry the header
    `X-Classification: diffusion-restreinte`)."""
    meeting, gpo = target
    content = await service.minutes(session, principal, meeting, gpo)
    marking = classification_headers(content.classified)
    await governance.log_read_among(session, principal, request, Problem, content.problem_ids)
    if "text/html" in (accept or ""):
        return HTMLResponse(rendering.html_page(content), headers=marking)
    return PlainTextResponse(rendering.markdown(content), media_type=MARKDOWN, headers=marking)
