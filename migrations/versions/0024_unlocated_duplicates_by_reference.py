"""problems: the unlocated ones not closed indexed in their references' order

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 15:00:00

A report's possible duplicates include the first 20 unlocated open problems of its category
and commune the reporter may see, by reference. Their index held no order: at a million
problems, the 1,590 of the benchmark's category and commune were each read from the table
and sorted for 20 (3.1 ms of the intake's 4.5 ms of statements). Indexed by reference as
well (byte order, as the query sorts), the scan stops once 20 visible ones are found
(0.2 ms, 49 rows read). It replaces the index it extends.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNLOCATED_NOT_CLOSED = "status <> 'closed' AND (lat IS NULL OR lon IS NULL)"


def upgrade() -> None:
    op.create_index(
        "ix_problems_unlocated_not_closed_reference",
        "problems",
        ["category", "commune_code", "reference"],
        postgresql_ops={"reference": 'COLLATE "C"'},
        sqlite_where=sa.text(UNLOCATED_NOT_CLOSED),
        postgresql_where=sa.text(UNLOCATED_NOT_CLOSED),
    )
    op.drop_index("ix_problems_category_commune_code_unlocated_not_closed", table_name="problems")


def downgrade() -> None:
    op.create_index(
        "ix_problems_category_commune_code_unlocated_not_closed",
        "problems",
        ["category", "commune_code"],
        sqlite_where=sa.text(UNLOCATED_NOT_CLOSED),
        postgresql_where=sa.text(UNLOCATED_NOT_CLOSED),
    )
    op.drop_index("ix_problems_unlocated_not_closed_reference", table_name="problems")
