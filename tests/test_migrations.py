"""The migrations build the schema the models describe, from empty, and undo it."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
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
