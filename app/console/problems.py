"""Problèmes: the list with the API's filters, a map, and a problem's page (its fields, for
its facilitators to edit; its timeline, comments, indicators, actions and reports)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from app import access, wording
from app.actions import service as actions
from app.console import charts, purpose
from app.console.auth import CsrfChecked, Person
from app.console.forms import Form, read_form
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.db import DbSession
from app.core.errors import ApiError, BadRequest
from app.core.pagination import Paging
from app.core.visibility import Visibility, at_least, classified
from app.governance import service as governance
from app.gpos import service as gpos
from app.identity.sessions import SignedIn
from app.indicators import service as indicators
from app.indicators.models import Direction
from app.indicators.schemas import IndicatorCreate
from app.problems import service
from app.problems.models import Displacement, Outcome, Priority, Problem, ProblemStatus
from app.problems.schemas import CommentCreate, ProblemUpdate, TransitionIn
from app.reference import service as reference
from app.reference.models import Category
from app.reports import service as reports

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50


# --- The list -------------------------------------------------------------------------------


def _filters(request: Request, *, located_only: bool) -> service.Filters:
    """The API's filters, from the page's query string (French names); 400 if malformed."""
    query = request.query_params
    try:
        statuses = [ProblemStatus(value) for value in query.getlist("statut") if value]
        gpo_id = uuid.UUID(query["gpo"]) if query.get("gpo") else None
        priority = Priority(query["priorite"]) if query.get("priorite") else None
    except ValueError:
        raise BadRequest("Invalid filter.") from None
    text = (query.get("q") or "").strip()[:200] or None
    return service.Filters(
        statuses=statuses,
        gpo_id=gpo_id,
        commune_code=query.get("commune") or None,
        category=query.get("categorie") or None,
        priority=priority.value if priority else None,
        has_overdue_actions=True if query.get("en_retard") else None,
        q=text,
        located_only=located_only,
    )


@router.get("/console/problemes")
async def problem_list(request: Request, session: DbSession, me: Person) -> Response:
    on_map = request.query_params.get("vue") == "carte"
    filters = _filters(request, located_only=on_map)
    paging = Paging(request, PAGE_SIZE, request.query_params.get("cursor"))
    page = await service.list_problems(session, me.principal, filters, "-priority", paging)
    await purpose.log_read(request, session, me, resource_ids=governance.logged_ids(page.items))
    summaries = await gpos.summaries(session, me.principal)
    next_query = None
    if page.next_cursor:
        pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        next_query = [*pairs, ("cursor", page.next_cursor)]
    return render(
        request,
        "problems/list.html",
        me=me,
        page_title="Problèmes",
        page=page,
        filters=filters,
        on_map=on_map,
        next_query=next_query,
        gpo_names={s.gpo.id: s.gpo.name for s in summaries},
        categories=await reference.all_coded(session, Category),
        communes=await reference.commune_names(session),
        statuses=list(ProblemStatus),
    )


# --- A problem's page ---------------------------------------------------------------------


async def visible_problem(problem_id: uuid.UUID, session: DbSession, me: Person) -> Problem:
    """The problem, or the 404 page for one the person may not see."""
    return await service.get_problem(session, me.principal, problem_id)


VisibleProblem = Annotated[Problem, Depends(visible_problem)]


async def _page(
    request: Request,
    session: DbSession,
    me: SignedIn,
    problem_id: uuid.UUID,
    *,
    status: int = 200,
    forms: dict[str, Form] | None = None,
    saved: str | None = None,
) -> Response:
    principal = me.principal
    view = await service.view(session, principal, problem_id)
    runs = await access.runs_gpo(session, principal, view.gpo_id)
    big = Paging(request, 200, None)
    problem = await service.get_problem(session, principal, problem_id)
    timeline = await service.timeline(session, principal, problem, big)
    comments = await service.list_comments(session, principal, problem, big)
    logged = governance.is_logged(view.visibility) or governance.logged_ids(comments.items)
    await purpose.log_read(request, session, me, resource_ids=[problem_id] if logged else [])
    attached = await reports.list_reports(
        session, principal, reports.Filters(problem_id=problem_id), big
    )
    organisations = await reference.all_organisations(session)
    categories = await reference.all_coded(session, Category)
    # A sensitive category's problem is not offered a visibility below its floor.
    category = next(c for c in categories if c.code == view.category)
    floor = service.visibility_floor(category)
    # A comment may be as strict as the problem or stricter, within what its author reads.
    levels = [
        level for level in access.readable(principal) if at_least(level, view.visibility) == level
    ]
    shown_actions = (await actions.of_problems(session, principal, [problem_id]))[problem_id]
    shown_indicators = (await indicators.of_problems(session, principal, [problem_id]))[problem_id]
    return render(
        request,
        "problems/page.html",
        me=me,
        status=status,
        page_title=f"{view.reference} — {view.title}",
        problem=view,
        runs=runs,
        gpo=await gpos.out(session, await gpos.get_gpo(session, principal, view.gpo_id)),
        timeline=timeline.items,
        comments=comments.items,
        indicators=shown_indicators,
        actions=shown_actions,
        reports=attached.items,
        names={o.id: o.name for o in organisations},
        categories=categories,
        communes=await reference.commune_names(session),
        priorities=list(Priority),
        visibilities=[v for v in Visibility if at_least(v, floor) == v],
        sensitive=category.sensitive,
        displacements=list(Displacement),
        directions=list(Direction),
        levels=levels,
        moves=service.LIFECYCLE.targets(view.status),
        outcomes=_outcomes(view.status),
        charts=charts,
        forms=forms or {},
        saved=saved or request.query_params.get("enregistre"),
        last_change=await service.last_change(session, problem_id),
        classified=classified(
            [
                view.visibility,
                *(c.visibility for c in comments.items),
                *(a.visibility for a in shown_actions if a.description or a.result_note),
                *(i.visibility for i in shown_indicators if i.source),
            ]
        ),
    )


def _outcomes(status: ProblemStatus) -> list[Outcome]:
    if status is ProblemStatus.new:
        return [Outcome.duplicate, Outcome.not_in_scope]
    return [o for o in Outcome if o not in (Outcome.duplicate, Outcome.not_in_scope)]


@router.get("/console/problemes/{problem_id}")
async def problem_page(
    request: Request, problem: VisibleProblem, session: DbSession, me: Person
) -> Response:
    return await _page(request, session, me, problem.id)


async def _after(
    request: Request, session: DbSession, me: SignedIn, problem_id: uuid.UUID, key: str, form: Form
) -> Response:
    """The page anchored on what changed, or again with the form's errors (422)."""
    if form.errors:
        return await _page(request, session, me, problem_id, status=422, forms={key: form})
    return RedirectResponse(
        f"/console/problemes/{problem_id}?enregistre={key}#{key}", status_code=303
    )


async def _attempt(form: Form, work: Any) -> None:
    try:
        await work
    except ApiError as exc:
        form.refused(exc)


@router.post("/console/problemes/{problem_id}", dependencies=[CsrfChecked])
async def edit(request: Request, problem_id: uuid.UUID, session: DbSession, me: Person) -> Response:
    """The facilitators edit the fields; an edit made meanwhile by someone else is not
    overwritten (the form carries the version it was read at)."""
    problem = await service.get_problem(session, me.principal, problem_id, for_update=True)
    await access.require_runner(session, me.principal, problem.gpo_id)
    form = await read_form(request)
    if form.get("version") != str(problem.version):
        change = await service.last_change(session, problem.id)
        who = f" par {change[0]} le {wording.moment(change[1])}" if change else ""
        form.errors["formulaire"] = (
            f"Ce problème a été modifié entre-temps{who}. Vos changements n'ont pas été "
            "enregistrés : la fiche ci-dessous est à jour, refaites-les si besoin."
        )
        return await _page(request, session, me, problem.id, status=409, forms={"fiche": form})
    fields = {
        "title", "description", "category", "commune_code", "priority", "visibility",
        "objective", "time_pattern", "displacement", "location",
    }  # fmt: skip
    data = form.parse(ProblemUpdate, fields=fields, blanks_clear=True)
    if data is not None:
        await _attempt(form, service.update_problem(session, me.principal, problem, data))
    return await _after(request, session, me, problem.id, "fiche", form)


@router.post("/console/problemes/{problem_id}/statut", dependencies=[CsrfChecked])
async def move(request: Request, problem_id: uuid.UUID, session: DbSession, me: Person) -> Response:
    problem = await service.get_problem(session, me.principal, problem_id, for_update=True)
    await access.require_runner(session, me.principal, problem.gpo_id)
    form = await read_form(request)
    data = form.parse(TransitionIn)
    if data is not None:
        await _attempt(form, service.transition(session, me.principal, problem, data))
    return await _after(request, session, me, problem.id, "statut", form)


@router.post("/console/problemes/{problem_id}/commentaires", dependencies=[CsrfChecked])
async def comment(
    request: Request, problem: VisibleProblem, session: DbSession, me: Person
) -> Response:
    form = await read_form(request)
    data = form.parse(CommentCreate)
    if data is not None:
        await _attempt(form, service.add_comment(session, me.principal, problem, data))
    return await _after(request, session, me, problem.id, "commentaires", form)


@router.post("/console/problemes/{problem_id}/indicateurs", dependencies=[CsrfChecked])
async def add_indicator(
    request: Request, problem: VisibleProblem, session: DbSession, me: Person
) -> Response:
    await access.require_runner(session, me.principal, problem.gpo_id)
    form = await read_form(request)
    data = form.parse(IndicatorCreate)
    if data is not None:
        await _attempt(form, indicators.create_indicator(session, me.principal, problem, data))
    return await _after(request, session, me, problem.id, "indicateurs", form)
