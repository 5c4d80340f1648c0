"""a report's possible duplicates served by indexes on the problems not closed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_CLOSED = "status <> 'closed'"
UNLOCATED_NOT_CLOSED = "status <> 'closed' AND (lat IS NULL OR lon IS NULL)"


def upgrade() -> None:
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.create_index(
            "ix_problems_category_commune_code_lat_lon_not_closed",
            ["category", "commune_code", "lat", "lon"],
            unique=False,
            sqlite_where=sa.text(NOT_CLOSED),
            postgresql_where=sa.text(NOT_CLOSED),
        )
        batch_op.create_index(
            "ix_problems_category_commune_code_unlocated_not_closed",
            ["category", "commune_code"],
            unique=False,
            sqlite_where=sa.text(UNLOCATED_NOT_CLOSED),
            postgresql_where=sa.text(UNLOCATED_NOT_CLOSED),
        )


def downgrade() -> None:
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.drop_index("ix_problems_category_commune_code_unlocated_not_closed")
        batch_op.drop_index("ix_problems_category_commune_code_lat_lon_not_closed")
