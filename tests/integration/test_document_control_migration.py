"""Migration 0013 labels the versions an installation already has (A0, A1, … in order) and
leaves only the newest of each process published, the older ones superseded."""

from __future__ import annotations

import importlib.util

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, update

from engine.context import EngineContext
from engine.persistence.models import ProcessVersion
from engine.persistence.schema import MIGRATIONS


def _migration():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("m0013", MIGRATIONS / "versions" / "0013_document_control.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_existing_versions_get_labels_in_order_and_only_the_newest_stays_published(ctx: EngineContext) -> None:
    with ctx.unit_of_work() as uow:
        first = uow.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == "capa"))
        uow.session.add(ProcessVersion(process_id="capa", name=first.name, version=2, content_hash="second",
                                       status="published"))
        uow.commit()
    with ctx.database.engine.begin() as connection:
        connection.execute(update(ProcessVersion).values(label="", status="published"))
        with Operations.context(MigrationContext.configure(connection)):
            _migration()._label_existing()
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(select(ProcessVersion.process_id, ProcessVersion.version, ProcessVersion.label,
                                          ProcessVersion.status).order_by(ProcessVersion.process_id,
                                                                          ProcessVersion.version)).all()
    capa = [tuple(r[1:]) for r in rows if r[0] == "capa"]
    assert capa == [(1, "A0", "superseded"), (2, "A1", "published")]
    assert {(r[2], r[3]) for r in rows if r[0] != "capa"} == {("A0", "published")}
