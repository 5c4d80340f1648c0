"""figures: the open actions by due date and organisation, kept by a trigger on PostgreSQL

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 15:15:00

The overview counts the overdue actions by organisation: the open actions due before today.
For a reader who sees every problem, that was an index-only scan of every overdue action
(179,000 at a million problems, 29 ms of the overview's ~60). Open actions share few due
dates per organisation (4,000 pairs at that size), so their counts by (due date,
organisation), kept by a trigger in the transaction of every change to an action, give the
same figure from a few thousand rows, whatever today is. SQLite gets the table but no
trigger, as for the other summaries (its figures read the rows).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# `app.actions.models.OPEN_STATUSES`, as the partial index of 0008 writes them.
OPEN = "('planned', 'in_progress')"

FUNCTIONS = [
    f"""
CREATE FUNCTION figures_actions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN {OPEN} THEN
        UPDATE figures_open_actions SET actions = actions - 1
        WHERE due_date = OLD.due_date
          AND assignee_organisation_id = OLD.assignee_organisation_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN {OPEN} THEN
        INSERT INTO figures_open_actions AS f (due_date, assignee_organisation_id, actions)
        VALUES (NEW.due_date, NEW.assignee_organisation_id, 1)
        ON CONFLICT (due_date, assignee_organisation_id)
        DO UPDATE SET actions = f.actions + 1;
    END IF;
    RETURN NULL;
END $$
"""
]

TRIGGERS = [
    """
CREATE TRIGGER figures_actions_insert_delete AFTER INSERT OR DELETE ON actions
    FOR EACH ROW EXECUTE FUNCTION figures_actions_changed()
""",
    """
CREATE TRIGGER figures_actions_update AFTER UPDATE ON actions
    FOR EACH ROW WHEN ((OLD.status, OLD.due_date, OLD.assignee_organisation_id)
                       IS DISTINCT FROM (NEW.status, NEW.due_date, NEW.assignee_organisation_id))
    EXECUTE FUNCTION figures_actions_changed()
""",
]

# The summary of the rows already there (`scripts/bench_seed.py` runs it too).
BACKFILL = [
    f"""
INSERT INTO figures_open_actions (due_date, assignee_organisation_id, actions)
SELECT due_date, assignee_organisation_id, count(*) FROM actions
WHERE status IN {OPEN} GROUP BY 1, 2
"""
]

DROP = [
    "DROP TRIGGER figures_actions_update ON actions",
    "DROP TRIGGER figures_actions_insert_delete ON actions",
    "DROP FUNCTION figures_actions_changed()",
]


def upgrade() -> None:
    op.create_table(
        "figures_open_actions",
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("assignee_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("actions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "due_date", "assignee_organisation_id", name=op.f("pk_figures_open_actions")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in (*FUNCTIONS, *TRIGGERS, *BACKFILL):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP:
            op.execute(statement)
    op.drop_table("figures_open_actions")
