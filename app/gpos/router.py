from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.pagination import Ordering, Page, PageParams, SortKey
from app.core.routing import DbSession
from app.core.schemas import CommuneCode
from app.gpos import service
from app.gpos.models import Gpo, GpoKind
from app.gpos.schemas import GpoCreate, GpoOut, GpoUpdate
from app.identity.dependencies import ApiRoute, CurrentUser, require
from app.identity.models import Role
from app.identity.principal import Principal

router = APIRouter(route_class=ApiRoute, tags=["gpos"])
BY_CREATION = Ordering("created_at", (SortKey(Gpo.created_at), SortKey(Gpo.id)))
GpoCreator = Annotated[Principal, Depends(require(Role.admin, Role.facilitator))]


@router.post("/gpos", status_code=201, summary="Create a GPO")
async def create_gpo(
    data: GpoCreate, session: DbSession, principal: GpoCreator, response: Response
) -> GpoOut:
    """Admins and facilitators; a facilitator who creates a GPO facilitates it."""
    gpo = await service.create_gpo(session, principal, data)
    set_etag(response, gpo.version)
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
    statement = service.gpos_query(
        principal,
        kind=kind,
        commune_code=commune_code,
        cadence_breached=cadence_breached,
        member_organisation_id=member_organisation_id,
    )
    rows, next_cursor = await paging.fetch(session, statement, BY_CREATION)
    gpos = [row[0] for row in rows]
    links = await service.load_links(session, [gpo.id for gpo in gpos])
    return Page(items=[service.to_out(gpo, links[gpo.id]) for gpo in gpos], next_cursor=next_cursor)


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
    gpo_id: uuid.UUID,
    data: GpoUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> GpoOut:
    """Admins and the GPO's facilitators. Lists given replace the stored ones."""
    gpo = await service.get_gpo(session, principal, gpo_id, for_update=True)
    await service.require_runner(session, principal, gpo.id)
    check_if_match(if_match, gpo.version)
    gpo = await service.update_gpo(session, principal, gpo, data)
    set_etag(response, gpo.version)
    return await service.out(session, gpo)
