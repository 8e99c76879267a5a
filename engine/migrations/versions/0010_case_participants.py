"""case participants: who may read each case (departments that had a task, people who acted)

The table is filled for existing cases from their history: departments of every ``task_ready``
event, the starter, everyone recorded as acting, and everyone a task was assigned to.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _json_text(dialect: str, column: str, key: str) -> str:
    """A JSON column's string member as text, in the backend's own syntax."""
    if dialect == 'postgresql':
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def _backfill(dialect: str) -> None:
    department = _json_text(dialect, 'e.data', 'department')
    assignee = _json_text(dialect, 'e.data', 'assignee')
    op.execute(f"""
        INSERT INTO case_participants (case_id, party)
        SELECT e.case_id, 'department:' || {department} FROM case_events e
            WHERE e.type = 'task_ready' AND {department} IS NOT NULL AND {department} <> ''
        UNION
        SELECT c.id, 'user:' || CAST(c.created_by_id AS VARCHAR) FROM cases c WHERE c.created_by_id IS NOT NULL
        UNION
        SELECT e.case_id, 'user:' || CAST(e.actor_id AS VARCHAR) FROM case_events e WHERE e.actor_id IS NOT NULL
        UNION
        SELECT e.case_id, 'user:' || CAST(u.id AS VARCHAR) FROM case_events e
            JOIN users u ON u.username = {assignee} WHERE e.type = 'task_assigned'
    """)


def upgrade() -> None:
    op.create_table('case_participants',
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('party', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'party')
    )
    with op.batch_alter_table('case_participants', schema=None) as batch_op:
        batch_op.create_index('ix_case_participants_party', ['party', 'case_id'], unique=False)
    _backfill(op.get_bind().dialect.name)


def downgrade() -> None:
    with op.batch_alter_table('case_participants', schema=None) as batch_op:
        batch_op.drop_index('ix_case_participants_party')
    op.drop_table('case_participants')
