"""Bulk seed for the benchmark: a district's worth of problems written straight into the
database, as the service itself would have stored them.

    .venv/bin/python scripts/bench_seed.py --problems 100000 \
        --database-url postgresql://postgres@127.0.0.1:5432/gpo_bench --out var/bench/world.json

What it writes (a seeded random generator: the same shape of data for the same N; dates
follow the day it runs):

- the reference data (`app.reference.seed`: the ten communes, every category and action
  kind), ~25 organisations (police, landlords, Le Met', the communes, the metropolis...),
  40 GPOs (39 general ones covering the communes, Metz the most, and the transport GPO)
  with their communes, member organisations and facilitators;
- four people with API tokens the run step uses, hashed as the service does
  (`app.identity.tokens`): a commander and a facilitator of the national police, a partner
  of the landlord Metz Habitat Territoire (a member of some GPOs) and an admin;
- N problems created over the years 2021 to yesterday, references `P-YYYY-NNNNNN` in
  creation order with the `counters` rows set to match, visibility 70/20/10 %
  partners/police/restricted (drug dealing always restricted), ~20 % open, 60 % closed
  with an outcome; three actions each (some open past their due date); reports on ~20 %
  of the problems (accepted, `R-YYYY-NNNNNN`); indicators with measurements on a third
  (every problem closed as eliminated, reduced or harm_reduced has the improved indicator
  the service asks for).

No audit events: the routes the benchmark measures (lists, detail, figures, report intake)
never read them; a seeded problem's timeline is empty.

On PostgreSQL the rows go in with COPY (asyncpg `copy_records_to_table`), the big tables'
secondary indexes and foreign keys dropped first and rebuilt after (then VACUUM ANALYZE); on SQLite
with `executemany` in large transactions, indexes likewise rebuilt after. Either way the figures'
triggers are off during a bulk load, the summaries filled after by the migrations' backfills.
The database is dropped and created anew first unless `--into-existing` (the test seeds into
its own).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import random
import secrets
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import Table  # noqa: E402
from sqlalchemy.dialects import sqlite as sqlite_dialect  # noqa: E402

from app.config import Settings  # noqa: E402
from app.core.clock import PARIS  # noqa: E402
from app.core.search import normalise  # noqa: E402
from app.identity import tokens  # noqa: E402
from app.indicators.service import rate  # noqa: E402
from app.models import metadata  # noqa: E402
from app.problems.models import PRIORITY_RANK, Priority  # noqa: E402
from app.reference.seed import ACTION_KINDS, CATEGORIES, COMMUNES, SENSITIVE  # noqa: E402

CHUNK = 10_000  # problems generated and written at a time
BULK_FROM = 5_000  # from this many problems, indexes are rebuilt after the load
BIG_TABLES = ("problems", "actions", "reports", "indicators", "measurements")
SUMMARY_TABLES = (
    "figures_problem_counts",
    "figures_closing_days",
    "figures_closed_problems",
    "figures_measured_problems",
    "figures_open_actions",
    # Last: emptying the summaries above moves them (migration 0025's triggers), and the
    # summaries' backfill fills them again through the same triggers.
    "figures_status_totals",
    "figures_category_totals",
    "figures_commune_totals",
    "figures_day_totals",
)
START = datetime(2021, 1, 1, tzinfo=PARIS)

# --- The district: organisations, GPOs -------------------------------------------------

# key: (name, kind, commune)
ORGANISATIONS: dict[str, tuple[str, str, str | None]] = {
    "ddsp": ("DDSP de la Moselle", "national_police", "57463"),
    "pm_metz": ("Police municipale de Metz", "municipal_police", "57463"),
    "pm_woippy": ("Police municipale de Woippy", "municipal_police", "57751"),
    "pm_montigny": ("Police municipale de Montigny-lès-Metz", "municipal_police", "57480"),
    "mht": ("Metz Habitat Territoire", "landlord", "57463"),
    "batigere": ("Batigère", "landlord", "57463"),
    "vilogia": ("Vilogia", "landlord", "57480"),
    "logiest": ("LogiEst", "landlord", "57751"),
    "moselis": ("Moselis", "landlord", "57463"),
    "lemet": ("Le Met' (TAMM)", "transport_operator", "57463"),
    "eurometropole": ("Eurométropole de Metz", "metropolis", "57463"),
    "parquet": ("Parquet de Metz", "prosecutor", "57463"),
    "prefecture": ("Préfecture de la Moselle", "prefecture", "57463"),
    **{
        f"ville_{code}": (f"Ville de {name}", "municipality", code)
        for code, name, _lat, _lon in COMMUNES
    },
}
MUNICIPAL_POLICE = {"57463": "pm_metz", "57751": "pm_woippy", "57480": "pm_montigny"}
LANDLORDS = ("mht", "batigere", "vilogia", "logiest", "moselis")
# (main commune, number of GPOs, sectors)
GPO_PLAN: list[tuple[str, list[str]]] = [
    (
        "57463",
        [
            "Borny",
            "Bellecroix",
            "La Patrotte",
            "Metz-Nord",
            "Le Sablon",
            "Queuleu",
            "Plantières",
            "Grigy",
            "Magny",
            "Devant-les-Ponts",
            "Centre-ville",
            "Quartier de la Gare",
            "Vallières",
            "Les Îles",
            "Nouvelle Ville",
            "Technopôle",
            "Outre-Seille",
            "Sainte-Thérèse",
            "Saint-Pierre",
            "Chambière",
        ],
    ),
    ("57751", ["Saint-Éloy", "Boileau-Pré-Génie", "Woippy-Village", "Le Roi"]),
    ("57480", ["Marchant", "Saint-Privat", "Les Hauts de Blémont", "Centre"]),
    ("57447", ["Les Hauts de Marly", "Frécot"]),
    ("57049", ["Centre"]),
    ("57412", ["Centre"]),
    ("57487", ["Centre"]),
    ("57545", ["Centre"]),
    ("57616", ["Centre"]),
    ("57642", ["Centre"]),
]
# General GPOs covering several communes, after the others.
INTERCOMMUNAL = [
    ("Rive gauche", ["57049", "57412", "57642", "57487"]),
    ("Coteaux", ["57545", "57616"]),
    ("Sud messin", ["57480", "57447"]),
]
STREETS = [
    "rue de Toul",
    "rue des Allemands",
    "boulevard de Trèves",
    "rue Mazelle",
    "avenue de Strasbourg",
    "rue du Général Metman",
    "rue Charles Pêtre",
    "place de la République",
    "rue de Pont-à-Mousson",
    "boulevard Solidarité",
    "rue Jean Burger",
    "avenue de Thionville",
    "rue de Verdun",
    "rue Saint-Éloy",
    "rue des Jardins",
    "allée du Château",
]
DESCRIPTIONS = [
    "Regroupements répétés en soirée, nuisances sonores et dégradations signalées par les "
    "locataires.",
    "Signalements réguliers depuis plusieurs semaines ; les riverains demandent une présence "
    "accrue.",
    "Situation récurrente le week-end, aggravée aux beaux jours. Plusieurs appels au 17.",
    "Le bailleur constate des dégradations du hall et des portes d'accès forcées.",
    "Faits constatés par les patrouilles et confirmés par le gardien d'immeuble.",
    "Tensions avec les commerçants du secteur, plaintes déposées en mairie.",
]
OBJECTIVES = [
    "Faire cesser les regroupements dans le hall d'ici l'été.",
    "Réduire de moitié les appels au 17 sur le secteur en six mois.",
    "Rétablir la tranquillité des locataires et la sécurité des accès.",
]
TIME_PATTERNS = [
    "Soirs de semaine, 22 h - 2 h",
    "Week-ends, après-midi et soirée",
    "Tous les soirs après 20 h",
    "Sorties d'école, 16 h - 18 h",
]
LINES = ["Mettis A", "Mettis B", "L1", "L2", "L3", "L4", "L5", "C11", "C14"]
STATIONS = ["Gare de Metz-Ville", "République", "Saint-Jacques", "Pontiffroy", "Hauts de Blémont"]
INDICATORS = [
    ("Appels au 17 pour le secteur", "appels", "decrease"),
    ("Dégradations constatées par le bailleur", "faits", "decrease"),
    ("Plaintes des locataires", "plaintes", "decrease"),
    ("Interventions de la police municipale", "interventions", "decrease"),
    ("Satisfaction des riverains (enquête)", "points", "increase"),
]
FIRST_NAMES = ["Claire", "Paul", "Sophie", "Karim", "Julie", "Marc", "Nadia", "Thomas", "Léa"]
LAST_NAMES = ["Martin", "Durand", "Leroy", "Benali", "Petit", "Muller", "Schmitt", "Klein"]

# Weights of the problems' distributions (visibility 70/20/10 partners/police/restricted).
VISIBILITY = (("partners", 0.70), ("police", 0.90), ("restricted", 1.0))
STATUS = (("open", 0.20), ("new", 0.28), ("monitoring", 0.40), ("closed", 1.0))
PRIORITY = (("low", 0.20), ("normal", 0.70), ("high", 0.92), ("urgent", 1.0))
OUTCOMES = (
    ("eliminated", 0.15),
    ("reduced", 0.40),
    ("harm_reduced", 0.48),
    ("better_handled", 0.68),
    ("responsibility_shifted", 0.75),
    ("no_improvement", 0.90),
    ("duplicate", 0.95),
    ("not_in_scope", 1.0),
)
CLAIMED = frozenset({"eliminated", "reduced", "harm_reduced"})
DISPLACEMENT = (("unknown", 0.40), ("none", 0.80), ("displacement", 0.92), ("diffusion", 1.0))


def pick(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    """A value of a cumulative-weights table."""
    r = rng.random()
    for value, upto in table:
        if r < upto:
            return value
    return table[-1][0]


# --- Tables: the columns the seed fills, checked against the models' metadata ----------------


class SchemaDrift(RuntimeError):
    """A NOT NULL column the seed does not fill (the schema changed): update this seed."""


@dataclass
class Columns:
    """The columns of `table` the seed writes, in the order of its tuples, and what it
    adds for the columns it does not know (their scalar default, or null); columns with a
    server default are left to the server."""

    table: Table
    filled: tuple[str, ...]
    names: tuple[str, ...] = ()
    extra: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        known = set(self.table.c.keys())
        if unknown := set(self.filled) - known:
            raise SchemaDrift(f"{self.table.name}: no column {sorted(unknown)}")
        names, extra = list(self.filled), []
        for column in self.table.columns:
            if column.name in self.filled:
                continue
            if column.server_default is not None:
                continue
            default = column.default
            if default is not None and getattr(default, "is_scalar", False):
                names.append(column.name)
                extra.append(default.arg)  # type: ignore[attr-defined]
            elif column.nullable:
                names.append(column.name)
                extra.append(None)
            else:
                raise SchemaDrift(
                    f"{self.table.name}.{column.name} is NOT NULL without a scalar default: "
                    "scripts/bench_seed.py must fill it"
                )
        self.names = tuple(names)
        self.extra = tuple(extra)

    def rows(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        extra = self.extra
        if not extra:
            yield from rows
            return
        for row in rows:
            yield row + extra


def columns(name: str, *filled: str) -> Columns:
    return Columns(metadata.tables[name], filled)


TIMESTAMPS = ("id", "created_at", "updated_at", "version")
COLUMNS = {
    "organisations": columns("organisations", *TIMESTAMPS, "name", "kind", "commune_code"),
    "users": columns(
        "users",
        *TIMESTAMPS,
        "email",
        "display_name",
        "role",
        "organisation_id",
        "active",
        "builtin",
    ),
    "api_tokens": columns(
        "api_tokens", "id", "user_id", "name", "prefix", "token_hash", "created_at", "bootstrap"
    ),
    "gpos": columns(
        "gpos",
        *TIMESTAMPS,
        "name",
        "kind",
        "meeting_interval_days",
        "created_by",
        "next_meeting_due",
        "transport_reports",
    ),
    "gpo_communes": columns("gpo_communes", "gpo_id", "commune_code"),
    "gpo_members": columns("gpo_members", "gpo_id", "organisation_id"),
    "gpo_facilitators": columns("gpo_facilitators", "gpo_id", "user_id"),
    "problems": columns(
        "problems",
        *TIMESTAMPS,
        "reference",
        "gpo_id",
        "title",
        "description",
        "category",
        "commune_code",
        "address",
        "sector",
        "lat",
        "lon",
        "transport_line",
        "station",
        "priority",
        "priority_rank",
        "visibility",
        "objective",
        "time_pattern",
        "status",
        "outcome",
        "outcome_note",
        "displacement",
        "closed_at",
        "created_by",
        "search_text",
    ),
    "actions": columns(
        "actions",
        *TIMESTAMPS,
        "problem_id",
        "title",
        "kind",
        "assignee_organisation_id",
        "status",
        "due_date",
        "result_note",
        "completed_at",
        "created_by",
        "visibility",
    ),
    "reports": columns(
        "reports",
        *TIMESTAMPS,
        "reference",
        "status",
        "source",
        "category",
        "commune_code",
        "description",
        "address",
        "lat",
        "lon",
        "gpo_id",
        "submitted_by_organisation_id",
        "submitted_by_user_id",
        "problem_id",
        "triaged_at",
        "triaged_by",
    ),
    "indicators": columns(
        "indicators",
        *TIMESTAMPS,
        "problem_id",
        "name",
        "unit",
        "direction",
        "baseline_value",
        "baseline_start",
        "baseline_end",
        "baseline_rate",
        "target_value",
        "source",
        "created_by",
        "visibility",
    ),
    "measurements": columns(
        "measurements",
        "id",
        "indicator_id",
        "period_start",
        "period_end",
        "value",
        "rate",
        "created_by",
        "created_at",
        "visibility",
    ),
}


# --- Writers: PostgreSQL (COPY) and SQLite (executemany) ------------------------------------


class Writer:
    async def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    async def scalar_rows(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def before_bulk(self) -> None: ...

    async def after_bulk(self) -> None: ...

    async def set_counters(self, counters: dict[str, int]) -> None:
        raise NotImplementedError

    async def close(self) -> None: ...


class PostgresWriter(Writer):
    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.saved_indexes: list[str] = []
        self.saved_constraints: list[tuple[str, str, str]] = []

    @classmethod
    async def open(cls, url: str) -> PostgresWriter:
        import asyncpg

        connection = await asyncpg.connect(plain_postgres_url(url))
        # Bulk loading: no wait for the WAL flush at each commit of this session.
        await connection.execute("SET synchronous_commit = off")
        return cls(connection)

    async def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        spec = COLUMNS[table]
        await self.connection.copy_records_to_table(
            table, records=list(spec.rows(rows)), columns=list(spec.names)
        )

    async def scalar_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self.connection.fetch(sql)]

    async def before_bulk(self) -> None:
        """Drop the big tables' foreign keys and secondary indexes (not those behind a
        primary key or unique constraint), saving their definitions to rebuild them."""
        tables = list(BIG_TABLES)
        self.saved_constraints = [
            (r["table"], r["name"], r["definition"])
            for r in await self.connection.fetch(
                "SELECT conrelid::regclass::text AS table, conname AS name, "
                "pg_get_constraintdef(oid) AS definition FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid::regclass::text = ANY($1::text[])",
                tables,
            )
        ]
        self.saved_indexes = [
            r["indexdef"]
            for r in await self.connection.fetch(
                "SELECT i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
                "AND i.tablename = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "WHERE c.conname = i.indexname AND c.contype IN ('p', 'u'))",
                tables,
            )
        ]
        for table, name, _ in self.saved_constraints:
            await self.connection.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        # The figures' triggers (migrations 0008, 0014) would look up each row's indicators
        # without their indexes: a quadratic load. They are off during the load, and the
        # summaries rebuilt after from every row, as the migrations' backfills build them.
        for table in tables:
            await self.connection.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        for definition in self.saved_indexes:
            name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            await self.connection.execute(f"DROP INDEX {name}")

    async def after_bulk(self) -> None:
        await self.connection.execute("SET maintenance_work_mem = '512MB'")
        for definition in self.saved_indexes:
            await self.connection.execute(definition)
        for table, name, definition in self.saved_constraints:
            await self.connection.execute(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'
            )
        for table in SUMMARY_TABLES:
            await self.connection.execute(f'DELETE FROM "{table}"')  # noqa: S608 (our names)
        # Statistics first: the backfills' joins planned on tables the planner has never
        # seen take nested loops over millions of rows (1M problems: a quarter of an hour
        # in one INSERT).
        await self.connection.execute("ANALYZE")
        for statement in summary_backfill():
            await self.connection.execute(statement)
        for table in BIG_TABLES:
            await self.connection.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
        # VACUUM as well: a database fresh from COPY has no visibility map, and the
        # index-only scans the service relies on would read the tables too (autovacuum may
        # be off, as on this project's CI machine).
        await self.connection.execute("VACUUM (ANALYZE)")

    async def set_counters(self, counters: dict[str, int]) -> None:
        await self.connection.executemany(
            "INSERT INTO counters (name, value) VALUES ($1, $2) "
            "ON CONFLICT (name) DO UPDATE SET value = GREATEST(counters.value, EXCLUDED.value)",
            sorted(counters.items()),
        )

    async def close(self) -> None:
        await self.connection.close()


class SqliteWriter(Writer):
    """Values converted by the columns' own SQLAlchemy types (UUIDs as hex, instants as
    naive UTC text), so that the service reads them back as it wrote its own."""

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=OFF")
        self.connection.execute("BEGIN")
        self.dialect = sqlite_dialect.dialect()
        self.saved_indexes: list[str] = []
        self.saved_triggers: list[str] = []
        self.statements: dict[str, tuple[str, list[Callable[[Any], Any] | None]]] = {}

    def _statement(self, table: str) -> tuple[str, list[Callable[[Any], Any] | None]]:
        if table not in self.statements:
            spec = COLUMNS[table]
            names = ", ".join(f'"{n}"' for n in spec.names)
            marks = ", ".join("?" for _ in spec.names)
            processors = [
                spec.table.c[n].type.dialect_impl(self.dialect).bind_processor(self.dialect)
                for n in spec.names
            ]
            self.statements[table] = (
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',  # noqa: S608 - our names
                processors,
            )
        return self.statements[table]

    async def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        sql, processors = self._statement(table)
        pairs = [(i, p) for i, p in enumerate(processors) if p is not None]

        def convert(row: tuple[Any, ...]) -> list[Any]:
            values = list(row)
            for i, processor in pairs:
                if values[i] is not None:
                    values[i] = processor(values[i])
            return values

        self.connection.executemany(sql, (convert(r) for r in COLUMNS[table].rows(rows)))

    async def scalar_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.connection.execute(sql)]

    async def before_bulk(self) -> None:
        marks = ", ".join("?" for _ in BIG_TABLES)
        found = self.connection.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608
            f"AND tbl_name IN ({marks})",
            BIG_TABLES,
        ).fetchall()
        self.saved_indexes = [sql for _, sql in found]
        for name, _ in found:
            self.connection.execute(f'DROP INDEX "{name}"')
        # The figures' triggers (migration 0027) would run their statements for every row,
        # some without their indexes: dropped during the load, the summaries filled after
        # as the migration fills them, the triggers created again.
        triggers = self.connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'figures_%'"
        ).fetchall()
        self.saved_triggers = [sql for _, sql in triggers]
        for name, _ in triggers:
            self.connection.execute(f'DROP TRIGGER "{name}"')

    async def after_bulk(self) -> None:
        for sql in self.saved_indexes:
            self.connection.execute(sql)
        self.connection.execute("ANALYZE")  # the backfill's joins planned with statistics
        for table in SUMMARY_TABLES:
            self.connection.execute(f'DELETE FROM "{table}"')  # noqa: S608 (our names)
        for statement in sqlite_summary_backfill():
            self.connection.execute(statement)
        for sql in self.saved_triggers:
            self.connection.execute(sql)

    async def set_counters(self, counters: dict[str, int]) -> None:
        self.connection.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = max(counters.value, excluded.value)",
            sorted(counters.items()),
        )

    async def close(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("ANALYZE")
        self.connection.close()


def _backfill(name: str) -> list[str]:
    """A migration's BACKFILL: the statements with which it fills its summaries from the
    rows already there (the migrations are the one definition of those summaries)."""
    import importlib.util

    path = PROJECT_ROOT / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    statements = module.BACKFILL  # a list, or (0008, 0014) one script to split
    return list(statements) if isinstance(statements, list) else module.statements(statements)


def summary_backfill() -> list[str]:
    """PostgreSQL's: 0008's, with the closed problems' rows as 0014 widened them, and
    0022's open actions (0025's totals follow through its triggers)."""
    widened = _backfill("0014_annual_summaries")
    found: list[str] = []
    for statement in _backfill("0008_figures"):
        closed = statement.startswith("INSERT INTO figures_closed_problems")
        found += widened if closed else [statement]
    return found + _backfill("0022_open_actions_summary")


def sqlite_summary_backfill() -> list[str]:
    """SQLite's, every summary and total at once, with no trigger on (0027's)."""
    return _backfill("0027_sqlite_figures_triggers")


def plain_postgres_url(url: str) -> str:
    return "postgresql://" + url.partition("://")[2]


# --- The world ---------------------------------------------------------------------------


@dataclass
class GpoPlan:
    id: uuid.UUID
    name: str
    kind: str
    communes: list[str]
    sector: str
    members: list[str]  # organisation keys
    facilitator: uuid.UUID
    weight: float


@dataclass
class World:
    secret_key: str
    organisations: dict[str, uuid.UUID] = field(default_factory=dict)
    people: dict[str, uuid.UUID] = field(default_factory=dict)
    reporters: dict[str, uuid.UUID] = field(default_factory=dict)  # organisation key → user
    tokens: dict[str, str] = field(default_factory=dict)
    gpos: list[GpoPlan] = field(default_factory=list)


def build_world(rng: random.Random, secret_key: str, now: datetime) -> tuple[World, dict]:
    """The small tables' rows: organisations, people and tokens, GPOs."""
    world = World(secret_key=secret_key)
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
    at = START - timedelta(days=30)
    for key, (name, kind, commune) in ORGANISATIONS.items():
        world.organisations[key] = uuid.UUID(int=rng.getrandbits(128), version=4)
        rows["organisations"].append((world.organisations[key], at, at, 1, name, kind, commune))

    def person(role: str, organisation: str | None, name: str) -> uuid.UUID:
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        email = f"{name.lower().replace(' ', '.')}.{user_id.hex[:6]}@bench.example"
        organisation_id = world.organisations[organisation] if organisation else None
        rows["users"].append((user_id, at, at, 1, email, name, role, organisation_id, True, False))
        return user_id

    def token(who: str, user_id: uuid.UUID) -> None:
        secret = f"gpo_bench_{who}_{secrets.token_hex(16)}"
        world.tokens[who] = secret
        rows["api_tokens"].append(
            (
                uuid.uuid4(),
                user_id,
                "bench",
                tokens.display_prefix(secret),
                tokens.token_hash(secret_key, secret),
                now,
                False,
            )
        )

    for who, role, organisation, name in (
        ("admin", "admin", None, "Admin Banc"),
        ("commander", "commander", "ddsp", "Paul Durand"),
        ("facilitator", "facilitator", "ddsp", "Claire Martin"),
        ("partner", "partner", "mht", "Sophie Leroy"),
    ):
        world.people[who] = person(role, organisation, name)
        token(who, world.people[who])
    # Other facilitators (without tokens), and one reporting partner per landlord and Le Met'.
    facilitators = [world.people["facilitator"]]
    for i in range(5):
        name = f"{FIRST_NAMES[i]} {LAST_NAMES[(i + 3) % len(LAST_NAMES)]}"
        facilitators.append(person("facilitator", "ddsp" if i % 2 else "pm_metz", name))
    for key in (*LANDLORDS, "lemet"):
        world.reporters[key] = (
            world.people["partner"]
            if key == "mht"
            else person("partner", key, f"Référent {ORGANISATIONS[key][0]}")
        )

    plans: list[tuple[str, list[str], str]] = [
        (f"GPO {name_of(c)} — {s}" if s != "Centre" else f"GPO {name_of(c)}", [c], s)
        for c, sectors in GPO_PLAN
        for s in sectors
    ]
    plans += [(f"GPO {name} (intercommunal)", codes, name) for name, codes in INTERCOMMUNAL]
    for index, (name, communes, sector) in enumerate(plans):
        main = communes[0]
        members = ["ddsp", f"ville_{main}"]
        if main in MUNICIPAL_POLICE:
            members.append(MUNICIPAL_POLICE[main])
        landlords = rng.sample(LANDLORDS, rng.randint(1, 3))
        # Metz Habitat Territoire sits in every other Metz GPO, and in a few elsewhere.
        if (main == "57463" and index % 2 == 0) or (main != "57463" and index % 5 == 0):
            landlords = ["mht", *(k for k in landlords if k != "mht")]
        else:
            landlords = [k for k in landlords if k != "mht"] or ["batigere"]
        members += landlords
        if rng.random() < 0.4:
            members.append("eurometropole")
        if rng.random() < 0.3:
            members.append("lemet")
        if rng.random() < 0.2:
            members.append("parquet")
        weight = (3.0 if main == "57463" else 1.0) * rng.uniform(0.5, 2.0)
        world.gpos.append(
            GpoPlan(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                name=name,
                kind="general",
                communes=communes,
                sector=sector,
                members=members,
                facilitator=facilitators[0] if index % 4 == 0 else rng.choice(facilitators[1:]),
                weight=weight,
            )
        )
    world.gpos.append(
        GpoPlan(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            name="GPO Transports — réseau Le Met'",
            kind="transport",
            communes=[],
            sector="Réseau Le Met'",
            members=["ddsp", "lemet", "eurometropole", "pm_metz", "mht"],
            facilitator=world.people["facilitator"],
            weight=4.0,
        )
    )
    for index, gpo in enumerate(world.gpos):
        created = START - timedelta(days=20) + timedelta(minutes=index)
        interval = 31 if gpo.kind == "transport" else 60
        rows["gpos"].append(
            (
                gpo.id,
                created,
                created,
                1,
                gpo.name,
                gpo.kind,
                interval,
                gpo.facilitator,
                created + timedelta(days=interval),
                gpo.kind == "transport",
            )
        )
        rows["gpo_communes"] += [(gpo.id, code) for code in gpo.communes]
        rows["gpo_members"] += [(gpo.id, world.organisations[key]) for key in gpo.members]
        rows["gpo_facilitators"].append((gpo.id, gpo.facilitator))
    return world, rows


def name_of(code: str) -> str:
    return next(name for c, name, _lat, _lon in COMMUNES if c == code)


CENTRES = {code: (lat, lon) for code, _name, lat, lon in COMMUNES}
TRANSPORT = [c for c, family, _fr, _en in CATEGORIES if family.value == "transport"]
GENERAL = [c for c, family, _fr, _en in CATEGORIES if family.value != "transport"]
LABELS = {code: label for code, _family, label, _en in CATEGORIES}
KINDS = [(code, label) for code, label, _en in ACTION_KINDS]
# Metz is where most of the trouble is reported.
COMMUNE_WEIGHTS = [
    (c, w)
    for c, w in zip([c for c, *_ in COMMUNES], [50, 3, 3, 6, 12, 3, 1, 3, 2, 17], strict=True)
]


# --- The problems and what hangs on them ----------------------------------------------------


@dataclass
class Seeder:
    rng: random.Random
    world: World
    now: datetime
    total: int
    counters: dict[str, int]
    span: float = 0.0
    cumulative: list[float] = field(default_factory=list)
    partner_gpos: frozenset[uuid.UUID] = frozenset()
    partner_ids: list[str] = field(default_factory=list)
    sample_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.span = (self.now - timedelta(days=1) - START).total_seconds()
        running = 0.0
        for gpo in self.world.gpos:
            running += gpo.weight
            self.cumulative.append(running)
        self.partner_gpos = frozenset(g.id for g in self.world.gpos if "mht" in g.members)
        self.today = self.now.astimezone(PARIS).date()
        self.facilitator = self.world.people["facilitator"]
        self.counts = dict.fromkeys(BIG_TABLES, 0)
        self.counts |= {"open": 0, "overdue_actions": 0, "partner_visible": 0}

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def reference(self, prefix: str, at: datetime) -> str:
        name = f"{prefix}-{at.astimezone(PARIS).year}"
        value = self.counters.get(name, 0) + 1
        self.counters[name] = value
        return f"{name}-{value:06d}"

    def chunk(self, first: int, size: int) -> dict[str, list[tuple[Any, ...]]]:
        rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in BIG_TABLES}
        for index in range(first, first + size):
            self.problem(index, rows)
        for name in BIG_TABLES:
            self.counts[name] += len(rows[name])
        return rows

    def problem(self, index: int, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        rng, now = self.rng, self.now
        # Creation instants in order, evenly spread over the years (a reference's number
        # follows its creation within the year, as the service's counter gives them).
        created = START + timedelta(seconds=(index + rng.random()) * self.span / self.total)
        gpo = self.world.gpos[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]
        if gpo.kind == "transport":
            category = rng.choice(TRANSPORT)
            commune = rng.choices(*zip(*COMMUNE_WEIGHTS, strict=True))[0]
        else:
            category = rng.choice(GENERAL)
            commune = gpo.communes[0] if rng.random() < 0.7 else rng.choice(gpo.communes)
        visibility = pick(rng, VISIBILITY)
        if category in SENSITIVE:
            visibility = SENSITIVE[category].value
        status = pick(rng, STATUS)
        priority = pick(rng, PRIORITY)
        problem_id = self.uuid()
        reference = self.reference("P", created)
        street = rng.choice(STREETS)
        title = f"{LABELS[category]} — {rng.randint(1, 120)} {street}"[:200]
        description = rng.choice(DESCRIPTIONS)
        lat0, lon0 = CENTRES[commune]
        located = rng.random() < 0.9
        lat = round(lat0 + rng.uniform(-0.012, 0.012), 6) if located else None
        lon = round(lon0 + rng.uniform(-0.018, 0.018), 6) if located else None
        transport = gpo.kind == "transport"
        outcome = outcome_note = closed_at = None
        displacement = "unknown"
        version = {"new": 1, "open": 2, "monitoring": 3, "closed": 3}[status]
        updated = created
        if status == "closed":
            outcome = pick(rng, OUTCOMES)
            closed_at = min(created + timedelta(days=rng.expovariate(1 / 90)), now)
            closed_at = max(closed_at, created + timedelta(hours=1))
            if closed_at > now:
                closed_at = now
            displacement = pick(rng, DISPLACEMENT)
            outcome_note = "Situation suivie en GPO, résultat constaté en réunion."
            updated = closed_at
        elif status != "new":
            updated = min(created + timedelta(days=rng.uniform(1, 30)), now)
            self.counts["open"] += status == "open"
        rows["problems"].append(
            (
                problem_id,
                created,
                updated,
                version,
                reference,
                gpo.id,
                title,
                description,
                category,
                commune,
                f"{rng.randint(1, 120)} {street}" if located and not transport else None,
                gpo.sector,
                lat,
                lon,
                rng.choice(LINES) if transport else None,
                rng.choice(STATIONS) if transport else None,
                priority,
                PRIORITY_RANK[Priority(priority)],
                visibility,
                rng.choice(OBJECTIVES) if rng.random() < 0.5 else None,
                rng.choice(TIME_PATTERNS) if rng.random() < 0.5 else None,
                status,
                outcome,
                outcome_note,
                displacement,
                closed_at,
                gpo.facilitator,
                normalise(reference, title, description),
            )
        )
        visible_to_partner = gpo.id in self.partner_gpos and visibility == "partners"
        self.counts["partner_visible"] += visible_to_partner
        self.sample(self.sample_ids, str(problem_id), index)
        if visible_to_partner:
            self.sample(self.partner_ids, str(problem_id), self.counts["partner_visible"])
        # Their texts at the problem's level, as migration 0018 leaves the stored ones.
        self.actions(problem_id, gpo, status, created, closed_at, visibility, rows["actions"])
        if rng.random() < 0.2:
            self.reports(problem_id, gpo, category, commune, created, lat, lon, rows["reports"])
        if (outcome in CLAIMED) or rng.random() < 0.06:
            self.indicator(problem_id, created, outcome in CLAIMED, visibility, rows)

    def sample(self, kept: list[str], value: str, seen: int, size: int = 1000) -> None:
        """Reservoir sampling: `size` values drawn evenly from all those seen."""
        if len(kept) < size:
            kept.append(value)
        elif (j := self.rng.randrange(seen + 1)) < size:
            kept[j] = value

    def actions(
        self,
        problem_id: uuid.UUID,
        gpo: GpoPlan,
        status: str,
        created: datetime,
        closed_at: datetime | None,
        visibility: str,
        rows: list[tuple[Any, ...]],
    ) -> None:
        rng, now, today = self.rng, self.now, self.today
        for _ in range(3):
            kind, label = rng.choice(KINDS)
            assignee = self.world.organisations[rng.choice(gpo.members)]
            action_created = min(created + timedelta(days=rng.uniform(0, 20)), now)
            start_day = action_created.astimezone(PARIS).date()
            completed = None
            version = 1
            r = rng.random()
            if status == "closed":
                action_status = "done" if r < 0.8 else "cancelled"
                end_day = (closed_at or now).astimezone(PARIS).date()
                due = start_day + timedelta(days=rng.randint(0, max(0, (end_day - start_day).days)))
            elif r < 0.45:
                action_status = "done"
                due = start_day + timedelta(days=rng.randint(7, 60))
            elif r < 0.85 or start_day >= today - timedelta(days=1):
                action_status = "planned" if rng.random() < 0.6 else "in_progress"
                due = today + timedelta(days=rng.randint(1, 90))
            else:
                # Open and past due: what `overdue=true` lists.
                action_status = "planned" if rng.random() < 0.5 else "in_progress"
                first = max(start_day, today - timedelta(days=90))
                due = first + timedelta(days=rng.randint(0, max(0, (today - first).days - 1)))
                self.counts["overdue_actions"] += 1
            updated = action_created
            if action_status in ("done", "cancelled", "in_progress"):
                version = 2
                moved = datetime.combine(due, datetime.min.time(), PARIS) + timedelta(hours=10)
                updated = min(max(moved, action_created), now)
                if action_status == "done":
                    completed = updated
            rows.append(
                (
                    self.uuid(),
                    action_created,
                    updated,
                    version,
                    problem_id,
                    label[:200],
                    kind,
                    assignee,
                    action_status,
                    due,
                    "Réalisée, compte rendu en GPO." if action_status == "done" else None,
                    completed,
                    gpo.facilitator,
                    visibility,
                )
            )

    def reports(
        self,
        problem_id: uuid.UUID,
        gpo: GpoPlan,
        category: str,
        commune: str,
        created: datetime,
        lat: float | None,
        lon: float | None,
        rows: list[tuple[Any, ...]],
    ) -> None:
        rng = self.rng
        reporters = [k for k in gpo.members if k in self.world.reporters] or ["mht"]
        for _ in range(2 if rng.random() < 0.25 else 1):
            key = rng.choice(reporters)
            at = created - timedelta(hours=rng.uniform(1, 72))
            rows.append(
                (
                    self.uuid(),
                    at,
                    created,
                    2,
                    self.reference("R", at),
                    "accepted",
                    "open311" if rng.random() < 0.1 else "api",
                    category,
                    commune,
                    rng.choice(DESCRIPTIONS),
                    None,
                    lat,
                    lon,
                    gpo.id,
                    self.world.organisations[key],
                    self.world.reporters[key],
                    problem_id,
                    created,
                    gpo.facilitator,
                )
            )

    def indicator(
        self,
        problem_id: uuid.UUID,
        created: datetime,
        improved: bool,
        visibility: str,
        rows: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        rng, now, today = self.rng, self.now, self.today
        name, unit, direction = rng.choice(INDICATORS)
        if improved:
            direction = "decrease"
            name, unit = INDICATORS[0][:2]
        day = created.astimezone(PARIS).date()
        baseline_start, baseline_end = day - timedelta(days=90), day - timedelta(days=1)
        baseline_value = float(rng.randint(6, 60))
        baseline_rate = rate(baseline_value, baseline_start, baseline_end)
        # The baseline per 30 days: measurements are monthly, below it when improved.
        monthly = baseline_rate
        indicator_id = self.uuid()
        at = min(created + timedelta(days=rng.uniform(1, 10)), now)
        rows["indicators"].append(
            (
                indicator_id,
                at,
                at,
                1,
                problem_id,
                name,
                unit,
                direction,
                baseline_value,
                baseline_start,
                baseline_end,
                baseline_rate,
                float(round(baseline_value / 2)) if rng.random() < 0.5 else None,
                "Main courante DDSP" if unit == "appels" else "Bailleur",
                self.facilitator,
                visibility,
            )
        )
        start = baseline_end + timedelta(days=1)
        for n in range(rng.randint(1, 3)):
            period_start = start + timedelta(days=30 * n)
            period_end = period_start + timedelta(days=29)
            # Periods that have ended; the evidence of a claimed result even if recent.
            if period_end >= today and not (improved and n == 0):
                break
            if improved:
                value = float(round(monthly * rng.uniform(0.2, 0.7)))
            else:
                value = float(round(monthly * rng.uniform(0.6, 1.3)))
            recorded = min(
                datetime.combine(period_end, datetime.min.time(), PARIS) + timedelta(days=2),
                now,
            )
            rows["measurements"].append(
                (
                    self.uuid(),
                    indicator_id,
                    period_start,
                    period_end,
                    value,
                    rate(value, period_start, period_end),
                    self.facilitator,
                    recorded,
                    visibility,
                )
            )


# --- Putting it together -------------------------------------------------------------------


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def recreate_database(url: str, *, force: bool) -> None:
    """Drop and create the benchmark's database (PostgreSQL) or file (SQLite)."""
    settings = Settings(database_url=url)
    if not settings.is_sqlite:
        asyncio.run(recreate_postgres_database(url, force=force))
        return
    path = settings.sqlite_path
    if path is None:
        raise SystemExit("bench seed: an SQLite URL must name a file")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


async def recreate_postgres_database(url: str, *, force: bool) -> None:
    import asyncpg

    name = database_name(url)
    if "bench" not in name and not force:
        raise SystemExit(
            f"bench seed: refusing to drop database {name!r} (its name has no 'bench'; "
            "pass --force)"
        )
    admin = urlunsplit(urlsplit(plain_postgres_url(url))._replace(path="/postgres"))
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def migrate_and_seed_reference(url: str) -> None:
    from app.cli import migrate
    from app.cli import seed as seed_reference

    settings = Settings(database_url=url, gpo_demo_data=False)
    migrate(settings)
    asyncio.run(seed_reference(settings))


async def open_writer(url: str) -> Writer:
    settings = Settings(database_url=url)
    if settings.is_sqlite:
        path = settings.sqlite_path
        assert path is not None
        return SqliteWriter(str(path))
    return await PostgresWriter.open(url)


async def seed_into(
    url: str, problems: int, secret_key: str, *, seed: int = 7, bulk: bool | None = None
) -> dict[str, Any]:
    """Write the world and `problems` problems into a migrated database holding the
    reference data; what the run step needs to know, as a dict (the JSON file)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    now = datetime.now(UTC).replace(microsecond=0)
    writer = await open_writer(url)
    started = time.perf_counter()
    try:
        counters = {
            str(name): int(value)
            for name, value in await writer.scalar_rows("SELECT name, value FROM counters")
        }
        world, small = build_world(rng, secret_key, now)
        for table in (
            "organisations",
            "users",
            "api_tokens",
            "gpos",
            "gpo_communes",
            "gpo_members",
            "gpo_facilitators",
        ):
            await writer.write(table, small[table])
        seeder = Seeder(rng, world, now, max(problems, 1), counters)
        bulk = problems >= BULK_FROM if bulk is None else bulk
        if bulk:
            await writer.before_bulk()
        done = 0
        while done < problems:
            size = min(CHUNK, problems - done)
            rows = seeder.chunk(done, size)
            for table in BIG_TABLES:
                await writer.write(table, rows[table])
            done += size
            if problems >= 100_000 and done % 100_000 == 0:
                elapsed = time.perf_counter() - started
                print(f"  {done:>9,} problems written ({elapsed:.0f} s)", flush=True)
        loaded = time.perf_counter() - started
        if bulk:
            print("  rebuilding the indexes (and foreign keys)...", flush=True)
            await writer.after_bulk()
        await writer.set_counters(seeder.counters)
    finally:
        await writer.close()
    elapsed = time.perf_counter() - started
    return {
        "database_url": url,
        "secret_key": secret_key,
        "problems": problems,
        "seed": seed,
        "seeded_at": now.isoformat(),
        "seconds": {"load": round(loaded, 1), "total": round(elapsed, 1)},
        "rows": seeder.counts,
        "tokens": world.tokens,
        "users": {who: str(uid) for who, uid in world.people.items()},
        "organisations": {key: str(oid) for key, oid in world.organisations.items()},
        "gpos": {g.name: str(g.id) for g in world.gpos},
        "partner_gpos": [str(g.id) for g in world.gpos if "mht" in g.members],
        "facilitator_gpos": [
            str(g.id) for g in world.gpos if g.facilitator == world.people["facilitator"]
        ],
        "partner_problem_ids": seeder.partner_ids,
        "problem_ids": seeder.sample_ids,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=10_000)
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/gpo_bench",
        help="postgresql://... (a database whose name holds 'bench') or sqlite:///file",
    )
    parser.add_argument("--out", default=str(PROJECT_ROOT / "var" / "bench" / "world.json"))
    parser.add_argument("--seed", type=int, default=7, help="of the random generator")
    parser.add_argument(
        "--secret-key", help="GPO_SECRET_KEY the tokens are hashed with (default: random)"
    )
    parser.add_argument(
        "--into-existing",
        action="store_true",
        help="add to an existing database at the migrations' head instead of recreating it",
    )
    parser.add_argument("--force", action="store_true", help="drop a database without 'bench'")
    args = parser.parse_args(argv)
    secret_key = args.secret_key or secrets.token_urlsafe(32)
    started = time.perf_counter()
    if not args.into_existing:
        recreate_database(args.database_url, force=args.force)
    migrate_and_seed_reference(args.database_url)
    kind = args.database_url.split(":", 1)[0]
    print(f"seeding {args.problems:,} problems into {kind} ({database_name(args.database_url)})")
    world = asyncio.run(seed_into(args.database_url, args.problems, secret_key, seed=args.seed))
    world["seconds"]["with_schema"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(world, indent=1, ensure_ascii=False), encoding="utf-8")
    rows = ", ".join(f"{n:,} {t}" for t, n in world["rows"].items() if t in BIG_TABLES)
    print(
        f"seeded in {world['seconds']['with_schema']:.1f} s ({rows}; "
        f"{world['rows']['overdue_actions']:,} overdue actions); world in {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
