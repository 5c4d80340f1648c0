"""figures: the summary rows kept by SQLite triggers too

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 10:00:00

SQLite had the summary tables of 0008, 0014, 0022 and 0025 but no triggers: its overview
and annual evaluation scanned the problems (at 100,000 problems 1 and 2 s alone, 503s under
16 clients). These triggers keep the same rows as PostgreSQL's functions, change for
change, in the transaction of every insert, update and delete (the service's or a
hand-made one), and the summaries are filled from the rows already there.

SQLite has no functions: each trigger's body spells out the statements of PostgreSQL's
`figures_apply` and `figures_refresh_measured` for its own row, written once below as
templates. Its triggers fire after each row rather than at the end of the statement; the
summaries move by the same deltas, and a refresh reads the state after its row's change,
so the last refresh of a problem in a statement sees that problem's final state. Days to
close are the SQLite figures' own (`days_to_close("sqlite")`: the julianday difference of
the naive UTC texts), their whole days its floor. Zero rows stay, as on PostgreSQL.

A later migration that rebuilds one of these tables in batch mode (SQLite's copy and move)
drops its triggers: it has to create them again. `scripts/bench_seed.py` reads `BACKFILL`
from here to fill the summaries after its bulk load on SQLite.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "('planned', 'in_progress')"  # app.actions.models.OPEN_STATUSES
COUNT_KEY = "gpo_id, commune_code, category, status, outcome, measured"


def _days(row: str) -> str:
    """Days to close of a problem's row, as the SQLite figures compute them."""
    return f"(julianday({row}.closed_at) - julianday({row}.created_at))"


def _floor(value: str) -> str:
    # floor() is a build option of SQLite (math functions); a cast truncates toward zero.
    return f"(CAST({value} AS INTEGER) - ({value} < CAST({value} AS INTEGER)))"


def _measured_before(problem: str) -> str:
    """The triggers' own state: the problem is in figures_measured_problems."""
    return f"EXISTS (SELECT 1 FROM figures_measured_problems WHERE problem_id = {problem})"


def _measured_now(problem: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM indicators i WHERE i.problem_id = {problem} "
        "AND EXISTS (SELECT 1 FROM measurements m WHERE m.indicator_id = i.id))"
    )


def _improved(problem: str) -> str:
    """0014's `figures_improved`: the latest measurement of an indicator beats its baseline."""
    return f"""EXISTS (
        SELECT 1 FROM indicators i
        WHERE i.problem_id = {problem}
          AND (SELECT CASE WHEN i.direction = 'decrease' THEN m.rate < i.baseline_rate
                           WHEN i.direction = 'increase' THEN m.rate > i.baseline_rate END
               FROM measurements m WHERE m.indicator_id = i.id
               ORDER BY m.period_end DESC, m.period_start DESC, m.created_at DESC, m.id DESC
               LIMIT 1))"""


def _apply(changes: list[tuple[str, str, int]]) -> list[str]:
    """`figures_apply` (0014) for (row, measured, delta) of OLD and/or NEW: the counts' and
    the closing days' deltas summed by key (an update within one key moves nothing), the
    closed problem's row taken out and put back."""
    counts = "\n        UNION ALL ".join(
        f"SELECT {row}.gpo_id AS gpo_id, {row}.commune_code AS commune_code, "
        f"{row}.category AS category, {row}.status AS status, "
        f"coalesce({row}.outcome, '') AS outcome, {measured} AS measured, {delta} AS delta"
        for row, measured, delta in changes
    )
    days = "\n        UNION ALL ".join(
        f"SELECT {row}.gpo_id AS gpo_id, {row}.commune_code AS commune_code, "
        f"{_floor(_days(row))} AS day, {delta} AS delta "
        f"WHERE {row}.status = 'closed' AND {row}.closed_at IS NOT NULL"
        for row, _measured, delta in changes
    )
    statements = [
        f"""INSERT INTO figures_problem_counts ({COUNT_KEY}, problems)
    SELECT {COUNT_KEY}, sum(delta) FROM ({counts})
    WHERE gpo_id IS NOT NULL
    GROUP BY {COUNT_KEY} HAVING sum(delta) <> 0
    ON CONFLICT ({COUNT_KEY}) DO UPDATE SET problems = problems + excluded.problems;""",
        f"""INSERT INTO figures_closing_days (gpo_id, commune_code, day, problems)
    SELECT gpo_id, commune_code, day, sum(delta) FROM ({days})
    WHERE gpo_id IS NOT NULL
    GROUP BY gpo_id, commune_code, day HAVING sum(delta) <> 0
    ON CONFLICT (gpo_id, commune_code, day)
    DO UPDATE SET problems = problems + excluded.problems;""",
    ]
    rows = [row for row, _measured, _delta in changes]
    if "OLD" in rows:
        statements.append(
            "DELETE FROM figures_closed_problems "
            "WHERE problem_id = OLD.id AND OLD.status = 'closed';"
        )
    if "NEW" in rows:
        statements.append(f"""INSERT INTO figures_closed_problems
        (problem_id, gpo_id, commune_code, category, outcome, closed_at, improved, days)
    SELECT NEW.id, NEW.gpo_id, NEW.commune_code, NEW.category, coalesce(NEW.outcome, ''),
           NEW.closed_at, {_improved("NEW.id")}, {_days("NEW")}
    WHERE NEW.status = 'closed' AND NEW.closed_at IS NOT NULL;""")
    return statements


def _refresh_measured(problem: str) -> list[str]:
    """`figures_refresh_measured` (0014) of a problem (an expression, NULL for none): its
    closed row's improved flag, and, when whether it is measured changed, its count moved
    from the one state to the other (the same key otherwise: its closing days and closed
    row stay as they are, which PostgreSQL's delete and insert again leave them)."""
    was, now = _measured_before(problem), _measured_now(problem)
    return [
        f"""UPDATE figures_closed_problems SET improved = {_improved(problem)}
    WHERE problem_id = {problem} AND improved IS NOT {_improved(problem)};""",
        f"""INSERT INTO figures_problem_counts ({COUNT_KEY}, problems)
    SELECT p.gpo_id, p.commune_code, p.category, p.status, coalesce(p.outcome, ''),
           s.measured, s.delta
    FROM problems p, (SELECT {was} AS measured, -1 AS delta UNION ALL SELECT {now}, 1) s
    WHERE p.id = {problem} AND {was} <> {now}
    ON CONFLICT ({COUNT_KEY}) DO UPDATE SET problems = problems + excluded.problems;""",
        f"""INSERT INTO figures_measured_problems (problem_id)
    SELECT {problem} WHERE {problem} IS NOT NULL AND {now} AND NOT {was};""",
        f"DELETE FROM figures_measured_problems WHERE problem_id = {problem} AND NOT {now};",
    ]


def _changed(columns: Sequence[str]) -> str:
    """PostgreSQL's `(OLD.a, ...) IS DISTINCT FROM (NEW.a, ...)`."""
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


def _trigger(name: str, event: str, table: str, body: list[str], when: str = "") -> str:
    condition = f"\n    WHEN {when}" if when else ""
    statements = "\n    ".join(body)
    return (
        f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{condition}\n"
        f"BEGIN\n    {statements}\nEND"
    )


def _totals(sign: str, row: str) -> list[str]:
    """0025's `figures_counts_changed`: a counts row's problems taken from (-OLD) or added
    to (+NEW) its totals."""
    if sign == "-":
        return [
            f"UPDATE figures_status_totals SET problems = problems - {row}.problems "
            f"WHERE status = {row}.status AND outcome = {row}.outcome "
            f"AND measured = {row}.measured;",
            f"UPDATE figures_category_totals SET problems = problems - {row}.problems "
            f"WHERE category = {row}.category;",
            f"UPDATE figures_commune_totals SET problems = problems - {row}.problems "
            f"WHERE commune_code = {row}.commune_code;",
        ]
    return [
        "INSERT INTO figures_status_totals (status, outcome, measured, problems) "
        f"VALUES ({row}.status, {row}.outcome, {row}.measured, {row}.problems) "
        "ON CONFLICT (status, outcome, measured) "
        "DO UPDATE SET problems = problems + excluded.problems;",
        "INSERT INTO figures_category_totals (category, problems) "
        f"VALUES ({row}.category, {row}.problems) "
        "ON CONFLICT (category) DO UPDATE SET problems = problems + excluded.problems;",
        "INSERT INTO figures_commune_totals (commune_code, problems) "
        f"VALUES ({row}.commune_code, {row}.problems) "
        "ON CONFLICT (commune_code) DO UPDATE SET problems = problems + excluded.problems;",
    ]


def _day_totals(sign: str, row: str) -> list[str]:
    if sign == "-":
        return [
            f"UPDATE figures_day_totals SET problems = problems - {row}.problems "
            f"WHERE day = {row}.day;"
        ]
    return [
        f"INSERT INTO figures_day_totals (day, problems) VALUES ({row}.day, {row}.problems) "
        "ON CONFLICT (day) DO UPDATE SET problems = problems + excluded.problems;"
    ]


def _open_actions(row: str) -> list[str]:
    """0022's `figures_actions_changed`: an open action taken out (OLD) or counted (NEW)."""
    if row == "OLD":
        return [
            "UPDATE figures_open_actions SET actions = actions - 1 "
            "WHERE due_date = OLD.due_date "
            "AND assignee_organisation_id = OLD.assignee_organisation_id "
            f"AND OLD.status IN {OPEN};"
        ]
    return [
        "INSERT INTO figures_open_actions (due_date, assignee_organisation_id, actions) "
        f"SELECT NEW.due_date, NEW.assignee_organisation_id, 1 WHERE NEW.status IN {OPEN} "
        "ON CONFLICT (due_date, assignee_organisation_id) DO UPDATE SET actions = actions + 1;"
    ]


_INDICATOR_OF_OLD = "(SELECT problem_id FROM indicators WHERE id = OLD.indicator_id)"
_INDICATOR_OF_NEW = "(SELECT problem_id FROM indicators WHERE id = NEW.indicator_id)"
_PROBLEM_KEYS = ("gpo_id", "commune_code", "category", "status", "outcome", "created_at")

# (name, event, table, body, WHEN): PostgreSQL's triggers of 0008, 0014, 0022 and 0025, one
# per event (SQLite's triggers take one).
TRIGGERS = [
    _trigger(name, event, table, body, when)
    for name, event, table, body, when in (
        (
            "figures_problems_insert",
            "INSERT",
            "problems",
            _apply([("NEW", _measured_before("NEW.id"), 1)]),
            "",
        ),
        (
            "figures_problems_delete",
            "DELETE",
            "problems",
            [
                *_apply([("OLD", _measured_before("OLD.id"), -1)]),
                "DELETE FROM figures_measured_problems WHERE problem_id = OLD.id;",
            ],
            "",
        ),
        (
            "figures_problems_update",
            "UPDATE",
            "problems",
            _apply(
                [("OLD", _measured_before("OLD.id"), -1), ("NEW", _measured_before("OLD.id"), 1)]
            ),
            _changed((*_PROBLEM_KEYS, "closed_at")),
        ),
        (
            "figures_measurements_insert",
            "INSERT",
            "measurements",
            _refresh_measured(_INDICATOR_OF_NEW),
            "",
        ),
        (
            "figures_measurements_delete",
            "DELETE",
            "measurements",
            _refresh_measured(_INDICATOR_OF_OLD),
            "",
        ),
        (
            "figures_measurements_update",
            "UPDATE",
            "measurements",
            [*_refresh_measured(_INDICATOR_OF_OLD), *_refresh_measured(_INDICATOR_OF_NEW)],
            _changed(("indicator_id", "rate", "period_end", "period_start", "created_at")),
        ),
        (
            "figures_indicators_delete",
            "DELETE",
            "indicators",
            _refresh_measured("OLD.problem_id"),
            "",
        ),
        (
            "figures_indicators_update",
            "UPDATE",
            "indicators",
            [*_refresh_measured("OLD.problem_id"), *_refresh_measured("NEW.problem_id")],
            _changed(("problem_id", "direction", "baseline_rate")),
        ),
        ("figures_actions_insert", "INSERT", "actions", _open_actions("NEW"), ""),
        ("figures_actions_delete", "DELETE", "actions", _open_actions("OLD"), ""),
        (
            "figures_actions_update",
            "UPDATE",
            "actions",
            [*_open_actions("OLD"), *_open_actions("NEW")],
            _changed(("status", "due_date", "assignee_organisation_id")),
        ),
        ("figures_counts_insert", "INSERT", "figures_problem_counts", _totals("+", "NEW"), ""),
        ("figures_counts_delete", "DELETE", "figures_problem_counts", _totals("-", "OLD"), ""),
        (
            "figures_counts_update",
            "UPDATE",
            "figures_problem_counts",
            [*_totals("-", "OLD"), *_totals("+", "NEW")],
            "",
        ),
        ("figures_days_insert", "INSERT", "figures_closing_days", _day_totals("+", "NEW"), ""),
        ("figures_days_delete", "DELETE", "figures_closing_days", _day_totals("-", "OLD"), ""),
        (
            "figures_days_update",
            "UPDATE",
            "figures_closing_days",
            [*_day_totals("-", "OLD"), *_day_totals("+", "NEW")],
            "",
        ),
    )
]

# The summaries, in the order they are filled.
TABLES = (
    "figures_measured_problems",
    "figures_problem_counts",
    "figures_closed_problems",
    "figures_closing_days",
    "figures_open_actions",
    "figures_status_totals",
    "figures_category_totals",
    "figures_commune_totals",
    "figures_day_totals",
)

# The summaries of the rows already there, with no trigger on (0008's, 0014's, 0022's and
# 0025's backfills in SQLite's words; the improved indicators found in one pass over the
# indicators).
BACKFILL = [
    """
INSERT INTO figures_measured_problems (problem_id)
SELECT DISTINCT i.problem_id FROM indicators i
WHERE EXISTS (SELECT 1 FROM measurements m WHERE m.indicator_id = i.id)
""",
    f"""
INSERT INTO figures_problem_counts ({COUNT_KEY}, problems)
SELECT p.gpo_id, p.commune_code, p.category, p.status, coalesce(p.outcome, ''),
       m.problem_id IS NOT NULL, count(*)
FROM problems p LEFT JOIN figures_measured_problems m ON m.problem_id = p.id
GROUP BY 1, 2, 3, 4, 5, 6
""",
    f"""
INSERT INTO figures_closed_problems
    (problem_id, gpo_id, commune_code, category, outcome, closed_at, improved, days)
SELECT p.id, p.gpo_id, p.commune_code, p.category, coalesce(p.outcome, ''), p.closed_at,
       i.problem_id IS NOT NULL, {_days("p")}
FROM problems p
LEFT JOIN (
    SELECT DISTINCT i.problem_id FROM indicators i
    WHERE (SELECT CASE WHEN i.direction = 'decrease' THEN m.rate < i.baseline_rate
                       WHEN i.direction = 'increase' THEN m.rate > i.baseline_rate END
           FROM measurements m WHERE m.indicator_id = i.id
           ORDER BY m.period_end DESC, m.period_start DESC, m.created_at DESC, m.id DESC
           LIMIT 1)
) i ON i.problem_id = p.id
WHERE p.status = 'closed' AND p.closed_at IS NOT NULL
""",
    f"""
INSERT INTO figures_closing_days (gpo_id, commune_code, day, problems)
SELECT gpo_id, commune_code, {_floor("days")}, count(*) FROM figures_closed_problems
GROUP BY 1, 2, 3
""",
    f"""
INSERT INTO figures_open_actions (due_date, assignee_organisation_id, actions)
SELECT due_date, assignee_organisation_id, count(*) FROM actions
WHERE status IN {OPEN} GROUP BY 1, 2
""",
    """
INSERT INTO figures_status_totals (status, outcome, measured, problems)
SELECT status, outcome, measured, sum(problems) FROM figures_problem_counts GROUP BY 1, 2, 3
""",
    """
INSERT INTO figures_category_totals (category, problems)
SELECT category, sum(problems) FROM figures_problem_counts GROUP BY 1
""",
    """
INSERT INTO figures_commune_totals (commune_code, problems)
SELECT commune_code, sum(problems) FROM figures_problem_counts GROUP BY 1
""",
    """
INSERT INTO figures_day_totals (day, problems)
SELECT day, sum(problems) FROM figures_closing_days GROUP BY 1
""",
]


def trigger_names() -> list[str]:
    return [statement.split()[2] for statement in TRIGGERS]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's functions keep them since 0008
    # Nothing kept them on SQLite: filled anew.
    for table in TABLES:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - our names
    for statement in (*BACKFILL, *TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in reversed(trigger_names()):
        op.execute(f"DROP TRIGGER {name}")
    for table in TABLES:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - our names
