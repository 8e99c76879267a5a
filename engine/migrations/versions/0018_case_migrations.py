"""running cases moved to another version of their process, with what a revert restores

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_migrations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(length=120), nullable=False),
        sa.Column('to_version_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('selection', sa.JSON(), nullable=False),
        sa.Column('reverted_at', sa.DateTime(), nullable=True),
        sa.Column('reverted_by', sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id']),
        sa.ForeignKeyConstraint(['to_version_id'], ['process_versions.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_case_migrations_process_id', 'case_migrations', ['process_id'])
    op.create_table(
        'case_migration_items',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('migration_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('from_version_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('event_seq', sa.Integer(), nullable=True),
        sa.Column('saved_state', sa.Text(), nullable=True),
        sa.Column('saved_tasks', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['from_version_id'], ['process_versions.id']),
        sa.ForeignKeyConstraint(['migration_id'], ['case_migrations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('migration_id', 'case_id'),
    )
    op.create_index('ix_case_migration_items_migration_id', 'case_migration_items', ['migration_id'])
    op.create_index('ix_case_migration_items_case_id', 'case_migration_items', ['case_id'])


def downgrade() -> None:
    op.drop_index('ix_case_migration_items_case_id', table_name='case_migration_items')
    op.drop_index('ix_case_migration_items_migration_id', table_name='case_migration_items')
    op.drop_table('case_migration_items')
    op.drop_index('ix_case_migrations_process_id', table_name='case_migrations')
    op.drop_table('case_migrations')
