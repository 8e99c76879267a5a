"""document control: process versions carry a label, change note, distribution, source and
author; drafts; the sign-offs of each version

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('change_note', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('distribution', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('source', sa.String(length=20), server_default='imported', nullable=False))
        batch_op.add_column(sa.Column('created_by', sa.String(length=80), server_default='setup', nullable=False))
        batch_op.add_column(sa.Column('problems', sa.JSON(), server_default='[]', nullable=False))
    _label_existing()
    op.create_table('version_signoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['process_versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('version_signoffs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_version_signoffs_version_id'), ['version_id'], unique=False)


def _label_existing() -> None:
    """Versions published before document control: labelled in order (A0, A1, …); the newest
    stays published and the older ones are superseded, so the revision record has no gap."""
    op.execute("UPDATE process_versions SET label = 'A' || CAST(version - 1 AS VARCHAR(10))")
    op.execute(
        "UPDATE process_versions SET status = 'superseded' WHERE status = 'published' AND version < "
        "(SELECT MAX(p.version) FROM process_versions p WHERE p.process_id = process_versions.process_id "
        "AND p.status = 'published')")


def downgrade() -> None:
    with op.batch_alter_table('version_signoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_version_signoffs_version_id'))
    op.drop_table('version_signoffs')
    op.execute("UPDATE process_versions SET status = 'published' WHERE status = 'superseded'")
    op.execute("DELETE FROM process_files WHERE version_id IN "
               "(SELECT id FROM process_versions WHERE status <> 'published')")
    op.execute("DELETE FROM process_versions WHERE status <> 'published'")
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_column('problems')
        batch_op.drop_column('created_by')
        batch_op.drop_column('source')
        batch_op.drop_column('distribution')
        batch_op.drop_column('change_note')
        batch_op.drop_column('label')
