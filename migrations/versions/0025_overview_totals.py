"""figures: the overview's totals over every GPO and commune, kept by triggers on PostgreSQL

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 15:30:00

The overview of a reader who sees every problem, with no filter, summed the summary rows of
0008 (by GPO, commune, category, status, outcome and measured: 15,000 rows at a million
problems) by grouping sets, and the closing days' histogram by GPO and commune (22,000
rows) by day: 5 and 6 ms alone, 24 and 6 ms a request under 16 clients. These totals are
the same sums kept a dimension at a time: by status, outcome and measured (a dozen rows),
by category, by commune, and the histogram by day (a few hundred). Triggers on the 0008
summaries themselves carry each change of a summary row to its totals, in the same
transaction, so the totals are the summaries' sums by construction, whatever changed them.
A filtered overview still reads the 0008 summaries. SQLite gets the tables, no triggers
(its figures read the problems' rows).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a summary row's change adds to a total: -OLD.problems to the old row's key,
# +NEW.problems to the new one's (an upsert changes only `problems`; a hand-made UPDATE of
# a key moves its count). Totals go down to 0 and stay, as the summaries' rows do.
FUNCTIONS = [
    """
CREATE FUNCTION figures_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE figures_status_totals SET problems = problems - OLD.problems
        WHERE status = OLD.status AND outcome = OLD.outcome AND measured = OLD.measured;
        UPDATE figures_category_totals SET problems = problems - OLD.problems
        WHERE category = OLD.category;
        UPDATE figures_commune_totals SET problems = problems - OLD.problems
        WHERE commune_code = OLD.commune_code;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO figures_status_totals AS t (status, outcome, measured, problems)
        VALUES (NEW.status, NEW.outcome, NEW.measured, NEW.problems)
        ON CONFLICT (status, outcome, measured) DO UPDATE SET problems = t.problems + excluded.problems;
        INSERT INTO figures_category_totals AS t (category, problems)
        VALUES (NEW.category, NEW.problems)
        ON CONFLICT (category) DO UPDATE SET problems = t.problems + excluded.problems;
        INSERT INTO figures_commune_totals AS t (commune_code, problems)
        VALUES (NEW.commune_code, NEW.problems)
        ON CONFLICT (commune_code) DO UPDATE SET problems = t.problems + excluded.problems;
    END IF;
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION figures_days_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE figures_day_totals SET problems = problems - OLD.problems WHERE day = OLD.day;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO figures_day_totals AS t (day, problems) VALUES (NEW.day, NEW.problems)
        ON CONFLICT (day) DO UPDATE SET problems = t.problems + excluded.problems;
    END IF;
    RETURN NULL;
END $$
""",
]

TRIGGERS = [
    """
CREATE TRIGGER figures_counts_totals AFTER INSERT OR UPDATE OR DELETE ON figures_problem_counts
    FOR EACH ROW EXECUTE FUNCTION figures_counts_changed()
""",
    """
CREATE TRIGGER figures_days_totals AFTER INSERT OR UPDATE OR DELETE ON figures_closing_days
    FOR EACH ROW EXECUTE FUNCTION figures_days_changed()
""",
]

# The totals of the summaries already there. (`scripts/bench_seed.py` needs none: its
# backfill of the summaries fires the triggers, which fill the totals.)
BACKFILL = [
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

DROP = [
    "DROP TRIGGER figures_days_totals ON figures_closing_days",
    "DROP TRIGGER figures_counts_totals ON figures_problem_counts",
    "DROP FUNCTION figures_days_changed()",
    "DROP FUNCTION figures_counts_changed()",
]

TABLES = (
    "figures_day_totals",
    "figures_commune_totals",
    "figures_category_totals",
    "figures_status_totals",
)


def upgrade() -> None:
    op.create_table(
        "figures_status_totals",
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=22), nullable=False),
        sa.Column("measured", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "status", "outcome", "measured", name=op.f("pk_figures_status_totals")
        ),
    )
    op.create_table(
        "figures_category_totals",
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_figures_category_totals")),
    )
    op.create_table(
        "figures_commune_totals",
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("commune_code", name=op.f("pk_figures_commune_totals")),
    )
    op.create_table(
        "figures_day_totals",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_figures_day_totals")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in FUNCTIONS + BACKFILL + TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP:
            op.execute(statement)
    for table in TABLES:
        op.drop_table(table)
