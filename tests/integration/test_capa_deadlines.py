"""The due dates of the corrective and preventive actions drive the CAPA's timers (PROCEDURE 5.5.1)
on SQLite and PostgreSQL, with the clock moved, never slept: while Sales tracks the actions, two
days before their due date Sales is reminded by mail; when the due day has ended with actions still
open, management gets a review task and the people concerned an escalation mail, both in the
timer's own transaction, while Sales goes on tracking to verified closure. The timers sit on the
tracking loop as a whole: tracking again does not re-arm them, a new analysis with new dates does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from engine.services import cases, work_items
from engine.services.scheduler import fire_due_timers
from tests.factories import MovableClock, actor, clock_at, complete
from tests.integration.case_reads import fired_timers, next_due, open_tasks, queued_mail

T0 = datetime(2026, 11, 20, 8, 0)
SECOND = timedelta(seconds=1)
PROBLEM = {"problem": {"summary": "Housing cracks", "customer": "C001", "product_model": "PX-200",
                       "description": "Cracks near the inlet after two weeks"}, "responsible_department": "production"}
CONTAIN = {"containment": "Quarantine lot 2611", "affected_scope": "Lot 2611, 400 pcs", "contained_on": "2026-11-21"}
# the latest due date (the preventive action's, 4 December) is the one the timers run to
ANALYSIS = {
    "analysis_method": "5why", "root_cause": "Mould temperature too low",
    "corrective_actions": [{"action": "Raise mould temperature", "owner_department": "production",
                            "due_date": "2026-12-01"}],
    "preventive_actions": [{"action": "Mould temperature alarm", "owner_department": "tech",
                            "due_date": "2026-12-04"}],
    "needs_document_update": False,
}
REMINDER = datetime(2026, 12, 2, 9, 0)  # two days before the latest due date, 09:00 UTC
OVERDUE = datetime(2026, 12, 4, 18, 0)  # the end of the latest due day, 18:00 UTC
SECOND_ANALYSIS = {
    **ANALYSIS, "analysis_method": "fishbone", "root_cause": "Resin lot contaminated",
    "corrective_actions": [{"action": "Incoming resin check", "owner_department": "qc", "due_date": "2026-12-21"}],
    "preventive_actions": [{"action": "Second resin supplier", "owner_department": "admin", "due_date": "2026-12-18"}],
}
SECOND_REMINDER = datetime(2026, 12, 19, 9, 0)
SECOND_OVERDUE = datetime(2026, 12, 21, 18, 0)
PARTLY = {"implementation_status": "partially_done", "implemented_on": "2026-11-30"}
VERIFIED = {"effective": True, "verified_on": "2026-12-28", "verification_evidence": "No cracks in 3 lots"}
NOT_EFFECTIVE = {**VERIFIED, "effective": False, "verification_evidence": "Cracks again in lot 2702"}
TRACK = "Track implementation of actions"
REVIEW = "Review overdue corrective actions"
VERIFY = "Verify effectiveness"
SALES = [("sales1@example.com", TRACK), ("sales2@example.com", TRACK)]


@pytest.fixture
def at() -> Iterator[MovableClock]:
    with clock_at(T0) as movable:
        yield movable


def _tracking(ctx, analysis: dict = ANALYSIS) -> int:  # type: ignore[no-untyped-def]
    """A CAPA started on its own, analysed, its actions now tracked by Sales."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), "capa")
    complete(ctx, "sales1", case.id, "Describe the problem", PROBLEM)
    complete(ctx, "prod1", case.id, "Contain the problem", CONTAIN)
    complete(ctx, "prod1", case.id, "Analyse root cause and propose actions", analysis)
    return case.id


def _track(ctx, case_id: int, on: str, done: bool = False) -> cases.CaseView:  # type: ignore[no-untyped-def]
    return complete(ctx, "sales1", case_id, TRACK,
                    {"implementation_status": "done" if done else "partially_done", "implemented_on": on})


def _due_in_inbox(ctx, username: str, case_id: int) -> list[tuple[str, datetime | None]]:  # type: ignore[no-untyped-def]
    inbox = work_items.inbox(ctx, actor(ctx, username))
    return [(item.title, item.due_at) for item in inbox if item.case_id == case_id]


def _fire_at(ctx, at: MovableClock, when: datetime) -> int:  # type: ignore[no-untyped-def]
    """Fire at ``when`` (nothing may be due yet) and a second later: how many cases advanced then."""
    at.now = when
    assert fire_due_timers(ctx) == 0, f"a timer fired at {when}, before it was due"
    at.now = when + SECOND
    return fire_due_timers(ctx)


@pytest.mark.clause("5.5.1")
def test_the_actions_due_date_reminds_sales_then_escalates_to_management(ctx, at):
    case_id = _tracking(ctx)
    assert open_tasks(ctx, case_id) == [(TRACK, "sales")]
    assert next_due(ctx, case_id) == REMINDER

    assert _fire_at(ctx, at, REMINDER) == 1
    assert fired_timers(ctx, case_id) == ["Boundary_ActionsDueSoon"]
    assert queued_mail(ctx, case_id, "task_due_soon") == SALES  # the tracking task is Sales', unclaimed
    assert queued_mail(ctx, case_id, "task_escalated") == []
    assert open_tasks(ctx, case_id) == [(TRACK, "sales")]  # a reminder takes nothing away, gives nobody work
    assert next_due(ctx, case_id) == OVERDUE

    assert _fire_at(ctx, at, OVERDUE) == 1
    assert fired_timers(ctx, case_id) == ["Boundary_ActionsDueSoon", "Boundary_ActionsOverdue"]
    assert open_tasks(ctx, case_id) == [(REVIEW, "management"), (TRACK, "sales")]
    # management about its new task, Sales (still tracking) about its own
    assert queued_mail(ctx, case_id, "task_escalated") == sorted([("gm1@example.com", REVIEW), *SALES])
    assert queued_mail(ctx, case_id, "task_due_soon") == SALES
    assert next_due(ctx, case_id) is None
    assert fire_due_timers(ctx) == 0

    # the CAPA goes on to verified closure, whatever management decides
    complete(ctx, "gm1", case_id, REVIEW, {"overdue_decision": "new_dates",
                                           "overdue_comments": "Alarm to be fitted by 11 December"})
    at.now = datetime(2026, 12, 11, 10, 0)
    _track(ctx, case_id, "2026-12-11", done=True)
    assert open_tasks(ctx, case_id) == [(VERIFY, "sales")]
    done = complete(ctx, "sales1", case_id, VERIFY, VERIFIED)
    assert (done.status, done.outcome) == ("completed", "CAPA closed")
    result = done.data["capa_result"]
    assert (result["effective"], result["implemented_on"]) == (True, "2026-12-11")
    assert result["preventive_actions"] == ANALYSIS["preventive_actions"]
    assert fired_timers(ctx, case_id) == ["Boundary_ActionsDueSoon", "Boundary_ActionsOverdue"]


@pytest.mark.clause("5.5.1")
def test_tracking_again_after_the_due_date_does_not_escalate_the_same_date_again(ctx, at):
    """The tracking loop (partially done, track again) runs inside the subprocess the timers sit on:
    a new round of tracking does not re-arm them, so neither a passed reminder nor a passed due
    date fires a second time, however often Sales tracks."""
    case_id = _tracking(ctx)
    at.now = datetime(2026, 11, 30, 10, 0)
    _track(ctx, case_id, "2026-11-30")  # before the reminder: the same timers keep waiting
    assert next_due(ctx, case_id) == REMINDER

    assert _fire_at(ctx, at, REMINDER) == 1
    at.now = datetime(2026, 12, 3, 10, 0)
    _track(ctx, case_id, "2026-12-03")  # between reminder and due date
    assert fire_due_timers(ctx) == 0
    assert queued_mail(ctx, case_id, "task_due_soon") == SALES
    assert next_due(ctx, case_id) == OVERDUE

    assert _fire_at(ctx, at, OVERDUE) == 1
    for day in (5, 6, 7):  # after the due date, round after round
        at.now = datetime(2026, 12, day, 10, 0)
        _track(ctx, case_id, f"2026-12-0{day}")
        assert fire_due_timers(ctx) == 0
        assert next_due(ctx, case_id) is None
    assert fired_timers(ctx, case_id) == ["Boundary_ActionsDueSoon", "Boundary_ActionsOverdue"]
    assert open_tasks(ctx, case_id) == [(REVIEW, "management"), (TRACK, "sales")]  # one review, not four
    assert queued_mail(ctx, case_id, "task_escalated") == sorted([("gm1@example.com", REVIEW), *SALES])
    assert queued_mail(ctx, case_id, "task_due_soon") == SALES


@pytest.mark.clause("5.5.1")
def test_the_tracking_task_is_due_at_the_end_of_the_actions_due_date(ctx, at):
    """The timers are non-interrupting (the actions are still wanted after the date): the last of
    them, the escalation, is the tracking task's due date in the inbox, in every round of tracking."""
    case_id = _tracking(ctx)
    assert _due_in_inbox(ctx, "sales2", case_id) == [(TRACK, OVERDUE)]
    _track(ctx, case_id, "2026-11-22")
    assert _due_in_inbox(ctx, "sales2", case_id) == [(TRACK, OVERDUE)]


@pytest.mark.clause("5.5.1")
def test_new_actions_after_an_ineffective_verification_move_the_timers(ctx, at):
    case_id = _tracking(ctx)
    assert _fire_at(ctx, at, REMINDER) == 1
    assert _fire_at(ctx, at, OVERDUE) == 1
    complete(ctx, "gm1", case_id, REVIEW, {"overdue_decision": "accept_delay",
                                           "overdue_comments": "Alarm supplier late; accepted"})
    at.now = datetime(2026, 12, 6, 10, 0)
    _track(ctx, case_id, "2026-12-06", done=True)
    assert next_due(ctx, case_id) is None  # verification has no deadline
    at.now = datetime(2026, 12, 10, 10, 0)
    complete(ctx, "sales1", case_id, VERIFY, NOT_EFFECTIVE)
    complete(ctx, "prod1", case_id, "Analyse root cause and propose actions", SECOND_ANALYSIS)

    # the new actions' latest date (21 December) drives the timers of the new round of tracking
    assert open_tasks(ctx, case_id) == [(TRACK, "sales")]
    assert next_due(ctx, case_id) == SECOND_REMINDER
    assert _due_in_inbox(ctx, "sales1", case_id) == [(TRACK, SECOND_OVERDUE)]
    assert _fire_at(ctx, at, SECOND_REMINDER) == 1
    assert next_due(ctx, case_id) == SECOND_OVERDUE
    assert _fire_at(ctx, at, SECOND_OVERDUE) == 1
    assert fired_timers(ctx, case_id) == ["Boundary_ActionsDueSoon", "Boundary_ActionsOverdue"] * 2
    assert open_tasks(ctx, case_id) == [(REVIEW, "management"), (TRACK, "sales")]
    assert queued_mail(ctx, case_id, "task_due_soon") == sorted(SALES * 2)
    assert queued_mail(ctx, case_id, "task_escalated") == sorted([("gm1@example.com", REVIEW), *SALES] * 2)

    complete(ctx, "gm1", case_id, REVIEW, {"overdue_decision": "add_resources"})
    at.now = datetime(2026, 12, 23, 10, 0)
    _track(ctx, case_id, "2026-12-23", done=True)
    done = complete(ctx, "sales1", case_id, VERIFY, VERIFIED)
    assert (done.status, done.outcome, done.data["capa_rounds"]) == ("completed", "CAPA closed", 2)
    assert done.data["capa_result"]["root_cause"] == "Resin lot contaminated"


@pytest.mark.clause("5.5.1")
def test_actions_done_before_their_date_leave_no_timer_behind(ctx, at):
    case_id = _tracking(ctx)
    at.now = datetime(2026, 11, 26, 10, 0)
    _track(ctx, case_id, "2026-11-25")
    _track(ctx, case_id, "2026-11-26", done=True)
    assert next_due(ctx, case_id) is None
    at.now = OVERDUE + SECOND
    assert fire_due_timers(ctx) == 0
    assert fired_timers(ctx, case_id) == []
    assert queued_mail(ctx, case_id, "task_due_soon") == [] and queued_mail(ctx, case_id, "task_escalated") == []
    assert open_tasks(ctx, case_id) == [(VERIFY, "sales")]


@pytest.mark.clause("5.5.1")
def test_the_timers_run_inside_capa_called_from_after_sales_feedback(ctx, at):
    """CAPA as a call activity of the after-sales feedback: the same timers, the review task and the
    mail belong to the calling case, and only capa_result and capa_rounds come back from CAPA."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {
        "customer": "C001", "contact": "Li Wei", "received_on": "2026-11-20", "channel": "phone",
        "product_model": "PX-200", "description": "Housing cracks after two weeks", "category": "quality"})
    complete(ctx, "qc1", case.id, "Contain the problem", CONTAIN)
    complete(ctx, "qc1", case.id, "Analyse root cause and propose actions", ANALYSIS)
    assert open_tasks(ctx, case.id) == [(TRACK, "sales")]
    assert next_due(ctx, case.id) == REMINDER

    assert _fire_at(ctx, at, REMINDER) == 1
    assert queued_mail(ctx, case.id, "task_due_soon") == SALES
    assert _fire_at(ctx, at, OVERDUE) == 1
    assert open_tasks(ctx, case.id) == [(REVIEW, "management"), (TRACK, "sales")]
    assert queued_mail(ctx, case.id, "task_escalated") == sorted([("gm1@example.com", REVIEW), *SALES])

    complete(ctx, "gm1", case.id, REVIEW, {"overdue_decision": "new_dates"})
    _track(ctx, case.id, "2026-12-08", done=True)
    complete(ctx, "sales1", case.id, VERIFY, VERIFIED)
    data = cases.get_case(ctx, actor(ctx, "auditor1"), case.id).data
    assert (data["capa"]["effective"], data["capa_rounds"]) == (True, 1)
    assert not {"actions_due_on", "overdue_decision", "corrective_actions"} & set(data)
    assert open_tasks(ctx, case.id) == [("Close feedback record", "sales")]
