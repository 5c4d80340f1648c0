"""Report intake at scale (issue 10): references stay unique and consecutive under
concurrent intake; on PostgreSQL they come from the year's sequence (migration 0023), which
never hands a number out twice, even to the year's first concurrent reports; the
index-served possible duplicates are exactly those of the statement they replaced, on a
generated data set."""

from __future__ import annotations

import asyncio
import math
import random
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import and_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app import access
from app.core.clock import utcnow
from app.core.visibility import Visibility
from app.identity.dependencies import principal_for_token
from app.identity.principal import Principal
from app.problems.models import Priority, Problem, ProblemStatus
from app.reports import service
from app.reports.schemas import DuplicateOut, ReportCreate
from tests.api import Caller, World, expect, problem_of
from tests.intake import METZ, moved, names_field, report_body

REFERENCE = re.compile(r"^R-(\d{4})-(\d{6})$")


def number(reference: str) -> int:
    match = REFERENCE.match(reference)
    assert match, reference
    return int(match.group(2))


async def principal_of(session: AsyncSession, database: Any, caller: Caller) -> Principal:
    secret = database.settings.gpo_secret_key.get_secret_value()
    return await principal_for_token(session, secret, caller.token)


# --- References --------------------------------------------------------------------------


@pytest.mark.commits
async def test_concurrent_reports_get_distinct_consecutive_references(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    responses = await asyncio.gather(
        *(api.post(partner, "/reports", json=report_body(external_ref=str(i))) for i in range(20))
    )
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    numbers = sorted(number(r.json()["reference"]) for r in responses)
    assert numbers == list(range(numbers[0], numbers[0] + 20))
    # Their audit events, sealed as each transaction commits, make one unbroken chain.
    verified = expect(await api.get(api.admin, "/governance/verify"), 200)
    assert verified["ok"] is True, verified


@pytest.mark.commits
async def test_a_rolled_back_report_never_shares_its_reference(world: World, database: Any) -> None:
    """SQLite's counter gives a rolled-back number back; PostgreSQL's sequence leaves a gap
    (it holds no lock, so it cannot know the number will not be used)."""
    api, partner = world.api, world.landlord_partner
    before = expect(await api.post(partner, "/reports", json=report_body()), 201)
    async with database.session(write=True) as session:
        principal = await principal_of(session, database, partner)
        created = await service.intake(session, principal, ReportCreate(**report_body()))
        assert number(created.reference) == number(before["reference"]) + 1
        await session.rollback()
    after = expect(await api.post(partner, "/reports", json=report_body()), 201)
    gap = 0 if database.settings.is_sqlite else 1
    assert number(after["reference"]) == number(created.reference) + gap


async def _next_number(session: AsyncSession, name: str) -> int:
    found = await session.execute(text("SELECT reference_next(:name)"), {"name": name})
    return int(found.scalar_one())


@pytest.mark.commits
async def test_the_years_first_references_wait_for_its_sequence_and_go_on_from_the_counter(
    database: Any,
) -> None:
    """Two transactions take the first numbers of a year at once: the second waits for the
    first's sequence and takes the next number, or creates the sequence itself if the first
    rolled back; a counter row left by the upsert is where the numbers go on from."""
    if database.settings.is_sqlite:
        pytest.skip("SQLite keeps the counter's row")
    async with database.session(write=True) as first, database.session(write=True) as second:
        await first.execute(text("INSERT INTO counters (name, value) VALUES ('R-2098', 41)"))
        await first.commit()
        assert await _next_number(first, "R-2098") == 42
        waiting = asyncio.ensure_future(_next_number(second, "R-2098"))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the creator's lock, until its commit
        await first.commit()
        assert await waiting == 43
        await second.commit()

        assert await _next_number(first, "R-2099") == 1
        waiting = asyncio.ensure_future(_next_number(second, "R-2099"))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await first.rollback()  # the sequence it created goes with it
        assert await waiting == 1
        await second.commit()
        assert await _next_number(first, "R-2099") == 2
        await first.commit()


# --- Possible duplicates, as the statement before issue 10 found them -----------------------


async def duplicates_before(
    session: AsyncSession,
    principal: Principal,
    category: str,
    commune_code: str,
    lat: float | None,
    lon: float | None,
) -> list[DuplicateOut]:
    """The possible duplicates as found before the partial indexes: one statement whose
    `lat IS NULL OR lon IS NULL OR <box>` no index could serve, every row to Python."""
    statement = select(
        Problem.id, Problem.reference, Problem.title, Problem.status, Problem.lat, Problem.lon
    ).where(
        access.problem_scope(principal),
        Problem.category == category,
        Problem.commune_code == commune_code,
        Problem.status != ProblemStatus.closed,
    )
    if lat is not None and lon is not None:
        d_lat = service.DUPLICATE_RADIUS_M / 111_320
        d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
        statement = statement.where(
            or_(
                Problem.lat.is_(None),
                Problem.lon.is_(None),
                and_(
                    Problem.lat.between(lat - d_lat, lat + d_lat),
                    Problem.lon.between(lon - d_lon, lon + d_lon),
                ),
            )
        )
    candidates = []
    for problem_id, reference, title, status, p_lat, p_lon in await session.execute(statement):
        distance = None
        if lat is not None and lon is not None and p_lat is not None and p_lon is not None:
            distance = round(service.distance_m(lat, lon, p_lat, p_lon), 1)
            if distance > service.DUPLICATE_RADIUS_M:
                continue
        candidates.append(
            DuplicateOut(
                id=problem_id, reference=reference, title=title, status=status, distance_m=distance
            )
        )
    candidates.sort(key=lambda d: (d.distance_m is None, d.distance_m or 0.0, d.reference))
    return candidates[: service.MAX_DUPLICATES]


CATEGORIES = ("hall_occupation", "rodeo")
COMMUNES = ("57463", "57480")


def generated_problems(gpo_ids: list[uuid.UUID], count: int) -> list[Problem]:
    """Problems around Metz: two categories, two communes, every status and visibility,
    GPOs the reporters may or may not see; located within 400 m (inside and outside the
    250 m and the box), unlocated, or with one coordinate only (stored by other means than
    the API, which asks for both)."""
    rng = random.Random(10)
    now = utcnow()
    problems = []
    for index in range(count):
        shape = rng.random()
        location: dict[str, float | None] = {"lat": None, "lon": None}
        if shape < 0.65:
            location = moved(METZ, rng.uniform(-400, 400), rng.uniform(-400, 400))
        elif shape < 0.7:
            location = {"lat": METZ[0], "lon": None}
        elif shape < 0.75:
            location = {"lat": None, "lon": METZ[1]}
        # References out of creation order, one longer than six digits.
        reference = f"P-2026-{rng.randrange(1, 2_000_000):06d}-{index}"[:20]
        problems.append(
            Problem(
                reference=reference,
                gpo_id=rng.choice(gpo_ids),
                title=f"Problème {index}",
                description="Généré pour comparer les doublons possibles.",
                category=rng.choice(CATEGORIES),
                commune_code=rng.choice(COMMUNES),
                lat=location["lat"],
                lon=location["lon"],
                priority=Priority.normal,
                visibility=rng.choice(list(Visibility)),
                status=rng.choice(list(ProblemStatus)),
                created_at=now - timedelta(minutes=index),
                updated_at=now,
            )
        )
    return problems


async def test_possible_duplicates_are_those_of_the_statement_they_replace(
    world: World, database: Any
) -> None:
    api = world.api
    hidden_gpo = await api.gpo(world.other_facilitator, communes=list(COMMUNES))
    gpo_ids = [uuid.UUID(world.gpo["id"]), uuid.UUID(hidden_gpo["id"])]
    callers = {
        "landlord partner": world.landlord_partner,
        "police partner": world.police_partner,
        "municipal partner": world.municipal_partner,
        "facilitator": world.facilitator,
        "other facilitator": world.other_facilitator,
        "commander": world.commander,
        "admin": api.admin,
    }
    points: list[tuple[float | None, float | None]] = [
        METZ,
        (moved(METZ, 150, -150)["lat"], moved(METZ, 150, -150)["lon"]),
        (moved(METZ, 5000)["lat"], moved(METZ, 5000)["lon"]),
        (None, None),
    ]
    async with database.session(write=True) as session:
        session.add_all(generated_problems(gpo_ids, 400))
        await session.flush()
        compared = capped = 0
        for name, caller in callers.items():
            principal = await principal_of(session, database, caller)
            for category in (*CATEGORIES, "damage"):
                for commune_code in COMMUNES:
                    for lat, lon in points:
                        args = (principal, category, commune_code, lat, lon)
                        now = await service.possible_duplicates(session, *args)
                        before = await duplicates_before(session, *args)
                        assert now == before, (name, category, commune_code, lat, lon)
                        compared += bool(before)
                        capped += len(before) == service.MAX_DUPLICATES
        await session.rollback()
    # The data set exercises what it should: non-empty answers, and answers cut at 20.
    assert compared > 50
    assert capped > 10


async def test_a_dense_neighbourhood_lists_the_same_nearest_twenty(
    world: World, database: Any
) -> None:
    """Far more than 20 problems in the box, many at one point or within a rounding of each
    other around the 20th nearest: the 20 listed are those of the statement that sent them
    all, in the same order (equal rounded distances by reference, the farther first)."""
    rng = random.Random(3)
    gpo_id = uuid.UUID(world.gpo["id"])
    # metres north of Metz: 10 at one point, 40 within a few centimetres of 30 m (distances
    # that round alike, or one step apart), 30 farther, and others past the radius.
    norths = [20.0] * 10 + [30 + rng.uniform(-0.12, 0.12) for _ in range(40)]
    norths += [rng.uniform(31, 240) for _ in range(30)] + [rng.uniform(251, 300) for _ in range(5)]
    now = utcnow()
    problems = [
        Problem(
            # The farther, the smaller the reference: of equal rounded distances, those
            # past the 20th nearest come first.
            reference=f"P-2026-{999_999 - round(north * 1000):06d}-{index}",
            gpo_id=gpo_id,
            title=f"Problème {index}",
            description="Généré pour les doublons d'un quartier dense.",
            category="hall_occupation",
            commune_code="57463",
            **moved(METZ, north, rng.uniform(-0.05, 0.05)),
            priority=Priority.normal,
            visibility=Visibility.partners,
            status=ProblemStatus.open,
            created_at=now - timedelta(minutes=index),
            updated_at=now,
        )
        for index, north in enumerate(norths)
    ]
    points = [METZ, (moved(METZ, 10)["lat"], moved(METZ, 10)["lon"])]
    async with database.session(write=True) as session:
        session.add_all(problems)
        await session.flush()
        for caller in (world.landlord_partner, world.commander):
            principal = await principal_of(session, database, caller)
            for lat, lon in points:
                args = (principal, "hall_occupation", "57463", lat, lon)
                now_listed = await service.possible_duplicates(session, *args)
                assert now_listed == await duplicates_before(session, *args)
                assert len(now_listed) == service.MAX_DUPLICATES
        await session.rollback()


async def test_a_located_report_lists_the_nearest_then_the_unlocated_by_reference(
    world: World,
) -> None:
    """More candidates than are listed: the 20 are the located ones nearest first, then the
    unlocated ones in order of reference."""
    api, fac = world.api, world.facilitator
    located = [
        await api.problem(fac, world.gpo, location=moved(METZ, 10 * i + 5)) for i in range(8)
    ]
    unlocated = [await api.problem(fac, world.gpo) for _ in range(15)]
    closed = await api.problem(fac, world.gpo)
    expect(await api.move(fac, closed, "closed", outcome="not_in_scope"), 200)
    created = expect(
        await api.post(world.landlord_partner, "/reports", json=report_body(location=moved(METZ))),
        201,
    )
    listed = [d["id"] for d in created["possible_duplicates"]]
    first_unlocated = sorted(unlocated, key=lambda p: str(p["reference"]))[:12]
    assert listed == [p["id"] for p in located] + [p["id"] for p in first_unlocated]


async def test_the_category_is_checked_before_the_commune(world: World) -> None:
    """One statement checks the category, the commune and the route: each error still
    names its field, the category's first."""
    api, partner = world.api, world.landlord_partner
    body = report_body(category="nope", commune_code="99999")
    error = problem_of(await api.post(partner, "/reports", json=body), 422)
    assert names_field(error, "category")
    assert not names_field(error, "commune_code")
    error = problem_of(
        await api.post(partner, "/reports", json=report_body(commune_code="99999")), 422
    )
    assert names_field(error, "commune_code")
    assert not names_field(error, "category")
