"""Timers in the runtime, without a database: SpiffWorkflow reads the engine's clock, every timer a
case waits on is reported with its due time (called processes included, across a save and a
reload), and only the timers the caller names are fired."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from engine.definitions.catalog import ProcessBundle, parse_bundle
from engine.sandbox.environment import make_script_engine
from engine.spiff.runtime import CaseRuntime
from engine.time import clock, timers
from engine.time.timers import next_due_at
from tests.factories import MovableClock, clock_at

DIAGRAMS = Path(__file__).resolve().parents[1] / "data" / "timers"
DEPARTMENTS = frozenset({"sales", "qc", "tech", "management", "admin"})
T0 = datetime(2026, 3, 2, 8, 0)


@pytest.fixture
def at() -> Iterator[MovableClock]:
    with clock_at(T0) as movable:
        yield movable


def _process(process_id: str, *called: str, replace: tuple[str, str] | None = None):  # type: ignore[no-untyped-def]
    files = {}
    for name in (process_id, *called):
        xml = (DIAGRAMS / f"{name}.bpmn").read_text()
        files[f"workflows/{name}.bpmn"] = xml.replace(*replace) if replace else xml
    return parse_bundle(ProcessBundle(process_id, process_id, files))


def _start(process_id: str, *called: str, **kwargs: tuple[str, str]) -> CaseRuntime:
    return CaseRuntime.start(_process(process_id, *called, **kwargs), make_script_engine(), {})


def _titles(runtime: CaseRuntime) -> list[str]:
    return sorted(task.title for task in runtime.ready_tasks(DEPARTMENTS))


def _due_now(runtime: CaseRuntime) -> list:  # type: ignore[type-arg]
    return [timer for timer in runtime.pending_timers() if timer.is_due(clock.now())]


def test_spiffworkflow_timers_read_the_engine_clock(at):
    at.now = datetime(2031, 7, 1, 12, 30)
    assert spiff_timer.datetime.now(UTC) == datetime(2031, 7, 1, 12, 30, tzinfo=UTC)
    assert isinstance(spiff_timer.datetime.now(UTC), spiff_timer.datetime)


def test_the_clock_accepts_naive_or_aware_utc_and_gives_both():
    clock.set_clock(lambda: datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=2))))
    try:
        assert clock.utcnow() == datetime(2026, 3, 2, 8, 0)
        assert clock.now() == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    finally:
        clock.set_clock(None)
    assert clock.utcnow().tzinfo is None and clock.now().tzinfo is UTC


def test_a_boundary_timer_is_due_an_hour_after_its_task_became_ready(at):
    runtime = _start("timer_escalation")
    [timer] = runtime.pending_timers()
    assert (timer.element_id, timer.ready) == ("answer_overdue", False)
    assert timer.due == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert next_due_at(runtime.pending_timers()) == datetime(2026, 3, 2, 9, 0)
    at.now = T0 + timedelta(hours=1)
    assert _due_now(runtime) == [], "SpiffWorkflow fires only once the due time is strictly past"


def test_firing_an_interrupting_timer_replaces_the_task_with_its_escalation(at):
    runtime = _start("timer_escalation")
    at.now = T0 + timedelta(hours=1, seconds=1)
    runtime.fire_timers(_due_now(runtime))
    assert _titles(runtime) == ["Handle the escalated request"]
    assert runtime.pending_timers() == []


def test_a_timer_that_comes_due_during_another_step_waits_unfired_until_it_is_fired(at):
    runtime = _start("timer_reminder")
    at.now = T0 + timedelta(hours=2)
    runtime.fire_timers([])
    [timer] = runtime.pending_timers()
    assert not timer.ready and timer.is_due(clock.now())
    assert _titles(runtime) == ["Inspect the returned unit"], "nothing fires unrecorded"
    runtime.fire_timers([timer])
    assert _titles(runtime) == ["Inspect the returned unit", "Reminder: the inspection is overdue"]


def test_a_cycle_timer_is_due_at_each_repetition_and_then_no_more(at):
    cycle = ('<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>',
             '<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R2/PT1H"</bpmn:timeCycle>')
    runtime = _start("timer_reminder", replace=cycle)
    dues = []
    for hours in (1, 2):
        at.now = T0 + timedelta(hours=hours, seconds=1)
        [timer] = _due_now(runtime)
        dues.append(timer.due.hour)
        runtime.fire_timers([timer])
    assert dues == [9, 10]
    assert runtime.pending_timers() == []
    assert _titles(runtime).count("Reminder: the inspection is overdue") == 2


def test_a_timer_inside_a_called_process_is_reported_and_fires(at):
    runtime = _start("timer_caller", "timer_cool_down")
    [timer] = runtime.pending_timers()
    assert (timer.element_id, timer.due) == ("two_hours", datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    at.now = T0 + timedelta(hours=2, seconds=1)
    runtime.fire_timers(_due_now(runtime))
    assert _titles(runtime) == ["Retest the unit"]


def test_a_waiting_timer_survives_a_save_and_a_reload_and_still_fires(at):
    process = _process("timer_escalation")
    runtime = CaseRuntime.start(process, make_script_engine(), {})
    delta = runtime.dump_delta()
    rows = [(task_id, key, text) for task_id, (key, text) in delta.upserts.items()]
    restored = CaseRuntime.restore(process, delta.skeleton, rows, make_script_engine())
    assert restored.pending_timers() == runtime.pending_timers()
    assert restored.dump() == runtime.dump()
    at.now = T0 + timedelta(hours=3)
    restored.fire_timers(_due_now(restored))
    assert _titles(restored) == ["Handle the escalated request"]


def test_a_task_inside_a_subprocess_is_due_by_the_timers_on_the_subprocess(at):
    """The boundary timers of an embedded subprocess are the deadlines of the work inside it: the
    inner task is due at the last non-interrupting one, and both timers hold it (the reminder's and
    the escalation's mail goes to whoever has it)."""
    runtime = _start("timer_subprocess")
    [task] = runtime.ready_tasks(DEPARTMENTS)
    assert (task.title, task.department, task.due_at) == ("Inspect the returned unit", "qc", T0 + timedelta(hours=2))
    held = {timer.element_id: timers.boundary_timer(runtime.workflow.get_task_from_id(UUID(timer.task_id)))
            for timer in runtime.pending_timers()}
    assert {name: (b.interrupting, b.attached_task_ids) for name, b in held.items()} == {
        "inspection_reminder": (False, [task.id]), "inspection_late": (False, [task.id])}

    at.now = T0 + timedelta(hours=2, seconds=1)
    [late] = [timer for timer in _due_now(runtime) if timer.element_id == "inspection_late"]
    before = runtime.workflow.get_task_from_id(UUID(late.task_id))
    runtime.fire_timers([late])
    assert _titles(runtime) == ["Inspect the returned unit", "Review the late inspection"]
    [review] = [t for t in runtime.ready_tasks(DEPARTMENTS) if t.department == "management"]
    assert timers.user_tasks_after(before) == [review.id]


def test_a_timer_behind_an_event_based_gateway_survives_a_save_and_a_reload_and_wins_the_race(at):
    """The gateway holds its events' definitions itself (SpiffWorkflow's multiple event): its timer
    and its message are reported under the events a modeller drew after it, before and after a
    reload, and the timer firing takes the timer's path and ends the wait for the message."""
    process = _process("event_gateway_race")
    runtime = CaseRuntime.start(process, make_script_engine(), {"quote_ref": "Q-9"})
    [quote] = runtime.ready_tasks(DEPARTMENTS)
    runtime.complete(quote.id, {})
    delta = runtime.dump_delta()
    rows = [(task_id, key, text) for task_id, (key, text) in delta.upserts.items()]
    restored = CaseRuntime.restore(process, delta.skeleton, rows, make_script_engine())
    [timer] = restored.pending_timers()
    assert (timer.element_id, timer.name, timer.due) == (
        "fifteen_minutes", "Fifteen minutes", datetime(2026, 3, 2, 8, 15, tzinfo=UTC))
    assert [(w.element_id, w.name, w.correlation) for w in restored.waiting_messages()] == [
        ("answer_received", "quote_answer", {"quote_ref": "Q-9"})]
    assert restored.pending_timers() == runtime.pending_timers()

    at.now = T0 + timedelta(minutes=15)
    assert _due_now(restored) == []
    at.now = T0 + timedelta(minutes=15, seconds=1)
    restored.fire_timers(_due_now(restored))
    assert _titles(restored) == ["Chase customer"]
    assert (restored.pending_timers(), restored.waiting_messages()) == ([], [])


def test_a_timer_behind_an_event_based_gateway_stays_waiting_until_the_worker_fires_it(at):
    """The timer gate holds for a raced timer too: a step that runs after its time has passed
    leaves it waiting, due in the past, for the worker to fire and record."""
    runtime = CaseRuntime.start(_process("event_gateway_race"), make_script_engine(), {"quote_ref": "Q-9"})
    [quote] = runtime.ready_tasks(DEPARTMENTS)
    runtime.complete(quote.id, {})
    at.now = T0 + timedelta(hours=1)
    runtime.advance()
    assert _titles(runtime) == []
    [timer] = runtime.pending_timers()
    assert timer.is_due(clock.now()) and not timer.ready
