"""Reference data: lookups that other domains validate against, and admin edits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.errors import Conflict, Invalid, NotFound
from app.identity.principal import Principal
from app.reference.models import ActionKind, Category, Commune, Organisation
from app.reference.schemas import (
    ActionKindCreate,
    ActionKindUpdate,
    CategoryCreate,
    CategoryUpdate,
    OrganisationCreate,
    OrganisationUpdate,
)

Loc = Sequence[str | int]


async def require_commune(session: AsyncSession, code: str, *, loc: Loc) -> Commune:
    commune = await session.get(Commune, code)
    if commune is None:
        raise Invalid(loc, f"unknown commune code {code!r}")
    return commune


async def require_category(session: AsyncSession, code: str, *, loc: Loc) -> Category:
    category = await session.get(Category, code)
    if category is None:
        raise Invalid(loc, f"unknown category {code!r}")
    return category


async def require_action_kind(session: AsyncSession, code: str, *, loc: Loc) -> ActionKind:
    kind = await session.get(ActionKind, code)
    if kind is None:
        raise Invalid(loc, f"unknown action kind {code!r}")
    return kind


async def require_organisation(
    session: AsyncSession, organisation_id: uuid.UUID, *, loc: Loc
) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise Invalid(loc, "unknown organisation")
    return organisation


async def get_organisation(session: AsyncSession, organisation_id: uuid.UUID) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("No such organisation.")
    return organisation


async def create_organisation(
    session: AsyncSession, principal: Principal, data: OrganisationCreate
) -> Organisation:
    if data.commune_code is not None:
        await require_commune(session, data.commune_code, loc=("body", "commune_code"))
    organisation = Organisation(**data.model_dump())
    await audit.add_created(
        session,
        principal,
        organisation,
        resource_type="organisation",
        summary=f"Organisation {organisation.name} créée",
        values=data.model_dump(),
    )
    return organisation


async def update_organisation(
    session: AsyncSession,
    principal: Principal,
    organisation: Organisation,
    data: OrganisationUpdate,
) -> Organisation:
    values = data.provided()
    if values.get("commune_code") is not None:
        await require_commune(session, values["commune_code"], loc=("body", "commune_code"))
    await audit.update(
        session,
        principal,
        organisation,
        values,
        resource_type="organisation",
        summary=f"Organisation {organisation.name} modifiée",
    )
    return organisation


async def get_category(session: AsyncSession, code: str) -> Category:
    category = await session.get(Category, code)
    if category is None:
        raise NotFound("No such category.")
    return category


async def create_category(
    session: AsyncSession, principal: Principal, data: CategoryCreate
) -> Category:
    if await session.get(Category, data.code) is not None:
        raise Conflict(f"A category with code {data.code!r} exists already.")
    category = Category(**data.model_dump())
    await audit.add_created(
        session,
        principal,
        category,
        resource_type="category",
        resource_id=category.code,
        summary=f"Catégorie {category.label_fr} créée",
        values=data.model_dump(),
    )
    return category


async def update_category(
    session: AsyncSession, principal: Principal, category: Category, data: CategoryUpdate
) -> Category:
    await audit.update(
        session,
        principal,
        category,
        data.provided(),
        resource_type="category",
        resource_id=category.code,
        summary=f"Catégorie {category.label_fr} modifiée",
    )
    return category


async def get_action_kind(session: AsyncSession, code: str) -> ActionKind:
    kind = await session.get(ActionKind, code)
    if kind is None:
        raise NotFound("No such action kind.")
    return kind


async def create_action_kind(
    session: AsyncSession, principal: Principal, data: ActionKindCreate
) -> ActionKind:
    if await session.get(ActionKind, data.code) is not None:
        raise Conflict(f"An action kind with code {data.code!r} exists already.")
    kind = ActionKind(**data.model_dump())
    await audit.add_created(
        session,
        principal,
        kind,
        resource_type="action_kind",
        resource_id=kind.code,
        summary=f"Type d'action {kind.label_fr} créé",
        values=data.model_dump(),
    )
    return kind


async def update_action_kind(
    session: AsyncSession, principal: Principal, kind: ActionKind, data: ActionKindUpdate
) -> ActionKind:
    await audit.update(
        session,
        principal,
        kind,
        data.provided(),
        resource_type="action_kind",
        resource_id=kind.code,
        summary=f"Type d'action {kind.label_fr} modifié",
    )
    return kind
