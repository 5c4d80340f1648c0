"""actions: a problem's actions indexed by due date, then status

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 00:40:00

The index of a problem's actions was (problem_id, status, due_date). With statistics
(ANALYZE), SQLite 3.40 — Debian 12's — may read it for `problem_id = ? AND status IN (...)
AND due_date < ?` with a seek-scan that lets through rows past the range: the overview's
overdue actions, counted with their problems, came out nearly doubled. In
(problem_id, due_date, status) the statuses are no longer a list probed between an equality
and a range; a problem's open actions (three on average) are still read from the index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_actions_problem_id_status_due_date", table_name="actions")
    op.create_index(
        "ix_actions_problem_id_due_date_status", "actions", ["problem_id", "due_date", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_actions_problem_id_due_date_status", table_name="actions")
    op.create_index(
        "ix_actions_problem_id_status_due_date", "actions", ["problem_id", "status", "due_date"]
    )
