"""Mon organisation: a partner's own screen.

The actions assigned to its organisation (soonest due first, overdue ones said so), each
with its status and result to update; the organisation's reports and what became of them;
a form to send a report, then the report as sent with the open problems it may duplicate.
What the partner reads of an action's problem is what `app.access` lets it see: an action on
a problem hidden from it shows without the problem. Every form works without JavaScript (a
redirect after success); with htmx, an action's row is redrawn in place.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from app import access
from app.actions import service as actions
from app.actions.models import OPEN_STATUSES, Action
from app.actions.schemas import ActionUpdate, ActionWithProblem
from app.console import listing
from app.console.auth import CsrfChecked, Person
from app.console.forms import Form, read_form
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.concurrency import check_if_match
from app.core.db import DbSession
from app.core.errors import ApiError, Forbidden, NotFound
from app.core.pagination import Paging
from app.core.visibility import text_level
from app.identity.sessions import SignedIn
from app.problems.models import Problem
from app.reference import service as reference
from app.reference.models import ActionKind, Category, Organisation
from app.reports import service as reports
from app.reports.models import ReportStatus
from app.reports.schemas import ReportCreate

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
BASE = "/console/mon-organisation"
OPEN_ACTIONS_SHOWN = 100
ACTIONS_PER_PAGE = 50
REPORTS_PER_PAGE = 20


@dataclass(frozen=True)
class Member:
    """A partner, signed in, and the organisation it acts for."""

    me: SignedIn
    organisation: Organisation


async def organisation_member(session: DbSession, me: Person) -> Member:
    """The signed-in partner and its organisation; anyone else is refused (403)."""
    organisation_id = access.member_organisation(me.principal)
    if organisation_id is None:
        raise Forbidden(
            "This screen is a partner's, for its organisation.",
            fr="Cet écran est celui des partenaires : il montre les actions et les "
            "signalements de leur organisation.",
        )
    return Member(me, await reference.get_organisation(session, organisation_id))


OrganisationMember = Annotated[Member, Depends(organisation_member)]


async def _labels(session: DbSession) -> dict[str, Any]:
    """French names of the codes the pages show (categories, communes, action kinds)."""
    return {
        "categories": {c.code: c.label_fr for c in await reference.all_coded(session, Category)},
        "communes": await reference.commune_names(session),
        "kinds": {k.code: k.label_fr for k in await reference.all_coded(session, ActionKind)},
    }


def _page(request: Request, member: Member, template: str, **context: Any) -> Response:
    return render(
        request,
        template,
        me=member.me,
        organisation=member.organisation,
        moves=actions.LIFECYCLE.targets,
        **context,
    )


# --- The organisation's actions and reports -----------------------------------------------


@router.get(BASE)
async def home(request: Request, session: DbSession, member: OrganisationMember) -> Response:
    principal = member.me.principal
    to_do = await actions.list_with_problem(
        session,
        principal,
        actions.Filters(statuses=OPEN_STATUSES, assignee_organisation_id=member.organisation.id),
        "due_date",
        Paging(request, OPEN_ACTIONS_SHOWN, None),
    )
    sent = await reports.list_reports(
        session, principal, reports.Filters(), listing.paging(request, REPORTS_PER_PAGE)
    )
    return _page(
        request,
        member,
        "organisation/index.html",
        page_title="Mon organisation",
        actions=to_do.items,
        more_actions=to_do.next_cursor is not None,
        reports=sent.items,
        next_url=listing.next_page_url(request, sent.next_cursor),
        first_url=listing.first_page_url(request),
        **await _labels(session),
    )


@router.get(BASE + "/actions")
async def all_actions(request: Request, session: DbSession, member: OrganisationMember) -> Response:
    """Every action of the organisation, finished ones included, soonest due first."""
    found = await actions.list_with_problem(
        session,
        member.me.principal,
        actions.Filters(assignee_organisation_id=member.organisation.id),
        "due_date",
        listing.paging(request, ACTIONS_PER_PAGE),
    )
    return _page(
        request,
        member,
        "organisation/actions.html",
        page_title="Actions de mon organisation",
        actions=found.items,
        next_url=listing.next_page_url(request, found.next_cursor),
        first_url=listing.first_page_url(request),
        **await _labels(session),
    )


# --- One action: its status and result ----------------------------------------------------


async def _assigned(
    session: DbSession, member: Member, action_id: uuid.UUID, *, lock: bool = False
) -> tuple[Action, Problem]:
    """An action of the organisation (the screen shows no other: 404)."""
    action, problem = await actions.get_action(
        session, member.me.principal, action_id, for_update=lock
    )
    if action.assignee_organisation_id != member.organisation.id:
        raise NotFound("No such action of the organisation.")
    return action, problem


async def _action_page(
    request: Request,
    session: DbSession,
    member: Member,
    action: ActionWithProblem,
    *,
    form: Form | None = None,
    status: int = 200,
    saved: bool = False,
) -> Response:
    return render(
        request,
        "organisation/action.html",
        me=member.me,
        status=status,
        page_title=f"Action « {action.title} »",
        organisation=member.organisation,
        moves=actions.LIFECYCLE.targets,
        action=action,
        form=form,
        saved=saved,
        **await _labels(session),
    )


@router.get(BASE + "/actions/{action_id}")
async def action_page(
    request: Request, action_id: uuid.UUID, session: DbSession, member: OrganisationMember
) -> Response:
    await _assigned(session, member, action_id)
    view = await actions.view_with_problem(session, member.me.principal, action_id)
    saved = request.query_params.get("enregistre") == "1"
    return await _action_page(request, session, member, view, saved=saved)


def _cleared(form: Form, name: str) -> bool:
    """The field was sent empty (a PATCH leaves an empty field out: this clears it)."""
    return name in form.values and not form.get(name)


@router.post(BASE + "/actions/{action_id}", dependencies=[CsrfChecked])
async def update_action(
    request: Request, action_id: uuid.UUID, session: DbSession, member: OrganisationMember
) -> Response:
    """The assignee's status and result note, through the service (which refuses any other
    field from it); a form made from an older version is refused, not applied."""
    principal = member.me.principal
    action, problem = await _assigned(session, member, action_id, lock=True)
    form = await read_form(request)
    refused: int | None = None
    try:
        check_if_match(f'"{form.get("version")}"', action.version)
        data = form.parse(ActionUpdate)
        if data is not None:
            # A note the member may not read is not shown in the form: left empty, it stays.
            reads_note = access.may_write_at(
                principal, text_level(action.visibility, problem.visibility)
            )
            if _cleared(form, "result_note") and action.result_note is not None and reads_note:
                data = ActionUpdate.model_validate(data.provided() | {"result_note": None})
            await actions.update_action(session, principal, action, problem, data)
    except ApiError as exc:
        form.refused(exc)
        refused = exc.status
    failed = bool(form.errors)
    htmx = "hx-request" in request.headers
    if not failed and not htmx:
        return RedirectResponse(f"{BASE}/actions/{action_id}?enregistre=1", status_code=303)
    view = await actions.view_with_problem(session, principal, action_id)
    if not htmx:
        return await _action_page(request, session, member, view, form=form, status=refused or 422)
    return render(
        request,
        "organisation/_action.html",
        me=member.me,
        status=200,  # htmx swaps only 2xx answers: the errors are in the fragment
        organisation=member.organisation,
        moves=actions.LIFECYCLE.targets,
        action=view,
        form=form if failed else None,
        saved=not failed,
        inline=True,
        **await _labels(session),
    )


# --- Reports: sending one, following it ---------------------------------------------------


async def _report_form(
    request: Request,
    session: DbSession,
    member: Member,
    form: Form | None = None,
    *,
    status: int = 200,
) -> Response:
    communes = await reference.commune_names(session)
    return render(
        request,
        "organisation/report_form.html",
        me=member.me,
        status=status,
        page_title="Envoyer un signalement",
        organisation=member.organisation,
        form=form,
        categories=await reference.reportable_categories(session),
        communes=sorted(communes.items(), key=lambda pair: pair[1]),
    )


@router.get(BASE + "/signalements/nouveau")
async def new_report(request: Request, session: DbSession, member: OrganisationMember) -> Response:
    return await _report_form(request, session, member)


@router.get(BASE + "/signalements")
async def reports_list(member: OrganisationMember) -> Response:
    """The reports are listed on the organisation's page."""
    return RedirectResponse(f"{BASE}#signalements", status_code=303)


@router.post(BASE + "/signalements", dependencies=[CsrfChecked])
async def send_report(request: Request, session: DbSession, member: OrganisationMember) -> Response:
    """The same intake as the API's; then the report as sent, with its possible
    duplicates."""
    form = await read_form(request)
    data = form.parse(ReportCreate, observed_at=form.instant("observed_date", "observed_time"))
    if data is not None:
        try:
            created = await reports.intake(session, member.me.principal, data)
        except ApiError as exc:
            form.refused(exc)
        else:
            return RedirectResponse(f"{BASE}/signalements/{created.id}?envoye=1", status_code=303)
    return await _report_form(request, session, member, form, status=422)


@router.get(BASE + "/signalements/{report_id}")
async def report_page(
    request: Request, report_id: uuid.UUID, session: DbSession, member: OrganisationMember
) -> Response:
    """One of the organisation's reports, its follow-up and, while it awaits triage, the
    open problems nearby it may duplicate (those the partner may see)."""
    principal = member.me.principal
    report = await reports.view(session, principal, report_id)
    duplicates = []
    if report.status is ReportStatus.received:
        location = report.location
        duplicates = await reports.possible_duplicates(
            session,
            principal,
            report.category,
            report.commune_code,
            location.lat if location else None,
            location.lon if location else None,
        )
    return _page(
        request,
        member,
        "organisation/report.html",
        page_title=f"Signalement {report.reference}",
        report=report,
        duplicates=duplicates,
        sent=request.query_params.get("envoye") == "1",
        **await _labels(session),
    )
