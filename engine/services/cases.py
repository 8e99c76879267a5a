"""Starting cases and reading them: the case list, one case, and its history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.audit import chain as audit
from engine.context import EngineContext
from engine.data_limits import check_data
from engine.definitions.catalog import ParsedProcess
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.persistence.models import Case, CaseEvent, CaseIntegrityFailure, ProcessVersion, WorkItem
from engine.services import case_search, integrity, processes, visibility
from engine.services.actors import Actor
from engine.services.case_store import run_step, save_runtime
from engine.services.processes import latest_published
from engine.services.work_items import WorkItemView, work_item_view
from engine.spiff.runtime import CaseRuntime


@dataclass(frozen=True)
class CaseView:
    id: int
    process_id: str
    process_name: str
    version: int
    version_hash: str
    title: str
    customer: str
    customer_code: str | None
    status: str
    outcome: str
    error: str
    data: dict
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    open_tasks: list[WorkItemView] = field(default_factory=list)
    process_name_zh: str = ""
    integrity_failed: bool = False  # in lists: its last verification failed (engine.services.integrity)


@dataclass(frozen=True)
class EventView:
    seq: int
    type: str
    at: datetime
    actor: str
    task_id: str | None
    element_id: str | None
    data: dict
    hash: str
    changes: dict = field(default_factory=dict)


def event_view(event: CaseEvent) -> EventView:
    return EventView(event.seq, event.type, event.at, event.actor, event.task_id, event.element_id,
                     event.data, event.hash, event.changes or {})


def _case_view(case: Case, open_tasks: list[WorkItemView] | None = None) -> CaseView:
    return CaseView(
        id=case.id, process_id=case.process_id, process_name=case.version.name,
        version=case.version.version, version_hash=case.version.content_hash, title=case.title,
        customer=case.customer, customer_code=case.customer_record.code if case.customer_record else None,
        status=case.status, outcome=case.outcome, error=case.error,
        data=case.data or {}, created_at=case.created_at, updated_at=case.updated_at,
        completed_at=case.completed_at, open_tasks=open_tasks or [], process_name_zh=case.version.name_zh or "",
    )


def start_case(ctx: EngineContext, actor: Actor, process_id: str, data: dict | None = None) -> CaseView:
    """Start a case of the newest published version of a process and run it to its first task."""
    if actor.is_auditor and not actor.departments:
        raise Forbidden("Auditors read case histories; they do not start cases")
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("Case data must be an object", {"data": ["Must be an object."]})
    check_data(data or {}, ctx.settings.data_limits, "data", "The case data")
    data = audit.jsonable(data or {})
    with ctx.unit_of_work() as uow:
        version = latest_published(uow.session, process_id)
        _check_may_start(actor, ctx.process(version))
        case, runtime, error = start_in(ctx, uow, actor, version, data)
        if runtime is None:
            uow.commit()
            return _case_view(case)
        uow.session.flush()
        view, lock_version = case_view(uow, case), case.lock_version
        uow.commit()
    if error is None:
        ctx.runtimes.put(view.id, lock_version, runtime)
    return view


def _check_may_start(actor: Actor, process: ParsedProcess) -> None:
    """A process that begins only with a message or a timer is started by them: started by hand,
    its case would wait at its start event for ever or skip its schedule. Any other process is
    started by whom its version names (``startableBy``), and the refusal says who that is."""
    if not process.starts_by_hand:
        messages = ", ".join(sorted(c.message for c in process.message_catches.values() if c.is_start))
        if messages:
            raise InvalidInput(f"{process.name} begins when another system sends message {messages}; it is not "
                               "started by hand", {"process_id": [f"Starts by message: {messages}"]})
        raise InvalidInput(f"{process.name} begins on its timer's schedule; it is not started by hand",
                           {"process_id": ["Starts on a schedule"]})
    if not processes.may_start(actor, process):
        raise Forbidden(f"{process.name} may be started only by {process.startable_by}")


def start_in(ctx: EngineContext, uow: Any, actor: Any, version: ProcessVersion,
             data: dict) -> tuple[Case, CaseRuntime | None, str | None]:
    """Start a case of ``version`` inside the caller's transaction (people through ``start_case``,
    the worker on a schedule): the case, its runtime (None when it failed to start) and the
    error that put it in error, if any. Nothing is committed."""
    case = Case(process_version_id=version.id, process_id=version.process_id, version=version,
                created_by_id=actor.id, status="running", data=data)
    uow.session.add(case)
    uow.session.flush()
    visibility.add_participants(uow.session, case.id, people=[actor])
    audit.record(case, "case_started", actor, {"data": data, "version": version.version})
    process = ctx.process(version)
    started: list[CaseRuntime] = []
    error = run_step(uow, case, actor, lambda: started.append(CaseRuntime.start(process, ctx.script_engine, data)))
    runtime = started[0] if started else None
    if runtime is None:
        case.status, case.error = "error", error or ""
        audit.record(case, "case_failed", actor, {"error": case.error})
        return case, None, error
    save_runtime(ctx, uow, case, runtime, actor, error)
    return case, runtime, error


def commit_step(ctx: EngineContext, uow: Any, case: Case, runtime: CaseRuntime | None, actor: Any,
                error: str | None, conflict: str) -> CaseView:
    """End a step's transaction: save the runtime (when the step left one), commit, and keep the
    runtime for the case's next request when the step went well. A concurrent change of the case
    (its version counter, or a unique row someone else wrote first) becomes ``Conflict(conflict)``
    and nothing is committed."""
    try:
        if runtime is not None:
            save_runtime(ctx, uow, case, runtime, actor, error)
        audit.seal(case)
        uow.session.flush()
    except (StaleDataError, IntegrityError) as exc:
        raise Conflict(conflict) from exc
    view, lock_version = case_view(uow, case), case.lock_version
    uow.commit()
    if error is None and runtime is not None:
        ctx.runtimes.put(view.id, lock_version, runtime)
    return view


def case_view(uow: Any, case: Case) -> CaseView:
    """A case with its open tasks, read inside the caller's transaction."""
    items = uow.session.scalars(select(WorkItem).where(WorkItem.case_id == case.id).order_by(WorkItem.created_at))
    return _case_view(case, [work_item_view(i) for i in items])


def get_case(ctx: EngineContext, actor: Actor, case_id: int) -> CaseView:
    """One case: status, version, data and open tasks; NotFound when ``actor`` may not read it."""
    with ctx.unit_of_work(readonly=True) as uow:
        return case_view(uow, visibility.readable_case(uow.session, actor, case_id))


@dataclass(frozen=True)
class CaseFilter:
    """The case list's filters; the ones after ``text`` are the auditors' search
    (``engine.services.case_search``): the process version, the period the case started in, a
    department that took part, the outcome and the last verification's result."""

    status: str | None = None
    process_id: str | None = None
    customer: str | None = None
    text: str | None = None
    limit: int = 50
    offset: int = 0
    version: int | None = None
    started_from: date | None = None
    started_to: date | None = None
    department: str | None = None
    outcome: str | None = None
    integrity: str | None = None


def _filtered(flt: CaseFilter) -> Select:
    query = select(Case)
    if flt.status:
        query = query.where(Case.status == flt.status)
    if flt.process_id:
        query = query.where(Case.process_id == flt.process_id)
    if flt.customer:
        query = query.where(Case.customer.ilike(f"%{flt.customer}%"))
    if flt.text:
        pattern = f"%{flt.text}%"
        query = query.where(or_(Case.title.ilike(pattern), Case.customer.ilike(pattern),
                                cast(Case.id, String) == flt.text))
    for condition in case_search.conditions(flt.version, flt.started_from, flt.started_to, flt.department,
                                            flt.outcome, flt.integrity):
        query = query.where(condition)
    return query


def list_cases(ctx: EngineContext, actor: Actor, flt: CaseFilter) -> tuple[list[CaseView], int]:
    """Cases matching a filter that ``actor`` may read, newest first, and how many match in all
    (the reading rule is part of the query, so pages and totals count only readable cases)."""
    query = _filtered(flt)
    with ctx.unit_of_work(readonly=True) as uow:
        counted = visibility.restrict(query, actor)
        total = uow.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
        rows = uow.session.scalars(
            visibility.restrict(query, actor, readable=total)
            .order_by(Case.created_at.desc(), Case.id.desc()).limit(flt.limit).offset(flt.offset)
        )
        views = [_case_view(c) for c in rows]
        failed = set(uow.session.scalars(select(CaseIntegrityFailure.case_id)
                                         .where(CaseIntegrityFailure.case_id.in_([v.id for v in views]))))
        return [replace(v, integrity_failed=v.id in failed) for v in views], total


def cases_csv(ctx: EngineContext, actor: Actor, flt: CaseFilter) -> Iterator[str]:
    """Every case the filter selects (no paging), oldest first, as CSV lines; refused before the
    first line to anyone but auditors, administrators and process owners."""
    case_search.check_may_export(actor)
    return case_search.csv_lines(_csv_rows(ctx, actor, flt))


def _csv_rows(ctx: EngineContext, actor: Actor, flt: CaseFilter) -> Iterator[list]:
    last_id = 0
    while True:
        with ctx.unit_of_work(readonly=True) as uow:
            query = visibility.restrict(_filtered(flt), actor).where(Case.id > last_id)
            batch = [_case_view(c) for c in uow.session.scalars(query.order_by(Case.id).limit(case_search.CSV_BATCH))]
        if not batch:
            return
        for c in batch:
            yield [c.id, c.process_id, c.process_name, c.version, c.title, c.customer, c.customer_code or "",
                   c.status, c.outcome, c.created_at, c.updated_at, c.completed_at]
        last_id = batch[-1].id


def case_events(ctx: EngineContext, actor: Actor, case_id: int) -> tuple[list[EventView], int | None]:
    """A case's history in order, and the first event that does not verify (None: none does not,
    see ``verified_events``); NotFound when ``actor`` may not read the case."""
    with ctx.unit_of_work(readonly=True) as uow:
        _, events, checked = verified_events(ctx, uow.session, actor, case_id)
        return [event_view(e) for e in events], checked.verdict.broken_seq


def verified_events(ctx: EngineContext, session: Session, actor: Actor,
                    case_id: int) -> tuple[Case, list[CaseEvent], integrity.CaseIntegrity]:
    """The case ``actor`` may read, its events in order and the verdict on them
    (``engine.audit.verify``: chain, case row, data and stored state, and the latest signed
    checkpoint covering the case): the one reading of a history that the API and the history page
    share. NotFound when ``actor`` may not read the case."""
    case = visibility.readable_case(session, actor, case_id)
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))
    return case, events, integrity.check_case(ctx, session, case, events)
