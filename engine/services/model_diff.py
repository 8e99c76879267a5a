"""Comparing two versions of one process (engine.definitions.diff), for whoever may read models.

The comparison reads as "what ``model_id`` does differently from ``against``": ``against`` is the
version before, ``model_id`` the version after (whichever of the two is newer), so that a reviewer looking
at a new draft compares it with the version in force and sees the draft's additions as added.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from engine.context import EngineContext
from engine.definitions.diff import DiffEntry, diagram_marks, diff_files
from engine.errors import Conflict, Forbidden, NotFound
from engine.persistence.models import ProcessVersion
from engine.persistence.uow import UnitOfWork
from engine.services.actors import Actor
from engine.services.models import may_read

MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class VersionRef:
    id: int
    process_id: str
    name: str
    version: int
    label: str
    status: str


@dataclass(frozen=True)
class DiagramPair:
    """One BPMN file on both sides (None where that version has no such file), with the elements
    to mark on each side (element id -> added, removed or changed)."""

    path: str
    before: str | None
    after: str | None
    before_marks: dict[str, str]
    after_marks: dict[str, str]


@dataclass(frozen=True)
class VersionComparison:
    before: VersionRef
    after: VersionRef
    entries: list[DiffEntry]
    diagrams: list[DiagramPair]


def _ref(row: ProcessVersion) -> VersionRef:
    return VersionRef(row.id, row.process_id, row.name, row.version, row.label, row.status)


def _version(uow: UnitOfWork, model_id: int, field: str) -> ProcessVersion:
    row = uow.session.get(ProcessVersion, model_id) if 0 < model_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No model {model_id}", {field: f"no model {model_id}"})
    return row


def _require_reader(actor: Actor) -> None:
    if not may_read(actor):
        raise Forbidden(f"{actor.username} may not read process models")


def compare_versions(ctx: EngineContext, actor: Actor, model_id: int, against: int) -> VersionComparison:
    """The differences of version ``model_id`` from version ``against`` of the same process;
    versions of two different processes are refused (Conflict naming ``against``: both ids are
    well formed and exist, they just do not belong together)."""
    _require_reader(actor)
    with ctx.unit_of_work(readonly=True) as uow:
        after = _version(uow, model_id, "model")
        before = _version(uow, against, "against")
        if before.process_id != after.process_id:
            message = (f"version {before.id} is of process {before.process_id!r}, version {after.id} of "
                       f"{after.process_id!r}: only versions of one process can be compared")
            raise Conflict(f"against: {message}", {"against": message})
        old = {f.path: f.content for f in before.files}
        new = {f.path: f.content for f in after.files}
        refs = _ref(before), _ref(after)
    entries = diff_files(old, new)
    diagrams = [DiagramPair(path, old.get(path), new.get(path), diagram_marks(entries, path, "before"),
                            diagram_marks(entries, path, "after"))
                for path in sorted(set(old) | set(new)) if path.endswith(".bpmn")]
    return VersionComparison(refs[0], refs[1], entries, diagrams)


def other_versions(ctx: EngineContext, actor: Actor, model_id: int) -> list[VersionRef]:
    """The versions a version may be compared with: the rest of its process's, newest first."""
    _require_reader(actor)
    with ctx.unit_of_work(readonly=True) as uow:
        row = _version(uow, model_id, "model")
        others = uow.session.scalars(select(ProcessVersion).where(
            ProcessVersion.process_id == row.process_id, ProcessVersion.id != row.id,
        ).order_by(ProcessVersion.version.desc()))
        return [_ref(o) for o in others]
