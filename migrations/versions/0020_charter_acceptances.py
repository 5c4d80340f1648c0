"""charter acceptances

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 19:30:00

Who accepted which version of the GPO information-sharing charter, when, and from which
console session or API token (issue 12, item 8). One row per person and version: accepting
again changes nothing, a new version is accepted anew.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charter_acceptances",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("token_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_charter_acceptances_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_acceptances")),
        sa.UniqueConstraint(
            "user_id", "version", name=op.f("uq_charter_acceptances_user_id_version")
        ),
    )


def downgrade() -> None:
    op.drop_table("charter_acceptances")
