"""GPOs: their communes, members and facilitators, and the meeting cadence."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.actions.models import Action, overdue
from app.core import audit
from app.core.clock import today_in_paris, utcnow
from app.core.db import one_entity
from app.core.errors import Invalid
from app.core.pagination import Ordering, Page, Paging, SortKey
from app.core.schemas import shape
from app.gpos.models import (
    DEFAULT_INTERVAL_DAYS,
    Gpo,
    GpoCommune,
    GpoFacilitator,
    GpoKind,
    GpoMember,
)
from app.gpos.schemas import GpoCreate, GpoOut, GpoUpdate
from app.identity.models import Role, User
from app.identity.principal import Principal
from app.meetings.models import Meeting, MeetingStatus
from app.problems.models import Problem, ProblemStatus
from app.reference.models import Commune, Organisation
from app.reports.models import Report, ReportStatus


async def get_gpo(
    session: AsyncSession, principal: Principal, gpo_id: uuid.UUID, *, for_update: bool = False
) -> Gpo:
    statement = select(Gpo).where(access.gpo_scope(principal, Gpo.id), Gpo.id == gpo_id)
    gpo: Gpo = await one_entity(session, statement, missing="No such GPO.", lock=for_update)
    return gpo


@dataclass
class Links:
    commune_codes: list[str] = field(default_factory=list)
    member_organisation_ids: list[uuid.UUID] = field(default_factory=list)
    facilitator_user_ids: list[uuid.UUID] = field(default_factory=list)


async def load_links(session: AsyncSession, gpo_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Links]:
    """The communes, members and facilitators of several GPOs in three queries."""
    links: dict[uuid.UUID, Links] = defaultdict(Links)
    if not gpo_ids:
        return links
    for gpo_id, code in await session.execute(
        select(GpoCommune.gpo_id, GpoCommune.commune_code)
        .where(GpoCommune.gpo_id.in_(gpo_ids))
        .order_by(GpoCommune.commune_code)
    ):
        links[gpo_id].commune_codes.append(code)
    for gpo_id, organisation_id in await session.execute(
        select(GpoMember.gpo_id, GpoMember.organisation_id).where(GpoMember.gpo_id.in_(gpo_ids))
    ):
        links[gpo_id].member_organisation_ids.append(organisation_id)
    for gpo_id, user_id in await session.execute(
        select(GpoFacilitator.gpo_id, GpoFacilitator.user_id).where(
            GpoFacilitator.gpo_id.in_(gpo_ids)
        )
    ):
        links[gpo_id].facilitator_user_ids.append(user_id)
    return links


def to_out(gpo: Gpo, links: Links, now: datetime | None = None) -> GpoOut:
    return shape(
        GpoOut,
        gpo,
        commune_codes=links.commune_codes,
        member_organisation_ids=sorted(links.member_organisation_ids, key=str),
        facilitator_user_ids=sorted(links.facilitator_user_ids, key=str),
        cadence_breached=gpo.next_meeting_due < (now or utcnow()),
    )


async def out(session: AsyncSession, gpo: Gpo) -> GpoOut:
    return to_out(gpo, (await load_links(session, [gpo.id]))[gpo.id])


def set_cadence(gpo: Gpo, last_meeting_at: datetime | None) -> None:
    """`next_meeting_due` follows the latest held meeting (or creation) and the interval."""
    gpo.last_meeting_at = last_meeting_at
    start = last_meeting_at or gpo.created_at
    gpo.next_meeting_due = start + timedelta(days=gpo.meeting_interval_days)


async def _check_references(
    session: AsyncSession,
    commune_codes: Iterable[str] | None,
    organisation_ids: Iterable[uuid.UUID] | None,
    facilitator_ids: Iterable[uuid.UUID] | None,
) -> None:
    checks: list[tuple[str, list[Any], Any, Any]] = []
    if commune_codes is not None:
        checks.append(("commune_codes", list(commune_codes), Commune.code, None))
    if organisation_ids is not None:
        checks.append(("member_organisation_ids", list(organisation_ids), Organisation.id, None))
    if facilitator_ids is not None:
        checks.append(
            (
                "facilitator_user_ids",
                list(facilitator_ids),
                User.id,
                (User.role == Role.facilitator) & User.active,
            )
        )
    for name, wanted, column, condition in checks:
        if not wanted:
            continue
        statement = select(column).where(column.in_(wanted))
        if condition is not None:
            statement = statement.where(condition)
        found = set((await session.scalars(statement)).all())
        for index, value in enumerate(wanted):
            if value not in found:
                what = "an active facilitator" if name == "facilitator_user_ids" else "known"
                raise Invalid(["body", name, index], f"{value} is not {what}")


async def _replace_links(
    session: AsyncSession,
    gpo: Gpo,
    values: dict[str, Any],
) -> dict[str, list[Any]]:
    """Replace the given link lists; return {field: [old, new]} for those that changed."""
    current = (await load_links(session, [gpo.id]))[gpo.id]
    tables: list[tuple[str, Any, str]] = [
        ("commune_codes", GpoCommune, "commune_code"),
        ("member_organisation_ids", GpoMember, "organisation_id"),
        ("facilitator_user_ids", GpoFacilitator, "user_id"),
    ]
    changes: dict[str, list[Any]] = {}
    for name, table, column in tables:
        if name not in values:
            continue
        old = sorted(map(str, getattr(current, name)))
        new_values = list(dict.fromkeys(values[name]))
        if sorted(map(str, new_values)) == old:
            continue
        await session.execute(delete(table).where(table.gpo_id == gpo.id))
        session.add_all(table(gpo_id=gpo.id, **{column: value}) for value in new_values)
        changes[name] = [old, sorted(map(str, new_values))]
    return changes


async def create_gpo(session: AsyncSession, principal: Principal, data: GpoCreate) -> Gpo:
    facilitators = list(data.facilitator_user_ids)
    if access.joins_gpo_it_creates(principal) and principal.user_id not in facilitators:
        facilitators.append(principal.user_id)
    await _check_references(session, data.commune_codes, data.member_organisation_ids, facilitators)
    now = utcnow()
    gpo = Gpo(
        name=data.name,
        kind=data.kind,
        meeting_interval_days=data.meeting_interval_days or DEFAULT_INTERVAL_DAYS[data.kind],
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    set_cadence(gpo, None)
    values = data.model_dump() | {
        "facilitator_user_ids": facilitators,
        "meeting_interval_days": gpo.meeting_interval_days,
    }
    await audit.add_created(
        session,
        principal,
        gpo,
        resource_type="gpo",
        summary=wording.summary("gpo.create", kind=gpo.kind, name=gpo.name),
        values=values,
    )
    await _replace_links(session, gpo, values)
    await session.flush()
    return gpo


async def update_gpo(session: AsyncSession, principal: Principal, gpo: Gpo, data: GpoUpdate) -> Gpo:
    values = data.provided()
    if "transport_reports" in values:
        await _designate_for_transport(session, principal, gpo, values["transport_reports"])
    await _check_references(
        session,
        values.get("commune_codes"),
        values.get("member_organisation_ids"),
        values.get("facilitator_user_ids"),
    )
    scalar_fields = {
        k: v
        for k, v in values.items()
        if k in ("name", "meeting_interval_days", "transport_reports")
    }
    changes = audit.apply(gpo, scalar_fields)
    link_changes = await _replace_links(session, gpo, values)
    if link_changes and not changes:
        gpo.version += 1
    changes |= link_changes
    if "meeting_interval_days" in changes:
        set_cadence(gpo, gpo.last_meeting_at)
    if changes:
        gpo.updated_at = utcnow()
        audit.record(
            session,
            principal,
            action="gpo.update",
            resource_type="gpo",
            resource_id=gpo.id,
            summary=wording.summary("gpo.update", name=gpo.name),
            changes=changes,
        )
    await session.flush()
    return gpo


async def _designate_for_transport(
    session: AsyncSession, principal: Principal, gpo: Gpo, designated: bool
) -> None:
    """Only an admin designates the transport GPO; the designation leaves the GPO that had
    it (audited there too), so there is one at most."""
    access.require_transport_designator(principal)
    if not designated or gpo.transport_reports:
        return
    if gpo.kind is not GpoKind.transport:
        raise Invalid(
            ["body", "transport_reports"],
            "only a transport GPO receives the transport reports",
            fr="Seul un GPO transports reçoit les signalements des transports.",
        )
    previous = await session.scalar(
        select(Gpo).where(Gpo.transport_reports.is_(True)).with_for_update()
    )
    if previous is None:
        return
    changes = audit.apply(previous, {"transport_reports": False})
    previous.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="gpo.update",
        resource_type="gpo",
        resource_id=previous.id,
        summary=wording.summary("gpo.update", name=previous.name),
        changes=changes,
    )
    await session.flush()  # before the new designation: one designated GPO at a time


BY_CREATION = Ordering("created_at", (SortKey(Gpo.created_at), SortKey(Gpo.id)))


@dataclass(frozen=True)
class Filters:
    kind: GpoKind | None = None
    commune_code: str | None = None
    member_organisation_id: uuid.UUID | None = None
    cadence_breached: bool | None = None


async def list_gpos(
    session: AsyncSession, principal: Principal, filters: Filters, paging: Paging
) -> Page[GpoOut]:
    """The GPOs the principal sees, oldest first."""
    f = filters
    statement = select(Gpo).where(access.gpo_scope(principal, Gpo.id))
    if f.kind is not None:
        statement = statement.where(Gpo.kind == f.kind)
    if f.commune_code is not None:
        statement = statement.where(
            Gpo.id.in_(select(GpoCommune.gpo_id).where(GpoCommune.commune_code == f.commune_code))
        )
    if f.member_organisation_id is not None:
        statement = statement.where(
            Gpo.id.in_(
                select(GpoMember.gpo_id).where(
                    GpoMember.organisation_id == f.member_organisation_id
                )
            )
        )
    if f.cadence_breached is not None:
        now = utcnow()
        statement = statement.where(
            Gpo.next_meeting_due < now if f.cadence_breached else Gpo.next_meeting_due >= now
        )
    rows, next_cursor = await paging.fetch(session, statement, BY_CREATION)
    gpos = [row[0] for row in rows]
    links = await load_links(session, [gpo.id for gpo in gpos])
    return Page(items=[to_out(gpo, links[gpo.id]) for gpo in gpos], next_cursor=next_cursor)


# --- What the console's "Mes GPO" shows -------------------------------------------------------


@dataclass
class Summary:
    """A GPO with what awaits it: its open problems, overdue actions and reports to triage
    (those the principal sees), and its next planned meeting."""

    gpo: GpoOut
    open_problems: int = 0
    overdue_actions: int = 0
    reports_waiting: int = 0
    next_meeting: Meeting | None = None


async def summaries(session: AsyncSession, principal: Principal) -> list[Summary]:
    """Every GPO the principal sees (a few dozen at most), by name, in five queries."""
    gpos = (
        await session.scalars(
            select(Gpo).where(access.gpo_scope(principal, Gpo.id)).order_by(Gpo.name, Gpo.id)
        )
    ).all()
    ids = [gpo.id for gpo in gpos]
    links = await load_links(session, ids)
    found = {gpo.id: Summary(to_out(gpo, links[gpo.id])) for gpo in gpos}
    if not ids:
        return []
    counts = (
        (
            "open_problems",
            select(Problem.gpo_id, func.count())
            .where(access.problem_scope(principal), Problem.status != ProblemStatus.closed)
            .where(Problem.gpo_id.in_(ids))
            .group_by(Problem.gpo_id),
        ),
        (
            "overdue_actions",
            select(Problem.gpo_id, func.count(Action.id))
            .join(Problem, Problem.id == Action.problem_id)
            .where(access.action_scope(principal), overdue(today_in_paris()))
            .where(Problem.gpo_id.in_(ids))
            .group_by(Problem.gpo_id),
        ),
        (
            "reports_waiting",
            select(Report.gpo_id, func.count())
            .where(access.report_scope(principal), Report.status == ReportStatus.received)
            .where(Report.gpo_id.in_(ids))
            .group_by(Report.gpo_id),
        ),
    )
    for name, statement in counts:
        for gpo_id, count in await session.execute(statement):
            if gpo_id is not None:
                setattr(found[gpo_id], name, count)
    for meeting in await session.scalars(
        select(Meeting)
        .where(Meeting.gpo_id.in_(ids), Meeting.status == MeetingStatus.planned)
        .order_by(Meeting.scheduled_at.desc())
    ):
        found[meeting.gpo_id].next_meeting = meeting  # the soonest ends up kept
    return list(found.values())
