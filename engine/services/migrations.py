"""Moving running cases to another version of their process, and moving them back.

A batch names the process, the target version (by its number) and either case ids or a filter.
A dry run judges each case and changes nothing. A real run records a migration, then judges
and moves each case in its own transaction under the case's lock (the verdict is taken again
there: the dry run may be stale), so one case that cannot move never holds back the others.

The target must be a version of the same process that has been put in force (published, or
superseded since) and is newer than the case's own: cases move forward, and only a revert moves
them back. What moving a workflow means, and when it is safe, is ``engine.spiff.migration``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select

from engine.audit import chain as audit
from engine.context import EngineContext
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.persistence.models import (
    Case,
    CaseEvent,
    CaseMigration,
    CaseMigrationItem,
    CaseState,
    CaseTask,
    ProcessVersion,
    WorkItem,
)
from engine.persistence.uow import UnitOfWork
from engine.services import visibility
from engine.services.actors import Actor
from engine.services.case_store import save_runtime
from engine.services.tasks import locked_case
from engine.spiff import migration, state_codec
from engine.spiff.runtime import CaseRuntime
from engine.time.clock import utcnow

MAX_CASES = 500
MAX_INT = 2**31 - 1  # version numbers and migration ids are 32-bit columns
MAX_CASE_ID = 2**63 - 1
IN_FORCE = ("published", "superseded")
OPEN_STATUSES = ("running", "error")
FILTER_FIELDS = ("version", "status", "waiting_at", "started_before", "customer")
MIGRATED, NOT_MIGRATED, REVERTED = "migrated", "not_migrated", "reverted"


@dataclass(frozen=True)
class CaseFilter:
    """Which open cases of the process a batch takes (every field optional)."""

    version: int | None = None
    status: str | None = None
    waiting_at: str | None = None
    started_before: datetime | None = None
    customer: str | None = None


@dataclass(frozen=True)
class MigrationRequest:
    process: str
    to_version: int
    case_ids: tuple[int, ...] | None = None
    filter: CaseFilter | None = None
    dry_run: bool = True


@dataclass(frozen=True)
class CaseVerdict:
    case_id: int
    can_migrate: bool
    reason: str
    migrated: bool = False
    from_version: int | None = None


@dataclass(frozen=True)
class MigrationResult:
    dry_run: bool
    process: str
    to_version: int
    migration_id: int | None
    cases: list[CaseVerdict] = field(default_factory=list)


@dataclass(frozen=True)
class MigrationItemView:
    case_id: int
    status: str
    reason: str
    from_version: int
    may_revert: bool


@dataclass(frozen=True)
class MigrationView:
    id: int
    process: str
    to_version: int
    actor: str
    created_at: datetime
    selection: dict
    reverted_at: datetime | None
    reverted_by: str
    cases: list[MigrationItemView]


@dataclass(frozen=True)
class RevertOutcome:
    case_id: int
    reverted: bool
    reason: str


@dataclass(frozen=True)
class RevertResult:
    migration_id: int
    cases: list[RevertOutcome]


def may_migrate(actor: Actor) -> bool:
    """Process owners and administrators move cases between versions; nobody else (auditors
    read histories, they never change them)."""
    return actor.is_admin or actor.is_process_owner


def _require(actor: Actor) -> None:
    if not may_migrate(actor):
        raise Forbidden("Only process owners and administrators migrate cases")


# -- reading a request ------------------------------------------------------------------------


def _bad(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field_name}: {message}", {field_name: [message]})


def _missing(field_name: str, message: str) -> NotFound:
    """A well-formed request naming something that does not exist (404, the field named)."""
    return NotFound(f"{field_name}: {message}", {field_name: [message]})


def _positive_int(value: Any, field_name: str, maximum: int = MAX_INT) -> int:
    """A whole number in range; JSON does not tell 7 from 7.0, so neither does this."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise _bad(field_name, f"must be a whole number from 1 to {maximum}")
    return value


def _text(value: Any, field_name: str, max_length: int = 200) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= max_length or "\x00" in value:
        raise _bad(field_name, f"must be text of 1 to {max_length} characters")
    return value


def _date(value: Any, field_name: str) -> datetime:
    """A date (midnight) or a date-time, naive UTC as the database stores them."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
        except (ValueError, OverflowError):
            pass
    raise _bad(field_name, "must be a date (YYYY-MM-DD) or an ISO 8601 date-time")


def _filter(value: Any) -> CaseFilter:
    if not isinstance(value, dict):
        raise _bad("filter", "must be an object")
    unknown = sorted(set(value) - set(FILTER_FIELDS))
    if unknown:
        raise _bad(f"filter.{unknown[0]}", f"is not a filter; use {', '.join(FILTER_FIELDS)}")
    given = {k: v for k, v in value.items() if v is not None and not (isinstance(v, str) and not v.strip())}
    status = given.get("status")
    if status is not None and status not in OPEN_STATUSES:
        raise _bad("filter.status", f"must be one of {', '.join(OPEN_STATUSES)}")
    return CaseFilter(
        version=_positive_int(given["version"], "filter.version") if "version" in given else None,
        status=status,
        waiting_at=_text(given["waiting_at"], "filter.waiting_at") if "waiting_at" in given else None,
        started_before=_date(given["started_before"], "filter.started_before") if "started_before" in given else None,
        customer=_text(given["customer"], "filter.customer") if "customer" in given else None,
    )


def read_request(body: dict) -> MigrationRequest:
    """A batch from its JSON shape; a bad field is refused by name before anything is read."""
    process = _text(body.get("process"), "process", 120)
    to_version = _positive_int(body.get("to_version"), "to_version")
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise _bad("dry_run", "must be true or false")
    has_cases, has_filter = body.get("cases") is not None, body.get("filter") is not None
    if has_cases == has_filter:
        raise _bad("cases", "give either cases (a list of case ids) or filter, not both")
    if has_filter:
        return MigrationRequest(process, to_version, filter=_filter(body["filter"]), dry_run=dry_run)
    ids = body["cases"]
    if not isinstance(ids, list) or not ids:
        raise _bad("cases", "must be a non-empty list of case ids")
    if len(ids) > MAX_CASES:
        raise _bad("cases", f"at most {MAX_CASES} cases in one batch")
    case_ids = tuple(dict.fromkeys(_positive_int(v, f"cases[{i}]", MAX_CASE_ID) for i, v in enumerate(ids)))
    return MigrationRequest(process, to_version, case_ids=case_ids, dry_run=dry_run)


def _target(uow: UnitOfWork, request: MigrationRequest) -> ProcessVersion:
    versions = list(uow.session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == request.process)))
    if not versions:
        raise _missing("process", f"no process {request.process!r}")
    target = next((v for v in versions if v.version == request.to_version and v.status in IN_FORCE), None)
    if target is None:
        raise _missing("to_version", f"{request.process} has no published version {request.to_version}")
    return target


def _selected(uow: UnitOfWork, request: MigrationRequest, target: ProcessVersion) -> list[int]:
    """The ids of the cases a batch takes, in id order. Named cases must be cases of the process;
    a filter takes its open cases not already on the target."""
    if request.case_ids is not None:
        found = set(uow.session.scalars(select(Case.id).where(
            Case.id.in_(request.case_ids), Case.process_id == request.process)))
        for index, case_id in enumerate(request.case_ids):
            if case_id not in found:
                raise _missing(f"cases[{index}]", f"no case {case_id} of process {request.process}")
        return list(request.case_ids)
    flt = request.filter or CaseFilter()
    query = select(Case.id).where(Case.process_id == request.process, Case.process_version_id != target.id,
                                  Case.status.in_((flt.status,) if flt.status else OPEN_STATUSES))
    if flt.version is not None:
        query = query.join(ProcessVersion, ProcessVersion.id == Case.process_version_id).where(
            ProcessVersion.version == flt.version)
    if flt.started_before is not None:
        query = query.where(Case.created_at < flt.started_before)
    if flt.customer is not None:
        query = query.where(Case.customer.ilike(f"%{flt.customer}%"))
    ids = list(uow.session.scalars(query.order_by(Case.id).limit(MAX_CASES + 1)))
    if len(ids) > MAX_CASES:
        raise _bad("filter", f"matches more than {MAX_CASES} cases; narrow it")
    return ids


# -- judging and moving one case --------------------------------------------------------------


@dataclass
class _Attempt:
    """One case judged against the target: the reason it cannot move, or its moved state."""

    reason: str = ""
    skeleton: str = ""
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def can_migrate(self) -> bool:
        return not self.reason


def _stored(uow: UnitOfWork, case_id: int) -> tuple[str, list[tuple[str, str, str]]]:
    state = uow.session.get(CaseState, case_id)
    rows = uow.session.execute(
        select(CaseTask.task_id, CaseTask.workflow_key, CaseTask.state).where(CaseTask.case_id == case_id)
        .order_by(CaseTask.task_id))
    return (state.state if state is not None else ""), [tuple(r) for r in rows]  # type: ignore[misc]


def _waits_at(workflow: Any, element_id: str) -> bool:
    return any(task.task_spec.name == element_id
               for wf in [workflow, *workflow.subprocesses.values()]
               for task in wf.get_tasks(state=migration.OPEN, skip_subprocesses=True))


def _attempt(ctx: EngineContext, uow: UnitOfWork, case: Case, target: ProcessVersion,
             waiting_at: str | None = None) -> _Attempt | None:
    """Judge (and, on a copy read from the database, move) one case; None when it does not wait
    at ``waiting_at`` (the filter leaves it out)."""
    name = f"version {target.version}"
    if case.status != "running":
        return _Attempt(reason=f"The case is {case.status}")
    if case.process_version_id == target.id:
        return _Attempt(reason=f"The case is already on {name}")
    if case.version.version > target.version:
        return _Attempt(reason=f"{name} is older than the case's version {case.version.version}")
    skeleton, rows = _stored(uow, case.id)
    old = CaseRuntime.restore(ctx.process(case.version), skeleton, rows, ctx.script_engine)
    if waiting_at is not None and not _waits_at(old.workflow, waiting_at):
        return None
    process = ctx.process(target)
    # SpiffWorkflow's diff and the move run on whatever two diagrams an owner published; a failure
    # in them, or a moved state that does not read back on the target, is this case's verdict.
    try:
        verdict = migration.migrate(old.workflow, process.spec, process.subprocess_specs, name)
        if not verdict.can_migrate:
            return _Attempt(reason="; ".join(verdict.reasons))
        moved_skeleton, moved_rows = state_codec.dump_rows(old.workflow)
        CaseRuntime.restore(process, moved_skeleton, moved_rows, ctx.script_engine)
    except Exception as exc:  # noqa: BLE001 - see above: refused, never half moved
        return _Attempt(reason=f"The case cannot be moved to {name}: {type(exc).__name__}: {exc}")
    return _Attempt(skeleton=moved_skeleton, rows=moved_rows)


def _verdict_text(target: ProcessVersion) -> str:
    return f"Every open task of the case exists unchanged in version {target.version}"


def _replace_state(uow: UnitOfWork, case_id: int, skeleton: str, rows: list[tuple[str, str, str]]) -> None:
    uow.session.execute(delete(CaseTask).where(CaseTask.case_id == case_id))
    state = uow.session.get(CaseState, case_id)
    state.state = skeleton
    if rows:
        uow.session.execute(insert(CaseTask), [
            {"case_id": case_id, "task_id": task_id, "workflow_key": key, "state": text}
            for task_id, key, text in rows])


def _put_on(ctx: EngineContext, uow: UnitOfWork, case: Case, version: ProcessVersion, skeleton: str,
            rows: list[tuple[str, str, str]], actor: Actor) -> None:
    """Store the case on ``version`` with this state, and bring what follows from a saved state
    (timers, message waits, inbox rows) in line with it. The open tasks keep their ids, so the
    inbox rows stay (with who claimed them) and only take the version's titles, forms and lanes."""
    _replace_state(uow, case.id, skeleton, rows)
    case.version, case.process_version_id = version, version.id
    uow.session.flush()
    runtime = CaseRuntime.restore(ctx.process(version), skeleton, rows, ctx.script_engine)
    save_runtime(ctx, uow, case, runtime, actor)
    ready = {t.id: t for t in runtime.ready_tasks(ctx.department_ids())}
    for item in uow.session.scalars(select(WorkItem).where(WorkItem.case_id == case.id)):
        task = ready.get(item.id)
        if task is None:
            continue
        item.element_id, item.title, item.title_zh, item.form = task.element_id, task.title, task.title_zh, task.form
        item.lane, item.department_id, item.prefill = task.lane, task.department, audit.jsonable(task.prefill)
    visibility.add_participants(uow.session, case.id, [t.department for t in ready.values()])


def _event_data(migration_id: int, old: ProcessVersion, new: ProcessVersion, verdict: str) -> dict:
    return {"migration_id": migration_id, "from_version_id": old.id, "to_version_id": new.id,
            "from_version": old.version, "to_version": new.version, "verdict": verdict}


def _migrate_one(ctx: EngineContext, actor: Actor, migration_id: int, case_id: int,
                 target_id: int) -> CaseVerdict:
    with ctx.unit_of_work() as uow:
        case = locked_case(uow.session, case_id)
        target = uow.session.get(ProcessVersion, target_id)
        old = case.version
        attempt = _attempt(ctx, uow, case, target)
        item = CaseMigrationItem(migration_id=migration_id, case_id=case.id, from_version_id=old.id,
                                 status=NOT_MIGRATED, reason=attempt.reason)
        if attempt.can_migrate:
            saved_state, saved_rows = _stored(uow, case.id)
            # Recorded before the move so that the move's save seals it with the state it leaves;
            # it already names the version the case moves to.
            event = audit.record(case, "case_migrated", actor,
                                 _event_data(migration_id, old, target, _verdict_text(target)))
            event.version_hash = target.content_hash
            _put_on(ctx, uow, case, target, attempt.skeleton, attempt.rows, actor)
            item.status, item.event_seq = MIGRATED, event.seq
            item.saved_state, item.saved_tasks = saved_state, [list(r) for r in saved_rows]
        uow.session.add(item)
        uow.commit()
        return CaseVerdict(case_id, attempt.can_migrate, attempt.reason or _verdict_text(target),
                           migrated=attempt.can_migrate, from_version=old.version)


def migrate_cases(ctx: EngineContext, actor: Actor, request: MigrationRequest) -> MigrationResult:
    """Judge (dry run) or move the cases a batch selects; the result lists every case."""
    _require(actor)
    with ctx.unit_of_work(readonly=request.dry_run) as uow:
        target = _target(uow, request)
        case_ids = _selected(uow, request, target)
        target_id = target.id
        if request.dry_run:
            verdicts = []
            waiting_at = request.filter.waiting_at if request.filter else None
            for case_id in case_ids:
                case = uow.session.get(Case, case_id)
                attempt = _attempt(ctx, uow, case, target, waiting_at)
                if attempt is not None:
                    verdicts.append(CaseVerdict(case_id, attempt.can_migrate, attempt.reason or _verdict_text(target),
                                                from_version=case.version.version))
            return MigrationResult(True, request.process, request.to_version, None, verdicts)
        if request.filter is not None and request.filter.waiting_at is not None:
            case_ids = [i for i in case_ids if _attempt(ctx, uow, uow.session.get(Case, i), target,
                                                        request.filter.waiting_at) is not None]
        selection = ({"cases": list(request.case_ids)} if request.case_ids is not None
                     else {"filter": _filter_json(request.filter)})
        row = CaseMigration(process_id=request.process, to_version_id=target_id, actor_id=actor.id,
                            actor=actor.username, created_at=utcnow(), selection=selection)
        uow.session.add(row)
        uow.commit()
        migration_id = row.id
    verdicts = [_migrate_one(ctx, actor, migration_id, case_id, target_id) for case_id in case_ids]
    return MigrationResult(False, request.process, request.to_version, migration_id, verdicts)


def _filter_json(flt: CaseFilter | None) -> dict:
    if flt is None:
        return {}
    values = {"version": flt.version, "status": flt.status, "waiting_at": flt.waiting_at,
              "started_before": flt.started_before.isoformat() if flt.started_before else None,
              "customer": flt.customer}
    return {k: v for k, v in values.items() if v is not None}


# -- reading and reverting a migration --------------------------------------------------------


def _row(uow: UnitOfWork, migration_id: int) -> CaseMigration:
    row = uow.session.get(CaseMigration, migration_id) if 1 <= migration_id <= MAX_INT else None
    if row is None:
        raise NotFound(f"No migration {migration_id}")
    return row


def _items(uow: UnitOfWork, migration_id: int) -> list[CaseMigrationItem]:
    return list(uow.session.scalars(select(CaseMigrationItem).where(CaseMigrationItem.migration_id == migration_id)
                                    .order_by(CaseMigrationItem.case_id)))


def _why_not_revert(case: Case, item: CaseMigrationItem, session: Any) -> str:
    """Empty when the case may go back: nothing has happened in it since it moved."""
    if item.status == REVERTED:
        return "Already reverted"
    if item.status != MIGRATED:
        return "The case was not migrated"
    if case.event_count != item.event_seq:
        later = session.scalar(select(CaseEvent.type).where(CaseEvent.case_id == case.id,
                                                            CaseEvent.seq == (item.event_seq or 0) + 1))
        return f"The case has moved on since it was migrated ({later or 'a later event'})"
    return ""


def get_migration(ctx: EngineContext, actor: Actor, migration_id: int) -> MigrationView:
    """A migration with each of its cases, and whether each may still be reverted."""
    _require(actor)
    with ctx.unit_of_work(readonly=True) as uow:
        row = _row(uow, migration_id)
        target = uow.session.get(ProcessVersion, row.to_version_id)
        views = []
        for item in _items(uow, migration_id):
            case = uow.session.get(Case, item.case_id)
            views.append(MigrationItemView(item.case_id, item.status, item.reason,
                                           uow.session.get(ProcessVersion, item.from_version_id).version,
                                           not _why_not_revert(case, item, uow.session)))
        return MigrationView(row.id, row.process_id, target.version, row.actor, row.created_at, row.selection or {},
                             row.reverted_at, row.reverted_by, views)


def _revert_one(ctx: EngineContext, actor: Actor, migration_id: int, case_id: int) -> RevertOutcome:
    with ctx.unit_of_work() as uow:
        case = locked_case(uow.session, case_id)
        item = uow.session.scalars(select(CaseMigrationItem).where(
            CaseMigrationItem.migration_id == migration_id, CaseMigrationItem.case_id == case_id)).one()
        reason = _why_not_revert(case, item, uow.session)
        if reason:
            return RevertOutcome(case_id, False, reason)
        moved_to, back_to = case.version, uow.session.get(ProcessVersion, item.from_version_id)
        rows = [(task_id, key, text) for task_id, key, text in item.saved_tasks or []]
        reverted = audit.record(case, "migration_reverted", actor, {
            "migration_id": migration_id, "from_version_id": moved_to.id, "to_version_id": back_to.id,
            "from_version": moved_to.version, "to_version": back_to.version})
        reverted.version_hash = back_to.content_hash
        _put_on(ctx, uow, case, back_to, item.saved_state or "", rows, actor)
        item.status = REVERTED
        uow.commit()
        return RevertOutcome(case_id, True, f"Back on version {back_to.version}")


def revert_migration(ctx: EngineContext, actor: Actor, migration_id: int) -> RevertResult:
    """Move the cases of a migration back, each while nothing has happened in it since it moved;
    each case's outcome says why not otherwise."""
    _require(actor)
    with ctx.unit_of_work() as uow:
        row = _row(uow, migration_id)
        case_ids = [item.case_id for item in _items(uow, migration_id) if item.status != NOT_MIGRATED]
        row.reverted_at, row.reverted_by = utcnow(), actor.username
        uow.commit()
    return RevertResult(migration_id, [_revert_one(ctx, actor, migration_id, case_id) for case_id in case_ids])


@dataclass(frozen=True)
class TargetView:
    """A version as the target of a migration page."""

    model_id: int
    process_id: str
    name: str
    version: int
    label: str
    in_force: bool


def migration_target(ctx: EngineContext, actor: Actor, model_id: int) -> TargetView:
    """The version a migration page moves cases to; NotFound for no such version."""
    _require(actor)
    with ctx.unit_of_work(readonly=True) as uow:
        row = uow.session.get(ProcessVersion, model_id) if 1 <= model_id <= MAX_INT else None
        if row is None:
            raise NotFound(f"No model {model_id}")
        return TargetView(row.id, row.process_id, row.name, row.version, row.label, row.status in IN_FORCE)
