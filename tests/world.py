"""The World `world` tests start from, written as rows once per worker.

The organisations, people and GPO that `tests.api`'s factories would make over HTTP, in
the same order (so lists sorted by creation come out as before), inserted with the ORM
into the world template. Tests still see them as the API shows them: `read_world` fetches
each object once over HTTP.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utcnow
from app.gpos.models import (
    DEFAULT_INTERVAL_DAYS,
    Gpo,
    GpoCommune,
    GpoFacilitator,
    GpoKind,
    GpoMember,
)
from app.gpos.service import set_cadence
from app.identity import tokens
from app.identity.models import ApiToken, Role, User
from app.identity.schemas import TokenCreate
from app.reference.models import Organisation, OrganisationKind
from tests.api import Api, Caller, World, expect, unique

# World attribute: kind, name, commune.
ORGANISATIONS: dict[str, tuple[OrganisationKind, str, str]] = {
    "national_police": (OrganisationKind.national_police, "DDSP Moselle", "57463"),
    "municipal_police": (OrganisationKind.municipal_police, "Police municipale de Metz", "57463"),
    "landlord": (OrganisationKind.landlord, "Metz Habitat Territoire", "57463"),
    "outsider_org": (OrganisationKind.landlord, "Bailleur hors GPO", "57751"),
}
# World attribute: role, organisation (a World attribute), display name; the two
# facilitators come before the GPO, the others after it.
FACILITATORS: dict[str, tuple[Role, str, str]] = {
    "facilitator": (Role.facilitator, "national_police", "Claire Martin"),
    "other_facilitator": (Role.facilitator, "national_police", "Marc Petit"),
}
OTHERS: dict[str, tuple[Role, str, str]] = {
    "commander": (Role.commander, "national_police", "Paul Durand"),
    "police_partner": (Role.partner, "national_police", "Agent Dupont"),
    "municipal_partner": (Role.partner, "municipal_police", "Karim Benali"),
    "landlord_partner": (Role.partner, "landlord", "Sophie Leroy"),
    "outsider_partner": (Role.partner, "outsider_org", "Outsider"),
}
GPO_MEMBERS = ("national_police", "municipal_police", "landlord")
TOKEN = TokenCreate(name="tests")


@dataclass(frozen=True)
class WorldRows:
    """What was inserted: ids, and each person's token secret (stored only as a hash)."""

    organisation_ids: dict[str, uuid.UUID]
    user_ids: dict[str, uuid.UUID]
    secrets: dict[str, str]
    gpo_id: uuid.UUID


def _moments() -> Iterator[datetime]:
    """One instant per row, a microsecond apart, in the order the API would have made them."""
    start = utcnow()
    return (start + timedelta(microseconds=n) for n in itertools.count())


async def insert_world(session: AsyncSession, secret_key: str) -> WorldRows:
    moments = _moments()
    organisations: dict[str, uuid.UUID] = {}
    for attribute, (kind, name, commune) in ORGANISATIONS.items():
        at = next(moments)
        organisation = Organisation(
            id=uuid.uuid4(),
            name=name,
            kind=kind,
            commune_code=commune,
            created_at=at,
            updated_at=at,
        )
        session.add(organisation)
        organisations[attribute] = organisation.id
    await session.flush()

    users: dict[str, uuid.UUID] = {}
    secrets: dict[str, str] = {}

    async def add_people(people: dict[str, tuple[Role, str, str]]) -> None:
        for attribute, (role, organisation, name) in people.items():
            at = next(moments)
            user = User(
                id=uuid.uuid4(),
                email=f"{name.replace(' ', '.').lower()}@example.org",
                display_name=name,
                role=role,
                organisation_id=organisations[organisation],
                created_at=at,
                updated_at=at,
            )
            session.add(user)
            await session.flush()
            secret = tokens.new_secret()
            at = next(moments)
            session.add(
                ApiToken(
                    user_id=user.id,
                    name=TOKEN.name,
                    prefix=tokens.display_prefix(secret),
                    token_hash=tokens.token_hash(secret_key, secret),
                    created_at=at,
                    expires_at=at + timedelta(days=TOKEN.expires_in_days),
                )
            )
            users[attribute], secrets[attribute] = user.id, secret
        await session.flush()

    await add_people(FACILITATORS)
    at = next(moments)
    gpo = Gpo(
        id=uuid.uuid4(),
        name=unique(f"GPO {GpoKind.general.value}"),
        kind=GpoKind.general,
        meeting_interval_days=DEFAULT_INTERVAL_DAYS[GpoKind.general],
        created_by=users["facilitator"],
        created_at=at,
        updated_at=at,
    )
    set_cadence(gpo, None)
    session.add(gpo)
    await session.flush()
    session.add(GpoCommune(gpo_id=gpo.id, commune_code="57463"))
    session.add_all(GpoMember(gpo_id=gpo.id, organisation_id=organisations[m]) for m in GPO_MEMBERS)
    session.add(GpoFacilitator(gpo_id=gpo.id, user_id=users["facilitator"]))
    await session.flush()
    await add_people(OTHERS)
    return WorldRows(organisations, users, secrets, gpo.id)


async def read_world(api: Api, rows: WorldRows) -> World:
    """The World as the API shows it: each object read once, by the admin."""

    async def read(path: str) -> dict[str, Any]:
        return dict(expect(await api.get(api.admin, path), 200))

    organisations = {
        attribute: await read(f"/organisations/{organisation_id}")
        for attribute, organisation_id in rows.organisation_ids.items()
    }
    people = {
        attribute: Caller(rows.secrets[attribute], await read(f"/users/{user_id}"))
        for attribute, user_id in rows.user_ids.items()
    }
    return World(api=api, **organisations, **people, gpo=await read(f"/gpos/{rows.gpo_id}"))
