from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from app.access import AdminUser
from app.core.concurrency import IfMatch, precondition_if_match, set_etag
from app.core.db import DbSession
from app.core.pagination import Page, PageParams
from app.core.schemas import CommuneCode
from app.identity.dependencies import API_PREFIX, ApiRoute, CurrentUser, Idempotent
from app.problems import service as problems
from app.reference import service
from app.reference.models import (
    ActionKind,
    Category,
    CategoryFamily,
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

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["reference data"])
CodePath = Annotated[
    str,
    Path(max_length=50, description="The category or action kind's `code`.", examples=["rodeo"]),
]


async def organisation_to_change(
    organisation_id: uuid.UUID, session: DbSession, if_match: IfMatch = None
) -> Organisation:
    """The organisation, locked: 404 if unknown, 412 on a stale If-Match."""
    organisation = await service.get_organisation(session, organisation_id, lock=True)
    precondition_if_match(if_match, organisation.version)
    return organisation


def coded_to_change(model: type[service.Coded]) -> Callable[..., Awaitable[service.Coded]]:
    """A category or action kind by its code, locked: 404, 412 as for any resource."""

    async def load(code: CodePath, session: DbSession, if_match: IfMatch = None) -> service.Coded:
        row = await service.get_coded(session, model, code, lock=True)
        precondition_if_match(if_match, row.version)
        return row

    return load


OrganisationToChange = Annotated[Organisation, Depends(organisation_to_change)]
CategoryToChange = Annotated[Category, Depends(coded_to_change(Category))]
ActionKindToChange = Annotated[ActionKind, Depends(coded_to_change(ActionKind))]


@router.get("/communes", summary="List communes")
async def list_communes(
    session: DbSession, _principal: CurrentUser, paging: PageParams
) -> Page[CommuneOut]:
    """The ten signatory communes, with their centre (to place a located report)."""
    return await service.list_communes(session, paging)


@router.get("/organisations", summary="List organisations")
async def list_organisations(
    session: DbSession,
    _principal: CurrentUser,
    paging: PageParams,
    kind: Annotated[OrganisationKind | None, Query(description="Only this kind.")] = None,
    commune_code: Annotated[CommuneCode | None, Query(description="Only this commune.")] = None,
) -> Page[OrganisationOut]:
    """Every organisation, by name."""
    return await service.list_organisations(session, paging, kind=kind, commune_code=commune_code)


@router.post(
    "/organisations",
    status_code=201,
    summary="Create an organisation",
    dependencies=[Idempotent],
)
async def create_organisation(
    data: OrganisationCreate, session: DbSession, principal: AdminUser, response: Response
) -> OrganisationOut:
    """Admins only."""
    organisation = await service.create_organisation(session, principal, data)
    set_etag(response, organisation.version)
    response.headers["Location"] = f"/api/v1/organisations/{organisation.id}"
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
    principal: AdminUser,
    organisation: OrganisationToChange,
    data: OrganisationUpdate,
    session: DbSession,
    response: Response,
) -> OrganisationOut:
    """Admins only."""
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
    return await service.list_categories(session, paging, family=family, reportable=reportable)


@router.post("/categories", status_code=201, summary="Add a category", dependencies=[Idempotent])
async def create_category(
    data: CategoryCreate, session: DbSession, principal: AdminUser, response: Response
) -> CategoryOut:
    """Admins only."""
    category = await service.create_coded(session, principal, Category, data)
    set_etag(response, category.version)
    response.headers["Location"] = f"/api/v1/categories/{category.code}"
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
    principal: AdminUser,
    category: CategoryToChange,
    data: CategoryUpdate,
    session: DbSession,
    response: Response,
) -> CategoryOut:
    """Admins only; the code is fixed. Making a category sensitive raises its problems to
    `restricted` (each audited), as a sensitive category's problems always are."""
    was_sensitive = category.sensitive
    category = await service.update_coded(session, principal, category, data)
    if category.sensitive and not was_sensitive:
        await problems.raise_to_floor(session, principal, category)
    set_etag(response, category.version)
    return CategoryOut.model_validate(category)


@router.get("/action-kinds", summary="List action kinds")
async def list_action_kinds(
    session: DbSession, _principal: CurrentUser, paging: PageParams
) -> Page[ActionKindOut]:
    """Seeded from the contract."""
    return await service.list_action_kinds(session, paging)


@router.post(
    "/action-kinds", status_code=201, summary="Add an action kind", dependencies=[Idempotent]
)
async def create_action_kind(
    data: ActionKindCreate, session: DbSession, principal: AdminUser, response: Response
) -> ActionKindOut:
    """Admins only."""
    kind = await service.create_coded(session, principal, ActionKind, data)
    set_etag(response, kind.version)
    response.headers["Location"] = f"/api/v1/action-kinds/{kind.code}"
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
    principal: AdminUser,
    kind: ActionKindToChange,
    data: ActionKindUpdate,
    session: DbSession,
    response: Response,
) -> ActionKindOut:
    """Admins only; the code is fixed."""
    kind = await service.update_coded(session, principal, kind, data)
    set_etag(response, kind.version)
    return ActionKindOut.model_validate(kind)
