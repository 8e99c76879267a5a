"""The customer's deadline drives the pre-sales request's timers (PROCEDURE 5.4.1) on SQLite and
PostgreSQL, with the clock moved, never slept: two days before the deadline the departments still
providing items are reminded by mail; when the deadline has passed management gets a decision task
and the people concerned an escalation mail, both in the timer's own transaction, while the items
go on being provided and the package is still sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from engine.services import cases, tasks, work_items
from engine.services.scheduler import fire_due_timers
from tests.factories import MovableClock, actor, clock_at, complete
from tests.integration.case_reads import fired_timers, next_due, open_tasks, queued_mail

T0 = datetime(2026, 11, 20, 8, 0)
REMINDER = datetime(2026, 11, 28, 9, 0)  # two days before the deadline, 09:00 UTC
DEADLINE = datetime(2026, 11, 30, 18, 0)  # the end of the deadline day, 18:00 UTC
SECOND = timedelta(seconds=1)
REQUEST = {"customer": "C003", "contact": "Zhang Min", "received_on": "2026-11-20", "customer_deadline": "2026-11-30",
           "request_kind": "data", "items": ["commissioned_test_data", "new_product_data"]}
PROVIDE = "Provide requested item"
DECIDE = "Decide on a missed customer deadline"


@pytest.fixture
def at() -> Iterator[MovableClock]:
    with clock_at(T0) as movable:
        yield movable


def _requested(ctx) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "presales_request")
    complete(ctx, "sales1", case.id, "Record pre-sales request", REQUEST)
    return case.id


def _provide(ctx, case_id: int, department: str, username: str) -> None:  # type: ignore[no-untyped-def]
    [task] = [t for t in cases.get_case(ctx, actor(ctx, "auditor1"), case_id).open_tasks
              if t.title == PROVIDE and t.department == department]
    tasks.complete_task(ctx, actor(ctx, username), task.id,
                        {"item_reference": f"{department}-1", "provided_on": "2026-11-29"})


@pytest.mark.clause("5.4.1")
def test_the_deadline_reminds_the_providers_then_escalates_to_management(ctx, at):
    case_id = _requested(ctx)
    assert open_tasks(ctx, case_id) == [(PROVIDE, "qc"), (PROVIDE, "tech")]
    assert next_due(ctx, case_id) == REMINDER

    at.now = REMINDER
    assert fire_due_timers(ctx) == 0
    assert fired_timers(ctx, case_id) == [] and queued_mail(ctx, case_id, "task_due_soon") == []

    at.now = REMINDER + SECOND
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == ["Boundary_DeadlineNear"]
    assert queued_mail(ctx, case_id, "task_due_soon") == [("qc1@example.com", PROVIDE), ("tech1@example.com", PROVIDE)]
    assert open_tasks(ctx, case_id) == [(PROVIDE, "qc"), (PROVIDE, "tech")]  # a reminder takes nothing away
    assert next_due(ctx, case_id) == DEADLINE

    _provide(ctx, case_id, "qc", "qc1")
    at.now = DEADLINE
    assert fire_due_timers(ctx) == 0
    at.now = DEADLINE + SECOND
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == ["Boundary_DeadlineNear", "Boundary_DeadlinePassed"]
    assert open_tasks(ctx, case_id) == [(DECIDE, "management"), (PROVIDE, "tech")]
    # management about its new task, Technical (still holding an item) about its own; Quality, done, not at all
    assert queued_mail(ctx, case_id, "task_escalated") == [("gm1@example.com", DECIDE), ("tech1@example.com", PROVIDE)]
    assert next_due(ctx, case_id) is None
    assert fire_due_timers(ctx) == 0

    complete(ctx, "gm1", case_id, DECIDE, {"deadline_decision": "inform_customer",
                                             "deadline_comments": "Tell them the data follows on Monday"})
    _provide(ctx, case_id, "tech", "tech1")
    done = complete(ctx, "sales1", case_id, "Send package to customer",
                    {"sent_on": "2026-12-01", "channel": "email"})
    assert (done.status, done.outcome, done.data["within_deadline"]) == ("completed", "Package sent", False)


@pytest.mark.clause("5.4.1")
def test_the_provide_tasks_are_due_when_the_customer_deadline_passes(ctx, at):
    """The deadline timers are non-interrupting (the items are still wanted after the date): the
    last of them, the escalation at the deadline, is the tasks' due date, and the inbox shows it."""
    case_id = _requested(ctx)
    mine = [item for item in work_items.inbox(ctx, actor(ctx, "tech1")) if item.case_id == case_id]
    assert [(item.title, item.due_at) for item in mine] == [(PROVIDE, datetime(2026, 11, 30, 18, 0))]


@pytest.mark.clause("5.4.1")
def test_items_provided_in_time_leave_no_timer_behind(ctx, at):
    case_id = _requested(ctx)
    at.now = datetime(2026, 11, 26, 10, 0)
    _provide(ctx, case_id, "qc", "qc1")
    _provide(ctx, case_id, "tech", "tech1")
    assert next_due(ctx, case_id) is None
    at.now = DEADLINE + SECOND
    assert fire_due_timers(ctx) == 0
    assert fired_timers(ctx, case_id) == [] and queued_mail(ctx, case_id, "task_due_soon") == []
    assert open_tasks(ctx, case_id) == [("Send package to customer", "sales")]
