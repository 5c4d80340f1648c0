"""mail outbox

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 15:51:57
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mails',
    sa.Column('kind', sa.Enum('invitation', 'password_reset', 'digest', 'minutes', 'webhook_disabled', name='mail_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('about', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'logged', 'failed', 'cancelled', name='mail_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('to_address', sa.String(length=254), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mails_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mails')),
    sa.UniqueConstraint('key', name=op.f('uq_mails_key'))
    )
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.create_index('ix_mails_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_mails_user_id_created_at', ['user_id', 'created_at'], unique=False)

    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=20), server_default='sign_in', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.drop_column('purpose')

    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.drop_index('ix_mails_user_id_created_at')
        batch_op.drop_index('ix_mails_status_next_attempt_at')

    op.drop_table('mails')
