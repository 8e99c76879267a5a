"""Replaying a case for an auditor: its events, its pinned versions and its stored state read in
one read-only transaction and handed to ``engine.audit.replay``; nothing of the case is written.

The step-through of a case (``case_steps``) is a replay too, which takes seconds for a case that
looped a thousand times; its result is kept (``case_steps_cache``) with the head of the case's
chain it was built at, and used again only while the verified chain still ends there and nothing
else the replay read has changed. A history that does not verify is always replayed afresh. The
kept row is sealed with an HMAC under the server's secret key, which the database does not hold:
a row edited there is rebuilt, so what an auditor steps through is always what the replay showed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.audit import replay as audit_replay
from engine.audit.chain import canonical_json, sha256_hex
from engine.context import EngineContext
from engine.definitions.catalog import ParsedProcess
from engine.errors import Forbidden
from engine.persistence.models import (
    Case,
    CaseEvent,
    CaseState,
    CaseStepsCache,
    CaseTask,
    ProcessVersion,
    WorkItem,
)
from engine.services import visibility
from engine.services.actors import Actor
from engine.services.cases import verified_events
from engine.spiff.runtime import CaseRuntime
from engine.time.clock import utcnow

# The layout of a kept step-through (``Snapshot.as_json``); one kept in another layout is rebuilt.
STEPS_FORMAT = 1


@dataclass(frozen=True)
class CaseReplay:
    """A replay's verdict on one case; ``snapshots`` only when asked for (stepping through)."""

    case_id: int
    identical: bool
    steps: int
    divergence: audit_replay.Divergence | None
    snapshots: list[audit_replay.Snapshot] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        divergence = self.divergence
        return {"case_id": self.case_id, "identical": self.identical, "steps": self.steps,
                "divergence": None if divergence is None else divergence.as_json()}


def may_replay(actor: Actor) -> bool:
    """Replay reads a case's whole history and state: for auditors, administrators and the process
    owners who answer for the procedures."""
    return actor.is_auditor or actor.is_admin or actor.is_process_owner


def replay_case(ctx: EngineContext, actor: Actor, case_id: int, keep_snapshots: bool = False) -> CaseReplay:
    """Replay one case and compare it with its record; NotFound when ``actor`` may not read it."""
    if not may_replay(actor):
        raise Forbidden("Only auditors, administrators and process owners replay cases")
    with ctx.unit_of_work(readonly=True) as uow:
        case = visibility.readable_case(uow.session, actor, case_id)
        return _replay(ctx, uow.session, case, keep_snapshots)


@dataclass(frozen=True)
class VersionDiagrams:
    """The diagrams of one version a case was on (BPMN file -> XML), which processes each file
    holds (for opening a called one) and the name of each element."""

    version: int
    label: str  # its document-control label (A0, A1, …), "" before document control
    content_hash: str
    main_file: str
    diagrams: dict[str, str]
    processes: dict[str, str]  # BPMN process id -> the file that holds it
    names: dict[str, dict[str, str]]  # file -> element id -> its name in the diagram


@dataclass(frozen=True)
class CaseSteps:
    """A case's history as the replay rebuilt it, step by step, with the diagrams of each version
    it was on (a migrated case: the steps before the move on the version it was on then), in the
    order the case was on them; each snapshot names its version by ``version_hash``."""

    case_id: int
    title: str
    versions: list[VersionDiagrams]
    snapshots: list[audit_replay.Snapshot]
    divergence: audit_replay.Divergence | None
    replayed: bool  # False: the kept step-through served, the case was not replayed for this view

    @property
    def current(self) -> VersionDiagrams:
        """The version of the last step (the case's own when no step was replayed)."""
        last = self.snapshots[-1].version_hash if self.snapshots else None
        return next((v for v in self.versions if v.content_hash == last), self.versions[-1])


def case_steps(ctx: EngineContext, actor: Actor, case_id: int) -> CaseSteps:
    """The step-through of a case for whoever may read it (NotFound otherwise): the state after
    each recorded step, from a replay; a replay that diverges stops the steps where it does. The
    replay is kept and served again until the case's history grows (see the module's text)."""
    with ctx.unit_of_work(readonly=True) as uow:
        case, events, checked = verified_events(ctx, uow.session, actor, case_id)
        key = _steps_key(ctx, uow.session, case, events) if checked.verdict.ok else None
        kept = _kept_steps(ctx, uow.session, case.id, key) if key is not None else None
        if kept is None:
            replayed = _replay(ctx, uow.session, case, True, events)
            snapshots, divergence = replayed.snapshots, replayed.divergence
        else:
            snapshots, divergence = kept
        found = CaseSteps(case.id, case.title, _versions(ctx, uow.session, case, snapshots), snapshots, divergence,
                          replayed=kept is None)
    if kept is None and key is not None:
        _keep_steps(ctx, case_id, key, snapshots, divergence)
    return found


def _steps_key(ctx: EngineContext, session: Session, case: Case, events: Sequence[CaseEvent]) -> tuple[str, str]:
    """What a kept step-through must have been built from: the verified chain's head (it covers
    the events, the case data and the stored workflow state) and a hash of what else the replay
    compares or depends on (the case's status and inbox rows, the departments, the layout)."""
    open_ids = sorted(session.scalars(select(WorkItem.id).where(WorkItem.case_id == case.id)))
    inputs = {"format": STEPS_FORMAT, "status": case.status, "version": case.process_version_id,
              "open": open_ids, "departments": sorted(ctx.department_ids())}
    return (events[-1].hash if events else ""), sha256_hex(canonical_json(inputs))


def _mac(ctx: EngineContext, case_id: int, key: tuple[str, str], steps: list, divergence: dict | None) -> str:
    content = canonical_json([case_id, key[0], key[1], steps, divergence])
    return hmac.new(ctx.settings.secret_key.encode(), content.encode(), hashlib.sha256).hexdigest()


def _kept_steps(ctx: EngineContext, session: Session, case_id: int, key: tuple[str, str]
                ) -> tuple[list[audit_replay.Snapshot], audit_replay.Divergence | None] | None:
    """The kept step-through, when it was built from exactly what the case holds now, its seal
    holds and it can be read back (a row edited into another shape is rebuilt, like a stale one)."""
    kept = session.get(CaseStepsCache, case_id)
    if kept is None or (kept.head, kept.inputs) != key:
        return None
    if not hmac.compare_digest(kept.mac or "", _mac(ctx, case_id, key, kept.steps, kept.divergence)):
        return None
    try:
        divergence = audit_replay.Divergence.from_json(kept.divergence) if kept.divergence else None
        return [audit_replay.Snapshot.from_json(s) for s in kept.steps], divergence
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _keep_steps(ctx: EngineContext, case_id: int, key: tuple[str, str], snapshots: list[audit_replay.Snapshot],
                divergence: audit_replay.Divergence | None) -> None:
    """Keep a step-through, replacing the one kept before. Its own short transaction: the replay
    read the case in a read-only one. A case that grew meanwhile only makes this row stale, and
    its next view rebuilds it."""
    steps = [s.as_json() for s in snapshots]
    diverged = divergence.as_json() if divergence is not None else None
    values = {"head": key[0], "inputs": key[1], "built_at": utcnow(), "steps": steps, "divergence": diverged,
              "mac": _mac(ctx, case_id, key, steps, diverged)}
    with ctx.unit_of_work() as uow:
        insert = pg_insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        uow.session.execute(insert(CaseStepsCache).values(case_id=case_id, **values)
                            .on_conflict_do_update(index_elements=[CaseStepsCache.case_id], set_=values))
        uow.commit()


def _versions(ctx: EngineContext, session: Session, case: Case,
              snapshots: list[audit_replay.Snapshot]) -> list[VersionDiagrams]:
    """The diagrams of every version the steps were on, in the order the case was on them, and
    of the case's own version (the only one when nothing was replayed)."""
    hashes = list(dict.fromkeys([*(s.version_hash for s in snapshots if s.version_hash),
                                 case.version.content_hash]))
    stored = {v.content_hash: v for v in session.scalars(select(ProcessVersion).where(
        ProcessVersion.process_id == case.process_id, ProcessVersion.content_hash.in_(hashes)))}
    return [_diagrams(ctx, stored[h]) for h in hashes if h in stored]


def _diagrams(ctx: EngineContext, version: ProcessVersion) -> VersionDiagrams:
    process = ctx.process(version)
    specs = {process.spec.name: process.spec, **process.subprocess_specs}
    files = {name: getattr(spec, "file", "") for name, spec in specs.items()}
    diagrams = {f.path: f.content for f in version.files if f.path.endswith(".bpmn")}
    names: dict[str, dict[str, str]] = {}
    for name, spec in specs.items():
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "bpmn_id", None):
                names.setdefault(files[name], {})[task_spec.bpmn_id] = task_spec.bpmn_name or task_spec.bpmn_id
    return VersionDiagrams(version.version, version.label or "", version.content_hash, files.get(process.spec.name, ""),
                           diagrams, {name: path for name, path in files.items() if path in diagrams}, names)


def replay_all(ctx: EngineContext) -> Iterator[CaseReplay]:
    """Replay every case, oldest first, one read-only transaction each (the command line's
    ``audit replay --all``, run by whoever holds the server's configuration)."""
    with ctx.unit_of_work(readonly=True) as uow:
        ids = list(uow.session.scalars(select(Case.id).order_by(Case.id)))
    for case_id in ids:
        with ctx.unit_of_work(readonly=True) as uow:
            case = uow.session.get(Case, case_id)
            if case is not None:
                yield _replay(ctx, uow.session, case, False)


def replay_one(ctx: EngineContext, case_id: int) -> CaseReplay | None:
    """One case for the command line (None when there is no such case)."""
    with ctx.unit_of_work(readonly=True) as uow:
        case = uow.session.get(Case, case_id) if 0 < case_id <= visibility.MAX_ID else None
        return _replay(ctx, uow.session, case, False) if case is not None else None


def _replay(ctx: EngineContext, session: Session, case: Case, keep_snapshots: bool,
            read: Sequence[CaseEvent] | None = None) -> CaseReplay:
    """Replay ``case`` from its events (``read``: already read in this transaction)."""
    if read is None:
        read = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))
    events = [audit_replay.RecordedEvent.of(e) for e in read]

    def by_hash(content_hash: str) -> ParsedProcess | None:
        version = session.scalar(select(ProcessVersion).where(
            ProcessVersion.process_id == case.process_id, ProcessVersion.content_hash == content_hash))
        return ctx.process(version) if version is not None else None

    def by_id(version_id: Any) -> ParsedProcess | None:
        version = session.get(ProcessVersion, version_id) if isinstance(version_id, int) else None
        return ctx.process(version) if version is not None and version.process_id == case.process_id else None

    report = audit_replay.replay(events, by_hash, by_id, ctx.script_engine, ctx.department_ids(),
                                 _stored(ctx, session, case), keep_snapshots)
    return CaseReplay(case.id, report.identical, report.steps, report.divergence, report.snapshots)


def _stored(ctx: EngineContext, session: Session, case: Case) -> audit_replay.StoredCase:
    """The case as stored: its row, its inbox rows and its workflow state, read back as the
    services read it (a state that cannot be read is itself a finding)."""
    open_ids = frozenset(session.scalars(select(WorkItem.id).where(WorkItem.case_id == case.id)))
    state = session.get(CaseState, case.id)
    runtime, unreadable = None, ""
    if state is not None:
        rows = session.execute(select(CaseTask.task_id, CaseTask.workflow_key, CaseTask.state)
                               .where(CaseTask.case_id == case.id))
        try:
            runtime = CaseRuntime.restore(ctx.process(case.version), state.state, [tuple(r) for r in rows],
                                          ctx.script_engine)
        except Exception as exc:  # noqa: BLE001 - whatever the stored text makes the reader raise is the finding
            unreadable = f"{type(exc).__name__}: {exc}"
    return audit_replay.StoredCase(case.status, case.data or {}, open_ids, runtime, unreadable)
