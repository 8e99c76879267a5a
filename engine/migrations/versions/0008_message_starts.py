"""message starts: the case each start message began, so that a repeat finds it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('message_starts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('correlation_key', sa.String(length=64), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'correlation_key')
    )
    with op.batch_alter_table('message_starts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_starts_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('message_starts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_starts_case_id'))
    op.drop_table('message_starts')
