"""the people who may work a task no department works (lane_owners, or the case's starter), and
what a task's page shows beside its form (instructions, choices from task data, signal buttons)

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0021'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('presentation', sa.JSON(), nullable=False, server_default='{}'))
    op.create_table(
        'work_item_owners',
        sa.Column('work_item_id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['work_item_id'], ['work_items.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('work_item_id', 'user_id'),
    )
    with op.batch_alter_table('work_item_owners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_item_owners_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('work_item_owners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_item_owners_user_id'))
    op.drop_table('work_item_owners')
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_column('presentation')
