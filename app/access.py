"""Who may see what and do what: every access rule of the service, in one place.

Roles (API.md, "Identity and roles"):
- admin: everything, on every GPO; users, organisations and reference data;
- commander: reads every GPO, problem, action, report and figure, restricted ones included;
  writes nothing but comments (and meetings, which commanders also run);
- facilitator: runs the GPOs it facilitates (problems, actions, meetings, indicators,
  triage) and sees everything in them; creates GPOs;
- partner: a member of an organisation. Sees the GPOs its organisation belongs to and their
  problems within its clearance, the actions assigned to its organisation (even on problems
  it may not see), its organisation's reports; submits reports; updates the status and
  result of its organisation's actions;
- auditor: reads the access log and verifies the hash chains (`GovernanceReader`), nothing
  else: `_by_role` gives it no GPO, problem, action, report or meeting, so every record is
  404 to it and every list empty.

Clearance: a partner reads `partners` texts; a municipal police member also `police`; a
national police member also `restricted`. Everyone else who sees a problem reads all of it.

How the rules are applied:
- *read scopes* are SQL conditions built from the principal (`problem_scope`, ...): every
  read adds one to its statement, so nothing hidden is ever loaded, and what the caller may
  not see is simply not found (404, existence never revealed);
- *write permissions* are named predicates (`require_runner`, ...) raising 403 for a thing
  the caller may see, or typed route dependencies for rules that need only the caller
  (`AdminUser`, `GpoCreator`, `FiguresReader`, `Reporter`): the route's signature says who
  may call it. A permission on the resource a path names is checked by that route's
  resource dependency (`ProblemToRun` in problems/dependencies.py: 404, 403, then 412); one
  that depends on the body (the GPO a new problem goes to, the fields an assignee changes)
  by the service, with the predicate from here.

Where a question is answered:
| who may...                          | here                                        |
|-------------------------------------|---------------------------------------------|
| see a GPO / problem / action        | `gpo_scope`, `problem_scope`, `action_scope`|
| see a report, a meeting             | `report_scope`, `meeting_scope`             |
| read a comment, a timeline event    | `text_scope`, `timeline_scope`, `clearance` |
| read a free text of a record        | `text_if_readable` (level: `effective_level`)|
| write a free text at a level        | `level_to_write`                            |
| read a text outside national police | `read_outside_national_police`, `kind_clearance` |
| run a GPO (problems, actions, ...)  | `runs_gpo`, `require_runner`                |
| run or read meetings, read minutes  | `runs_meetings`, `require_minutes_reader`   |
| change an action                    | `require_action_editor`, `ASSIGNEE_FIELDS`  |
| read figures                        | `FiguresReader`, `figures_scope`            |
| submit reports, create GPOs, admin  | `Reporter`, `GpoCreator`, `AdminUser`       |
| DPO's tools, access log, verify    | `GovernanceReader` (admins, auditors)       |
| see or change users and tokens      | `user_scope`, `token_scope`, `require_user_editor` |
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import replace
from typing import Annotated, Any, cast

from fastapi import Depends
from sqlalchemy import (
    ColumnElement,
    Select,
    Uuid,
    and_,
    bindparam,
    case,
    exists,
    false,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app import wording
from app.actions.models import Action
from app.core.audit import AuditEvent
from app.core.db import among, uuid_of_text
from app.core.errors import Forbidden, Invalid
from app.core.visibility import Visibility, effective_level, readable_levels, text_level
from app.gpos.models import GpoFacilitator, GpoMember
from app.identity.dependencies import CurrentUser
from app.identity.models import ApiToken, Role, User
from app.identity.principal import Principal
from app.indicators.models import Indicator
from app.meetings.models import Meeting
from app.problems.models import Problem
from app.reference.models import OrganisationKind
from app.reports.models import Report

# --- Roles and clearance ----------------------------------------------------------------

# Organisation kinds cleared above `partners`; members of any other kind read `partners`.
CLEARANCE: dict[OrganisationKind, Visibility] = {
    OrganisationKind.national_police: Visibility.restricted,
    OrganisationKind.municipal_police: Visibility.police,
}


def is_admin(principal: Principal) -> bool:
    return principal.role is Role.admin


def sees_everything(principal: Principal) -> bool:
    """Admins and commanders read every GPO, problem, action, report and figure."""
    return principal.role in (Role.admin, Role.commander)


def member_organisation(principal: Principal) -> uuid.UUID | None:
    """The organisation a partner acts for (None for every other role)."""
    return principal.organisation_id if principal.role is Role.partner else None


def clearance(principal: Principal) -> Visibility:
    """The strictest level the principal reads on a problem it sees: a partner's depends on
    its organisation's kind; whoever else sees a problem reads all of it."""
    if principal.role is not Role.partner:
        return Visibility.restricted
    return kind_clearance(principal.organisation_kind)


def kind_clearance(kind: OrganisationKind | None) -> Visibility:
    """The strictest level a member of an organisation of this kind reads."""
    return Visibility.partners if kind is None else CLEARANCE.get(kind, Visibility.partners)


def read_outside_national_police(level: Visibility) -> bool:
    """Whether members of an organisation other than the national police may read a text
    at `level` (the strictest clearance among the other kinds decides: municipal police)."""
    return any(
        level in readable_levels(kind_clearance(kind))
        for kind in OrganisationKind
        if kind is not OrganisationKind.national_police
    )


def readable(principal: Principal) -> list[Visibility]:
    """The visibility levels of texts (problems, comments, events) the principal reads."""
    return readable_levels(clearance(principal))


# --- Read scopes: SQL conditions ---------------------------------------------------------


def facilitated_gpo_ids(principal: Principal) -> Select[uuid.UUID]:
    return select(GpoFacilitator.gpo_id).where(GpoFacilitator.user_id == principal.user_id)


def member_gpo_ids(organisation_id: uuid.UUID) -> Select[uuid.UUID]:
    return select(GpoMember.gpo_id).where(GpoMember.organisation_id == organisation_id)


def _by_role(
    principal: Principal,
    *,
    facilitator: Callable[[], ColumnElement[bool]],
    partner: Callable[[uuid.UUID], ColumnElement[bool]],
) -> ColumnElement[bool]:
    """The one role switch: admins and commanders see everything, a facilitator what its
    GPOs hold, a partner what its organisation may see, anyone else nothing."""
    if sees_everything(principal):
        return true()
    if principal.role is Role.facilitator:
        return facilitator()
    if (organisation_id := member_organisation(principal)) is not None:
        return partner(organisation_id)
    return false()


def scope_template(principal: Principal) -> tuple[Hashable, Principal, dict[str, Any]]:
    """The read scopes above as statements built once: a key naming the form they take for
    this principal, a stand-in principal whose ids are bound parameters, and their values.

    The scopes read the role, the organisation's kind and the user's and organisation's ids:
    the key holds what shapes the condition, the parameters what differs between callers.
    """
    key = (principal.role, principal.organisation_kind, principal.organisation_id is None)
    stand_in = replace(
        principal,
        user_id=cast(Any, bindparam("scope_user_id", type_=Uuid())),
        organisation_id=cast(
            Any,
            None
            if principal.organisation_id is None
            else bindparam("scope_organisation_id", type_=Uuid()),
        ),
    )
    values = {
        "scope_user_id": principal.user_id,
        "scope_organisation_id": principal.organisation_id,
    }
    return key, stand_in, values


def gpo_scope(principal: Principal, gpo_id: Any) -> ColumnElement[bool]:
    """`gpo_id` (a column) is a GPO the principal sees: facilitators the GPOs they
    facilitate (their organisation's membership alone shows nothing), partners the GPOs
    their organisation is a member of."""
    return _by_role(
        principal,
        facilitator=lambda: gpo_id.in_(facilitated_gpo_ids(principal)),
        partner=lambda organisation_id: gpo_id.in_(member_gpo_ids(organisation_id)),
    )


def problem_scope(principal: Principal) -> ColumnElement[bool]:
    """Problems the principal sees: all of its GPOs' for a facilitator; for a partner, those
    of its organisation's GPOs whose visibility is within its clearance."""
    return _by_role(
        principal,
        facilitator=lambda: Problem.gpo_id.in_(facilitated_gpo_ids(principal)),
        partner=lambda organisation_id: and_(
            Problem.gpo_id.in_(member_gpo_ids(organisation_id)),
            among(Problem.visibility, readable(principal)),
        ),
    )


def meeting_scope(principal: Principal) -> ColumnElement[bool]:
    """Meetings of the GPOs the principal sees (reading one also needs `runs_meetings`, its
    minutes `require_minutes_reader`)."""
    return gpo_scope(principal, Meeting.gpo_id)


def figures_scope(principal: Principal) -> ColumnElement[bool]:
    """The problems a figure counts: those the principal sees (its readers: `reads_figures`):
    every problem for commanders and admins, their GPOs' for facilitators."""
    return problem_scope(principal)


def problem_column_if_visible(principal: Principal, column: Any) -> Any:
    """A column of the problem (its reference, its title) where the principal sees the
    problem, else null: an assignee reads its action on a problem hidden from it, not the
    problem."""
    if sees_everything(principal):
        return column
    return case((problem_scope(principal), column), else_=null())


def problem_reference_if_visible(principal: Principal) -> Any:
    return problem_column_if_visible(principal, Problem.reference)


def action_scope(principal: Principal) -> ColumnElement[bool]:
    """Actions of problems the principal sees (the statement joins Problem), and a partner's
    organisation's own actions, even on a problem it may not see."""
    visible_problem = problem_scope(principal)
    if (organisation_id := member_organisation(principal)) is None:
        return visible_problem
    return or_(visible_problem, Action.assignee_organisation_id == organisation_id)


def report_scope(principal: Principal) -> ColumnElement[bool]:
    """Facilitators: reports routed to their GPOs; partners: their organisation's reports."""
    return _by_role(
        principal,
        facilitator=lambda: Report.gpo_id.in_(facilitated_gpo_ids(principal)),
        partner=lambda organisation_id: Report.submitted_by_organisation_id == organisation_id,
    )


def text_scope(principal: Principal, visibility: Any, floor: Any = None) -> ColumnElement[bool]:
    """A text (a comment) on a problem the principal sees, within its clearance. With a
    `floor` (its problem's visibility column), the text's level is the stricter of its own
    and its problem's (`effective_level`): what an assignee reads of its action on a
    problem hidden from it, or a text written before its problem was raised."""
    level = visibility if floor is None else effective_level(visibility, floor)
    return among(level, readable(principal))


def text_if_readable(principal: Principal, column: Any, visibility: Any, floor: Any = None) -> Any:
    """A free-text column (a review's note, an action's description...) where the principal
    is cleared for the text's level (`text_scope`), else null: the record stays visible to
    whoever sees it, its text only to those cleared for it."""
    if clearance(principal) is Visibility.restricted:
        return column
    return case((text_scope(principal, visibility, floor), column), else_=null())


def timeline_scope(principal: Principal) -> ColumnElement[bool]:
    """A problem's events the principal reads: those at the problem's level (no level of
    their own) and those at a level within its clearance (a comment's, a text's). An event
    recording an action's or an indicator's texts is read at the stricter of the level it
    was written at and the record's level now: raising a text's level later hides its old
    values too (events are insert-only: the level is looked up, not rewritten)."""
    if clearance(principal) is Visibility.restricted:
        return true()
    resource = uuid_of_text(AuditEvent.resource_id)
    now = case(
        (
            AuditEvent.resource_type == "action",
            select(Action.visibility).where(Action.id == resource).scalar_subquery(),
        ),
        (
            AuditEvent.resource_type == "indicator",
            select(Indicator.visibility).where(Indicator.id == resource).scalar_subquery(),
        ),
        else_=null(),
    )
    return or_(
        AuditEvent.visibility.is_(None),
        and_(
            text_scope(principal, AuditEvent.visibility),
            or_(now.is_(None), now.in_(readable(principal))),
        ),
    )


def user_scope(principal: Principal) -> ColumnElement[bool]:
    """Admins see every user; anyone else only itself."""
    return true() if is_admin(principal) else User.id == principal.user_id


def token_scope(principal: Principal) -> ColumnElement[bool]:
    """Admins see every token; anyone else only its own."""
    return true() if is_admin(principal) else ApiToken.user_id == principal.user_id


# --- Write permissions: named predicates ---------------------------------------------------


async def facilitates(
    session: AsyncSession, principal: Principal, gpo_id: uuid.UUID | None
) -> bool:
    if principal.role is not Role.facilitator or gpo_id is None:
        return False
    statement = select(
        exists().where(GpoFacilitator.gpo_id == gpo_id, GpoFacilitator.user_id == principal.user_id)
    )
    return bool(await session.scalar(statement))


async def runs_gpo(session: AsyncSession, principal: Principal, gpo_id: uuid.UUID | None) -> bool:
    """Admins and the GPO's facilitators run it: its problems, actions, indicators, triage.
    What belongs to no GPO yet (an unrouted report) only admins run."""
    return is_admin(principal) or await facilitates(session, principal, gpo_id)


async def require_runner(
    session: AsyncSession, principal: Principal, gpo_id: uuid.UUID | None
) -> None:
    if not await runs_gpo(session, principal, gpo_id):
        raise Forbidden("Only a facilitator of this GPO (or an admin) may do this.")


async def runs_meetings(session: AsyncSession, principal: Principal, gpo_id: uuid.UUID) -> bool:
    """The GPO's facilitators, commanders and admins manage and read its meetings."""
    return sees_everything(principal) or await facilitates(session, principal, gpo_id)


async def require_meeting_runner(
    session: AsyncSession, principal: Principal, gpo_id: uuid.UUID
) -> None:
    if not await runs_meetings(session, principal, gpo_id):
        raise Forbidden("Meetings are run by the GPO's facilitators, commanders and admins.")


async def require_minutes_reader(
    session: AsyncSession, principal: Principal, gpo_id: uuid.UUID
) -> None:
    """Meeting runners, and the partners of a GPO they see (its members), who read the
    minutes within their clearance."""
    if principal.role is Role.partner or await runs_meetings(session, principal, gpo_id):
        return
    raise Forbidden("The minutes are read by the GPO's members and those who run it.")


# What a partner of the assignee organisation may change on its action.
ASSIGNEE_FIELDS = frozenset({"status", "result_note"})


async def require_action_editor(
    session: AsyncSession,
    principal: Principal,
    action: Action,
    gpo_id: uuid.UUID,
    fields: Collection[str],
) -> None:
    """The GPO's runners change anything on its actions; a partner of the assignee
    organisation changes only `status` and `result_note`."""
    if await runs_gpo(session, principal, gpo_id):
        return
    if member_organisation(principal) != action.assignee_organisation_id:
        raise Forbidden("Only the GPO's facilitators or the assignee may change this action.")
    if extra := sorted(set(fields) - ASSIGNEE_FIELDS):
        raise Forbidden(
            f"The assignee may change only status and result_note, not {', '.join(extra)}."
        )


def may_write_at(principal: Principal, level: Visibility) -> bool:
    """A text (a comment) is written at a level its author could read."""
    return level in readable(principal)


def level_to_write(
    principal: Principal,
    asked: Visibility | None,
    floor: Visibility,
    *,
    noun: str = "text",
    loc: Sequence[str | int] = ("body", "visibility"),
) -> Visibility:
    """The level a free text is stored at (`text_level`: the one asked, else its problem's,
    never below it). Asking a level its writer could not read is refused (422), as for
    comments. A writer who asks nothing writes at the floor even above its own clearance:
    the assignee's result note on an action of a problem hidden from it."""
    if asked is not None and not may_write_at(principal, asked):
        raise Invalid(
            list(loc),
            f"you could not read a {noun} at this level",
            fr=wording.refused(f"{noun}.level"),
        )
    return text_level(asked, floor)


def level_after_change(
    principal: Principal, values: dict[str, Any], current: Visibility, floor: Visibility
) -> Visibility:
    """A patch of a record with texts: a `visibility` it asks is checked and raised as
    `level_to_write` does, in `values`; returns the level its texts are read at after it."""
    if "visibility" in values:
        values["visibility"] = level_to_write(principal, values["visibility"], floor)
    return text_level(values.get("visibility", current), floor)


def joins_gpo_it_creates(principal: Principal) -> bool:
    """A facilitator who creates a GPO facilitates it."""
    return principal.role is Role.facilitator


def require_user_editor(principal: Principal) -> None:
    """Only admins change users (a user reading itself may not edit itself)."""
    if not is_admin(principal):
        raise Forbidden("Only an admin changes users.")


def require_transport_designator(principal: Principal) -> None:
    """Only admins say which GPO receives the transport reports: a facilitator creating a
    transport GPO cannot capture Le Met's reports."""
    if not is_admin(principal):
        raise Forbidden("Only an admin designates the GPO that receives transport reports.")


def require_report_router(principal: Principal) -> None:
    """Only admins route a report to a GPO by hand."""
    if not is_admin(principal):
        raise Forbidden("Only an admin routes reports.")


# --- Typed route dependencies: rules that need only the caller -----------------------------


def creates_gpos(principal: Principal) -> bool:
    return principal.role in (Role.admin, Role.facilitator)


def reads_figures(principal: Principal) -> bool:
    """Commanders and admins read every figure, facilitators those of their GPOs."""
    return principal.role in (Role.admin, Role.commander, Role.facilitator)


def reads_governance(principal: Principal) -> bool:
    """Admins and auditors read the access log and verify the chains; auditors nothing else
    (every read scope above gives them nothing: `_by_role`)."""
    return principal.role in (Role.admin, Role.auditor)


def submits_reports(principal: Principal) -> bool:
    """Partners submit reports, for their organisation."""
    return member_organisation(principal) is not None


# --- webhooks: partners' systems, and the principal an endpoint receives as ---------------


def manages_webhooks(principal: Principal) -> bool:
    """Admins (for any organisation) and partners (for their own)."""
    return is_admin(principal) or member_organisation(principal) is not None


def webhook_scope(principal: Principal, organisation_id: Any) -> ColumnElement[bool]:
    """The webhooks the principal sees: every one for admins, its organisation's for a
    partner, none for anyone else."""
    if is_admin(principal):
        return true()
    if (own := member_organisation(principal)) is not None:
        condition: ColumnElement[bool] = organisation_id == own
        return condition
    return false()


def webhook_owner(principal: Principal, organisation_id: uuid.UUID | None) -> uuid.UUID:
    """The organisation a new webhook is for: an admin names it; a partner's is its own
    (naming another is refused)."""
    own = member_organisation(principal)
    if is_admin(principal):
        if organisation_id is None:
            raise Invalid(["body", "organisation_id"], "an admin names the organisation")
        return organisation_id
    if own is None or organisation_id not in (None, own):
        raise Forbidden("A partner's webhooks are for its own organisation.")
    return own


def as_organisation(organisation_id: uuid.UUID, kind: OrganisationKind, name: str) -> Principal:
    """Whom a webhook's messages are read as: a partner of its organisation, so that an
    event carries what that organisation's people may see through the API, nothing more."""
    return Principal(
        user_id=uuid.UUID(int=0),
        token_id=None,
        role=Role.partner,
        organisation_id=organisation_id,
        organisation_kind=kind,
        display_name=name,
    )


class Requires:
    """A route dependency: the caller, when `rule` admits it; 403 otherwise."""

    def __init__(self, rule: Callable[[Principal], bool], refusal: str) -> None:
        self.rule = rule
        self.refusal = refusal

    async def __call__(self, principal: CurrentUser) -> Principal:
        if not self.rule(principal):
            raise Forbidden(self.refusal)
        return principal


AdminUser = Annotated[Principal, Depends(Requires(is_admin, "Only an admin may do this."))]
WebhookManager = Annotated[
    Principal,
    Depends(Requires(manages_webhooks, "Webhooks are managed by admins and partners.")),
]
GpoCreator = Annotated[
    Principal, Depends(Requires(creates_gpos, "Only admins and facilitators create GPOs."))
]
FiguresReader = Annotated[
    Principal,
    Depends(
        Requires(
            reads_figures,
            "Figures are for commanders, admins and facilitators (of their GPOs).",
        )
    ),
]
GovernanceReader = Annotated[
    Principal,
    Depends(
        Requires(
            reads_governance, "The access log and the DPO's tools are for admins and auditors."
        )
    ),
]
Reporter = Annotated[
    Principal,
    Depends(
        Requires(submits_reports, "Reports are submitted by partners, for their organisation.")
    ),
]
