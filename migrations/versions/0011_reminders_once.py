"""reminders once

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 14:50:26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scheduled_runs',
    sa.Column('job', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('job', 'period', name=op.f('pk_scheduled_runs'))
    )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=40), nullable=True))
        batch_op.create_index('uq_outbox_events_type_resource_id_key', ['type', 'resource_id', 'key'], unique=True)



def downgrade() -> None:
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index('uq_outbox_events_type_resource_id_key')
        batch_op.drop_column('key')

    op.drop_table('scheduled_runs')
