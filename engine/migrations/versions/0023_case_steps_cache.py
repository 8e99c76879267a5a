"""a case's step-through kept with the chain head it was built at, so that viewing it again does
not replay the case

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_steps_cache',
        sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('head', sa.String(length=64), nullable=False),
        sa.Column('inputs', sa.String(length=64), nullable=False),
        sa.Column('built_at', sa.DateTime(), nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('divergence', sa.JSON(), nullable=True),
        sa.Column('mac', sa.String(length=64), nullable=False, server_default=''),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id'),
    )


def downgrade() -> None:
    op.drop_table('case_steps_cache')
