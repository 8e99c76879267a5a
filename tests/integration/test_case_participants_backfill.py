"""Migration 0010 fills ``case_participants`` for the cases an installation already has, from
their histories: the result is the very rows the services write as the cases move."""

from __future__ import annotations

import importlib.util

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import delete, select

from engine.context import EngineContext
from engine.persistence.models import CaseParticipant
from engine.persistence.schema import MIGRATIONS
from engine.services import cases, work_items
from tests.factories import actor, complete, open_task
from tests.integration.test_after_sales_paths import CONTAIN, FEEDBACK


def _migration():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("m0010", MIGRATIONS / "versions" / "0010_case_participants.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _participants(ctx: EngineContext) -> set[tuple[int, str]]:
    with ctx.unit_of_work(readonly=True) as uow:
        return {tuple(r) for r in uow.session.execute(select(CaseParticipant.case_id, CaseParticipant.party))}


def test_the_backfill_finds_the_participants_the_services_recorded(ctx: EngineContext) -> None:
    quality = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback", {})
    complete(ctx, "sales1", quality.id, "Record customer feedback", {**FEEDBACK, "category": "quality"})
    contain = open_task(ctx, quality.id, "Contain the problem")
    work_items.claim(ctx, actor(ctx, "qc1"), contain.id)
    complete(ctx, "qc1", quality.id, "Contain the problem", CONTAIN)
    other = cases.start_case(ctx, actor(ctx, "tech1"), "sample_trial", {})  # its first task is Sales's
    work_items.assign(ctx, actor(ctx, "sales1"), open_task(ctx, other.id).id, "sales2")
    recorded = _participants(ctx)
    ids = {name: actor(ctx, name).id for name in ("sales1", "sales2", "qc1", "tech1")}
    assert recorded == {
        (quality.id, f"user:{ids['sales1']}"), (quality.id, f"user:{ids['qc1']}"),
        (quality.id, "department:sales"), (quality.id, "department:qc"),
        (other.id, f"user:{ids['tech1']}"), (other.id, f"user:{ids['sales1']}"), (other.id, f"user:{ids['sales2']}"),
        (other.id, "department:sales"),
    }

    with ctx.database.engine.begin() as connection:
        connection.execute(delete(CaseParticipant))
        with Operations.context(MigrationContext.configure(connection)):
            _migration()._backfill(connection.dialect.name)
    assert _participants(ctx) == recorded
