"""Working on one task: what its page shows, and completing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import chain as audit
from engine.context import EngineContext
from engine.data_limits import check_data, text_problem
from engine.definitions.catalog import ParsedProcess
from engine.definitions.forms import FormDefinition
from engine.errors import Conflict, InvalidInput
from engine.persistence.models import Case, WorkItem
from engine.persistence.uow import UnitOfWork
from engine.services.actors import Actor
from engine.services.case_store import load_runtime, run_step
from engine.services.cases import CaseView, case_view, commit_step
from engine.services.form_input import validated
from engine.services.records import RecordView, completed_events, record_views, stored_distrust
from engine.services.work_items import (
    TaskPermissions,
    WorkItemView,
    check_may_work_on,
    find_readable_item,
    may_work_on,
    permissions,
    work_item_view,
)


@dataclass(frozen=True)
class SignalButton:
    """A manual signal the task offers (spiff-arena's ``signalButtonLabel``): ``name`` is what
    ``send_signal`` takes, ``label`` what the button says."""

    name: str
    label: str


def _form(process: ParsedProcess, item: WorkItem) -> FormDefinition | None:
    """The task's form with the choices it takes from task data filled in, as they were when
    the task became ready."""
    form = process.form_for(item.element_id)
    return form.with_options((item.presentation or {}).get("options") or {}) if form is not None else None


@dataclass(frozen=True)
class TaskPage:
    """Everything the task page and the API show about an open task."""

    task: WorkItemView
    case: CaseView
    form: FormDefinition | None
    prefill: dict
    records: list[RecordView]
    permissions: TaskPermissions
    instructions: str = ""  # safe HTML (engine.sandbox.instructions)
    instructions_error: str = ""
    signals: tuple[SignalButton, ...] = ()

    @property
    def may_complete(self) -> bool:
        return self.permissions.may_complete


def get_task(ctx: EngineContext, actor: Actor, task_id: str) -> TaskPage:
    """The open task with its form, the case summary and the case's earlier records; NotFound
    when ``actor`` may not read its case."""
    with ctx.unit_of_work(readonly=True) as uow:
        item = find_readable_item(uow, actor, task_id)
        case = uow.session.get(Case, item.case_id)
        process = ctx.process(case.version)
        records = completed_events(uow.session, case.id)
        view = work_item_view(item)
        shown = item.presentation or {}
        return TaskPage(
            task=view,
            case=case_view(uow, case),
            form=_form(process, item),
            prefill=dict(item.prefill or {}),
            records=record_views(process, records, stored_distrust(uow.session, case.id)),
            permissions=permissions(actor, view, case.status == "running"),
            instructions=str(shown.get("instructions", "")),
            instructions_error=str(shown.get("instructions_error", "")),
            signals=tuple(SignalButton(str(s["name"]), str(s["label"])) for s in shown.get("signals", [])),
        )


def locked_case(session: Session, case_id: int) -> Case:
    """The case row, locked first (PostgreSQL): every writer of a case takes this lock before any
    other row of the case, so a completion and the timer worker queue instead of deadlocking."""
    return session.scalars(select(Case).where(Case.id == case_id).with_for_update(of=Case)).one()


MOVED_ON = "The case changed while you were working on it; reload and try again"


def _task_in_running_case(uow: UnitOfWork, actor: Actor, task_id: str, doing: str) -> tuple[WorkItem, Case]:
    """The open task ``actor`` may work on and its case, locked; NotFound when ``actor`` may not
    read the case (``find_readable_item``), Forbidden when they may read it but not work the task,
    Conflict when the case no longer runs. Every step on a task (completing it, pressing its
    signal) begins here."""
    item = uow.session.get(WorkItem, task_id) if text_problem(task_id) is None else None
    if item is None or not may_work_on(actor, work_item_view(item)):
        # Whoever may work a task reads its case (its department and people are participants),
        # so the visibility query runs only for the others: 404 to non-readers, 403 to readers.
        item = find_readable_item(uow, actor, task_id)
        check_may_work_on(actor, item)
    case = locked_case(uow.session, item.case_id)
    if case.status != "running":
        raise Conflict(f"The case is {case.status}; its tasks cannot be {doing}")
    return item, case


def complete_task(ctx: EngineContext, actor: Actor, task_id: str, data: Any) -> CaseView:
    """Submit a task's form and move the case on, in one transaction with its events.

    Validation happens before anything changes; two people completing one task race on the
    case's lock version and the loser gets Conflict; an engine failure after the task is done
    keeps the submitted data and puts the case in error for its users and admins to see.
    """
    check_data(data, ctx.settings.data_limits, "", "The form")
    with ctx.unit_of_work() as uow:
        item, case = _task_in_running_case(uow, actor, task_id, "completed")
        clean = validated(uow.session, _form(ctx.process(case.version), item), data)
        runtime = load_runtime(ctx, uow, case)
        runtime.user_task(task_id)
        audit.record(case, "task_completed", actor, clean, task_id=task_id, element_id=item.element_id)
        error = run_step(uow, case, actor, lambda: runtime.complete(task_id, clean))
        return commit_step(ctx, uow, case, runtime, actor, error, MOVED_ON)


def send_signal(ctx: EngineContext, actor: Actor, task_id: str, name: Any) -> CaseView:
    """Press one of a task's manual signal buttons: whoever may complete the task may send it.
    The signal is recorded in the case's history, then the case runs on (an interrupting signal
    event cancels the task), in one transaction; Conflict when the task offers no such signal."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("Name the signal to send", {"signal": ["Required: one of the task's signals."]})
    with ctx.unit_of_work() as uow:
        item, case = _task_in_running_case(uow, actor, task_id, "signalled")
        offered = {s.get("name"): s.get("label") for s in (item.presentation or {}).get("signals", [])}
        if name not in offered:
            raise Conflict(f"This task offers no signal {name!r}")
        runtime = load_runtime(ctx, uow, case)
        runtime.user_task(task_id)
        audit.record(case, "signal_sent", actor, {"signal": name, "label": offered[name]},
                     task_id=task_id, element_id=item.element_id)
        error = run_step(uow, case, actor, lambda: runtime.send_signal(task_id, name))
        return commit_step(ctx, uow, case, runtime, actor, error, MOVED_ON)


def open_task_forms(ctx: EngineContext, view: CaseView) -> dict[str, FormDefinition | None]:
    """The form of each open task of a case (its choices from task data filled in), so that an
    API client can render and validate it. The version is nearly always parsed already (the case
    was just read or moved)."""
    process = ctx.catalog.cached(view.version_hash)
    if process is None:
        with ctx.unit_of_work(readonly=True) as uow:
            case = uow.session.get(Case, view.id)
            process = ctx.process(case.version)
    forms = {t.id: process.form_for(t.element_id) for t in view.open_tasks}
    with_choices = [task_id for task_id, form in forms.items() if form is not None and form.option_variables]
    if with_choices:  # choices from task data are kept with each task
        with ctx.unit_of_work(readonly=True) as uow:
            for item in uow.session.scalars(select(WorkItem).where(WorkItem.id.in_(with_choices))):
                forms[item.id] = _form(process, item)
    return forms
