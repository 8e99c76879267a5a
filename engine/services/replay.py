"""Replaying a case for an auditor: its events, its pinned versions and its stored state read in
one read-only transaction and handed to ``engine.audit.replay``; nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import replay as audit_replay
from engine.audit.chain import jsonable
from engine.context import EngineContext
from engine.definitions.catalog import ParsedProcess
from engine.errors import Forbidden
from engine.persistence.models import Case, CaseEvent, CaseState, CaseTask, ProcessVersion, WorkItem
from engine.services import visibility
from engine.services.actors import Actor
from engine.spiff.runtime import CaseRuntime


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
        return {
            "case_id": self.case_id, "identical": self.identical, "steps": self.steps,
            "divergence": None if divergence is None else {
                "step": divergence.step, "seq": divergence.seq, "what": divergence.what,
                "recorded": jsonable(divergence.recorded), "replayed": jsonable(divergence.replayed),
            },
        }


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
class CaseSteps:
    """A case's history as the replay rebuilt it, step by step, with the diagrams of its pinned
    version (BPMN file -> XML) and which processes each file holds (for opening a called one)."""

    case_id: int
    title: str
    main_file: str
    diagrams: dict[str, str]
    processes: dict[str, str]  # BPMN process id -> the file that holds it
    names: dict[str, dict[str, str]]  # file -> element id -> its name in the diagram
    snapshots: list[audit_replay.Snapshot]
    divergence: audit_replay.Divergence | None


def case_steps(ctx: EngineContext, actor: Actor, case_id: int) -> CaseSteps:
    """The step-through of a case for whoever may read it (NotFound otherwise): the state after
    each recorded step, from a replay; a replay that diverges stops the steps where it does."""
    with ctx.unit_of_work(readonly=True) as uow:
        case = visibility.readable_case(uow.session, actor, case_id)
        replayed = _replay(ctx, uow.session, case, True)
        process = ctx.process(case.version)
        specs = {process.spec.name: process.spec, **process.subprocess_specs}
        files = {name: getattr(spec, "file", "") for name, spec in specs.items()}
        diagrams = {f.path: f.content for f in case.version.files if f.path.endswith(".bpmn")}
        names: dict[str, dict[str, str]] = {}
        for name, spec in specs.items():
            for task_spec in spec.task_specs.values():
                if getattr(task_spec, "bpmn_id", None):
                    names.setdefault(files[name], {})[task_spec.bpmn_id] = task_spec.bpmn_name or task_spec.bpmn_id
        return CaseSteps(case.id, case.title, files.get(process.spec.name, ""), diagrams,
                         {name: path for name, path in files.items() if path in diagrams}, names,
                         replayed.snapshots, replayed.divergence)


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


def _replay(ctx: EngineContext, session: Session, case: Case, keep_snapshots: bool) -> CaseReplay:
    events = [audit_replay.RecordedEvent.of(e) for e in session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))]

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
