"""Demonstration data (GPO_DEMO_DATA=1): partners, people, three GPOs and a few problems.

Written through the services, so references, audit events and timelines are real. Seeded
only into a database with no GPO yet; the tokens, and the console password of the demo
people (one random password for all), are printed once and never again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import service as actions
from app.actions.schemas import ActionCreate
from app.config import Settings
from app.core.clock import today_in_paris
from app.gpos import service as gpos
from app.gpos.models import Gpo, GpoKind
from app.gpos.schemas import GpoCreate
from app.identity import passwords
from app.identity import service as identity
from app.identity.models import Role, User
from app.identity.principal import Principal
from app.identity.schemas import TokenCreate, UserCreate
from app.problems import service as problems
from app.problems.models import Priority
from app.problems.schemas import Location, ProblemCreate
from app.reference import service as reference
from app.reference.models import Organisation, OrganisationKind
from app.reference.schemas import OrganisationCreate
from app.reference.seed import COMMUNES

K = OrganisationKind
ORGANISATIONS = [
    ("ddsp", "DDSP Moselle — commissariat central de Metz", K.national_police, "57463"),
    ("pm_metz", "Police municipale de Metz", K.municipal_police, "57463"),
    ("pm_woippy", "Police municipale de Woippy", K.municipal_police, "57751"),
    ("mht", "Metz Habitat Territoire", K.landlord, "57463"),
    ("vilogia", "Vilogia", K.landlord, "57751"),
    ("lemet", "Le Met'", K.transport_operator, "57463"),
    ("sncf", "SNCF Gares & Connexions", K.transport_operator, None),
    ("ville", "Ville de Metz", K.municipality, "57463"),
]
PEOPLE = [
    (
        "facilitator",
        "Capitaine Claire Martin (DCPP)",
        "claire.martin@demo.gpo-metz.fr",
        Role.facilitator,
        "ddsp",
    ),
    (
        "commander",
        "Commissaire Paul Durand",
        "paul.durand@demo.gpo-metz.fr",
        Role.commander,
        "ddsp",
    ),
    (
        "landlord",
        "Sophie Leroy (Metz Habitat Territoire)",
        "sophie.leroy@demo.gpo-metz.fr",
        Role.partner,
        "mht",
    ),
    (
        "municipal_police",
        "Brigadier Karim Benali (PM Metz)",
        "karim.benali@demo.gpo-metz.fr",
        Role.partner,
        "pm_metz",
    ),
    ("transport", "Julie Weber (Le Met')", "julie.weber@demo.gpo-metz.fr", Role.partner, "lemet"),
]


def _principal(user: User, kind: OrganisationKind | None) -> Principal:
    return Principal(
        user_id=user.id,
        token_id=None,
        role=user.role,
        organisation_id=user.organisation_id,
        organisation_kind=kind,
        display_name=user.display_name,
    )


@dataclass
class DemoSeed:
    """What is printed once: API tokens, and the people who may sign in to the console."""

    password: str
    tokens: list[tuple[str, str]] = field(default_factory=list)
    # (role, e-mail, name)
    people: list[tuple[str, str, str]] = field(default_factory=list)


async def seed_demo_data(session: AsyncSession, settings: Settings) -> DemoSeed | None:
    if await session.scalar(select(exists().where(Gpo.id.is_not(None)))):
        return None
    seed = DemoSeed(password=f"demo-{secrets.token_urlsafe(9)}")
    password_hash = await passwords.hash_password(seed.password)
    # The demo's own admin is inserted first: every later change has an actor.
    admin = User(
        email="admin@demo.gpo-metz.fr",
        display_name="Administratrice démo",
        role=Role.admin,
        password_hash=password_hash,
    )
    session.add(admin)
    await session.flush()
    bootstrap = _principal(admin, None)
    orgs: dict[str, Organisation] = {}
    for key, name, kind, commune in ORGANISATIONS:
        orgs[key] = await reference.create_organisation(
            session, bootstrap, OrganisationCreate(name=name, kind=kind, commune_code=commune)
        )
    people: dict[str, Principal] = {"admin": bootstrap}
    secret_key = settings.gpo_secret_key.get_secret_value()
    _, secret = await identity.create_token(
        session, bootstrap, admin, TokenCreate(name="démo", expires_in_days=365), secret_key
    )
    seed.tokens.append((f"admin        {admin.display_name}", secret))
    seed.people.append(("admin", admin.email, admin.display_name))
    for key, name, email, role, org_key in PEOPLE:
        organisation = orgs[org_key] if org_key else None
        user = await identity.create_user(
            session,
            bootstrap,
            UserCreate(
                email=email,
                display_name=name,
                role=role,
                organisation_id=organisation.id if organisation else None,
            ),
        )
        user.password_hash = password_hash
        seed.people.append((role.value, email, name))
        people[key] = _principal(user, organisation.kind if organisation else None)
        _, secret = await identity.create_token(
            session, people[key], user, TokenCreate(name="démo", expires_in_days=365), secret_key
        )
        seed.tokens.append((f"{role.value:<12} {name}", secret))

    facilitator = people["facilitator"]
    borny = await gpos.create_gpo(
        session,
        facilitator,
        GpoCreate(
            name="GPO Metz-Borny",
            kind=GpoKind.general,
            commune_codes=["57463"],
            member_organisation_ids=[orgs[k].id for k in ("ddsp", "pm_metz", "mht", "ville")],
        ),
    )
    await gpos.create_gpo(
        session,
        facilitator,
        GpoCreate(
            name="GPO Woippy",
            kind=GpoKind.general,
            commune_codes=["57751"],
            member_organisation_ids=[orgs[k].id for k in ("ddsp", "pm_woippy", "vilogia")],
        ),
    )
    transport = await gpos.create_gpo(
        session,
        facilitator,
        GpoCreate(
            name="GPO Transports",
            kind=GpoKind.transport,
            commune_codes=[code for code, *_ in COMMUNES],
            member_organisation_ids=[
                orgs[k].id for k in ("ddsp", "pm_metz", "pm_woippy", "lemet", "sncf")
            ],
        ),
    )
    transport.transport_reports = True  # the contract's transport GPO
    hall = await problems.create_problem(
        session,
        facilitator,
        ProblemCreate(
            gpo_id=borny.id,
            title="Regroupements nocturnes dans le hall, 4 rue de Toul",
            description="Regroupements de 22 h à 2 h, nuisances sonores, hall dégradé.",
            category="hall_occupation",
            commune_code="57463",
            location=Location(
                address="4 rue de Toul, Metz", sector="Borny", lat=49.1072, lon=6.2105
            ),
            priority=Priority.high,
            time_pattern="Soirs de semaine, 22 h - 2 h",
            objective="Faire cesser les regroupements dans le hall.",
        ),
    )
    await problems.create_problem(
        session,
        facilitator,
        ProblemCreate(
            gpo_id=borny.id,
            title="Point de deal présumé au pied de l'immeuble",
            description="Allées et venues signalées par le bailleur ; information CROSS.",
            category="drug_dealing",
            commune_code="57463",
            priority=Priority.urgent,
        ),
    )
    mettis = await problems.create_problem(
        session,
        facilitator,
        ProblemCreate(
            gpo_id=transport.id,
            title="Incivilités sur la ligne Mettis A en soirée",
            description="Conducteurs pris à partie entre République et Borny après 21 h.",
            category="transport_incivility",
            commune_code="57463",
            location=Location(transport_line="Mettis A", lat=49.1133, lon=6.1762),
        ),
    )
    today = today_in_paris()
    await actions.create_action(
        session,
        facilitator,
        hall,
        ActionCreate(
            title="Patrouilles pédestres en soirée",
            kind="foot_patrol",
            assignee_organisation_id=orgs["pm_metz"].id,
            due_date=today + timedelta(days=30),
        ),
    )
    await actions.create_action(
        session,
        facilitator,
        hall,
        ActionCreate(
            title="Réparer la porte du hall et le contrôle d'accès",
            kind="access_closure",
            assignee_organisation_id=orgs["mht"].id,
            due_date=today - timedelta(days=3),
        ),
    )
    await actions.create_action(
        session,
        facilitator,
        mettis,
        ActionCreate(
            title="Contrôles conjoints billettique et visibilité",
            kind="joint_transport_control",
            assignee_organisation_id=orgs["lemet"].id,
            due_date=today + timedelta(days=14),
        ),
    )
    return seed
