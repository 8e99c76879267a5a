"""work item title in Chinese: the task's name:zh, shown to readers of Chinese

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_zh', sa.String(length=300), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_column('title_zh')
