"""Reference data: lookups that other domains validate against, and admin edits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.errors import Conflict, Invalid, NotFound
from app.core.schemas import Input, Patch
from app.identity.principal import Principal
from app.reference.models import ActionKind, Category, Commune, Organisation
from app.reference.schemas import OrganisationCreate, OrganisationUpdate

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


# Categories and action kinds are coded lists an admin extends and relabels: one set of
# rules serves both.
Coded = TypeVar("Coded", Category, ActionKind)
CODED_NAMES: dict[type[Any], tuple[str, str]] = {
    Category: ("category", "Catégorie"),
    ActionKind: ("action_kind", "Type d'action"),
}


async def get_coded(session: AsyncSession, model: type[Coded], code: str) -> Coded:
    found = await session.get(model, code)
    if found is None:
        raise NotFound(f"No such {CODED_NAMES[model][0].replace('_', ' ')}.")
    return found


async def create_coded(
    session: AsyncSession, principal: Principal, model: type[Coded], data: Input
) -> Coded:
    resource_type, label = CODED_NAMES[model]
    values = data.model_dump()
    if await session.get(model, values["code"]) is not None:
        raise Conflict(f"The code {values['code']!r} exists already.")
    created = model(**values)
    await audit.add_created(
        session,
        principal,
        created,
        resource_type=resource_type,
        resource_id=created.code,
        summary=f"{label} « {created.label_fr} » créé(e)",
        values=values,
    )
    return created


async def update_coded(
    session: AsyncSession, principal: Principal, row: Coded, data: Patch
) -> Coded:
    resource_type, label = CODED_NAMES[type(row)]
    await audit.update(
        session,
        principal,
        row,
        data.provided(),
        resource_type=resource_type,
        resource_id=row.code,
        summary=f"{label} « {row.label_fr} » modifié(e)",
    )
    return row
