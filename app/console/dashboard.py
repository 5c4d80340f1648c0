"""Tableau de bord: the overview of the problems a person sees, as charts, and the contract's
annual evaluation, as tables and as CSV and xlsx downloads.

For those who read figures (`access.reads_figures`: commanders and admins, facilitators for
their GPOs); partners get the 403 page. Every figure comes from `app.figures.service`, the
functions behind `/api/v1/stats/overview` and `/api/v1/evaluations/annual`, over the same
scope: this module only reads the filters, names what the figures are keyed by (statuses,
categories, communes, organisations) and lays them out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app import access, wording
from app.console import charts
from app.console.auth import Person
from app.console.forms import Form
from app.console.rendering import render
from app.console.routing import ConsoleRoute, error_page
from app.core import exports
from app.core.clock import parse_instant, today_in_paris
from app.core.db import DbSession
from app.core.errors import Forbidden
from app.core.schemas import CommuneCode, Day, Input
from app.figures import service as figures
from app.figures.schemas import Overview
from app.gpos.models import Gpo
from app.identity.principal import Principal
from app.identity.sessions import SignedIn
from app.problems.models import Outcome, ProblemStatus
from app.reference import service as reference
from app.reference.models import Category

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/console/tableau-de-bord"
CSV_PATH = f"{PAGE}/evaluation.csv"
XLSX_PATH = f"{PAGE}/evaluation.xlsx"
REFUSED = (
    "Le tableau de bord est réservé au commandement, aux administrateurs et aux animateurs des GPO."
)


async def figures_reader(me: Person) -> SignedIn:
    """The signed-in person, if it reads figures (the rule of the API's `FiguresReader`)."""
    if not access.reads_figures(me.principal):
        raise Forbidden("Figures are for commanders, admins and facilitators.", fr=REFUSED)
    return me


Reader = Annotated[SignedIn, Depends(figures_reader)]


# --- Filters -----------------------------------------------------------------------------------


class Filters(Input):
    """The page's query string, named as the API's parameters (a bookmarkable URL)."""

    gpo_id: uuid.UUID | None = None
    commune_code: CommuneCode | None = None
    created_from: Day | None = Field(default=None, alias="from")
    created_to: Day | None = Field(default=None, alias="to")
    year: int | None = Field(default=None, ge=2000, le=2100)


FILTER_FIELDS = ("gpo_id", "commune_code", "from", "to", "year")


@dataclass(frozen=True)
class Names:
    """What the figures are keyed by, named: the GPOs the person sees (its choices), the
    communes, categories and organisations."""

    gpos: dict[str, str]
    communes: dict[str, str]
    categories: dict[str, str]
    organisations: dict[str, str]


async def names_for(session: AsyncSession, principal: Principal) -> Names:
    gpos = await session.execute(
        select(Gpo.id, Gpo.name).where(access.gpo_scope(principal, Gpo.id)).order_by(Gpo.name)
    )
    communes = await reference.commune_names(session)
    return Names(
        gpos={str(gpo_id): name for gpo_id, name in gpos},
        communes=dict(sorted(communes.items(), key=lambda item: item[1])),
        categories={c.code: c.label_fr for c in await reference.all_coded(session, Category)},
        organisations={str(o.id): o.name for o in await reference.all_organisations(session)},
    )


def read_filters(
    request: Request, names: Names | None, fields: tuple[str, ...] = FILTER_FIELDS
) -> tuple[Form, Filters | None]:
    """The filters of the query string, and the form that shows them back with an error
    in French next to each invalid one (the filters are None then). With `names`, a GPO
    must be one the person sees and a commune a signatory one."""
    form = Form({name: request.query_params.getlist(name) for name in fields})
    filters = form.parse(Filters)
    if filters is None or names is None:
        return form, filters
    if filters.gpo_id is not None and str(filters.gpo_id) not in names.gpos:
        form.errors["gpo_id"] = wording.FIELD_ERRORS["choice"]
    if filters.commune_code is not None and filters.commune_code not in names.communes:
        form.errors["commune_code"] = wording.FIELD_ERRORS["choice"]
    start, end = filters.created_from, filters.created_to
    if start is not None and end is not None and end < start:
        form.errors["to"] = "La date de fin précède la date de début."
    return form, None if form.errors else filters


def overview_filters(filters: Filters) -> figures.OverviewFilters:
    """As the API reads `from` and `to`: Europe/Paris days, `to` included."""

    def instant(day: date | None, *, end_of_day: bool = False) -> datetime | None:
        return None if day is None else parse_instant(day.isoformat(), end_of_day=end_of_day)

    return figures.OverviewFilters(
        gpo_id=filters.gpo_id,
        commune_code=filters.commune_code,
        created_from=instant(filters.created_from),
        created_to=instant(filters.created_to, end_of_day=True),
    )


def sentence(text: str) -> str:
    """`text` with a capital first letter (and the others left as they are: "GPO")."""
    return text[:1].upper() + text[1:]


def scope_sentence(filters: Filters, names: Names) -> str:
    """What the overview counts, in French."""
    parts = []
    if filters.gpo_id is not None:
        parts.append(names.gpos[str(filters.gpo_id)])
    if filters.commune_code is not None:
        parts.append(f"commune de {names.communes[filters.commune_code]}")
    start, end = filters.created_from, filters.created_to
    if start is not None and end is not None:
        parts.append(f"problèmes créés du {wording.day(start)} au {wording.day(end)}")
    elif start is not None:
        parts.append(f"problèmes créés depuis le {wording.day(start)}")
    elif end is not None:
        parts.append(f"problèmes créés jusqu'au {wording.day(end)}")
    return sentence(" ; ".join(parts) + ".") if parts else "Tous les problèmes, sans filtre."


# --- What the page shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFigure:
    label: str
    value: str
    hint: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    key_header: str
    value_header: str
    bars: list[charts.Bar]
    svg: Markup | None
    empty: str


def days(value: float) -> str:
    """41,5 jours; 1 jour (French puts the singular below two)."""
    return f"{wording.number(value)} jour{'s' if value >= 2 else ''}"


def percent(ratio: float) -> str:
    return f"{wording.number(round(ratio * 100))}\u00a0%"


def key_figures(overview: Overview) -> list[KeyFigure]:
    median, ratio = overview.median_days_to_close, overview.closed_with_evidence_ratio
    return [
        KeyFigure(
            "Problèmes",
            str(sum(overview.problems_by_status.values())),
            "tous statuts confondus",
        ),
        KeyFigure(
            "Délai médian de clôture",
            days(median) if median is not None else "—",
            "des problèmes clos, de leur création à leur clôture"
            if median is not None
            else "aucun problème clos pour ces filtres",
        ),
        KeyFigure(
            "Clôtures étayées par des mesures",
            percent(ratio) if ratio is not None else "—",
            "des problèmes clos (hors doublons et hors champ) ont un indicateur mesuré "
            "après sa référence"
            if ratio is not None
            else "aucun problème clos pour ces filtres (hors doublons et hors champ)",
        ),
    ]


def chart(
    chart_id: str,
    title: str,
    key_header: str,
    value_header: str,
    counts: dict[str, int],
    label_of: dict[str, str],
    *,
    empty: str,
    alert: bool = False,
    ordered: bool = False,
) -> Chart:
    """Bars by count (largest first), or in the given order when `ordered` (statuses)."""
    bars = [charts.Bar(label_of.get(key, key), count, alert) for key, count in counts.items()]
    if not ordered:
        bars.sort(key=lambda bar: (-bar.value, bar.label))
    shown = bars if any(bar.value for bar in bars) else []
    svg = charts.bar_chart(title, shown, width=480, label_width=200) if shown else None
    return Chart(chart_id, title, key_header, value_header, shown, svg, empty)


def overview_charts(overview: Overview, names: Names) -> list[Chart]:
    statuses = {s.value: wording.label(s) for s in ProblemStatus}
    no_problem = "Aucun problème pour ces filtres."
    return [
        chart(
            "statuts",
            "Problèmes par statut",
            "Statut",
            "Problèmes",
            overview.problems_by_status,
            {code: sentence(label) for code, label in statuses.items()},
            empty=no_problem,
            ordered=True,
        ),
        chart(
            "categories",
            "Problèmes par catégorie",
            "Catégorie",
            "Problèmes",
            overview.problems_by_category,
            names.categories,
            empty=no_problem,
        ),
        chart(
            "communes",
            "Problèmes par commune",
            "Commune",
            "Problèmes",
            overview.problems_by_commune,
            names.communes,
            empty=no_problem,
        ),
        chart(
            "retards",
            "Actions en retard par organisation",
            "Organisation",
            "Actions en retard",
            overview.overdue_actions_by_organisation,
            names.organisations,
            empty="Aucune action en retard pour ces filtres.",
            alert=True,
        ),
    ]


# --- Routes ----------------------------------------------------------------------------------


@router.get(PAGE)
async def dashboard(request: Request, session: DbSession, me: Reader) -> Response:
    principal = me.principal
    names = await names_for(session, principal)
    form, filters = read_filters(request, names)
    context: dict[str, Any] = {
        "page_title": "Tableau de bord",
        "form": form,
        "names": names,
        "sees_everything": access.sees_everything(principal),
        "this_year": today_in_paris().year,
    }
    if filters is None:
        context["page_title"] = "Filtres invalides — Tableau de bord"
        return render(request, "dashboard/index.html", me=me, status=400, **context)
    overview = await figures.overview(session, principal, overview_filters(filters))
    year = filters.year or today_in_paris().year
    evaluation = await figures.annual(session, principal, year)
    return render(
        request,
        "dashboard/index.html",
        me=me,
        **context,
        scope=scope_sentence(filters, names),
        key_figures=key_figures(overview),
        charts=overview_charts(overview, names),
        evaluation=evaluation,
        outcomes=[o.value for o in Outcome],
        csv_url=f"{CSV_PATH}?year={year}",
        xlsx_url=f"{XLSX_PATH}?year={year}",
    )


async def evaluation_file(
    request: Request, session: DbSession, me: Reader, media_type: str
) -> Response:
    """The annual evaluation as the API gives it in `media_type` (CSV for French
    spreadsheets, or xlsx): one row per (breakdown, key), header first."""
    form, filters = read_filters(request, None, ("year",))
    if filters is None:
        wrong = " ".join(form.errors.values()).lower()
        return error_page(request, 400, f"L'année demandée n'est pas valide : {wrong}")
    year = filters.year or today_in_paris().year
    evaluation = await figures.annual(session, me.principal, year)
    return exports.table_file(
        media_type,
        figures.EXPORT_COLUMNS,
        figures.export_rows(evaluation),
        name=f"evaluation-gpo-{year}",
        sheet_title=wording.evaluation_sheet(year),
    )


@router.get(CSV_PATH)
async def evaluation_csv(request: Request, session: DbSession, me: Reader) -> Response:
    return await evaluation_file(request, session, me, exports.CSV)


@router.get(XLSX_PATH)
async def evaluation_xlsx(request: Request, session: DbSession, me: Reader) -> Response:
    return await evaluation_file(request, session, me, exports.XLSX)
