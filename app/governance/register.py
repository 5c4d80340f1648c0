"""The processing register (GDPR art. 30, directive 2016/680 art. 24), generated: from the
settings (controller, retention, security switches), the reference data (categories,
organisations), the access rules (clearance by organisation kind) and the models (where
each kind of personal data is kept). Nothing in it is written by hand but the law's words
and the labels, in app/wording.py."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app import wording
from app.access import kind_clearance
from app.config import MIN_SECRET_LENGTH, Settings
from app.governance.schemas import (
    Controller,
    DataCategory,
    Entry,
    LegalBasis,
    ProblemCategory,
    ProcessingRegister,
    Recipient,
    Retention,
)
from app.governance.search import SOURCES
from app.identity import passwords
from app.identity.models import ConsoleSession, SignInAttempt, User
from app.mail.models import Mail
from app.meetings.models import Meeting
from app.problems.models import Problem
from app.reference.models import Category, Organisation, OrganisationKind
from app.reports.models import Report

PEOPLE: tuple[InstrumentedAttribute[Any], ...] = (
    User.display_name,
    User.email,
    User.role,
    User.organisation_id,
    SignInAttempt.email,
    SignInAttempt.address,
    ConsoleSession.address,
    ConsoleSession.user_agent,
    Mail.to_address,
)
LOCATIONS: tuple[InstrumentedAttribute[Any], ...] = (
    *(
        getattr(model, name)
        for model in (Problem, Report)
        for name in ("address", "lat", "lon", "commune_code", "sector", "transport_line", "station")
    ),
    Meeting.location,
)


def _where(column: InstrumentedAttribute[Any]) -> str:
    return f"{column.class_.__tablename__}.{column.key}"


def data_categories() -> list[DataCategory]:
    """Free texts are every text the subject search reads, but people's and places'."""
    apart = {_where(column) for column in (*PEOPLE, *LOCATIONS)}
    free = [
        _where(column)
        for source in SOURCES
        for column in source.columns
        if _where(column) not in apart
    ]
    fields = {
        "free_text": free,
        "people": [_where(column) for column in PEOPLE],
        "locations": [_where(column) for column in LOCATIONS],
    }
    return [
        DataCategory(code=code, label=wording.DATA_CATEGORIES[code], fields=where)
        for code, where in fields.items()
    ]


def _text(value: str | None, variable: str) -> str:
    return value or wording.REGISTER["unset"].format(variable=variable)


async def processing_register(session: AsyncSession, settings: Settings) -> ProcessingRegister:
    categories = (await session.scalars(select(Category).order_by(Category.code))).all()
    organisations: dict[OrganisationKind, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(Organisation.kind, Organisation.name).order_by(Organisation.name, Organisation.id)
    )
    for kind, name in rows:
        organisations[kind].append(name)
    return ProcessingRegister(
        title=wording.REGISTER["title"],
        controller=Controller(
            name=_text(settings.gpo_controller_name, "GPO_CONTROLLER_NAME"),
            dpo_contact=_text(settings.gpo_dpo_contact, "GPO_DPO_CONTACT"),
            configured=bool(settings.gpo_controller_name and settings.gpo_dpo_contact),
        ),
        purposes=[
            Entry(code=code, label=label)
            for code, label in (*wording.ACCESS_PURPOSES.items(), *wording.SERVICE_PURPOSES.items())
        ],
        data_categories=data_categories(),
        problem_categories=[
            ProblemCategory(
                code=category.code,
                label=category.label_fr,
                sensitive=category.sensitive,
                default_visibility=category.default_visibility.value,
            )
            for category in categories
        ],
        recipients=[
            Recipient(
                organisation_kind=kind.value,
                label=wording.label(kind),
                clearance=kind_clearance(kind).value,
                clearance_label=wording.label(kind_clearance(kind)),
                organisations=organisations[kind],
            )
            for kind in OrganisationKind
        ],
        internal_recipients=[
            Entry(code=role.value, label=f"{wording.label(role)} : {reads}")
            for role, reads in wording.INTERNAL_RECIPIENTS.items()
        ],
        retention=Retention(
            years=settings.retention_years,
            description=wording.retention_rule(settings.retention_years),
        ),
        legal_bases=[
            LegalBasis(scope=scope, text=text) for scope, text in wording.LEGAL_BASES.items()
        ],
        security_measures=wording.security_measures(
            password_length=passwords.MIN_LENGTH,
            secret_length=MIN_SECRET_LENGTH,
            production=settings.is_production,
            rate_per_minute=settings.gpo_rate_limit_per_minute,
            auth_failures_per_minute=settings.gpo_auth_failures_per_minute,
            metrics_open=bool(settings.gpo_metrics_allow.strip()),
            retention_years=settings.retention_years,
            charter_for_tokens=settings.gpo_charter_for_tokens,
        ),
    )


def markdown(register: ProcessingRegister) -> str:
    """The register as a Markdown document, the same content as its JSON."""
    words = wording.REGISTER
    lines = [f"# {register.title}", ""]

    def section(title: str, items: list[str]) -> None:
        lines.extend([f"## {title}", "", *(f"- {item}" for item in items), ""])

    controller = register.controller
    section(
        words["controller"],
        [controller.name, f"{words['dpo']} : {controller.dpo_contact}"],
    )
    section(words["purposes"], [f"`{p.code}` : {p.label}" for p in register.purposes])
    section(
        words["data_categories"],
        [
            f"{c.label} : " + ", ".join(f"`{field}`" for field in c.fields)
            for c in register.data_categories
        ],
    )
    section(
        words["problem_categories"],
        [
            f"`{c.code}` {c.label} : "
            + (words["sensitive"] if c.sensitive else words["not_sensitive"])
            for c in register.problem_categories
        ],
    )
    section(
        words["recipients"],
        [
            f"{r.label} ({words['clearance']} « {r.clearance_label} ») : "
            + (", ".join(r.organisations) or words["none"])
            for r in register.recipients
        ],
    )
    section(words["internal_recipients"], [entry.label for entry in register.internal_recipients])
    section(words["retention"], [register.retention.description])
    section(words["legal_bases"], [basis.text for basis in register.legal_bases])
    section(words["security_measures"], register.security_measures)
    return "\n".join(lines)
