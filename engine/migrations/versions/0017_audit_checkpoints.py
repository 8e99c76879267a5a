"""signed checkpoints: Merkle tree heads over every case's chain head, with their leaves

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_checkpoints',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('tree_size', sa.Integer(), nullable=False),
        sa.Column('root_hash', sa.String(length=64), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=64), nullable=False),
        sa.Column('statement', sa.Text(), nullable=False),
        sa.Column('signature', sa.String(length=200), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('public_key', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('hash'),
    )
    op.create_table(
        'audit_checkpoint_leaves',
        sa.Column('checkpoint_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.Column('last_event_hash', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['checkpoint_id'], ['audit_checkpoints.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('checkpoint_id', 'position'),
    )
    op.create_index('ix_audit_checkpoint_leaves_case', 'audit_checkpoint_leaves', ['case_id', 'checkpoint_id'])


def downgrade() -> None:
    op.drop_index('ix_audit_checkpoint_leaves_case', table_name='audit_checkpoint_leaves')
    op.drop_table('audit_checkpoint_leaves')
    op.drop_table('audit_checkpoints')
