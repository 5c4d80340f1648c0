"""The figures as served (summary rows on PostgreSQL, fewer and index-served statements)
equal the figures as they were computed before (the statements kept below as the
reference), on a generated data set: problems of every status and outcome over several
years, actions, indicators with and without measurements, three GPOs of two facilitators,
changes through the API and by hand-made UPDATEs and DELETEs; read by a commander, an admin
and a facilitator, with and without filters, on both databases (SQLite's summary rows kept by
its own triggers, migration 0027). The summary rows themselves equal their recomputation
from the rows (`tests.summaries`): a trigger's mistake that the figures' fallbacks would
hide (a histogram that no longer holds every closed problem is read from the rows) fails
too."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import ColumnElement, and_, case, delete, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import access
from app.actions.models import Action, ActionStatus, overdue
from app.core.clock import today_in_paris
from app.core.schemas import instant_param
from app.figures import service
from app.figures.schemas import AnnualEvaluation, EvaluationRow, OrganisationRow, Overview, Totals
from app.identity.models import Role
from app.identity.principal import Principal
from app.indicators.models import (
    Direction,
    Indicator,
    Measurement,
    has_improved_indicator,
    has_measured_indicator,
)
from app.problems.models import Outcome, Priority, Problem, ProblemStatus
from app.reference.models import Organisation
from tests import summaries
from tests.api import Caller, World, expect

# --- the reference: the figures' statements as they were ----------------------------------


async def reference_overview(
    session: AsyncSession, principal: Principal, f: service.OverviewFilters
) -> Overview:
    dialect = session.get_bind().dialect.name
    condition = access.figures_scope(principal)
    if f.gpo_id is not None:
        condition &= Problem.gpo_id == f.gpo_id
    if f.commune_code is not None:
        condition &= Problem.commune_code == f.commune_code
    if f.created_from is not None:
        condition &= Problem.created_at >= f.created_from
    if f.created_to is not None:
        condition &= Problem.created_at <= f.created_to

    async def count_by(column: Any) -> dict[str, int]:
        rows = await session.execute(
            select(column, func.count()).select_from(Problem).where(condition).group_by(column)
        )
        return {str(getattr(k, "value", k)): n for k, n in rows}

    by_status = dict.fromkeys((s.value for s in ProblemStatus), 0) | await count_by(Problem.status)
    overdue_rows = await session.execute(
        select(Action.assignee_organisation_id, func.count())
        .join(Problem, Problem.id == Action.problem_id)
        .where(condition, overdue(today_in_paris()))
        .group_by(Action.assignee_organisation_id)
    )
    closed = and_(condition, Problem.status == ProblemStatus.closed)
    median_days = await service.median(session, service.days_to_close(dialect), closed)
    worked_on = and_(closed, Problem.outcome.not_in(service.NOT_WORKED_ON))
    denominator, numerator = (
        await session.execute(
            select(func.count(), service._sum_if(has_measured_indicator(Problem.id)))
            .select_from(Problem)
            .where(worked_on)
        )
    ).one()
    return Overview(
        problems_by_status=by_status,
        problems_by_category=await count_by(Problem.category),
        problems_by_commune=await count_by(Problem.commune_code),
        overdue_actions_by_organisation={str(k): n for k, n in overdue_rows},
        median_days_to_close=median_days,
        closed_with_evidence_ratio=round(numerator / denominator, 4) if denominator else None,
    )


async def reference_problem_rows(
    session: AsyncSession, scope: ColumnElement[bool], start: datetime, end: datetime
) -> dict[str, list[EvaluationRow]]:
    dialect = session.get_bind().dialect.name
    raised = and_(Problem.created_at >= start, Problem.created_at < end)
    closed = and_(
        Problem.status == ProblemStatus.closed, Problem.closed_at >= start, Problem.closed_at < end
    )
    closed_outcome = case((closed, Problem.outcome), else_=null()).label("closed_outcome")
    keys = [service._as_text(breakdown[0]) for breakdown in service.BREAKDOWNS.values()]
    tallies: dict[tuple[str, str], service._Tally] = defaultdict(service._Tally)

    def places(values: list[Any]) -> list[tuple[str, str]]:
        return [
            *((name, str(v)) for name, v in zip(service.BREAKDOWNS, values, strict=True)),
            (service.TOTAL, service.TOTAL),
        ]

    groups = select(
        *keys,
        closed_outcome,
        service._sum_if(raised),
        service._sum_if(closed),
        service._sum_if(and_(closed, has_improved_indicator(Problem.id))),
    )
    for *values, outcome, n_raised, n_closed, n_improved in await session.execute(
        groups.where(scope, or_(raised, closed)).group_by(*keys, closed_outcome)
    ):
        for place in places(values):
            tally = tallies[place]
            tally.raised += n_raised
            tally.closed += n_closed
            tally.improved += n_improved
            if outcome is not None:
                tally.outcomes[outcome.value] = tally.outcomes.get(outcome.value, 0) + n_closed
    for *values, days in await session.execute(
        select(*keys, service.days_to_close(dialect)).where(scope, closed)
    ):
        for place in places(values):
            tallies[place].days.append(float(days))
    labels = {
        name: await service._labels(session, breakdown)
        for name, breakdown in service.BREAKDOWNS.items()
    }
    rows: dict[str, list[EvaluationRow]] = {name: [] for name in (*service.BREAKDOWNS, "all")}
    for (name, raw), tally in tallies.items():
        if name == service.TOTAL:
            rows[service.TOTAL].append(tally.row(service.TOTAL, "Total"))
        else:
            key, label = labels[name].get(raw, (raw, raw))
            rows[name].append(tally.row(key, label))
    for found in rows.values():
        found.sort(key=lambda row: row.label)
    return rows


async def reference_organisation_rows(
    session: AsyncSession, scope: ColumnElement[bool], start: datetime, end: datetime
) -> list[OrganisationRow]:
    today = today_in_paris()
    statement = (
        select(
            Action.assignee_organisation_id,
            Organisation.name,
            func.count(),
            service._sum_if(Action.status == ActionStatus.done),
            service._sum_if(overdue(today)),
            service._sum_if(Action.status == ActionStatus.cancelled),
        )
        .join(Problem, Problem.id == Action.problem_id)
        .join(Organisation, Organisation.id == Action.assignee_organisation_id)
        .where(scope, Action.created_at >= start, Action.created_at < end)
        .group_by(Action.assignee_organisation_id, Organisation.name)
        .order_by(Organisation.name)
    )
    return [
        OrganisationRow(
            key=str(k),
            label=name,
            actions_assigned=assigned,
            actions_done=done,
            actions_overdue=late,
            actions_cancelled=cancelled,
        )
        for k, name, assigned, done, late, cancelled in await session.execute(statement)
    ]


async def reference_annual(
    session: AsyncSession, principal: Principal, year: int
) -> AnnualEvaluation:
    scope = access.figures_scope(principal)
    start, end = service.year_bounds(year)
    rows = await reference_problem_rows(session, scope, start, end)
    total = rows["all"][0] if rows["all"] else service._Tally().row("all", "Total")
    organisations = await reference_organisation_rows(session, scope, start, end)
    totals = Totals(
        **total.model_dump(),
        actions_assigned=sum(r.actions_assigned for r in organisations),
        actions_done=sum(r.actions_done for r in organisations),
        actions_overdue=sum(r.actions_overdue for r in organisations),
        actions_cancelled=sum(r.actions_cancelled for r in organisations),
    )
    return AnnualEvaluation(
        year=year,
        totals=totals,
        by_gpo=rows["gpo"],
        by_commune=rows["commune"],
        by_category=rows["category"],
        by_organisation=organisations,
    )


# --- the generated data set ---------------------------------------------------------------

CATEGORIES = ["hall_occupation", "rodeo", "drug_dealing", "damage", "night_noise", "brawl"]
VISIBILITIES = ["partners", "police", "restricted"]


def moment(rng: random.Random) -> datetime:
    """An instant between 2023 and now, to the microsecond."""
    start = datetime(2023, 1, 1, tzinfo=UTC)
    span = datetime.now(UTC) - timedelta(days=1) - start
    return start + timedelta(microseconds=rng.randrange(int(span.total_seconds() * 1e6)))


async def generate(world: World, app: FastAPI) -> tuple[list[dict[str, Any]], list[uuid.UUID]]:
    """About 300 problems in three GPOs, with actions, indicators and measurements; then
    changes through the API (closing with evidence, reopening, measuring) and by hand."""
    rng = random.Random(10)
    api, fac, other = world.api, world.facilitator, world.other_facilitator
    members = [world.national_police, world.municipal_police, world.landlord]
    second = await api.gpo(fac, communes=["57463", "57480"], members=members)
    elsewhere = await api.gpo(other, communes=["57751"], members=members[:2])
    gpos = [(world.gpo, ["57463"]), (second, ["57463", "57480"]), (elsewhere, ["57751"])]
    organisations = [uuid.UUID(o["id"]) for o in members]
    problem_ids: list[uuid.UUID] = []
    async with app.state.database.session(write=True) as session:
        for n in range(300):
            gpo, communes = rng.choice(gpos)
            created = moment(rng)
            status = rng.choice(list(ProblemStatus))
            closed_at = None
            if status is ProblemStatus.closed:
                closed_at = created + timedelta(seconds=rng.randrange(0, 400 * 86400))
                # Now and then closed on the very second of a whole day (a histogram edge).
                if rng.random() < 0.1:
                    closed_at = created + timedelta(days=rng.randrange(0, 60))
            problem = Problem(
                id=uuid.uuid4(),
                reference=f"P-SAME-{n}",
                gpo_id=uuid.UUID(gpo["id"]),
                title=f"Problem {n}",
                description="Generated.",
                category=rng.choice(CATEGORIES),
                commune_code=rng.choice(communes),
                priority=rng.choice(list(Priority)),
                visibility=rng.choice(VISIBILITIES),
                status=status,
                outcome=rng.choice(list(Outcome)) if status is ProblemStatus.closed else None,
                closed_at=closed_at,
                search_text=f"problem {n}",
                created_at=created,
                updated_at=created,
            )
            session.add(problem)
            problem_ids.append(problem.id)
            await session.flush()
            for _ in range(rng.randrange(0, 4)):
                session.add(
                    Action(
                        problem_id=problem.id,
                        title="Action",
                        kind="foot_patrol",
                        assignee_organisation_id=rng.choice(organisations),
                        status=rng.choice(list(ActionStatus)),
                        due_date=(created + timedelta(days=rng.randrange(-10, 900))).date(),
                        created_at=created + timedelta(days=rng.randrange(0, 40)),
                        visibility=problem.visibility,
                    )
                )
            if rng.random() < 0.5:
                baseline_end = created.date() - timedelta(days=1)
                direction = rng.choice(list(Direction))
                indicator = Indicator(
                    problem_id=problem.id,
                    name="Calls",
                    unit="calls",
                    direction=direction,
                    baseline_value=30,
                    baseline_start=baseline_end - timedelta(days=29),
                    baseline_end=baseline_end,
                    baseline_rate=30.0,
                    visibility=problem.visibility,
                )
                session.add(indicator)
                await session.flush()
                for m in range(rng.randrange(0, 3)):
                    value = float(rng.randrange(20, 41))
                    session.add(
                        Measurement(
                            indicator_id=indicator.id,
                            period_start=baseline_end + timedelta(days=1 + 30 * m),
                            period_end=baseline_end + timedelta(days=30 + 30 * m),
                            value=value,
                            rate=value,
                            visibility=problem.visibility,
                        )
                    )
        await session.commit()

    # Through the API: a problem measured, improved, closed as reduced, then reopened; one
    # closed as duplicate; a measurement on a closed problem.
    made = await api.problem(fac, world.gpo, category="rodeo")
    body = {
        "name": "Appels",
        "unit": "appels",
        "direction": "decrease",
        "baseline": {"value": 31, "period_start": "2025-01-01", "period_end": "2025-01-31"},
    }
    indicator = expect(await api.post(fac, f"/problems/{made['id']}/indicators", json=body), 201)
    measurement = {"period_start": "2025-02-01", "period_end": "2025-02-28", "value": 12}
    path = f"/indicators/{indicator['id']}/measurements"
    expect(await api.post(fac, path, json=measurement), 201)
    expect(await api.move(fac, made, "open"), 200)
    expect(await api.move(fac, made, "closed", outcome="reduced"), 200)
    expect(await api.move(fac, made, "open", note="Ça reprend."), 200)
    twice = await api.problem(fac, second, commune_code="57480")
    expect(await api.move(fac, twice, "closed", outcome="duplicate"), 200)
    made_closed = await api.problem(other, elsewhere, commune_code="57751")
    expect(await api.move(other, made_closed, "open"), 200)
    expect(await api.move(other, made_closed, "closed", outcome="better_handled"), 200)
    late = {"period_start": "2025-03-01", "period_end": "2025-03-31", "value": 40}
    expect(await api.post(fac, path, json=late), 201)

    # By hand: reopened, moved in time, moved to another GPO, measurements removed.
    async with app.state.database.session(write=True) as session:
        for problem_id in rng.sample(problem_ids, 30):
            await session.execute(
                update(Problem)
                .where(Problem.id == problem_id, Problem.status == ProblemStatus.closed)
                .values(status=ProblemStatus.open, outcome=None, closed_at=None)
            )
        for problem_id in rng.sample(problem_ids, 30):
            created = await session.scalar(
                select(Problem.created_at).where(Problem.id == problem_id)
            )
            assert created is not None
            await session.execute(
                update(Problem)
                .where(Problem.id == problem_id)
                .values(created_at=created - timedelta(days=rng.randrange(1, 90)))
            )
        # Closing times alone moved (the closed problem's days, day and year).
        closed_ids = await session.scalars(
            select(Problem.id)
            .where(Problem.status == ProblemStatus.closed, Problem.closed_at.is_not(None))
            .order_by(Problem.id)
        )
        for problem_id in rng.sample(list(closed_ids), 15):
            closed_at = await session.scalar(
                select(Problem.closed_at).where(Problem.id == problem_id)
            )
            assert closed_at is not None
            await session.execute(
                update(Problem)
                .where(Problem.id == problem_id)
                .values(closed_at=closed_at + timedelta(hours=rng.randrange(1, 2000)))
            )
        await session.execute(
            update(Problem)
            .where(Problem.id.in_(rng.sample(problem_ids, 10)))
            .values(gpo_id=uuid.UUID(second["id"]), commune_code="57480", category="damage")
        )
        await same_summaries(session)
        measured = (await session.scalars(select(Measurement.id))).all()
        # Rates and periods rewritten (which measurement is the latest, and whether it is
        # better), indicators turned the other way or given another baseline.
        for measurement_id in rng.sample(list(measured), 20):
            await session.execute(
                update(Measurement)
                .where(Measurement.id == measurement_id)
                .values(rate=float(rng.randrange(20, 41)))
            )
        await same_summaries(session)
        for measurement_id in rng.sample(list(measured), 10):
            await session.execute(
                update(Measurement)
                .where(Measurement.id == measurement_id)
                .values(period_end=Measurement.period_end + timedelta(days=90))
            )
        with_measures = (await session.scalars(select(Measurement.indicator_id))).all()
        await same_summaries(session)
        for indicator_id in rng.sample(sorted(set(with_measures)), 15):
            await session.execute(
                update(Indicator)
                .where(Indicator.id == indicator_id)
                .values(
                    direction=case(
                        (Indicator.direction == Direction.decrease, Direction.increase),
                        else_=Direction.decrease,
                    )
                )
            )
        await same_summaries(session)
        for indicator_id in rng.sample(sorted(set(with_measures)), 15):
            await session.execute(
                update(Indicator)
                .where(Indicator.id == indicator_id)
                .values(baseline_rate=float(rng.randrange(20, 41)))
            )
        await same_summaries(session)
        # Actions done, reopened, moved in time, reassigned, removed (the open actions'
        # summary rows follow each).
        action_ids = (await session.scalars(select(Action.id).order_by(Action.id))).all()
        for action_id in rng.sample(list(action_ids), 40):
            await session.execute(
                update(Action)
                .where(Action.id == action_id)
                .values(status=rng.choice(list(ActionStatus)))
            )
        for action_id in rng.sample(list(action_ids), 30):
            await session.execute(
                update(Action)
                .where(Action.id == action_id)
                .values(due_date=Action.due_date - timedelta(days=rng.randrange(1, 400)))
            )
        await session.execute(
            update(Action)
            .where(Action.id.in_(rng.sample(list(action_ids), 20)))
            .values(assignee_organisation_id=rng.choice(organisations))
        )
        await same_summaries(session)
        await session.execute(delete(Action).where(Action.id.in_(action_ids[::9])))
        await session.execute(delete(Measurement).where(Measurement.id.in_(measured[::4])))
        indicators = (await session.scalars(select(Indicator.id))).all()
        await session.execute(delete(Indicator).where(Indicator.id.in_(indicators[::7])))
        # Problems removed (those with no actions or indicators to hold them).
        childless = await session.scalars(
            select(Problem.id)
            .where(
                Problem.reference.like("P-SAME-%"),
                Problem.id != problem_ids[0],
                ~select(Action.id).where(Action.problem_id == Problem.id).exists(),
                ~select(Indicator.id).where(Indicator.problem_id == Problem.id).exists(),
            )
            .order_by(Problem.id)
        )
        removed = list(childless)[::3]
        assert removed
        await session.execute(delete(Problem).where(Problem.id.in_(removed)))
        await same_summaries(session)
        await session.commit()
    return [world.gpo, second, elsewhere], problem_ids


async def same_summaries(session: AsyncSession) -> None:
    """The summary rows as the triggers left them equal their recomputation (checked along
    the way as well: a later change may repair a row an earlier one got wrong)."""
    stored = await session.run_sync(lambda s: summaries.stored(s.connection()))
    recomputed = await session.run_sync(lambda s: summaries.recomputed(s.connection()))
    assert stored["counts"], "the data set has summary rows"
    for name, rows in recomputed.items():
        assert stored[name] == rows, name


def principal_of(caller: Caller, role: Role) -> Principal:
    user_id = uuid.UUID(caller.id) if caller.user.get("id") else uuid.uuid4()
    return Principal(user_id, None, role, None, None, "reader")


def same(served: Any, reference: Any, dialect: str) -> None:
    """Equal values; on SQLite, whose GROUP BY orders its groups, also in the same order
    (PostgreSQL's hash aggregates gave no order to keep)."""
    assert served == reference
    if dialect == "sqlite":
        assert json.dumps(served) == json.dumps(reference)


async def test_figures_equal_the_reference_statements(world: World, app: FastAPI) -> None:
    gpos, problem_ids = await generate(world, app)
    api = world.api
    readers = [
        (world.commander, Role.commander),
        (world.admin, Role.admin),
        (world.facilitator, Role.facilitator),
        (world.other_facilitator, Role.facilitator),
    ]
    filters: list[dict[str, str]] = [
        {},
        {"gpo_id": gpos[1]["id"]},
        {"gpo_id": gpos[2]["id"]},
        {"commune_code": "57463"},
        {"commune_code": "57480", "gpo_id": gpos[1]["id"]},
        {"from": "2024-03-01"},
        {"to": "2025-06-30"},
        {"from": "2024-01-01", "to": "2025-12-31", "commune_code": "57463"},
        {"from": "2025-02-03T10:00:00+01:00", "gpo_id": gpos[0]["id"]},
    ]
    dialect = app.state.database.engine.dialect.name
    this_year = date.today().year
    checked = 0
    for caller, role in readers:
        principal = principal_of(caller, role)
        for params in filters:
            served = expect(await api.get(caller, "/stats/overview", params=params), 200)
            f = service.OverviewFilters(
                gpo_id=uuid.UUID(params["gpo_id"]) if "gpo_id" in params else None,
                commune_code=params.get("commune_code"),
                created_from=instant_param(params.get("from"), ("query", "from")),
                created_to=instant_param(params.get("to"), ("query", "to"), end_of_day=True),
            )
            async with app.state.database.session(write=False) as session:
                reference = await reference_overview(session, principal, f)
            same(served, reference.model_dump(mode="json"), dialect)
            checked += 1
        for year in range(2022, this_year + 1):
            params = {"year": str(year)}
            served = expect(await api.get(caller, "/evaluations/annual", params=params), 200)
            async with app.state.database.session(write=False) as session:
                evaluation = await reference_annual(session, principal, year)
            same(served, evaluation.model_dump(mode="json"), dialect)
            # Outcomes in key order, rows by label then key, whatever the data's order.
            for name in ("by_gpo", "by_commune", "by_category"):
                rows = served[name]
                assert rows == sorted(rows, key=lambda r: (r["label"], r["key"])), name
            for row in (served["totals"], *served["by_gpo"], *served["by_category"]):
                assert list(row["outcomes"]) == sorted(row["outcomes"]), row["key"]
            checked += 1
    assert checked == len(readers) * (len(filters) + this_year - 2021)

    # A problem closed with no closing time (only a hand-made UPDATE makes one): the
    # histogram no longer holds every closed problem, and the median is read from the rows.
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(Problem)
            .where(Problem.id == problem_ids[0])
            .values(status=ProblemStatus.closed, outcome=Outcome.reduced, closed_at=None)
        )
        await session.commit()
    for caller, role in readers[:2]:
        served = expect(await api.get(caller, "/stats/overview"), 200)
        async with app.state.database.session(write=False) as session:
            reference = await reference_overview(
                session, principal_of(caller, role), service.OverviewFilters()
            )
        same(served, reference.model_dump(mode="json"), dialect)
    async with app.state.database.session(write=False) as session:
        await same_summaries(session)
