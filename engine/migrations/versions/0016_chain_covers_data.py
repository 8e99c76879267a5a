"""the audit chain covers the case's data and state; failed verifications kept per case; events append-only

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# On PostgreSQL the history refuses UPDATE and DELETE row by row (TRUNCATE, which only the
# database's owner runs, is not a row operation). Deleting a case would cascade into its events
# and is refused too: the app never deletes a case or an event.
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
FOR EACH ROW EXECUTE FUNCTION case_events_append_only()
"""


def upgrade() -> None:
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('data_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('changes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('state_hash', sa.String(length=64), nullable=True))
    op.create_table(
        'case_integrity_failures',
        sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.Column('broken_seq', sa.Integer(), nullable=True),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS case_events_append_only ON case_events')
        op.execute('DROP FUNCTION IF EXISTS case_events_append_only()')
    op.drop_table('case_integrity_failures')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_column('state_hash')
        batch_op.drop_column('changes')
        batch_op.drop_column('data_hash')
        batch_op.drop_column('chain_version')
