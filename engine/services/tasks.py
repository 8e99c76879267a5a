"""Working on one task: what its page shows, and completing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import chain as audit
from engine.context import EngineContext
from engine.data_limits import check_data
from engine.definitions.forms import FormDefinition
from engine.errors import Conflict
from engine.persistence.models import Case
from engine.services.actors import Actor
from engine.services.case_store import load_runtime, run_step
from engine.services.cases import CaseView, case_view, commit_step
from engine.services.form_input import validated
from engine.services.records import RecordView, completed_events, record_views, stored_break
from engine.services.work_items import (
    TaskPermissions,
    WorkItemView,
    check_may_work_on,
    find_open_item,
    find_readable_item,
    permissions,
    work_item_view,
)


@dataclass(frozen=True)
class TaskPage:
    """Everything the task page and the API show about an open task."""

    task: WorkItemView
    case: CaseView
    form: FormDefinition | None
    prefill: dict
    records: list[RecordView]
    permissions: TaskPermissions

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
        form = process.form_for(item.element_id)
        records = completed_events(uow.session, case.id)
        view = work_item_view(item)
        return TaskPage(
            task=view,
            case=case_view(uow, case),
            form=form,
            prefill=dict(item.prefill or {}),
            records=record_views(process, records, stored_break(uow.session, case.id)),
            permissions=permissions(actor, view, case.status == "running"),
        )


def _locked_case(session: Session, case_id: int) -> Case:
    """The case row, locked first (PostgreSQL): every writer of a case takes this lock before any
    other row of the case, so a completion and the timer worker queue instead of deadlocking."""
    return session.scalars(select(Case).where(Case.id == case_id).with_for_update(of=Case)).one()


def complete_task(ctx: EngineContext, actor: Actor, task_id: str, data: Any) -> CaseView:
    """Submit a task's form and move the case on, in one transaction with its events.

    Validation happens before anything changes; two people completing one task race on the
    case's lock version and the loser gets Conflict; an engine failure after the task is done
    keeps the submitted data and puts the case in error for its users and admins to see.
    """
    check_data(data, ctx.settings.data_limits, "", "The form")
    with ctx.unit_of_work() as uow:
        item = find_open_item(uow, task_id)
        check_may_work_on(actor, item)
        case = _locked_case(uow.session, item.case_id)
        if case.status != "running":
            raise Conflict(f"The case is {case.status}; its tasks cannot be completed")
        clean = validated(uow.session, ctx.process(case.version).form_for(item.element_id), data)
        runtime = load_runtime(ctx, uow, case)
        runtime.user_task(task_id)
        audit.record(case, "task_completed", actor, clean, task_id=task_id,
                                     element_id=item.element_id)
        error = run_step(uow, case, actor, lambda: runtime.complete(task_id, clean))
        return commit_step(ctx, uow, case, runtime, actor, error,
                           "The case changed while you were working on it; reload and try again")


def open_task_forms(ctx: EngineContext, view: CaseView) -> dict[str, FormDefinition | None]:
    """The form of each open task of a case, so that an API client can render and validate it.
    The version is nearly always parsed already (the case was just read or moved)."""
    process = ctx.catalog.cached(view.version_hash)
    if process is None:
        with ctx.unit_of_work(readonly=True) as uow:
            case = uow.session.get(Case, view.id)
            process = ctx.process(case.version)
    return {t.id: process.form_for(t.element_id) for t in view.open_tasks}
