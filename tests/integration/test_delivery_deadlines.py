"""The delivery date in force drives the order's production timers (PROCEDURE 5.4.2) on SQLite and
PostgreSQL, with the clock moved, never slept: two days before the date Production is reminded by
mail; when the date has passed with the order still in production, management gets a review task
and the people concerned an escalation mail, while production goes on and the order is still
delivered. A date the customer agreed to replaces the promised one and moves the timers; a date
already escalated is not escalated again when production starts over after a failed inspection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from engine.services import cases, messages, tasks, work_items
from engine.services.scheduler import fire_due_timers
from tests.factories import MovableClock, actor, clock_at, complete
from tests.integration.case_reads import fired_timers, next_due, open_tasks, queued_mail

T0 = datetime(2026, 12, 1, 8, 0)
REMINDER = datetime(2026, 12, 13, 9, 0)  # two days before the promised date, 09:00 UTC
DEADLINE = datetime(2026, 12, 15, 18, 0)  # the end of the promised day, 18:00 UTC
SECOND = timedelta(seconds=1)
ORDER = {"customer": "C002", "order_ref": "PO-2026-512", "product_model": "SV-200", "quantity": 800,
         "promised_date": "2026-12-15"}
ON_TIME = {"planned_start": "2026-12-01", "planned_finish": "2026-12-12", "can_meet_date": True}
LATE = {"planned_start": "2026-12-05", "planned_finish": "2026-12-20", "can_meet_date": False,
        "planning_notes": "Coil wire arrives late"}
PRODUCED = {"produced_on": "2026-12-16", "quantity_produced": 800, "qc_passed": True}
FAILED = {"produced_on": "2026-12-16", "quantity_produced": 800, "qc_passed": False,
          "production_notes": "Leak test failed"}
DELIVERED = {"delivered_on": "2026-12-17", "delivery_note": "DN-7001"}
REVIEWED = {"overdue_cause": "Coil wire late", "overdue_action": "agree_new_date"}
PRODUCE, PLAN, CONFIRM = "Produce order", "Plan production", "Confirm delivery"
INFORM, REVIEW = "Inform customer of late delivery", "Review overdue delivery"
NEAR, PASSED = "Boundary_DeliveryDateNear", "Boundary_DeliveryDatePassed"


@pytest.fixture
def at() -> Iterator[MovableClock]:
    with clock_at(T0) as movable:
        yield movable


def _ordered(ctx, plan: dict) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "order_delivery")
    complete(ctx, "sales1", case.id, "Register order", ORDER)
    complete(ctx, "prod1", case.id, PLAN, plan)
    return case.id


def _agreed(ctx, case_id: int, new_date: str) -> None:  # type: ignore[no-untyped-def]
    complete(ctx, "sales1", case_id, INFORM,
             {"informed_on": "2026-12-02", "new_date": new_date, "customer_consent": "agreed"})


def _management_mail(ctx, case_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(address, task title) of the "new task" mail management received for the case."""
    return [m for m in queued_mail(ctx, case_id, "task_arrived") if m[0] == "gm1@example.com"]


def _due_in_inbox(ctx, case_id: int, username: str) -> list[tuple[str, datetime | None]]:  # type: ignore[no-untyped-def]
    return [(item.title, item.due_at) for item in work_items.inbox(ctx, actor(ctx, username))
            if item.case_id == case_id]


@pytest.mark.clause("5.4.2")
def test_the_delivery_date_reminds_production_then_escalates_to_management(ctx, at):
    case_id = _ordered(ctx, ON_TIME)
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production")]
    assert next_due(ctx, case_id) == REMINDER

    at.now = REMINDER
    assert fire_due_timers(ctx) == 0
    assert fired_timers(ctx, case_id) == [] and queued_mail(ctx, case_id, "task_due_soon") == []

    at.now = REMINDER + SECOND
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == [NEAR]
    assert queued_mail(ctx, case_id, "task_due_soon") == [("prod1@example.com", PRODUCE)]
    assert queued_mail(ctx, case_id, "task_escalated") == []
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production")]  # a reminder takes nothing away
    assert next_due(ctx, case_id) == DEADLINE

    at.now = DEADLINE
    assert fire_due_timers(ctx) == 0
    assert fired_timers(ctx, case_id) == [NEAR]
    at.now = DEADLINE + SECOND
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == [NEAR, PASSED]
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production"), (REVIEW, "management")]
    # management about its new task, Production (still producing) about its own
    assert queued_mail(ctx, case_id, "task_escalated") == [("gm1@example.com", REVIEW), ("prod1@example.com", PRODUCE)]
    assert queued_mail(ctx, case_id, "task_due_soon") == [("prod1@example.com", PRODUCE)]  # no new reminder
    assert next_due(ctx, case_id) is None
    assert fire_due_timers(ctx) == 0

    # the order still goes to delivery; management's review stays in the record
    review = complete(ctx, "gm1", case_id, REVIEW, REVIEWED)
    assert review.status == "running" and open_tasks(ctx, case_id) == [(PRODUCE, "production")]
    complete(ctx, "prod1", case_id, PRODUCE, PRODUCED)
    done = complete(ctx, "sales1", case_id, CONFIRM, DELIVERED)
    assert (done.status, done.outcome, done.data["delivery_note"]) == ("completed", "Delivered", "DN-7001")
    history, _ = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert [(e.element_id, e.actor) for e in history if e.type == "task_completed"] == [
        ("Task_RegisterOrder", "sales1"), ("Task_PlanProduction", "prod1"), ("Task_ReviewOverdueDelivery", "gm1"),
        ("Task_Produce", "prod1"), ("Task_ConfirmDelivery", "sales1")]


@pytest.mark.clause("5.4.2")
def test_the_production_task_is_due_at_the_end_of_the_delivery_date(ctx, at):
    """The timers are non-interrupting (the order is still wanted after the date): the last of
    them, the escalation, is the production task's due date, and the inbox shows it."""
    case_id = _ordered(ctx, ON_TIME)
    assert _due_in_inbox(ctx, case_id, "prod1") == [(PRODUCE, DEADLINE)]


@pytest.mark.clause("5.4.2")
def test_a_new_date_the_customer_agrees_to_moves_the_timers(ctx, at):
    case_id = _ordered(ctx, LATE)
    _agreed(ctx, case_id, "2026-12-22")
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production")]
    assert _due_in_inbox(ctx, case_id, "prod1") == [(PRODUCE, datetime(2026, 12, 22, 18, 0))]
    assert next_due(ctx, case_id) == datetime(2026, 12, 20, 9, 0)

    at.now = DEADLINE + SECOND  # the promised date no longer counts
    assert fire_due_timers(ctx) == 0
    assert fired_timers(ctx, case_id) == [] and open_tasks(ctx, case_id) == [(PRODUCE, "production")]

    at.now = datetime(2026, 12, 20, 9, 0, 1)
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == [NEAR]
    at.now = datetime(2026, 12, 22, 18, 0, 1)
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == [NEAR, PASSED]
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production"), (REVIEW, "management")]


@pytest.mark.clause("5.4.2")
def test_a_date_agreed_through_the_customers_system_moves_the_timers_too(ctx, at):
    case_id = _ordered(ctx, LATE)
    complete(ctx, "sales1", case_id, INFORM,
             {"informed_on": "2026-12-02", "new_date": "2026-12-28", "customer_consent": "awaited"})
    assert next_due(ctx, case_id) is None  # waiting for the customer: nothing in production yet
    messages.deliver_message(ctx, actor(ctx, "sales1"), "delivery_consent",
                             {"customer_consent": "agreed", "consent_notes": "via EDI"}, {"order_ref": "PO-2026-512"})
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production")]
    assert _due_in_inbox(ctx, case_id, "prod1") == [(PRODUCE, datetime(2026, 12, 28, 18, 0))]
    assert next_due(ctx, case_id) == datetime(2026, 12, 26, 9, 0)


@pytest.mark.clause("5.4.2")
def test_a_date_is_escalated_once_across_a_failed_inspection_and_a_new_date_again(ctx, at):
    case_id = _ordered(ctx, ON_TIME)
    at.now = DEADLINE + SECOND
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == [NEAR, PASSED]
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production"), (REVIEW, "management")]
    escalated = [("gm1@example.com", REVIEW), ("prod1@example.com", PRODUCE)]
    assert queued_mail(ctx, case_id, "task_escalated") == escalated

    # the order fails final inspection and is produced again against the same, passed, date: the
    # timers set on the new production task are already past, so the worker fires them at once,
    # but management is neither given a second task nor mailed again
    at.now = datetime(2026, 12, 16, 10, 0)
    complete(ctx, "prod1", case_id, PRODUCE, FAILED)
    complete(ctx, "prod1", case_id, PLAN, ON_TIME)
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == [NEAR, PASSED, NEAR, PASSED]
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production"), (REVIEW, "management")]
    assert queued_mail(ctx, case_id, "task_escalated") == escalated
    assert _management_mail(ctx, case_id) == [("gm1@example.com", REVIEW)]  # the first review's arrival
    assert next_due(ctx, case_id) is None
    at.now = DEADLINE + timedelta(days=3)
    assert fire_due_timers(ctx) == 0
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production"), (REVIEW, "management")]

    # it fails again, cannot be made by the old date, and the customer agrees to a new one:
    # that date is escalated in its turn when it passes
    complete(ctx, "prod1", case_id, PRODUCE, FAILED)
    complete(ctx, "prod1", case_id, PLAN, LATE)
    _agreed(ctx, case_id, "2026-12-29")
    assert next_due(ctx, case_id) == datetime(2026, 12, 27, 9, 0)
    at.now = datetime(2026, 12, 29, 18, 0, 1)
    assert fire_due_timers(ctx) == 1
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production"), (REVIEW, "management"), (REVIEW, "management")]
    assert queued_mail(ctx, case_id, "task_escalated") == sorted(escalated * 2)

    for task in [t for t in cases.get_case(ctx, actor(ctx, "auditor1"), case_id).open_tasks if t.title == REVIEW]:
        assert tasks.complete_task(ctx, actor(ctx, "gm1"), task.id, REVIEWED).status == "running"
    complete(ctx, "prod1", case_id, PRODUCE, PRODUCED)
    done = complete(ctx, "sales1", case_id, CONFIRM, DELIVERED)
    assert (done.status, done.outcome, done.data["delivery_date"]) == ("completed", "Delivered", "2026-12-29")


@pytest.mark.clause("5.4.2")
def test_a_date_that_passed_while_production_was_being_replanned_is_escalated_once_production_restarts(ctx, at):
    """The guard holds back only a date already escalated: a date that passed while no production
    task was open (so nobody was told) escalates as soon as production starts again."""
    case_id = _ordered(ctx, ON_TIME)
    at.now = datetime(2026, 12, 14, 10, 0)
    complete(ctx, "prod1", case_id, PRODUCE, FAILED)
    assert open_tasks(ctx, case_id) == [(PLAN, "production")]
    assert next_due(ctx, case_id) is None
    at.now = datetime(2026, 12, 16, 10, 0)
    assert _management_mail(ctx, case_id) == []
    complete(ctx, "prod1", case_id, PLAN, ON_TIME)
    # the timers set on the new production task are already past: they wait for the worker, which
    # fires them at its next poll, recorded and mailed like any other firing
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production")]
    assert next_due(ctx, case_id) == REMINDER
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == [NEAR, PASSED]
    assert open_tasks(ctx, case_id) == [(PRODUCE, "production"), (REVIEW, "management")]
    assert _management_mail(ctx, case_id) == [("gm1@example.com", REVIEW)]
    assert ("prod1@example.com", PRODUCE) in queued_mail(ctx, case_id, "task_escalated")
    assert next_due(ctx, case_id) is None
    complete(ctx, "gm1", case_id, REVIEW, REVIEWED)
    complete(ctx, "prod1", case_id, PRODUCE, PRODUCED)
    done = complete(ctx, "sales1", case_id, CONFIRM, DELIVERED)
    assert (done.status, done.outcome) == ("completed", "Delivered")


@pytest.mark.clause("5.4.2")
def test_an_order_delivered_before_the_date_leaves_no_timer_behind(ctx, at):
    case_id = _ordered(ctx, ON_TIME)
    at.now = datetime(2026, 12, 10, 10, 0)
    complete(ctx, "prod1", case_id, PRODUCE, PRODUCED)
    assert next_due(ctx, case_id) is None
    assert open_tasks(ctx, case_id) == [(CONFIRM, "sales")]
    assert _due_in_inbox(ctx, case_id, "sales1") == [(CONFIRM, None)]
    at.now = DEADLINE + SECOND
    assert fire_due_timers(ctx) == 0
    assert fired_timers(ctx, case_id) == [] and queued_mail(ctx, case_id, "task_due_soon") == []
    assert queued_mail(ctx, case_id, "task_escalated") == []
    done = complete(ctx, "sales1", case_id, CONFIRM, DELIVERED)
    assert (done.status, done.outcome) == ("completed", "Delivered")
