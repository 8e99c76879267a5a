"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.persistence.models import Base

# Indexes with an expression column (``priority DESC``): Alembic cannot compare those and reports
# them as removed and added again, so they are checked by name instead.
EXPRESSION_INDEXES = {"ix_work_items_department_order", "ix_work_items_assignee_order"}


def _about_expression_index(difference: tuple) -> bool:
    return difference[0] in {"add_index", "remove_index"} and difference[1].name in EXPRESSION_INDEXES


def test_migrations_and_models_agree(ctx):
    with ctx.database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        index_names = {
            name for (name,) in connection.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'work_items'"
                if connection.dialect.name == "postgresql"
                else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'work_items'"
            )
        }
    assert [d for d in differences if not _about_expression_index(d)] == []
    assert EXPRESSION_INDEXES <= index_names
