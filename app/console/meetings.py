"""Réunion: the meeting screen, made for the projector, and its minutes.

The page walks the agenda the API computes: attendance, reports awaiting triage, each open
problem (most urgent first) with its indicators, actions and what can be decided about it
in place, the overdue actions by organisation; then the meeting is closed and its minutes
shown. Every form posts to this module and works without JavaScript (the page comes back,
anchored on what changed); with htmx, only the changed part is redrawn.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from app import access
from app.actions import service as actions
from app.actions.schemas import ActionCreate, ActionOut
from app.console import charts, purpose
from app.console.auth import CsrfChecked, Person
from app.console.forms import Form, read_form
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.clock import today_in_paris
from app.core.db import DbSession
from app.core.errors import ApiError, NotFound
from app.core.exports import classification_headers
from app.core.visibility import classified
from app.gpos import service as gpos
from app.gpos.models import Gpo
from app.gpos.schemas import GpoOut
from app.identity.sessions import SignedIn
from app.indicators import service as indicators
from app.indicators.schemas import IndicatorOut, MeasurementCreate
from app.meetings import minutes as rendering
from app.meetings import service
from app.meetings.models import Meeting, MeetingStatus, Review
from app.meetings.schemas import Agenda, AgendaProblem, AgendaReport, MeetingUpdate, ReviewCreate
from app.problems import service as problems
from app.problems.models import Outcome, Problem, ProblemStatus
from app.problems.schemas import TransitionIn
from app.reference import service as reference
from app.reference.models import ActionKind, Category, Organisation
from app.reports import service as reports
from app.reports.schemas import Decision, DuplicateOut, TriageIn

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
MeetingOfGpo = tuple[Meeting, Gpo]


async def meeting_to_run(meeting_id: uuid.UUID, session: DbSession, me: Person) -> MeetingOfGpo:
    """The meeting: 404 unless the person sees its GPO, 403 unless it runs its meetings."""
    meeting, gpo = await service.get_meeting(session, me.principal, meeting_id)
    await access.require_meeting_runner(session, me.principal, gpo.id)
    return meeting, gpo


async def meeting_minutes(meeting_id: uuid.UUID, session: DbSession, me: Person) -> MeetingOfGpo:
    meeting, gpo = await service.get_meeting(session, me.principal, meeting_id)
    await access.require_minutes_reader(session, me.principal, gpo.id)
    return meeting, gpo


MeetingToRun = Annotated[MeetingOfGpo, Depends(meeting_to_run)]
MeetingMinutes = Annotated[MeetingOfGpo, Depends(meeting_minutes)]


# --- What the page shows ---------------------------------------------------------------------


@dataclass
class ProblemCard:
    problem: AgendaProblem
    indicators: list[IndicatorOut]
    actions: list[ActionOut]
    reviews: list[Review]
    moves: list[ProblemStatus]


@dataclass
class ReportCard:
    report: AgendaReport
    duplicates: list[DuplicateOut]


@dataclass
class MeetingPage:
    meeting: Meeting
    gpo: GpoOut
    agenda: Agenda
    members: list[tuple[Organisation, bool]]
    reports: list[ReportCard]
    cards: list[ProblemCard]
    overdue_by_organisation: dict[str, list[Any]]
    runs_gpo: bool
    kinds: list[ActionKind]
    organisations: list[Organisation]
    names: dict[uuid.UUID, str]
    categories: dict[str, str]
    communes: dict[str, str]
    today: date
    # Forms sent back with their errors, by key ("review:<problem id>"...).
    forms: dict[str, Form] = field(default_factory=dict)
    saved: str | None = None


CLOSING_OUTCOMES = [o for o in Outcome if o not in (Outcome.duplicate, Outcome.not_in_scope)]


async def build(session: DbSession, me: SignedIn, meeting: Meeting, gpo: Gpo) -> MeetingPage:
    principal = me.principal
    agenda = await service.agenda(session, principal, meeting, gpo)
    gpo_out = await gpos.out(session, gpo)
    organisations = await reference.all_organisations(session)
    names = {o.id: o.name for o in organisations}
    attending = set((await service.attendees_of(session, [meeting.id]))[meeting.id])
    members = [
        (o, o.id in attending)
        for o in organisations
        if o.id in set(gpo_out.member_organisation_ids)
    ]
    ids = [p.id for p in agenda.problems]
    by_indicators = await indicators.of_problems(session, principal, ids)
    by_actions = await actions.of_problems(session, principal, ids)
    reviews = await service.reviews_at(session, meeting.id)
    cards = [
        ProblemCard(
            problem=p,
            indicators=by_indicators[p.id],
            actions=by_actions[p.id],
            reviews=reviews[p.id],
            moves=problems.LIFECYCLE.targets(ProblemStatus(p.status)),
        )
        for p in agenda.problems
    ]
    # A few reports at a time await triage: one query each for their duplicates.
    report_cards = [
        ReportCard(
            report=r,
            duplicates=await reports.possible_duplicates(
                session,
                principal,
                r.category,
                r.commune_code,
                r.location.lat if r.location else None,
                r.location.lon if r.location else None,
            ),
        )
        for r in agenda.new_reports
    ]
    late: dict[str, list[Any]] = defaultdict(list)
    for action in agenda.overdue_actions:
        late[action.assignee_name].append(action)
    return MeetingPage(
        meeting=meeting,
        gpo=gpo_out,
        agenda=agenda,
        members=members,
        reports=report_cards,
        cards=cards,
        overdue_by_organisation=dict(sorted(late.items())),
        runs_gpo=await access.runs_gpo(session, principal, gpo.id),
        kinds=await reference.all_coded(session, ActionKind),
        organisations=organisations,
        names=names,
        categories={c.code: c.label_fr for c in await reference.all_coded(session, Category)},
        communes=await reference.commune_names(session),
        today=today_in_paris(),
    )


def _page(request: Request, me: SignedIn, page: MeetingPage, status: int = 200) -> Response:
    return render(
        request,
        "meetings/meeting.html",
        me=me,
        status=status,
        page_title=f"Réunion du {page.gpo.name}",
        page=page,
        charts=charts,
        outcomes=CLOSING_OUTCOMES,
        new_outcomes=[Outcome.duplicate, Outcome.not_in_scope],
        decisions=Decision,
        classified=classified(p.visibility for p in page.agenda.problems),
    )


@router.get("/console/reunions/{meeting_id}")
async def meeting_page(
    request: Request, target: MeetingToRun, session: DbSession, me: Person
) -> Response:
    meeting, gpo = target
    page = await build(session, me, meeting, gpo)
    await purpose.log_read(
        request, session, me, problem_ids=service.problems_of_agenda(page.agenda)
    )
    page.saved = request.query_params.get("enregistre")
    return _page(request, me, page)


# --- Answers to the forms: the changed part with htmx, else the page again --------------------

FRAGMENTS = {
    "presences": "meetings/_attendance.html",
    "ordre-du-jour": "meetings/_agenda.html",
}


async def _answer(
    request: Request,
    session: DbSession,
    me: SignedIn,
    target: MeetingOfGpo,
    *,
    key: str,
    anchor: str,
    form: Form | None = None,
) -> Response:
    """After a form: the part that changed (htmx), or the page anchored on it; with the
    form's errors (422) when it was refused."""
    failed = form is not None and bool(form.errors)
    meeting, gpo = target
    if not failed and "hx-request" not in request.headers:
        return RedirectResponse(
            f"/console/reunions/{meeting.id}?enregistre={key}#{anchor}", status_code=303
        )
    page = await build(session, me, meeting, gpo)
    if form is not None and failed:
        page.forms[key] = form
    else:
        page.saved = key
    status = 422 if failed else 200
    if "hx-request" not in request.headers:
        return _page(request, me, page, status)
    template, context = _fragment(anchor, page)
    return render(
        request,
        template,
        me=me,
        status=200,  # htmx swaps only 2xx answers: the errors are in the fragment
        page=page,
        charts=charts,
        outcomes=CLOSING_OUTCOMES,
        new_outcomes=[Outcome.duplicate, Outcome.not_in_scope],
        decisions=Decision,
        **context,
    )


def _fragment(anchor: str, page: MeetingPage) -> tuple[str, dict[str, Any]]:
    if anchor.startswith("probleme-"):
        problem_id = uuid.UUID(anchor.removeprefix("probleme-"))
        card = next((c for c in page.cards if c.problem.id == problem_id), None)
        if card is not None:
            return "meetings/_problem.html", {"card": card}
        # A problem just closed is off the agenda: the agenda is drawn again.
        return FRAGMENTS["ordre-du-jour"], {}
    return FRAGMENTS.get(anchor, FRAGMENTS["ordre-du-jour"]), {}


async def _attempt(form: Form, work: Any) -> None:
    """Run a change; a refusal of the service is shown on the form."""
    try:
        await work
    except ApiError as exc:
        form.refused(exc)


FORM_TITLES = {"action": "Décider une action", "statut": "Changer le statut ou clore"}


@router.get("/console/reunions/{meeting_id}/problemes/{problem_id}/formulaires/{which}")
async def problem_form(
    request: Request,
    problem_id: uuid.UUID,
    which: Literal["action", "statut"],
    target: MeetingToRun,
    session: DbSession,
    me: Person,
) -> Response:
    """One of a problem's forms: the part htmx puts in the card when it is opened, or a page
    of its own without JavaScript (its answer brings the meeting back)."""
    meeting, gpo = target
    problem = await problems.get_problem(session, me.principal, problem_id)
    if problem.gpo_id != gpo.id:
        raise NotFound("No such problem.")
    await access.require_runner(session, me.principal, gpo.id)
    organisations = await reference.all_organisations(session)
    context: dict[str, Any] = {
        "page": FormContext(
            meeting=meeting,
            kinds=await reference.all_coded(session, ActionKind),
            organisations=organisations,
        ),
        "p": problem,
        "f": None,
        "which": which,
        "title": FORM_TITLES[which],
        "moves": problems.LIFECYCLE.targets(problem.status),
        "outcomes": CLOSING_OUTCOMES,
        "new_outcomes": [Outcome.duplicate, Outcome.not_in_scope],
        "standalone": "hx-request" not in request.headers,
    }
    template = (
        "meetings/form_page.html" if context["standalone"] else f"meetings/_form_{which}.html"
    )
    return render(request, template, me=me, page_title=FORM_TITLES[which], **context)


@dataclass
class FormContext:
    """What a problem's forms read of the meeting page."""

    meeting: Meeting
    kinds: list[ActionKind]
    organisations: list[Organisation]


@router.post("/console/reunions/{meeting_id}/presences", dependencies=[CsrfChecked])
async def attendance(
    request: Request, target: MeetingToRun, session: DbSession, me: Person
) -> Response:
    meeting, gpo = target
    form = await read_form(request)
    data = form.parse(MeetingUpdate, attendee_organisation_ids=form.getlist("presents"))
    if data is not None:
        locked, _ = await service.get_meeting(session, me.principal, meeting.id, for_update=True)
        await _attempt(form, service.update_meeting(session, me.principal, locked, gpo, data))
    return await _answer(
        request, session, me, target, key="presences", anchor="presences", form=form
    )


@router.post("/console/reunions/{meeting_id}/signalements/{report_id}", dependencies=[CsrfChecked])
async def triage(
    request: Request, report_id: uuid.UUID, target: MeetingToRun, session: DbSession, me: Person
) -> Response:
    _meeting, gpo = target
    form = await read_form(request)
    report = await reports.get_report(session, me.principal, report_id, for_update=True)
    if report.gpo_id != gpo.id:
        raise NotFound("No such report.")
    await access.require_runner(session, me.principal, gpo.id)
    data = form.parse(TriageIn)
    if data is not None:
        await _attempt(form, reports.triage(session, me.principal, report, data))
    return await _answer(
        request, session, me, target, key=f"triage:{report_id}", anchor="ordre-du-jour", form=form
    )


async def _problem_of_meeting(
    session: DbSession, me: SignedIn, gpo: Gpo, problem_id: uuid.UUID
) -> Problem:
    problem = await problems.get_problem(session, me.principal, problem_id, for_update=True)
    if problem.gpo_id != gpo.id:
        raise NotFound("No such problem.")
    return problem


@router.post(
    "/console/reunions/{meeting_id}/problemes/{problem_id}/examen", dependencies=[CsrfChecked]
)
async def review(
    request: Request, problem_id: uuid.UUID, target: MeetingToRun, session: DbSession, me: Person
) -> Response:
    meeting, gpo = target
    form = await read_form(request)
    await _problem_of_meeting(session, me, gpo, problem_id)
    data = form.parse(ReviewCreate, problem_id=problem_id)
    if data is not None:
        await _attempt(form, service.add_review(session, me.principal, meeting, gpo, data))
    return await _answer(
        request,
        session,
        me,
        target,
        key=f"review:{problem_id}",
        anchor=f"probleme-{problem_id}",
        form=form,
    )


async def meeting_problem_to_run(
    problem_id: uuid.UUID, target: MeetingToRun, session: DbSession, me: Person
) -> Problem:
    """A problem of the meeting's GPO, locked, that the person runs (403 otherwise)."""
    _, gpo = target
    problem = await _problem_of_meeting(session, me, gpo, problem_id)
    await access.require_runner(session, me.principal, gpo.id)
    return problem


MeetingProblemToRun = Annotated[Problem, Depends(meeting_problem_to_run)]


async def _answer_on_problem(
    request: Request,
    session: DbSession,
    me: SignedIn,
    target: MeetingOfGpo,
    kind: str,
    problem: Problem,
    form: Form,
) -> Response:
    return await _answer(
        request,
        session,
        me,
        target,
        key=f"{kind}:{problem.id}",
        anchor=f"probleme-{problem.id}",
        form=form,
    )


@router.post(
    "/console/reunions/{meeting_id}/problemes/{problem_id}/actions", dependencies=[CsrfChecked]
)
async def decide_action(
    request: Request,
    problem: MeetingProblemToRun,
    target: MeetingToRun,
    session: DbSession,
    me: Person,
) -> Response:
    meeting, _ = target
    form = await read_form(request)
    data = form.parse(ActionCreate, decided_at_meeting_id=meeting.id)
    if data is not None:
        await _attempt(form, actions.create_action(session, me.principal, problem, data))
    return await _answer_on_problem(request, session, me, target, "action", problem, form)


@router.post(
    "/console/reunions/{meeting_id}/problemes/{problem_id}/statut", dependencies=[CsrfChecked]
)
async def move(
    request: Request,
    problem: MeetingProblemToRun,
    target: MeetingToRun,
    session: DbSession,
    me: Person,
) -> Response:
    form = await read_form(request)
    data = form.parse(TransitionIn)
    if data is not None:
        await _attempt(form, problems.transition(session, me.principal, problem, data))
    return await _answer_on_problem(request, session, me, target, "status", problem, form)


@router.post(
    "/console/reunions/{meeting_id}/indicateurs/{indicator_id}/mesures", dependencies=[CsrfChecked]
)
async def measure(
    request: Request, indicator_id: uuid.UUID, target: MeetingToRun, session: DbSession, me: Person
) -> Response:
    _meeting, gpo = target
    form = await read_form(request)
    indicator, problem = await indicators.get_indicator(
        session, me.principal, indicator_id, for_update=True
    )
    if problem.gpo_id != gpo.id:
        raise NotFound("No such indicator.")
    await access.require_runner(session, me.principal, gpo.id)
    data = form.parse(MeasurementCreate)
    if data is not None:
        await _attempt(
            form, indicators.add_measurement(session, me.principal, indicator, problem, data)
        )
    return await _answer(
        request,
        session,
        me,
        target,
        key=f"measure:{indicator_id}",
        anchor=f"probleme-{problem.id}",
        form=form,
    )


@router.post("/console/reunions/{meeting_id}/clore", dependencies=[CsrfChecked])
async def close_meeting(
    request: Request, target: MeetingToRun, session: DbSession, me: Person
) -> Response:
    meeting, gpo = target
    form = await read_form(request)
    locked, _ = await service.get_meeting(session, me.principal, meeting.id, for_update=True)
    data = form.parse(MeetingUpdate, status=MeetingStatus.held.value)
    if data is not None:
        await _attempt(form, service.update_meeting(session, me.principal, locked, gpo, data))
    if form.errors:
        page = await build(session, me, meeting, gpo)
        page.forms["close"] = form
        return _page(request, me, page, 422)
    return RedirectResponse(f"/console/reunions/{meeting.id}/compte-rendu", status_code=303)


# --- The minutes ------------------------------------------------------------------------------


@router.get("/console/reunions/{meeting_id}/compte-rendu")
async def minutes_page(
    request: Request, target: MeetingMinutes, session: DbSession, me: Person
) -> Response:
    meeting, gpo = target
    content = await service.minutes(session, me.principal, meeting, gpo)
    await purpose.log_read(request, session, me, problem_ids=content.problem_ids)
    header, sections = rendering.sections(content)
    return render(
        request,
        "meetings/minutes.html",
        me=me,
        page_title=f"Compte rendu — {gpo.name}",
        meeting=meeting,
        gpo=gpo,
        header=header,
        sections=sections,
        runs=await access.runs_meetings(session, me.principal, gpo.id),
        classified=content.classified,
    )


@router.get("/console/reunions/{meeting_id}/compte-rendu.md")
async def minutes_markdown(
    request: Request, target: MeetingMinutes, session: DbSession, me: Person
) -> Response:
    meeting, gpo = target
    content = await service.minutes(session, me.principal, meeting, gpo)
    await purpose.log_read(request, session, me, problem_ids=content.problem_ids)
    filename = f"compte-rendu-{meeting.scheduled_at.date().isoformat()}.md"
    return PlainTextResponse(
        rendering.markdown(content),
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            **classification_headers(content.classified),
        },
    )
