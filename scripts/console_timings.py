"""Server time and weight of the console's pages, at a given volume.

    .venv/bin/python scripts/console_timings.py --problems 10000 [--database-url URL]

It seeds a scratch database through the services (GPOs, problems — most of them closed, as
years of history are —, actions, indicators, reports, a planned meeting), signs a
facilitator and a commander in, then requests each main page many times in process (the
app called through ASGI, no network) and prints the median and 95th percentile of the time
the server takes, and the page's weight (HTML, and its CSS and JS on a first load).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.actions import service as actions
from app.actions.schemas import ActionCreate
from app.cli import migrate
from app.config import Settings
from app.core.clock import today_in_paris, utcnow
from app.core.db import Database
from app.gpos import service as gpos
from app.gpos.models import GpoKind
from app.gpos.schemas import GpoCreate
from app.identity import sessions
from app.identity.models import Role, User
from app.identity.principal import Principal
from app.indicators import service as indicators
from app.indicators.models import Direction
from app.indicators.schemas import Baseline, IndicatorCreate
from app.main import create_app
from app.meetings import service as meetings
from app.meetings.schemas import MeetingCreate
from app.problems import service as problems
from app.problems.models import Outcome, ProblemStatus
from app.problems.schemas import ProblemCreate, TransitionIn
from app.reference.models import Organisation, OrganisationKind
from app.reference.seed import seed_reference_data

CATEGORIES = ["hall_occupation", "rodeo", "wrecked_vehicle", "nuisance_gathering", "damage"]
COMMUNES = ["57463", "57751", "57480", "57447"]
SECRET = "timings-secret-key-0123456789-0123456789"  # noqa: S105 - a scratch database


def _principal(user: User, kind: OrganisationKind | None) -> Principal:
    return Principal(user.id, None, user.role, user.organisation_id, kind, user.display_name)


async def seed(database: Database, count: int) -> dict[str, Any]:
    """`count` problems in GPOs of 250 raised over five years, four in five closed; returns
    what the pages need."""
    rng = random.Random(20261201)  # noqa: S311 - the same data every run
    async with database.session(write=True) as session:
        await seed_reference_data(session)
        police = Organisation(name="DDSP", kind=OrganisationKind.national_police)
        landlord = Organisation(name="Bailleur", kind=OrganisationKind.landlord)
        session.add_all([police, landlord])
        await session.flush()
        people = {}
        for role, org in (
            (Role.admin, None),
            (Role.facilitator, police),
            (Role.commander, police),
        ):
            user = User(
                email=f"{role.value}@timings.example",
                display_name=role.value,
                role=role,
                organisation_id=org.id if org else None,
            )
            session.add(user)
            await session.flush()
            people[role] = user
        admin = _principal(people[Role.admin], None)
        facilitator = _principal(people[Role.facilitator], OrganisationKind.national_police)
        gpo_ids = []
        for index in range(max(1, count // 250)):
            gpo = await gpos.create_gpo(
                session,
                facilitator,
                GpoCreate(
                    name=f"GPO {index + 1}",
                    kind=GpoKind.general,
                    commune_codes=[COMMUNES[index % len(COMMUNES)]],
                    member_organisation_ids=[police.id, landlord.id],
                ),
            )
            gpo_ids.append(gpo.id)
        history: list[tuple[Any, bool]] = []
        for index in range(count):
            gpo_id = gpo_ids[index % len(gpo_ids)]
            closes = rng.random() < 0.8
            problem = await problems.create_problem(
                session,
                facilitator,
                ProblemCreate(
                    gpo_id=gpo_id,
                    title=f"Problème {index}",
                    description="Regroupements, nuisances sonores, dégradations.",
                    category=rng.choice(CATEGORIES),
                    commune_code=rng.choice(COMMUNES),
                ),
            )
            history.append((problem, closes))
            await problems.transition(
                session, facilitator, problem, TransitionIn(to=ProblemStatus.open)
            )
            if closes:
                await problems.transition(
                    session,
                    facilitator,
                    problem,
                    TransitionIn(to=ProblemStatus.closed, outcome=Outcome.better_handled),
                )
            elif rng.random() < 0.5:
                for due in (-10, 20):
                    await actions.create_action(
                        session,
                        facilitator,
                        problem,
                        ActionCreate(
                            title="Patrouilles",
                            kind="foot_patrol",
                            assignee_organisation_id=landlord.id,
                            due_date=today_in_paris() + timedelta(days=due),
                        ),
                    )
                start = today_in_paris() - timedelta(days=120)
                await indicators.create_indicator(
                    session,
                    facilitator,
                    problem,
                    IndicatorCreate(
                        name="Appels au 17",
                        unit="appels",
                        direction=Direction.decrease,
                        baseline=Baseline(
                            value=20, period_start=start, period_end=start + timedelta(days=29)
                        ),
                    ),
                )
        # Years of history: raised over five years, closed some weeks later.
        now = utcnow()
        for problem, closed in history:
            problem.created_at = now - timedelta(days=rng.randrange(0, 5 * 365))
            if closed:
                problem.closed_at = problem.created_at + timedelta(days=rng.randrange(1, 200))
        await session.flush()
        gpo = await gpos.get_gpo(session, admin, gpo_ids[0], for_update=True)
        meeting = await meetings.create_meeting(
            session,
            facilitator,
            gpo,
            MeetingCreate(scheduled_at=utcnow() + timedelta(hours=2)),
        )
        cookies = {}
        for role in (Role.facilitator, Role.commander):
            cookies[role] = await sessions.open_session(
                session, people[role], SECRET, address="timings", user_agent="timings"
            )
        open_problem = await session.scalar(
            select(problems.Problem.id).where(problems.Problem.status == ProblemStatus.open)
        )
        await session.commit()
    return {"meeting": meeting.id, "problem": open_problem, "cookies": cookies}


async def measure(client: httpx.AsyncClient, path: str, cookie: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.get(path, cookies={"gpo_session": cookie})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return times


async def weight(client: httpx.AsyncClient, path: str, cookie: str) -> tuple[int, int]:
    """The page's HTML bytes, and the bytes of the stylesheets and scripts it loads."""
    import re

    html = (await client.get(path, cookies={"gpo_session": cookie})).text
    assets = set(re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js)\?v=[^"]+)"', html))
    size = 0
    for asset in assets:
        size += len((await client.get(asset)).content)
    return len(html.encode()), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="an empty database (else SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'timings.sqlite3'}"
        settings = Settings(
            database_url=url,
            gpo_secret_key=SECRET,
            gpo_demo_data=False,
            gpo_rate_limit_per_minute=10_000_000,
            gpo_log_level="WARNING",
        )
        migrate(settings)  # Alembic runs its own event loop: before ours
        asyncio.run(run(settings, args))


async def run(settings: Settings, args: argparse.Namespace) -> None:
    database = Database(settings)
    started = time.perf_counter()
    scene = await seed(database, args.problems)
    await database.dispose()
    print(f"seeded {args.problems} problems in {time.perf_counter() - started:.0f} s")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            facilitator = scene["cookies"][Role.facilitator]
            commander = scene["cookies"][Role.commander]
            pages = {
                "Mes GPO": ("/console", facilitator),
                "Réunion": (f"/console/reunions/{scene['meeting']}", facilitator),
                "Problèmes": ("/console/problemes", facilitator),
                "Problèmes (filtrés)": ("/console/problemes?statut=open&q=probl", facilitator),
                "Carte": ("/console/problemes?vue=carte", facilitator),
                "Problème": (f"/console/problemes/{scene['problem']}", facilitator),
                "Compte rendu": (
                    f"/console/reunions/{scene['meeting']}/compte-rendu",
                    facilitator,
                ),
                "Tableau de bord": ("/console/tableau-de-bord", commander),
            }
            print(
                f"{'page':<22} {'median ms':>10} {'p95 ms':>8} {'HTML KiB':>9} {'CSS+JS KiB':>11}"
            )
            for name, (path, cookie) in pages.items():
                response = await client.get(path, cookies={"gpo_session": cookie})
                if response.status_code == 404:
                    print(f"{name:<22} (no such page here)")
                    continue
                await measure(client, path, cookie, 3)  # warm up
                times = sorted(await measure(client, path, cookie, args.rounds))
                html, assets = await weight(client, path, cookie)
                p95 = times[int(len(times) * 0.95) - 1]
                print(
                    f"{name:<22} {statistics.median(times):>10.1f} {p95:>8.1f} "
                    f"{html / 1024:>9.1f} {assets / 1024:>11.0f}"
                )


if __name__ == "__main__":
    main()
