from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app import access
from app.access import GpoCreator
from app.core.concurrency import IfMatch, precondition_if_match, set_etag
from app.core.db import DbSession
from app.core.pagination import Page, PageParams
from app.core.schemas import CommuneCode
from app.gpos import service
from app.gpos.models import Gpo, GpoKind
from app.gpos.schemas import GpoCreate, GpoOut, GpoUpdate
from app.identity.dependencies import API_PREFIX, ApiRoute, CurrentUser, Idempotent

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["gpos"])


async def gpo_to_run(
    gpo_id: uuid.UUID, session: DbSession, principal: CurrentUser, if_match: IfMatch = None
) -> Gpo:
    """The GPO, locked: 404 unless the caller sees it, 403 unless it runs it, 412 on a
    stale If-Match."""
    gpo = await service.get_gpo(session, principal, gpo_id, for_update=True)
    await access.require_runner(session, principal, gpo.id)
    precondition_if_match(if_match, gpo.version)
    return gpo


GpoToRun = Annotated[Gpo, Depends(gpo_to_run)]


@router.post("/gpos", status_code=201, summary="Create a GPO", dependencies=[Idempotent])
async def create_gpo(
    data: GpoCreate, session: DbSession, principal: GpoCreator, response: Response
) -> GpoOut:
    """Admins and facilitators; a facilitator who creates a GPO facilitates it."""
    gpo = await service.create_gpo(session, principal, data)
    set_etag(response, gpo.version)
    response.headers["Location"] = f"/api/v1/gpos/{gpo.id}"
    return await service.out(session, gpo)


@router.get("/gpos", summary="List GPOs")
async def list_gpos(
    session: DbSession,
    principal: CurrentUser,
    paging: PageParams,
    kind: Annotated[GpoKind | None, Query(description="Only this kind.")] = None,
    commune_code: Annotated[
        CommuneCode | None, Query(description="Only GPOs covering this commune.")
    ] = None,
    member_organisation_id: Annotated[
        uuid.UUID | None, Query(description="Only GPOs this organisation is a member of.")
    ] = None,
    cadence_breached: Annotated[
        bool | None, Query(description="`true`: only GPOs late for a meeting.")
    ] = None,
) -> Page[GpoOut]:
    """The GPOs the caller sees (admins and commanders: all; facilitators: those they
    facilitate; partners: those their organisation is a member of), oldest first."""
    filters = service.Filters(
        kind=kind,
        commune_code=commune_code,
        member_organisation_id=member_organisation_id,
        cadence_breached=cadence_breached,
    )
    return await service.list_gpos(session, principal, filters, paging)


@router.get("/gpos/{gpo_id}", summary="Read a GPO")
async def get_gpo(
    gpo_id: uuid.UUID, session: DbSession, principal: CurrentUser, response: Response
) -> GpoOut:
    """With its cadence: `last_meeting_at`, `next_meeting_due`, `cadence_breached`."""
    gpo = await service.get_gpo(session, principal, gpo_id)
    set_etag(response, gpo.version)
    return await service.out(session, gpo)


@router.patch("/gpos/{gpo_id}", summary="Update a GPO")
async def update_gpo(
    gpo: GpoToRun, data: GpoUpdate, session: DbSession, principal: CurrentUser, response: Response
) -> GpoOut:
    """Admins and the GPO's facilitators. Lists given replace the stored ones."""
    gpo = await service.update_gpo(session, principal, gpo, data)
    set_etag(response, gpo.version)
    return await service.out(session, gpo)
