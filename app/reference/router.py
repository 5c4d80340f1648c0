from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import select

from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.pagination import Ordering, Page, PageParams, SortKey
from app.core.routing import DbSession
from app.core.schemas import CommuneCode
from app.identity.dependencies import AdminUser, ApiRoute, CurrentUser
from app.reference import service
from app.reference.models import (
    ActionKind,
    Category,
    CategoryFamily,
    Commune,
    Organisation,
    OrganisationKind,
)
from app.reference.schemas import (
    ActionKindCreate,
    ActionKindOut,
    ActionKindUpdate,
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    CommuneOut,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
)

router = APIRouter(route_class=ApiRoute, tags=["reference data"])
CodePath = Annotated[str, Path(max_length=50, description="The code.", examples=["rodeo"])]

COMMUNES_BY_CODE = Ordering("code", (SortKey(Commune.code),))
ORGANISATIONS_BY_NAME = Ordering("name", (SortKey(Organisation.name), SortKey(Organisation.id)))
CATEGORIES_BY_CODE = Ordering("code", (SortKey(Category.code),))
ACTION_KINDS_BY_CODE = Ordering("code", (SortKey(ActionKind.code),))


@router.get("/communes", summary="List communes")
async def list_communes(
    session: DbSession, _principal: CurrentUser, paging: PageParams
) -> Page[CommuneOut]:
    """The ten signatory communes, with their centre (to place a located report)."""
    rows, next_cursor = await paging.fetch(session, select(Commune), COMMUNES_BY_CODE)
    return Page(items=[CommuneOut.model_validate(r[0]) for r in rows], next_cursor=next_cursor)


@router.get("/organisations", summary="List organisations")
async def list_organisations(
    session: DbSession,
    _principal: CurrentUser,
    paging: PageParams,
    kind: Annotated[OrganisationKind | None, Query(description="Only this kind.")] = None,
    commune_code: Annotated[CommuneCode | None, Query(description="Only this commune.")] = None,
) -> Page[OrganisationOut]:
    """Every organisation, by name."""
    statement = select(Organisation)
    if kind is not None:
        statement = statement.where(Organisation.kind == kind)
    if commune_code is not None:
        statement = statement.where(Organisation.commune_code == commune_code)
    rows, next_cursor = await paging.fetch(session, statement, ORGANISATIONS_BY_NAME)
    return Page(items=[OrganisationOut.model_validate(r[0]) for r in rows], next_cursor=next_cursor)


@router.post("/organisations", status_code=201, summary="Create an organisation")
async def create_organisation(
    data: OrganisationCreate, session: DbSession, principal: AdminUser, response: Response
) -> OrganisationOut:
    """Admins only."""
    organisation = await service.create_organisation(session, principal, data)
    set_etag(response, organisation.version)
    return OrganisationOut.model_validate(organisation)


@router.get("/organisations/{organisation_id}", summary="Read an organisation")
async def get_organisation(
    organisation_id: uuid.UUID, session: DbSession, _principal: CurrentUser, response: Response
) -> OrganisationOut:
    """Any authenticated user."""
    organisation = await service.get_organisation(session, organisation_id)
    set_etag(response, organisation.version)
    return OrganisationOut.model_validate(organisation)


@router.patch("/organisations/{organisation_id}", summary="Update an organisation")
async def update_organisation(
    organisation_id: uuid.UUID,
    data: OrganisationUpdate,
    session: DbSession,
    principal: AdminUser,
    response: Response,
    if_match: IfMatch = None,
) -> OrganisationOut:
    """Admins only."""
    organisation = await service.get_organisation(session, organisation_id)
    check_if_match(if_match, organisation.version)
    organisation = await service.update_organisation(session, principal, organisation, data)
    set_etag(response, organisation.version)
    return OrganisationOut.model_validate(organisation)


@router.get("/categories", summary="List problem categories")
async def list_categories(
    session: DbSession,
    _principal: CurrentUser,
    paging: PageParams,
    family: Annotated[CategoryFamily | None, Query(description="Only this family.")] = None,
    reportable: Annotated[
        bool | None, Query(description="Only categories partners may report.")
    ] = None,
) -> Page[CategoryOut]:
    """Seeded from the contract; `drug_dealing` is sensitive and restricted by default."""
    statement = select(Category)
    if family is not None:
        statement = statement.where(Category.family == family)
    if reportable is not None:
        statement = statement.where(Category.reportable.is_(reportable))
    rows, next_cursor = await paging.fetch(session, statement, CATEGORIES_BY_CODE)
    return Page(items=[CategoryOut.model_validate(r[0]) for r in rows], next_cursor=next_cursor)


@router.post("/categories", status_code=201, summary="Add a category")
async def create_category(
    data: CategoryCreate, session: DbSession, principal: AdminUser, response: Response
) -> CategoryOut:
    """Admins only."""
    category = await service.create_coded(session, principal, Category, data)
    set_etag(response, category.version)
    return CategoryOut.model_validate(category)


@router.get("/categories/{code}", summary="Read a category")
async def get_category(
    code: CodePath, session: DbSession, _principal: CurrentUser, response: Response
) -> CategoryOut:
    """Any authenticated user."""
    category = await service.get_coded(session, Category, code)
    set_etag(response, category.version)
    return CategoryOut.model_validate(category)


@router.patch("/categories/{code}", summary="Update a category")
async def update_category(
    code: CodePath,
    data: CategoryUpdate,
    session: DbSession,
    principal: AdminUser,
    response: Response,
    if_match: IfMatch = None,
) -> CategoryOut:
    """Admins only; the code is fixed."""
    category = await service.get_coded(session, Category, code)
    check_if_match(if_match, category.version)
    category = await service.update_coded(session, principal, category, data)
    set_etag(response, category.version)
    return CategoryOut.model_validate(category)


@router.get("/action-kinds", summary="List action kinds")
async def list_action_kinds(
    session: DbSession, _principal: CurrentUser, paging: PageParams
) -> Page[ActionKindOut]:
    """Seeded from the contract."""
    rows, next_cursor = await paging.fetch(session, select(ActionKind), ACTION_KINDS_BY_CODE)
    return Page(items=[ActionKindOut.model_validate(r[0]) for r in rows], next_cursor=next_cursor)


@router.post("/action-kinds", status_code=201, summary="Add an action kind")
async def create_action_kind(
    data: ActionKindCreate, session: DbSession, principal: AdminUser, response: Response
) -> ActionKindOut:
    """Admins only."""
    kind = await service.create_coded(session, principal, ActionKind, data)
    set_etag(response, kind.version)
    return ActionKindOut.model_validate(kind)


@router.get("/action-kinds/{code}", summary="Read an action kind")
async def get_action_kind(
    code: CodePath, session: DbSession, _principal: CurrentUser, response: Response
) -> ActionKindOut:
    """Any authenticated user."""
    kind = await service.get_coded(session, ActionKind, code)
    set_etag(response, kind.version)
    return ActionKindOut.model_validate(kind)


@router.patch("/action-kinds/{code}", summary="Update an action kind")
async def update_action_kind(
    code: CodePath,
    data: ActionKindUpdate,
    session: DbSession,
    principal: AdminUser,
    response: Response,
    if_match: IfMatch = None,
) -> ActionKindOut:
    """Admins only; the code is fixed."""
    kind = await service.get_coded(session, ActionKind, code)
    check_if_match(if_match, kind.version)
    kind = await service.update_coded(session, principal, kind, data)
    set_etag(response, kind.version)
    return ActionKindOut.model_validate(kind)
