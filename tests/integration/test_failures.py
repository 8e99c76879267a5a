"""Failures never lose anything: scripts that misbehave put the case in error for people to see,
and a crash between the engine step and the commit leaves the case exactly as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.persistence.models import CaseEvent, CaseState, CaseTask, WorkItem
from engine.services import cases, tasks
from engine.services.processes import publish_bundle
from engine.spiff.runtime import CaseRuntime
from tests.factories import actor, complete, open_task, script_process
from tests.integration.test_after_sales_paths import FEEDBACK


def _snapshot(ctx, case_id: int) -> tuple:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        events = uow.session.scalar(select(func.count()).where(CaseEvent.case_id == case_id))
        items = sorted(uow.session.scalars(select(WorkItem.id).where(WorkItem.case_id == case_id)))
        state = uow.session.get(CaseState, case_id).state, sorted(uow.session.execute(
            select(CaseTask.task_id, CaseTask.state).where(CaseTask.case_id == case_id)))
    view = cases.get_case(ctx, actor(ctx, "auditor1"), case_id)
    return events, items, state, view.status, view.data


def test_a_crash_before_commit_leaves_the_case_as_it_was_and_the_task_can_be_redone(ctx, monkeypatch):
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    before = _snapshot(ctx, case.id)

    def crash(self):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(CaseRuntime, "dump_delta", crash)
    with pytest.raises(OSError):
        complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    monkeypatch.undo()
    assert _snapshot(ctx, case.id) == before
    after = complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    assert [t.title for t in after.open_tasks] == ["Register complaint"]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("while True:\n    pass", "more than 1 s of CPU time"),
        ("x = 'a' * 10 ** 9", "more than 10,000,000"),
        ("x = getattr((), '__cl' + 'ass__')", "__class__"),
        ("x = 1 / 0", "ZeroDivisionError"),
    ],
    ids=["endless-loop", "huge-string", "escape-attempt", "plain-error"],
)
def test_a_failing_script_puts_the_case_in_error_keeping_the_submitted_data(ctx, script, message):
    publish_bundle(ctx, script_process("scripted", script))
    sales1 = actor(ctx, "sales1")
    case = cases.start_case(ctx, sales1, "scripted")
    failed = tasks.complete_task(ctx, sales1, open_task(ctx, case.id, "Before").id, {"note": "kept"})
    assert failed.status == "error"
    assert message in failed.error and "Compute" in failed.error
    assert failed.open_tasks == []
    events, _ = cases.case_events(ctx, sales1, case.id)
    assert [e.type for e in events][-2:] == ["task_completed", "case_failed"]
    assert events[-2].data == {"note": "kept"}
    other = cases.start_case(ctx, sales1, "after_sales_feedback")
    assert other.status == "running" and len(other.open_tasks) == 1


def test_a_case_in_error_refuses_further_completions(ctx):
    publish_bundle(ctx, script_process("broken", "x = 1 / 0"))
    sales1 = actor(ctx, "sales1")
    case = cases.start_case(ctx, sales1, "broken")
    task_id = open_task(ctx, case.id, "Before").id
    assert tasks.complete_task(ctx, sales1, task_id, {}).status == "error"
    with pytest.raises(Exception, match="no longer open"):
        tasks.complete_task(ctx, sales1, task_id, {})
