"""a visibility on every free text: reviews, meeting notes, actions, indicators, measurements

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-09 10:00:00

From issue 12 on, each free text has a level of its own, never less than its problem's
(`app.core.visibility.text_level`; reads compare `effective_level`, the stricter of the two).
The rows stored before get the level that keeps what they showed: a review's, an action's
(description, result note), an indicator's (source) and a measurement's (note) is its
problem's visibility; a meeting's notes, which every member read in the minutes, `partners`.

The downgrade drops the columns: the texts are read again at their problem's level (and the
meeting notes by every member), as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("partners", "police", "restricted")

# table: (the level of its rows stored before, as SQL; the CHECK constraint's name).
TABLES = {
    "meeting_reviews": (
        "(SELECT p.visibility FROM problems p WHERE p.id = meeting_reviews.problem_id)",
        "review_visibility",
    ),
    "actions": (
        "(SELECT p.visibility FROM problems p WHERE p.id = actions.problem_id)",
        "action_visibility",
    ),
    "indicators": (
        "(SELECT p.visibility FROM problems p WHERE p.id = indicators.problem_id)",
        "indicator_visibility",
    ),
    "measurements": (
        "(SELECT p.visibility FROM problems p JOIN indicators i ON i.problem_id = p.id "
        "WHERE i.id = measurements.indicator_id)",
        "measurement_visibility",
    ),
    "meetings": ("'partners'", "meeting_visibility"),
}


def upgrade() -> None:
    for table, (level, constraint) in TABLES.items():
        kind = sa.Enum(*LEVELS, name=constraint, native_enum=False, length=10)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("visibility", kind, nullable=True))
        op.execute(f"UPDATE {table} SET visibility = {level}")  # noqa: S608 (constants)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("visibility", existing_type=kind, nullable=False)
            batch_op.create_check_constraint(
                constraint, sa.text("visibility IN ('partners', 'police', 'restricted')")
            )


def downgrade() -> None:
    for table, (_level, constraint) in reversed(TABLES.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(constraint, type_="check")
            batch_op.drop_column("visibility")
