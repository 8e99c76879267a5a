"""RFC 3161 timestamps of signed checkpoints: the TSA's response to each stamped checkpoint

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_checkpoint_timestamps',
        sa.Column('checkpoint_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('response', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['checkpoint_id'], ['audit_checkpoints.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('checkpoint_id'),
    )


def downgrade() -> None:
    op.drop_table('audit_checkpoint_timestamps')
