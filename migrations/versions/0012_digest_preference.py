"""digest preference

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 15:29:18
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "digest",
                sa.Enum("daily", "weekly", "off", name="user_digest", native_enum=False),
                server_default="daily",
                nullable=False,
            )
        )
        batch_op.create_check_constraint(
            "user_digest", sa.text("digest IN ('daily', 'weekly', 'off')")
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("user_digest", type_="check")
        batch_op.drop_column("digest")
