"""Loading a case's workflow and writing back everything that follows from one engine step:
the state, the case row, the inbox rows and the events, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, select, update

from engine import effects
from engine.audit import chain as audit
from engine.context import EngineContext
from engine.errors import Conflict, ServiceFlowError
from engine.persistence.models import NO_DUE_DATE, Case, CaseState, CaseTask, Customer, User, WorkItem
from engine.persistence.uow import UnitOfWork
from engine.sandbox.environment import ScriptRaised
from engine.services import customers, message_index, notifications, visibility
from engine.services.engine_errors import describe_engine_failure
from engine.spiff.runtime import CaseRuntime, ReadyTask
from engine.time import timers
from engine.time.clock import utcnow

TITLE_FIELDS = ("title", "subject")
CUSTOMER_FIELD = "customer"


def load_runtime(ctx: EngineContext, uow: UnitOfWork, case: Case) -> CaseRuntime:
    """The case's workflow: the cached instance if it is current, else read from the database."""
    cached = ctx.runtimes.take(case.id, case.lock_version)
    if cached is not None:
        return cached
    state = uow.session.get(CaseState, case.id)
    rows = uow.session.execute(
        select(CaseTask.task_id, CaseTask.workflow_key, CaseTask.state).where(CaseTask.case_id == case.id)
    )
    return CaseRuntime.restore(ctx.process(case.version), state.state, [tuple(r) for r in rows], ctx.script_engine)


def _write_state(uow: UnitOfWork, case_id: int, runtime: CaseRuntime) -> str:
    """Write the skeleton and only the task rows that changed since the last save; the hash of
    the stored state that results."""
    saved_before = bool(runtime.tracker.known)
    delta = runtime.dump_delta()
    # One UPDATE, not a read and a write: a workflow saved before (or read from the database) has
    # its state row.
    stored = saved_before and uow.session.execute(
        update(CaseState).where(CaseState.case_id == case_id).values(state=delta.skeleton)).rowcount > 0
    if not stored:
        uow.session.add(CaseState(case_id=case_id, state=delta.skeleton))
    stale = delta.deletes | set(delta.upserts)
    if stale and stored:
        uow.session.execute(delete(CaseTask).where(CaseTask.case_id == case_id, CaseTask.task_id.in_(stale)))
    if delta.upserts:
        uow.session.execute(insert(CaseTask), [
            {"case_id": case_id, "task_id": task_id, "workflow_key": key, "state": text}
            for task_id, (key, text) in delta.upserts.items()
        ])
    return runtime.tracker.state_hash(delta.skeleton)


def _outcome(runtime: CaseRuntime) -> str:
    for task in runtime.workflow.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent):
        if task.workflow is runtime.workflow:
            return task.task_spec.bpmn_name or task.task_spec.name
    return ""


def _describe_case(uow: UnitOfWork, case: Case, data: dict) -> None:
    """Title and customer as lists show them; a known customer code links the case to its card."""
    customer = data.get(CUSTOMER_FIELD)
    if customer != (case.data or {}).get(CUSTOMER_FIELD) or (customer and not case.customer):
        linked = customers.find_by_code(uow.session, customer)
        if linked is not None:
            case.customer_id, case.customer = linked.id, linked.name
        elif isinstance(customer, str | int):
            case.customer_id, case.customer = None, str(customer)[:200]
    _title(case, data)


def _title(case: Case, data: dict) -> None:
    for name in TITLE_FIELDS:
        if isinstance(data.get(name), str) and data[name].strip():
            case.title = data[name].strip()[:300]
            return
    if not case.title:
        case.title = f"{case.version.name} #{case.id}"


def _sync_inbox(
    ctx: EngineContext, uow: UnitOfWork, case: Case, runtime: CaseRuntime, ready: list[ReadyTask], actor: Any
) -> None:
    """Make the inbox rows match the ready tasks; the departments given a task, and whoever
    caused the step, become participants of the case (who may read it)."""
    existing = {w.id: w for w in uow.session.scalars(select(WorkItem).where(WorkItem.case_id == case.id))}
    ready_ids = {t.id for t in ready}
    visibility.add_participants(uow.session, case.id, [t.department for t in ready if t.id not in existing],
                                [actor])
    priority = customers.priority_of(uow.session.get(Customer, case.customer_id) if case.customer_id else None)
    for item_id, item in existing.items():
        if item_id not in ready_ids:
            uow.session.delete(item)
    for task in ready:
        if task.id in existing:
            item = existing[task.id]
            item.case_title, item.customer, item.priority = case.title, case.customer, priority
            continue
        owners = _owners(uow, case, task)
        visibility.add_participants(uow.session, case.id, people=owners)
        item = WorkItem(
            id=task.id, case_id=case.id, process_id=case.process_id, element_id=task.element_id,
            title=task.title, title_zh=task.title_zh, case_title=case.title, customer=case.customer, lane=task.lane,
            department_id=task.department, form=task.form, priority=priority, created_at=utcnow(),
            prefill=audit.jsonable(task.prefill), detail=task.detail,
            due_at=task.due_at, due_key=task.due_at or NO_DUE_DATE, owners=owners,
            presentation=audit.jsonable(runtime.presentation(task.id)),
        )
        uow.session.add(item)
        routed = {"title": task.title, "lane": task.lane, "department": task.department}
        if owners:
            routed["owners"] = [owner.username for owner in owners]
        audit.record(case, "task_ready", actor, routed, task_id=task.id, element_id=task.element_id)
        notifications.queue_task_arrived(uow, ctx.settings.mail, item, actor)


def _owners(uow: UnitOfWork, case: Case, task: ReadyTask) -> list[User]:
    """Who works a task no department works, as spiff-arena routes it: the active users its
    lane's ``lane_owners`` entry names, else the person who started the case (nobody for a case
    a timer, a message or another system started, so name its people in ``lane_owners``)."""
    if task.department is not None:
        return []
    active = select(User).where(User.is_active.is_(True), User.is_service_account.is_(False))
    if task.owners:
        named = list(uow.session.scalars(active.where(User.username.in_(task.owners)).order_by(User.username)))
        if named:
            return named
    if case.created_by_id is None:
        return []
    return list(uow.session.scalars(active.where(User.id == case.created_by_id)))


def run_step(uow: UnitOfWork, case: Case, actor: Any, step: Callable[[], Any]) -> str | None:
    """Run one engine step, collecting the effects its service tasks request, and apply them.

    Returns None when all went well, else the error the case goes into: a failure of the
    diagram (a script, a gateway, an effect that cannot be carried out, SpiffWorkflow refusing
    the definition) is the case's error, not the request's. Conflict (the task is no longer
    there) propagates to the caller, and so does anything else: that is a bug in ServiceFlow,
    which must surface as one (an incident) rather than pass for a broken diagram."""
    error = None
    with effects.collecting() as requested:
        try:
            step()
        except Conflict:
            raise
        except (SpiffWorkflowException, ServiceFlowError, ScriptRaised) as exc:
            error = describe_engine_failure(exc)
    return error or apply_effects(uow, case, actor, requested)


def apply_effects(uow: UnitOfWork, case: Case, actor: Any, requested: list[effects.Effect]) -> str | None:
    """Apply what the step's service tasks asked for, all or none (a savepoint); a request that
    cannot be carried out is returned as the case's error instead of failing the request."""
    if not requested:
        return None
    mark = len(audit.pending(case))
    try:
        with uow.session.begin_nested():
            for effect in requested:
                _apply(uow, case, actor, effect)
    except ServiceFlowError as exc:
        audit.discard_since(case, mark)
        return f"Service task {effect.operation}: {exc.message}"
    return None


def _apply(uow: UnitOfWork, case: Case, actor: Any, effect: effects.Effect) -> None:
    if effect.operation == "customer.update_card":
        customers.apply_card_changes(uow.session, effect.params.get("customer"), effect.params.get("changes"),
                                     actor, case_id=case.id)
    audit.record(case, "effect_applied", actor, {"operation": effect.operation, "params": effect.params})


def save_runtime(ctx: EngineContext, uow: UnitOfWork, case: Case, runtime: CaseRuntime, actor: Any,
                 error: str | None = None) -> None:
    """Write the workflow state, case summary, inbox rows and resulting events; the step's events
    are sealed last, over the data and the stored state after it (``engine.audit.chain``)."""
    state_hash = _write_state(uow, case.id, runtime)
    data, data_text = audit.jsonable_with_text(runtime.data)
    _describe_case(uow, case, data)
    case.data = data
    case.updated_at = utcnow()
    if error is not None:
        case.status, case.error = "error", error
        audit.record(case, "case_failed", actor, {"error": error})
    elif runtime.is_completed:
        case.status, case.completed_at, case.outcome = "completed", utcnow(), _outcome(runtime)
        audit.record(case, "case_completed", actor, {"outcome": case.outcome})
    # The worker finds due cases by this indexed column alone (engine.services.scheduler).
    waiting = error is None and not runtime.is_completed
    case.next_due_at = timers.next_due_at(runtime.pending_timers()) if waiting else None
    # Messages find their case by this index alone (engine.services.messages).
    message_index.replace_waits(uow, case.id, runtime.waiting_messages() if waiting else [], runtime.tracker)
    ready = [] if error is not None else runtime.ready_tasks(ctx.department_ids())
    _sync_inbox(ctx, uow, case, runtime, ready, actor)
    audit.seal(case, data_text, state_hash)
