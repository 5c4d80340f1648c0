"""text screenings: what the free texts written held (issue 12, item 3)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 19:45:00

One row per finding in a stored text (an identifier masked, a sensitive word), naming the
record, the field, the kind and the writer, never the value: the governance report counts
them by kind (`app.governance.screening.screening_counts`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "phone",
    "email",
    "licence_plate",
    "nir",
    "iban",
    "sensitive_health",
    "sensitive_religion",
    "sensitive_origin",
    "sensitive_sex_life",
    "sensitive_politics",
    "sensitive_union",
)


def upgrade() -> None:
    op.create_table(
        "text_screenings",
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="text_screening_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_text_screenings_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_screenings")),
    )
    with op.batch_alter_table("text_screenings", schema=None) as batch_op:
        batch_op.create_index("ix_text_screenings_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("text_screenings", schema=None) as batch_op:
        batch_op.drop_index("ix_text_screenings_at")
    op.drop_table("text_screenings")
