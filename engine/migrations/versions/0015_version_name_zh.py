"""a version's process name in Chinese, kept for the pages that list cases

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_zh', sa.String(length=200), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_column('name_zh')
