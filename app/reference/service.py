"""Reference data: lookups that other domains validate against, and admin edits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import wording
from app.core import audit
from app.core.db import one_entity
from app.core.errors import Conflict, Invalid
from app.core.pagination import Ordering, Page, Paging, SortKey
from app.core.schemas import Input, Patch
from app.identity.principal import Principal
from app.reference.models import (
    ActionKind,
    Category,
    CategoryFamily,
    Commune,
    Organisation,
    OrganisationKind,
)
from app.reference.schemas import (
    ActionKindOut,
    CategoryOut,
    CommuneOut,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
)

Loc = Sequence[str | int]
COMMUNES_BY_CODE = Ordering("code", (SortKey(Commune.code),))
ORGANISATIONS_BY_NAME = Ordering("name", (SortKey(Organisation.name), SortKey(Organisation.id)))


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


async def list_communes(session: AsyncSession, paging: Paging) -> Page[CommuneOut]:
    rows, next_cursor = await paging.fetch(session, select(Commune), COMMUNES_BY_CODE)
    return Page(items=[CommuneOut.model_validate(r[0]) for r in rows], next_cursor=next_cursor)


async def list_organisations(
    session: AsyncSession,
    paging: Paging,
    *,
    kind: OrganisationKind | None,
    commune_code: str | None,
) -> Page[OrganisationOut]:
    statement = select(Organisation)
    if kind is not None:
        statement = statement.where(Organisation.kind == kind)
    if commune_code is not None:
        statement = statement.where(Organisation.commune_code == commune_code)
    rows, next_cursor = await paging.fetch(session, statement, ORGANISATIONS_BY_NAME)
    return Page(items=[OrganisationOut.model_validate(r[0]) for r in rows], next_cursor=next_cursor)


async def all_organisations(session: AsyncSession) -> list[Organisation]:
    """Every organisation, by name (a few dozen: the console's lists of choices)."""
    return list(await session.scalars(select(Organisation).order_by(Organisation.name)))


async def commune_names(session: AsyncSession) -> dict[str, str]:
    """INSEE code → name, for the ten signatory communes."""
    return dict((await session.execute(select(Commune.code, Commune.name))).all())


async def all_coded(session: AsyncSession, model: type[Coded]) -> list[Coded]:
    """Every category or action kind, by French label (the console's lists of choices)."""
    return list(await session.scalars(select(model).order_by(model.label_fr)))


async def reportable_categories(session: AsyncSession) -> list[Category]:
    """The categories partners may report, by French label (the report form's choices)."""
    statement = select(Category).where(Category.reportable.is_(True)).order_by(Category.label_fr)
    return list(await session.scalars(statement))


async def get_organisation(
    session: AsyncSession, organisation_id: uuid.UUID, *, lock: bool = False
) -> Organisation:
    statement = select(Organisation).where(Organisation.id == organisation_id)
    organisation: Organisation = await one_entity(
        session, statement, missing="No such organisation.", lock=lock
    )
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
        summary=wording.summary("organisation.create", name=organisation.name),
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
        summary=wording.summary("organisation.update", name=organisation.name),
    )
    return organisation


# Categories and action kinds are coded lists an admin extends and relabels: one set of
# rules serves both.
Coded = TypeVar("Coded", Category, ActionKind)
RESOURCE_TYPES: dict[type[Any], str] = {Category: "category", ActionKind: "action_kind"}


async def list_categories(
    session: AsyncSession,
    paging: Paging,
    *,
    family: CategoryFamily | None,
    reportable: bool | None,
) -> Page[CategoryOut]:
    statement = select(Category)
    if family is not None:
        statement = statement.where(Category.family == family)
    if reportable is not None:
        statement = statement.where(Category.reportable.is_(reportable))
    ordering = Ordering("code", (SortKey(Category.code),))
    rows, next_cursor = await paging.fetch(session, statement, ordering)
    return Page(items=[CategoryOut.model_validate(r[0]) for r in rows], next_cursor=next_cursor)


async def list_action_kinds(session: AsyncSession, paging: Paging) -> Page[ActionKindOut]:
    ordering = Ordering("code", (SortKey(ActionKind.code),))
    rows, next_cursor = await paging.fetch(session, select(ActionKind), ordering)
    return Page(items=[ActionKindOut.model_validate(r[0]) for r in rows], next_cursor=next_cursor)


async def get_coded(
    session: AsyncSession, model: type[Coded], code: str, *, lock: bool = False
) -> Coded:
    missing = f"No such {RESOURCE_TYPES[model].replace('_', ' ')}."
    found: Coded = await one_entity(
        session, select(model).where(model.code == code), missing=missing, lock=lock
    )
    return found


async def create_coded(
    session: AsyncSession, principal: Principal, model: type[Coded], data: Input
) -> Coded:
    resource_type = RESOURCE_TYPES[model]
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
        summary=wording.summary(f"{resource_type}.create", label=created.label_fr),
        values=values,
    )
    return created


async def update_coded(
    session: AsyncSession, principal: Principal, row: Coded, data: Patch
) -> Coded:
    resource_type = RESOURCE_TYPES[type(row)]
    await audit.update(
        session,
        principal,
        row,
        data.provided(),
        resource_type=resource_type,
        resource_id=row.code,
        summary=wording.summary(f"{resource_type}.update", label=row.label_fr),
    )
    return row
