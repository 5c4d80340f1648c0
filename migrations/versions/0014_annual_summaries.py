"""each closed problem's year, groups and improved indicator, kept by triggers on PostgreSQL

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 16:30:00

The annual evaluation counts the year's closed problems by GPO, commune, category and
outcome, with those that have an indicator whose latest measurement beats its baseline, and
takes the medians of their days to close. Asked of the problems' rows, with a correlated
EXISTS for each closed problem, that took seconds at a million problems. The closed
problems' summary of 0008 (`figures_closed_problems`) now holds each one's closing time,
category, outcome and whether it has an improved indicator, in an index that serves the
year's groups and days alone; the triggers keep the flag in the transaction of every
change to indicators and measurements (a measurement's rate or periods, an indicator's
direction or baseline included). The year's problems raised are read from an index that
holds the columns they are grouped by. SQLite gets the columns and indexes but no triggers,
as for the other summaries (its figures read the rows).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Whether a problem has an improved indicator: its latest measurement (latest period end,
# then start, creation, id, as `app.indicators.models.latest_rate` orders them) strictly
# better than the baseline in the indicator's direction.
FUNCTIONS = """
CREATE FUNCTION figures_improved(problem uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT FROM indicators i
        WHERE i.problem_id = problem
          AND (SELECT CASE WHEN i.direction = 'decrease' THEN m.rate < i.baseline_rate
                           WHEN i.direction = 'increase' THEN m.rate > i.baseline_rate END
               FROM measurements m WHERE m.indicator_id = i.id
               ORDER BY m.period_end DESC, m.period_start DESC, m.created_at DESC, m.id DESC
               LIMIT 1)
    )
$$;

CREATE OR REPLACE FUNCTION figures_apply(old_p problems, new_p problems, old_measured boolean,
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
        INSERT INTO figures_closed_problems
            (problem_id, gpo_id, commune_code, category, outcome, closed_at, improved, days)
        VALUES (new_p.id, new_p.gpo_id, new_p.commune_code, new_p.category,
                coalesce(new_p.outcome, ''), new_p.closed_at, figures_improved(new_p.id),
                extract(epoch FROM new_p.closed_at - new_p.created_at) / 86400.0);
    END IF;
END $$;

-- 0008's, with the closed problem's improved flag brought up to date.
CREATE OR REPLACE FUNCTION figures_refresh_measured(problem uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    p problems;
    was boolean;
    now_measured boolean;
BEGIN
    IF problem IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO p FROM problems WHERE id = problem FOR NO KEY UPDATE;
    UPDATE figures_closed_problems SET improved = figures_improved(problem)
    WHERE problem_id = problem AND improved IS DISTINCT FROM figures_improved(problem);
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
"""

# 0008's triggers fired on what moves the measured state; the improved flag also moves
# with a measurement's rate and periods and an indicator's direction and baseline.
TRIGGERS = """
DROP TRIGGER figures_measurements_update ON measurements;
CREATE TRIGGER figures_measurements_update AFTER UPDATE ON measurements
    FOR EACH ROW
    WHEN ((OLD.indicator_id, OLD.rate, OLD.period_end, OLD.period_start, OLD.created_at)
          IS DISTINCT FROM (NEW.indicator_id, NEW.rate, NEW.period_end, NEW.period_start,
                            NEW.created_at))
    EXECUTE FUNCTION figures_measurements_changed();
DROP TRIGGER figures_indicators_update ON indicators;
CREATE TRIGGER figures_indicators_update AFTER UPDATE ON indicators
    FOR EACH ROW
    WHEN ((OLD.problem_id, OLD.direction, OLD.baseline_rate)
          IS DISTINCT FROM (NEW.problem_id, NEW.direction, NEW.baseline_rate))
    EXECUTE FUNCTION figures_indicators_changed();
"""

# The closed problems' rows, from the problems already there (0008's backfill, wider), the
# improved ones found in one pass over the indicators (not a lookup per problem).
BACKFILL = """
INSERT INTO figures_closed_problems
    (problem_id, gpo_id, commune_code, category, outcome, closed_at, improved, days)
SELECT p.id, p.gpo_id, p.commune_code, p.category, coalesce(p.outcome, ''), p.closed_at,
       i.problem_id IS NOT NULL, extract(epoch FROM p.closed_at - p.created_at) / 86400.0
FROM problems p
LEFT JOIN (
    SELECT DISTINCT i.problem_id FROM indicators i
    JOIN LATERAL (
        SELECT m.rate FROM measurements m WHERE m.indicator_id = i.id
        ORDER BY m.period_end DESC, m.period_start DESC, m.created_at DESC, m.id DESC
        LIMIT 1
    ) latest ON CASE WHEN i.direction = 'decrease' THEN latest.rate < i.baseline_rate
                     WHEN i.direction = 'increase' THEN latest.rate > i.baseline_rate END
) i ON i.problem_id = p.id
WHERE p.status = 'closed' AND p.closed_at IS NOT NULL;
"""

DOWNGRADE = """
CREATE OR REPLACE FUNCTION figures_refresh_measured(problem uuid) RETURNS void LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION figures_apply(old_p problems, new_p problems, old_measured boolean,
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
DROP TRIGGER figures_measurements_update ON measurements;
CREATE TRIGGER figures_measurements_update AFTER UPDATE ON measurements
    FOR EACH ROW WHEN (OLD.indicator_id IS DISTINCT FROM NEW.indicator_id)
    EXECUTE FUNCTION figures_measurements_changed();
DROP TRIGGER figures_indicators_update ON indicators;
CREATE TRIGGER figures_indicators_update AFTER UPDATE ON indicators
    FOR EACH ROW WHEN (OLD.problem_id IS DISTINCT FROM NEW.problem_id)
    EXECUTE FUNCTION figures_indicators_changed();
"""

DOWNGRADE_AFTER = """
DROP FUNCTION figures_improved(uuid);
INSERT INTO figures_closed_problems (problem_id, gpo_id, commune_code, days)
SELECT id, gpo_id, commune_code, extract(epoch FROM closed_at - created_at) / 86400.0
FROM problems WHERE status = 'closed' AND closed_at IS NOT NULL;
"""

# The year's problems raised, read from an index alone.
CREATED_GROUPS = ["created_at", "gpo_id", "commune_code", "category"]
CLOSED_GROUPS = ["closed_at", "gpo_id", "commune_code", "category", "outcome", "improved", "days"]


def statements(*scripts: str) -> list[str]:
    """One statement at a time: split at `;` ending a line outside a function's body."""
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
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("problems") as batch_op:
        batch_op.create_index("ix_problems_created_at_groups", CREATED_GROUPS)
    # A summary: emptied, widened, filled again.
    op.execute("DELETE FROM figures_closed_problems")
    with op.batch_alter_table("figures_closed_problems") as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=50), nullable=False))
        batch_op.add_column(sa.Column("outcome", sa.String(length=22), nullable=False))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False))
        batch_op.add_column(sa.Column("improved", sa.Boolean(), nullable=False))
        batch_op.create_index("ix_figures_closed_problems_closed_at", CLOSED_GROUPS)
    if postgresql:
        for statement in statements(FUNCTIONS, TRIGGERS, BACKFILL):
            op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for statement in statements(DOWNGRADE):
            op.execute(statement)
    op.execute("DELETE FROM figures_closed_problems")
    with op.batch_alter_table("figures_closed_problems") as batch_op:
        batch_op.drop_index("ix_figures_closed_problems_closed_at")
        batch_op.drop_column("improved")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("outcome")
        batch_op.drop_column("category")
    if postgresql:
        for statement in statements(DOWNGRADE_AFTER):
            op.execute(statement)
    with op.batch_alter_table("problems") as batch_op:
        batch_op.drop_index("ix_problems_created_at_groups")
