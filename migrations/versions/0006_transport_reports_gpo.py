"""the GPO designated for transport reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gpos", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("transport_reports", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "uq_gpos_transport_reports",
            ["transport_reports"],
            unique=True,
            sqlite_where=sa.text("transport_reports"),
            postgresql_where=sa.text("transport_reports"),
        )


def downgrade() -> None:
    with op.batch_alter_table("gpos", schema=None) as batch_op:
        batch_op.drop_index("uq_gpos_transport_reports")
        batch_op.drop_column("transport_reports")
