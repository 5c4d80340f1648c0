"""the figures' summary rows, kept by triggers on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:10:00

The overview reads problems' counts, the evidence ratio and the median days to close from
summary rows that PostgreSQL triggers keep in the transaction of every change (service,
import or hand-made UPDATE alike), instead of rescanning a million problems. SQLite gets
the tables (the schema is the models') but no triggers: the figures read rows there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A problem's rows in the summaries: `delta` is +1 (it is there now) or -1 (it was). The
# counts come before the days and the closed problems, and the two keys of an UPDATE are
# applied in key order: concurrent changes take the summary rows' locks in one order.
FUNCTIONS = """
CREATE FUNCTION figures_apply(old_p problems, new_p problems, old_measured boolean,
                              new_measured boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO figures_problem_counts AS c
        (gpo_id, commune_code, category, status, outcome, measured, problems)
    SELECT gpo_id, commune_code, category, status, outcome, measured, sum(delta)
    FROM (VALUES
        (old_p.gpo_id, old_p.commune_code, old_p.category, old_p.status,
         coalesce(old_p.outcome, ''), old_measured, -1),
        (new_p.gpo_id, new_p.commune_code, new_p.category, new_p.status,
         coalesce(new_p.outcome, ''), new_measured, 1)
    ) AS v (gpo_id, commune_code, category, status, outcome, measured, delta)
    WHERE gpo_id IS NOT NULL
    GROUP BY gpo_id, commune_code, category, status, outcome, measured
    HAVING sum(delta) <> 0
    ORDER BY gpo_id, commune_code, category, status, outcome, measured
    ON CONFLICT (gpo_id, commune_code, category, status, outcome, measured)
    DO UPDATE SET problems = c.problems + excluded.problems;

    INSERT INTO figures_closing_days AS d (gpo_id, commune_code, day, problems)
    SELECT gpo_id, commune_code, day, sum(delta)
    FROM (VALUES
        (old_p.gpo_id, old_p.commune_code, old_p.status, old_p.created_at, old_p.closed_at, -1),
        (new_p.gpo_id, new_p.commune_code, new_p.status, new_p.created_at, new_p.closed_at, 1)
    ) AS v (gpo_id, commune_code, status, created_at, closed_at, delta),
    LATERAL (SELECT floor(extract(epoch FROM closed_at - created_at) / 86400.0)::integer) AS f (day)
    WHERE gpo_id IS NOT NULL AND status = 'closed' AND closed_at IS NOT NULL
    GROUP BY gpo_id, commune_code, day
    HAVING sum(delta) <> 0
    ORDER BY gpo_id, commune_code, day
    ON CONFLICT (gpo_id, commune_code, day) DO UPDATE SET problems = d.problems + excluded.problems;

    IF old_p.id IS NOT NULL AND old_p.status = 'closed' THEN
        DELETE FROM figures_closed_problems WHERE problem_id = old_p.id;
    END IF;
    IF new_p.id IS NOT NULL AND new_p.status = 'closed' AND new_p.closed_at IS NOT NULL THEN
        INSERT INTO figures_closed_problems (problem_id, gpo_id, commune_code, days)
        VALUES (new_p.id, new_p.gpo_id, new_p.commune_code,
                extract(epoch FROM new_p.closed_at - new_p.created_at) / 86400.0);
    END IF;
END $$;

CREATE FUNCTION figures_problems_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    measured boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        measured := EXISTS (SELECT FROM figures_measured_problems WHERE problem_id = OLD.id);
        PERFORM figures_apply(OLD, NULL, measured, NULL);
        DELETE FROM figures_measured_problems WHERE problem_id = OLD.id;
    ELSIF TG_OP = 'INSERT' THEN
        measured := EXISTS (SELECT FROM figures_measured_problems WHERE problem_id = NEW.id);
        PERFORM figures_apply(NULL, NEW, NULL, measured);
    ELSE
        measured := EXISTS (SELECT FROM figures_measured_problems WHERE problem_id = OLD.id);
        PERFORM figures_apply(OLD, NEW, measured, measured);
    END IF;
    RETURN NULL;
END $$;

-- Whether the problem has an indicator with a measurement, now: if that changed, its count
-- moves. The problem's row is locked first, as its own changes lock it.
CREATE FUNCTION figures_refresh_measured(problem uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p problems;
    was boolean;
    now_measured boolean;
BEGIN
    IF problem IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO p FROM problems WHERE id = problem FOR NO KEY UPDATE;
    now_measured := EXISTS (
        SELECT FROM indicators i
        WHERE i.problem_id = problem
          AND EXISTS (SELECT FROM measurements m WHERE m.indicator_id = i.id)
    );
    was := EXISTS (SELECT FROM figures_measured_problems WHERE problem_id = problem);
    IF now_measured = was THEN
        RETURN;
    END IF;
    IF now_measured THEN
        INSERT INTO figures_measured_problems (problem_id) VALUES (problem);
    ELSE
        DELETE FROM figures_measured_problems WHERE problem_id = problem;
    END IF;
    IF p.id IS NOT NULL THEN
        PERFORM figures_apply(p, p, was, now_measured);
    END IF;
END $$;

CREATE FUNCTION figures_measurements_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM figures_refresh_measured(
            (SELECT problem_id FROM indicators WHERE id = OLD.indicator_id));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM figures_refresh_measured(
            (SELECT problem_id FROM indicators WHERE id = NEW.indicator_id));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION figures_indicators_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM figures_refresh_measured(OLD.problem_id);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        PERFORM figures_refresh_measured(NEW.problem_id);
    END IF;
    RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER figures_problems_insert_delete AFTER INSERT OR DELETE ON problems
    FOR EACH ROW EXECUTE FUNCTION figures_problems_changed();
CREATE TRIGGER figures_problems_update AFTER UPDATE ON problems
    FOR EACH ROW
    WHEN ((OLD.gpo_id, OLD.commune_code, OLD.category, OLD.status, OLD.outcome,
           OLD.created_at, OLD.closed_at)
          IS DISTINCT FROM (NEW.gpo_id, NEW.commune_code, NEW.category, NEW.status,
                            NEW.outcome, NEW.created_at, NEW.closed_at))
    EXECUTE FUNCTION figures_problems_changed();
CREATE TRIGGER figures_measurements_insert_delete AFTER INSERT OR DELETE ON measurements
    FOR EACH ROW EXECUTE FUNCTION figures_measurements_changed();
CREATE TRIGGER figures_measurements_update AFTER UPDATE ON measurements
    FOR EACH ROW WHEN (OLD.indicator_id IS DISTINCT FROM NEW.indicator_id)
    EXECUTE FUNCTION figures_measurements_changed();
CREATE TRIGGER figures_indicators_delete AFTER DELETE ON indicators
    FOR EACH ROW EXECUTE FUNCTION figures_indicators_changed();
CREATE TRIGGER figures_indicators_update AFTER UPDATE ON indicators
    FOR EACH ROW WHEN (OLD.problem_id IS DISTINCT FROM NEW.problem_id)
    EXECUTE FUNCTION figures_indicators_changed();
"""

# The summaries of the rows already there.
BACKFILL = """
INSERT INTO figures_measured_problems (problem_id)
SELECT DISTINCT i.problem_id FROM indicators i
WHERE EXISTS (SELECT FROM measurements m WHERE m.indicator_id = i.id);

INSERT INTO figures_problem_counts
    (gpo_id, commune_code, category, status, outcome, measured, problems)
SELECT p.gpo_id, p.commune_code, p.category, p.status, coalesce(p.outcome, ''),
       m.problem_id IS NOT NULL, count(*)
FROM problems p LEFT JOIN figures_measured_problems m ON m.problem_id = p.id
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO figures_closed_problems (problem_id, gpo_id, commune_code, days)
SELECT id, gpo_id, commune_code, extract(epoch FROM closed_at - created_at) / 86400.0
FROM problems WHERE status = 'closed' AND closed_at IS NOT NULL;

INSERT INTO figures_closing_days (gpo_id, commune_code, day, problems)
SELECT gpo_id, commune_code, floor(days)::integer, count(*)
FROM figures_closed_problems GROUP BY 1, 2, 3;
"""

DROP = """
DROP TRIGGER figures_indicators_update ON indicators;
DROP TRIGGER figures_indicators_delete ON indicators;
DROP TRIGGER figures_measurements_update ON measurements;
DROP TRIGGER figures_measurements_insert_delete ON measurements;
DROP TRIGGER figures_problems_update ON problems;
DROP TRIGGER figures_problems_insert_delete ON problems;
DROP FUNCTION figures_indicators_changed();
DROP FUNCTION figures_measurements_changed();
DROP FUNCTION figures_refresh_measured(uuid);
DROP FUNCTION figures_problems_changed();
DROP FUNCTION figures_apply(problems, problems, boolean, boolean);
"""


def statements(*scripts: str) -> list[str]:
    """One statement at a time (a driver may prepare each): split at `;` ending a line
    outside a function's body."""
    found: list[str] = []
    for script in scripts:
        current: list[str] = []
        in_body = False
        for line in script.strip().splitlines():
            current.append(line)
            in_body ^= line.count("$$") % 2 == 1
            if not in_body and line.rstrip().endswith(";"):
                found.append("\n".join(current).strip())
                current = []
    return found


def upgrade() -> None:
    op.create_table(
        "figures_problem_counts",
        sa.Column("gpo_id", sa.Uuid(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=22), nullable=False),
        sa.Column("measured", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "gpo_id",
            "commune_code",
            "category",
            "status",
            "outcome",
            "measured",
            name=op.f("pk_figures_problem_counts"),
        ),
    )
    op.create_table(
        "figures_closing_days",
        sa.Column("gpo_id", sa.Uuid(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "gpo_id", "commune_code", "day", name=op.f("pk_figures_closing_days")
        ),
    )
    op.create_table(
        "figures_closed_problems",
        sa.Column("problem_id", sa.Uuid(), nullable=False),
        sa.Column("gpo_id", sa.Uuid(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("days", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("problem_id", name=op.f("pk_figures_closed_problems")),
    )
    op.create_index(
        "ix_figures_closed_problems_days",
        "figures_closed_problems",
        ["days", "gpo_id", "commune_code"],
    )
    op.create_table(
        "figures_measured_problems",
        sa.Column("problem_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("problem_id", name=op.f("pk_figures_measured_problems")),
    )
    open_actions = sa.text("status IN ('planned', 'in_progress')")
    op.create_index(
        "ix_actions_open_organisation_due_date",
        "actions",
        ["assignee_organisation_id", "due_date"],
        postgresql_where=open_actions,
        sqlite_where=open_actions,
    )
    op.create_index(
        "ix_actions_created_at_organisation",
        "actions",
        ["created_at", "assignee_organisation_id", "status", "due_date"],
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in statements(FUNCTIONS, TRIGGERS, BACKFILL):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in statements(DROP):
            op.execute(statement)
    op.drop_index("ix_actions_created_at_organisation", table_name="actions")
    op.drop_index("ix_actions_open_organisation_due_date", table_name="actions")
    op.drop_table("figures_measured_problems")
    op.drop_index("ix_figures_closed_problems_days", table_name="figures_closed_problems")
    op.drop_table("figures_closed_problems")
    op.drop_table("figures_closing_days")
    op.drop_table("figures_problem_counts")
