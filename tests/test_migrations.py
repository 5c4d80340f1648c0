"""The migrations build the schema the models describe, from empty, and undo it."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import to_async_url
from app.core.audit import AuditEvent
from app.governance import service as governance
from app.main import PROJECT_ROOT
from app.models import metadata
from app.reference.seed import CATEGORIES, COMMUNES
from tests import summaries
from tests.databases import alembic_config, postgres, with_database

# Each test migrates a new empty database of its own.
pytestmark = pytest.mark.commits


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    target = os.environ.get("TEST_DATABASE", "sqlite")
    if target == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"gpo_migrations_{secrets.token_hex(4)}"
    asyncio.run(postgres(target, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(target, name)
    finally:
        asyncio.run(postgres(target, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _inspect(url: str, check: Any) -> Any:
    async def run() -> Any:
        engine = create_async_engine(to_async_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(check)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def test_upgrade_from_empty_matches_the_models(empty_database: str) -> None:
    command.upgrade(alembic_config(empty_database), "head")
    assert _inspect(empty_database, _differences) == []
    assert set(metadata.tables) <= _inspect(empty_database, _tables)


def test_downgrade_to_base_and_up_again(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert _inspect(empty_database, _tables) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert _inspect(empty_database, _differences) == []


def test_replicas_starting_together_migrate_and_seed_once(empty_database: str) -> None:
    """Three replicas run their start-up at the same moment on an empty database: the
    start-up lock makes them take turns, so all succeed and each row is there once."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GPO_", "DATABASE_URL"))}
    env = {**clean, "DATABASE_URL": empty_database, "GPO_DEMO_DATA": "1"}
    replicas = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "prestart"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [replica.communicate(timeout=180) for replica in replicas]
    for replica, (_out, err) in zip(replicas, outputs, strict=True):
        assert replica.returncode == 0, err
    assert _inspect(empty_database, _differences) == []
    counts = _inspect(empty_database, _counts)
    assert counts["communes"] == len(COMMUNES)
    assert counts["categories"] == len(CATEGORIES)
    # The demonstration is seeded by the first replica only (its tokens printed once).
    assert sum("Demonstration data seeded" in out for out, _err in outputs) == 1


def _counts(connection: Connection) -> dict[str, int]:
    return {
        name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()  # noqa: S608
        for name in ("communes", "categories", "gpos")
    }


def _write(url: str, work: Any) -> Any:
    async def run() -> Any:
        engine = create_async_engine(to_async_url(url), poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


# Problems stored before 0015: (category, visibility).
LEGACY_PROBLEMS = {
    "P-2025-000001": ("drug_dealing", "partners"),
    "P-2025-000002": ("drug_dealing", "police"),
    "P-2025-000003": ("drug_dealing", "restricted"),
    "P-2025-000004": ("hall_occupation", "partners"),
}


def _legacy_rows(connection: Connection) -> None:
    """A GPO with problems of a sensitive category stored below restricted (before 0015)."""
    sqlite = connection.dialect.name == "sqlite"

    def key(value: uuid.UUID) -> Any:
        return value.hex if sqlite else value

    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    at = now.replace(tzinfo=None) if sqlite else now
    connection.execute(
        text("INSERT INTO communes (code, name, lat, lon) VALUES ('57463', 'Metz', 49.1, 6.2)")
    )
    for code, sensitive, level in (
        ("drug_dealing", True, "restricted"),
        ("hall_occupation", False, "partners"),
    ):
        connection.execute(
            text(
                "INSERT INTO categories (code, family, label_fr, label_en, sensitive, "
                "default_visibility, reportable, version) "
                "VALUES (:code, 'other', :code, :code, :sensitive, :level, true, 1)"
            ),
            {"code": code, "sensitive": sensitive, "level": level},
        )
    gpo_id = uuid.uuid4()
    connection.execute(
        text(
            "INSERT INTO gpos (id, name, kind, meeting_interval_days, next_meeting_due, "
            "created_at, updated_at, version) "
            "VALUES (:id, 'GPO Borny', 'general', 60, :at, :at, :at, 1)"
        ),
        {"id": key(gpo_id), "at": at},
    )
    for reference, (category, visibility) in LEGACY_PROBLEMS.items():
        connection.execute(
            text(
                "INSERT INTO problems (id, reference, gpo_id, title, description, category, "
                "commune_code, priority, priority_rank, visibility, status, displacement, "
                "search_text, created_at, updated_at, version) "
                "VALUES (:id, :reference, :gpo, 'Titre', 'Texte', :category, '57463', "
                "'normal', 1, :visibility, 'new', 'unknown', '', :at, :at, 3)"
            ),
            {
                "id": key(uuid.uuid4()),
                "reference": reference,
                "gpo": key(gpo_id),
                "category": category,
                "visibility": visibility,
                "at": at,
            },
        )


def _problems(connection: Connection) -> dict[str, tuple[str, int]]:
    rows = connection.execute(text("SELECT reference, visibility, version FROM problems"))
    return {reference: (visibility, version) for reference, visibility, version in rows}


def test_0015_raises_sensitive_problems_to_restricted_once(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0014")
    _write(empty_database, _legacy_rows)
    command.upgrade(config, "0015")
    raised = {
        "P-2025-000001": ("restricted", 4),
        "P-2025-000002": ("restricted", 4),
        "P-2025-000003": ("restricted", 3),  # already restricted: untouched
        "P-2025-000004": ("partners", 3),  # not sensitive: untouched
    }
    assert _inspect(empty_database, _problems) == raised
    # Run again (down and up): nothing changes, the versions are not raised twice.
    command.downgrade(config, "0014")
    assert _inspect(empty_database, _problems) == raised
    command.upgrade(config, "0015")
    assert _inspect(empty_database, _problems) == raised


def _legacy_texts(connection: Connection) -> None:
    """Before 0018: a meeting with notes, and on each problem of `_legacy_rows` a review, an
    action, an indicator and a measurement, none with a level of its own."""
    _legacy_rows(connection)
    sqlite = connection.dialect.name == "sqlite"

    def key(value: uuid.UUID) -> Any:
        return value.hex if sqlite else value

    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    at = now.replace(tzinfo=None) if sqlite else now
    stamps = {"at": at}
    gpo = connection.execute(text("SELECT id FROM gpos")).scalar_one()
    organisation, meeting = key(uuid.uuid4()), key(uuid.uuid4())
    connection.execute(
        text(
            "INSERT INTO organisations (id, name, kind, created_at, updated_at, version) "
            "VALUES (:id, 'Bailleur', 'landlord', :at, :at, 1)"
        ),
        {"id": organisation, **stamps},
    )
    connection.execute(
        text(
            "INSERT INTO action_kinds (code, label_fr, label_en, version) "
            "VALUES ('foot_patrol', 'Patrouille', 'Patrol', 1)"
        )
    )
    connection.execute(
        text(
            "INSERT INTO meetings (id, gpo_id, scheduled_at, status, notes, created_at, "
            "updated_at, version) VALUES (:id, :gpo, :at, 'held', 'Notes', :at, :at, 1)"
        ),
        {"id": meeting, "gpo": gpo, **stamps},
    )
    for reference, problem in connection.execute(text("SELECT reference, id FROM problems")):
        indicator = key(uuid.uuid4())
        rows = {
            "meeting_reviews": "INSERT INTO meeting_reviews (id, meeting_id, problem_id, note, "
            "created_at) VALUES (:id, :meeting, :problem, :ref, :at)",
            "actions": "INSERT INTO actions (id, problem_id, title, kind, "
            "assignee_organisation_id, status, due_date, description, created_at, updated_at, "
            "version) VALUES (:id, :problem, :ref, 'foot_patrol', :organisation, 'planned', "
            "'2025-07-01', 'Texte', :at, :at, 1)",
            "indicators": "INSERT INTO indicators (id, problem_id, name, unit, direction, "
            "baseline_value, baseline_start, baseline_end, baseline_rate, source, created_at, "
            "updated_at, version) VALUES (:indicator, :problem, :ref, 'appels', 'decrease', 30, "
            "'2025-01-01', '2025-01-30', 30, 'CIC', :at, :at, 1)",
            "measurements": "INSERT INTO measurements (id, indicator_id, period_start, "
            "period_end, value, rate, note, created_at) VALUES (:id, :indicator, '2025-02-01', "
            "'2025-02-28', 20, 21.4, :ref, :at)",
        }
        for statement in rows.values():
            connection.execute(
                text(statement),
                {
                    "id": key(uuid.uuid4()),
                    "problem": problem,
                    "meeting": meeting,
                    "organisation": organisation,
                    "indicator": indicator,
                    "ref": reference,
                    **stamps,
                },
            )


TEXT_TABLES = {
    "meeting_reviews": "note",
    "actions": "title",
    "indicators": "name",
    "measurements": "note",
}


def _text_levels(connection: Connection) -> dict[str, Any]:
    found: dict[str, Any] = {
        table: dict(connection.execute(text(f"SELECT {named}, visibility FROM {table}")).all())  # noqa: S608
        for table, named in TEXT_TABLES.items()
    }
    found["meetings"] = connection.execute(text("SELECT visibility FROM meetings")).scalar_one()
    return found


def _text_columns(connection: Connection) -> dict[str, set[str]]:
    tables = [*TEXT_TABLES, "meetings"]
    return {table: {c["name"] for c in inspect(connection).get_columns(table)} for table in tables}


def test_0018_gives_each_stored_text_the_level_it_was_read_at(empty_database: str) -> None:
    """Reviews, actions, indicators and measurements take their problem's visibility (as
    0015 left it), a meeting's notes `partners`; the downgrade drops the columns."""
    config = alembic_config(empty_database)
    command.upgrade(config, "0016")
    _write(empty_database, _legacy_texts)
    command.upgrade(config, "0018")
    problems = {
        reference: level for reference, (level, _) in _inspect(empty_database, _problems).items()
    }
    expected = dict.fromkeys(TEXT_TABLES, problems) | {"meetings": "partners"}
    assert _inspect(empty_database, _text_levels) == expected
    assert set(problems.values()) == {"partners", "police", "restricted"}  # every level
    command.downgrade(config, "0016")
    assert all("visibility" not in c for c in _inspect(empty_database, _text_columns).values())
    command.upgrade(config, "0018")
    assert _inspect(empty_database, _text_levels) == expected


def _stored_events(connection: Connection) -> None:
    table = AuditEvent.__table__
    start = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    for n, changes in enumerate(
        [
            {"title": [None, "Hall du 4"]},
            None,
            {"status": ["open", "closed"], "note": [None, "Fin"]},
        ]
    ):
        connection.execute(
            table.insert().values(
                id=uuid.uuid4(),
                at=start.replace(hour=9 + 2 - n),  # stored in another order than they happened
                action="problem.update",
                resource_type="problem",
                resource_id=str(uuid.uuid4()),
                summary=f"Événement {n}",
                changes=changes,
            )
        )


def _verified(url: str) -> tuple[Any, list[tuple[int, str]]]:
    async def run() -> tuple[Any, list[tuple[int, str]]]:
        engine = create_async_engine(to_async_url(url), poolclass=NullPool)
        try:
            async with AsyncSession(engine) as session:
                checked = await governance.verify(session)
                rows = await session.execute(
                    text("SELECT seq, summary FROM audit_events ORDER BY seq")
                )
                return checked, [(int(seq), summary) for seq, summary in rows]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_0017_chains_the_audit_events_already_stored_in_their_order(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0016")
    _write(empty_database, _stored_events)
    command.upgrade(config, "0017")
    checked, order = _verified(empty_database)
    assert (checked.ok, checked.entries, checked.first_broken_at) == (True, 3, None)
    assert order == [(1, "Événement 2"), (2, "Événement 1"), (3, "Événement 0")]


def _take_report_numbers(connection: Connection) -> list[int]:
    connection.execute(text("INSERT INTO counters (name, value) VALUES ('R-2026', 7)"))
    take = text("SELECT reference_next(:name)")
    return [connection.execute(take, {"name": name}).scalar_one() for name in ("R-2026",) * 2]


def _take_references(connection: Connection) -> list[str]:
    connection.execute(text("INSERT INTO counters (name, value) VALUES ('R-2027', 999998)"))
    take = text("SELECT reference_take('R-2027')")
    return [connection.execute(take).scalar_one() for _ in range(2)]


def _counters(connection: Connection) -> dict[str, int]:
    return dict(connection.execute(text("SELECT name, value FROM counters")).all())


def _reference_sequences(connection: Connection) -> int:
    found = "SELECT count(*) FROM pg_class WHERE relkind = 'S' AND relname LIKE 'reference\\_%'"
    return int(connection.execute(text(found)).scalar_one())


def test_0023_goes_on_from_the_counter_and_writes_the_sequence_back(empty_database: str) -> None:
    """The year's sequence starts after its counter's value; a downgrade puts its last
    number back in the counter, so the upsert goes on from there."""
    if not empty_database.startswith("postgresql"):
        pytest.skip("SQLite keeps the counter's row")
    config = alembic_config(empty_database)
    command.upgrade(config, "0023")
    assert _write(empty_database, _take_report_numbers) == [8, 9]
    # Written as the application writes them: six digits at least, more when needed.
    assert _write(empty_database, _take_references) == ["R-2027-999999", "R-2027-1000000"]
    assert _inspect(empty_database, _reference_sequences) == 2
    command.downgrade(config, "0022")
    assert _inspect(empty_database, _counters) == {"R-2026": 9, "R-2027": 1000000}
    assert _inspect(empty_database, _reference_sequences) == 0


# Problems stored before 0027: (status, outcome, with an improved indicator).
FIGURES_PROBLEMS = {
    "P-2025-000001": ("closed", "reduced", True),
    "P-2025-000002": ("closed", None, False),  # closed with no outcome
    "P-2025-000003": ("new", None, True),
    "P-2025-000004": ("new", None, False),
}


def _figures_rows(connection: Connection) -> None:
    """Problems, each with an open action, half with an improved indicator, written at
    0026 (the schema of the models): SQLite has no summary rows of them."""
    tables = metadata.tables
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    connection.execute(
        tables["communes"].insert().values(code="57463", name="Metz", lat=49.1, lon=6.2)
    )
    connection.execute(
        tables["categories"]
        .insert()
        .values(code="rodeo", family="other", label_fr="Rodéo", label_en="Rodeo")
    )
    connection.execute(
        tables["action_kinds"]
        .insert()
        .values(code="foot_patrol", label_fr="Patrouille", label_en="Patrol")
    )
    gpo, organisation = uuid.uuid4(), uuid.uuid4()
    connection.execute(
        tables["gpos"]
        .insert()
        .values(
            id=gpo, name="GPO Borny", kind="general", meeting_interval_days=60, next_meeting_due=now
        )
    )
    connection.execute(
        tables["organisations"].insert().values(id=organisation, name="Bailleur", kind="landlord")
    )
    for n, (reference, (status, outcome, improved)) in enumerate(FIGURES_PROBLEMS.items()):
        problem, indicator = uuid.uuid4(), uuid.uuid4()
        connection.execute(
            tables["problems"]
            .insert()
            .values(
                id=problem,
                reference=reference,
                gpo_id=gpo,
                title="Titre",
                description="Texte",
                category="rodeo",
                commune_code="57463",
                priority="normal",
                priority_rank=1,
                visibility="partners",
                status=status,
                outcome=outcome,
                closed_at=now.replace(day=10 + n) if status == "closed" else None,
                created_at=now,
                updated_at=now,
            )
        )
        connection.execute(
            tables["actions"]
            .insert()
            .values(
                problem_id=problem,
                title="Patrouille",
                kind="foot_patrol",
                assignee_organisation_id=organisation,
                due_date=date(2025, 7, 1),
                visibility="partners",
            )
        )
        connection.execute(
            tables["indicators"]
            .insert()
            .values(
                id=indicator,
                problem_id=problem,
                name="Appels",
                unit="appels",
                direction="decrease",
                baseline_value=30,
                baseline_start=date(2025, 1, 1),
                baseline_end=date(2025, 1, 30),
                baseline_rate=30,
                visibility="partners",
            )
        )
        connection.execute(
            tables["measurements"]
            .insert()
            .values(
                indicator_id=indicator,
                period_start=date(2025, 2, 1),
                period_end=date(2025, 2, 28),
                value=20 if improved else 40,
                rate=20 if improved else 40,
                visibility="partners",
            )
        )


def _summaries_as_recomputed(connection: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
    return summaries.stored(connection), summaries.recomputed(connection)


def _reopen_by_hand(connection: Connection) -> None:
    connection.execute(
        text(
            "UPDATE problems SET status = 'open', outcome = NULL, closed_at = NULL "
            "WHERE reference = 'P-2025-000001'"
        )
    )


def _status_totals(connection: Connection) -> dict[tuple[str, str], int]:
    rows = connection.execute(text("SELECT status, outcome, problems FROM figures_status_totals"))
    found: dict[tuple[str, str], int] = {}
    for status, outcome, problems in rows:
        found[(status, outcome)] = found.get((status, outcome), 0) + problems
    return {key: n for key, n in found.items() if n}


def _figures_triggers(connection: Connection) -> int:
    found = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'figures%'"
    return int(connection.execute(text(found)).scalar_one())


def test_0027_fills_sqlites_summaries_and_its_triggers_keep_them(empty_database: str) -> None:
    """SQLite's summaries, empty before 0027, are filled as they would be recomputed; a
    hand-made UPDATE of a problem's status then moves them, as on PostgreSQL; the downgrade
    drops the triggers and empties the summaries, which nothing keeps any more."""
    config = alembic_config(empty_database)
    command.upgrade(config, "0026")
    _write(empty_database, _figures_rows)
    command.upgrade(config, "0027")
    stored, recomputed = _inspect(empty_database, _summaries_as_recomputed)
    assert stored == recomputed
    assert sum(stored["counts"].values()) == len(FIGURES_PROBLEMS)
    assert len(stored["measured"]) == len(FIGURES_PROBLEMS)
    assert sorted(row[6] for row in stored["closed"]) == [False, True]  # improved or not
    assert sum(stored["open_actions"].values()) == len(FIGURES_PROBLEMS)
    assert _inspect(empty_database, _status_totals) == {
        ("closed", "reduced"): 1,
        ("closed", ""): 1,
        ("new", ""): 2,
    }

    _write(empty_database, _reopen_by_hand)
    stored, recomputed = _inspect(empty_database, _summaries_as_recomputed)
    assert stored == recomputed
    assert len(stored["closed"]) == 1
    assert _inspect(empty_database, _status_totals) == {
        ("closed", ""): 1,
        ("new", ""): 2,
        ("open", ""): 1,
    }

    if not empty_database.startswith("sqlite"):
        return  # PostgreSQL's triggers are 0008's, untouched by 0027
    command.downgrade(config, "0026")
    assert _inspect(empty_database, _figures_triggers) == 0
    stored, _ = _inspect(empty_database, _summaries_as_recomputed)
    assert not any(stored.values())
    command.upgrade(config, "0027")
    assert _inspect(empty_database, _figures_triggers) == 17
    stored, recomputed = _inspect(empty_database, _summaries_as_recomputed)
    assert stored == recomputed
