"""A case's history is complete (issue 11 §1): mail sent about it, reminders and escalations,
comments, and administrators' interventions (retry of a failed step, cancellation with a reason)
are events of its hash-chained history, each with who, when and what, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.persistence.models import WorkItem
from engine.sandbox import environment
from engine.services import cases, tasks
from engine.services.comments import add_comment
from engine.services.interventions import cancel_case, retry_case
from engine.services.processes import publish_bundle
from engine.services.scheduler import fire_due_timers
from tests.factories import actor, complete, open_task, script_process
from tests.integration.test_delivery_deadlines import (  # noqa: F401 - ``at`` is a fixture
    DEADLINE,
    ON_TIME,
    PRODUCE,
    REMINDER,
    REVIEW,
    SECOND,
    _ordered,
    at,
)


def _history(ctx, case_id: int) -> list:  # type: ignore[no-untyped-def]
    events, broken = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert broken is None
    return events


def test_each_notification_mail_is_in_the_history_without_its_address_or_body(ctx):
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    events = _history(ctx, case.id)
    [queued] = [e for e in events if e.type == "notification_queued"]
    assert set(queued.data) == {"kind", "sent"} and queued.data["kind"] == "task_arrived"
    assert sorted(told["recipient"] for told in queued.data["sent"]) == ["sales1", "sales2"]
    for told in queued.data["sent"]:
        assert set(told) == {"recipient", "subject"} and "Record customer feedback" in told["subject"]
    assert queued.task_id == case.open_tasks[0].id
    ready = next(e for e in events if e.type == "task_ready")
    assert queued.seq > ready.seq  # the task arrives, then people are told


def test_a_reminder_and_an_escalation_are_recorded_with_their_timer_and_tasks(ctx, at):  # noqa: F811
    case_id = _ordered(ctx, ON_TIME)
    at.now = REMINDER + SECOND
    assert fire_due_timers(ctx) == 1
    at.now = DEADLINE + SECOND
    assert fire_due_timers(ctx) == 1
    events = _history(ctx, case_id)
    [reminder] = [e for e in events if e.type == "reminder"]
    [escalation] = [e for e in events if e.type == "escalation"]
    assert reminder.actor == "system" and reminder.data["tasks"] == [PRODUCE] and reminder.data["new_tasks"] == []
    assert escalation.data["tasks"] == [PRODUCE] and escalation.data["new_tasks"] == [REVIEW]
    assert escalation.element_id == "Boundary_DeliveryDatePassed" and escalation.data["interrupting"] is False
    told = [sent["recipient"] for e in events if e.type == "notification_queued" and e.seq > escalation.seq
            and e.data["kind"] == "task_escalated" for sent in e.data["sent"]]
    assert sorted(told) == ["gm1", "prod1"]


def test_people_who_read_a_case_comment_on_it_and_auditors_do_not(ctx):
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    comment = add_comment(ctx, actor(ctx, "sales1"), case.id, "  Customer called again, asks for a date.  ")
    assert (comment.type, comment.actor, comment.data) == ("comment_added", "sales1",
                                                          {"text": "Customer called again, asks for a date."})
    assert _history(ctx, case.id)[-1].seq == comment.seq
    with pytest.raises(Forbidden):
        add_comment(ctx, actor(ctx, "auditor1"), case.id, "An auditor's remark")
    with pytest.raises(NotFound):
        add_comment(ctx, actor(ctx, "tech1"), case.id, "Technical takes no part in this case yet")
    with pytest.raises(InvalidInput) as blank:
        add_comment(ctx, actor(ctx, "sales2"), case.id, "   ")
    assert "text" in blank.value.details
    with pytest.raises(InvalidInput):
        add_comment(ctx, actor(ctx, "sales2"), case.id, "x" * 4001)


def test_an_administrator_cancels_a_case_with_a_reason_and_its_tasks_leave_the_inbox(ctx):
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    task_id = case.open_tasks[0].id
    with pytest.raises(Forbidden):
        cancel_case(ctx, actor(ctx, "sales1"), case.id, "Duplicate")
    with pytest.raises(InvalidInput) as missing:
        cancel_case(ctx, actor(ctx, "admin1"), case.id, " ")
    assert "reason" in missing.value.details
    cancelled = cancel_case(ctx, actor(ctx, "admin1"), case.id, "Duplicate of case 12")
    assert (cancelled.status, cancelled.open_tasks) == ("cancelled", [])
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalars(select(WorkItem).where(WorkItem.case_id == case.id)).all() == []
    last = _history(ctx, case.id)[-1]
    assert (last.type, last.actor, last.data) == ("case_cancelled", "admin1",
                                                  {"reason": "Duplicate of case 12", "status": "running"})
    with pytest.raises((Conflict, NotFound)):
        tasks.complete_task(ctx, actor(ctx, "sales1"), task_id, {})
    with pytest.raises(Conflict):
        cancel_case(ctx, actor(ctx, "admin1"), case.id, "Again")


def _failing_once(monkeypatch):  # type: ignore[no-untyped-def]
    """The sandbox fails the first script it is asked to run, as when its process was killed,
    and runs the next ones: a failure that passes."""
    real, calls = environment._call, []

    def call(request: dict) -> dict:
        if request.get("op") == "execute" and not calls:
            calls.append(request)
            raise environment.ScriptError("Script stopped: the sandbox process was killed")
        return real(request)

    monkeypatch.setattr(environment, "_call", call)
    return calls


def test_an_administrator_retries_a_step_that_failed_for_a_passing_reason(ctx, monkeypatch):
    publish_bundle(ctx, script_process("flaky", "total = 40 + 2"))
    case = cases.start_case(ctx, actor(ctx, "sales1"), "flaky")
    calls = _failing_once(monkeypatch)
    failed = complete(ctx, "sales1", case.id, "Before", {"note": "kept"})
    assert failed.status == "error" and "sandbox process was killed" in failed.error and len(calls) == 1
    with pytest.raises(Forbidden):
        retry_case(ctx, actor(ctx, "sales1"), case.id)
    retried = retry_case(ctx, actor(ctx, "admin1"), case.id)
    assert (retried.status, retried.error, retried.data["total"]) == ("running", "", 42)
    assert [t.title for t in retried.open_tasks] == ["After"]
    events = _history(ctx, case.id)
    [retry] = [e for e in events if e.type == "case_retried"]
    assert retry.actor == "admin1" and "sandbox process was killed" in retry.data["error"]
    assert retry.data["elements"] == ["Compute"]
    assert [e.type for e in events if e.seq > retry.seq and e.type != "notification_queued"] == ["task_ready"]
    with pytest.raises(Conflict):
        retry_case(ctx, actor(ctx, "admin1"), case.id)  # nothing failed any more
    assert complete(ctx, "sales1", case.id, "After", {}).status == "completed"


def test_a_retry_of_a_script_that_fails_on_the_data_puts_the_case_back_in_error(ctx):
    publish_bundle(ctx, script_process("broken", "x = 1 / 0"))
    case = cases.start_case(ctx, actor(ctx, "sales1"), "broken")
    assert tasks.complete_task(ctx, actor(ctx, "sales1"), open_task(ctx, case.id, "Before").id, {}).status == "error"
    again = retry_case(ctx, actor(ctx, "admin1"), case.id)
    assert again.status == "error" and "ZeroDivisionError" in again.error
    assert [e.type for e in _history(ctx, case.id)][-2:] == ["case_retried", "case_failed"]
