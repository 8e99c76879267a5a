"""The timer worker on SQLite and PostgreSQL: due timers fire once, at the right time, each recorded
in the case's history; cases that are not due are never touched; on PostgreSQL several worker
processes share the work without firing anything twice, and a worker killed in the middle of a
case loses nothing. Time is moved with ``engine.time.clock.set_clock``, never by sleeping."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from engine.context import EngineContext
from engine.definitions.catalog import ProcessBundle
from engine.errors import Conflict
from engine.persistence.models import Case, CaseEvent, WorkItem
from engine.persistence.uow import UnitOfWork
from engine.services import cases, tasks
from engine.services.processes import publish_bundle
from engine.services.scheduler import MIN_WAIT_SECONDS, fire_due_timers, seconds_until_due
from engine.time import clock
from tests.conftest import make_context
from tests.factories import MovableClock, actor, clock_at, complete

DIAGRAMS = Path(__file__).resolve().parents[1] / "data" / "timers"
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 8, 0)
DEADLINE_FORM = {
    "type": "object",
    "required": ["deadline"],
    "properties": {"deadline": {"type": "string", "format": "date", "title": "Deadline"}},
}


@pytest.fixture
def at() -> Iterator[MovableClock]:
    with clock_at(T0) as movable:
        yield movable


def _publish(ctx: EngineContext, process_id: str, *called: str) -> None:
    files = {f"workflows/{name}.bpmn": (DIAGRAMS / f"{name}.bpmn").read_text() for name in (process_id, *called)}
    if process_id == "timer_deadline":
        files["forms/timer-deadline.schema.json"] = json.dumps(DEADLINE_FORM)
    publish_bundle(ctx, ProcessBundle(process_id, process_id, files))


def _start(ctx: EngineContext, process_id: str, *called: str, username: str = "sales1") -> cases.CaseView:
    _publish(ctx, process_id, *called)
    return cases.start_case(ctx, actor(ctx, username), process_id)


@dataclass(frozen=True)
class CaseRow:
    status: str
    error: str
    next_due_at: datetime | None


def _case(ctx: EngineContext, case_id: int) -> CaseRow:
    with ctx.unit_of_work(readonly=True) as uow:
        case = uow.session.get(Case, case_id)
        return CaseRow(case.status, case.error, case.next_due_at)


def _events(ctx: EngineContext, case_id: int, type_: str) -> list[cases.EventView]:
    """The case's events of one type, from a history whose hash chain still verifies."""
    history, broken = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert broken is None
    return [event for event in history if event.type == type_]


def _open(ctx: EngineContext, case_id: int) -> list[tuple[str, str | None]]:
    view = cases.get_case(ctx, actor(ctx, "auditor1"), case_id)
    return sorted((task.title, task.department) for task in view.open_tasks)


def _fired_per_case(ctx: EngineContext) -> dict[int, int]:
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(
            select(CaseEvent.case_id, func.count()).where(CaseEvent.type == "timer_fired").group_by(CaseEvent.case_id)
        )
        return dict(rows.all())


def _due_count(ctx: EngineContext) -> int:
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).where(Case.next_due_at.is_not(None))) or 0


def test_an_interrupting_boundary_timer_escalates_once_the_hour_has_passed(ctx, at):
    case = _start(ctx, "timer_escalation")
    [answer] = case.open_tasks
    assert _case(ctx, case.id).next_due_at == T0 + timedelta(hours=1)
    assert answer.due_at == T0 + timedelta(hours=1)

    at.now = T0 + timedelta(minutes=59)
    assert fire_due_timers(ctx) == 0
    assert _open(ctx, case.id) == [("Answer the customer", "sales")]

    at.now = T0 + timedelta(hours=1, seconds=1)
    assert fire_due_timers(ctx) == 1
    assert _open(ctx, case.id) == [("Handle the escalated request", "management")]
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.get(WorkItem, answer.id) is None
    [fired] = _events(ctx, case.id, "timer_fired")
    assert (fired.element_id, fired.actor) == ("answer_overdue", "system")
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(CaseEvent.actor_id).where(CaseEvent.hash == fired.hash)) is None
    assert fired.data == {"name": "An hour without an answer", "due": "2026-03-02T09:00:00+00:00",
                          "clock": "2026-03-02T09:00:01+00:00"}
    assert _case(ctx, case.id).next_due_at is None

    assert fire_due_timers(ctx) == 0
    assert len(_events(ctx, case.id, "timer_fired")) == 1
    with pytest.raises(Conflict):
        tasks.complete_task(ctx, actor(ctx, "sales1"), answer.id, {})


def test_a_non_interrupting_reminder_adds_a_task_and_leaves_the_original_open(ctx, at):
    case = _start(ctx, "timer_reminder", username="qc1")
    assert [t.due_at for t in case.open_tasks] == [T0 + timedelta(hours=1)]  # "the inspection is overdue"
    at.now = T0 + timedelta(hours=1, minutes=5)
    assert fire_due_timers(ctx) == 1
    assert _open(ctx, case.id) == [("Inspect the returned unit", "qc"), ("Reminder: the inspection is overdue", "qc")]
    assert [e.element_id for e in _events(ctx, case.id, "timer_fired")] == ["inspect_reminder"]
    assert fire_due_timers(ctx) == 0


def test_an_intermediate_timer_waits_until_the_date_the_form_collected(ctx, at):
    case = _start(ctx, "timer_deadline")
    after = complete(ctx, "sales1", case.id, "Agree the deadline", {"deadline": "2026-03-10"})
    assert after.open_tasks == []
    assert _case(ctx, case.id).next_due_at == datetime(2026, 3, 10, 9, 0)

    for moment in (datetime(2026, 3, 9, 9, 0), datetime(2026, 3, 10, 9, 0)):
        at.now = moment
        assert fire_due_timers(ctx) == 0, f"fired at {moment}"
    at.now = datetime(2026, 3, 10, 9, 0, 1)
    assert fire_due_timers(ctx) == 1
    assert _open(ctx, case.id) == [("Follow up on the deadline", "sales")]


def test_a_completed_case_has_no_due_time_and_is_never_fired(ctx, at):
    case = _start(ctx, "timer_escalation")
    at.now = T0 + timedelta(minutes=30)
    done = complete(ctx, "sales1", case.id, "Answer the customer", {})
    assert done.status == "completed"
    assert _case(ctx, case.id).next_due_at is None
    at.now = T0 + timedelta(days=1)
    assert fire_due_timers(ctx) == 0
    assert _events(ctx, case.id, "timer_fired") == []


def test_a_waiting_case_is_fired_from_its_saved_state_by_another_process(ctx, at):
    case = _start(ctx, "timer_caller", "timer_cool_down", username="tech1")
    assert _case(ctx, case.id).next_due_at == T0 + timedelta(hours=2)
    other = make_context(ctx.settings.database_url)
    try:
        at.now = T0 + timedelta(hours=2, seconds=1)
        assert fire_due_timers(other) == 1
    finally:
        other.database.dispose()
    assert _open(ctx, case.id) == [("Retest the unit", "tech")]
    assert [e.element_id for e in _events(ctx, case.id, "timer_fired")] == ["two_hours"]


def test_a_failing_step_after_a_timer_puts_the_case_in_error_with_the_firing_recorded(ctx, at):
    case = _start(ctx, "timer_failing_step", username="admin1")
    at.now = T0 + timedelta(hours=2)
    assert fire_due_timers(ctx) == 1
    failed = _case(ctx, case.id)
    assert (failed.status, failed.next_due_at) == ("error", None)
    assert "ZeroDivisionError" in failed.error
    assert len(_events(ctx, case.id, "timer_fired")) == 1
    assert [e.actor for e in _events(ctx, case.id, "case_failed")] == ["system"]
    assert fire_due_timers(ctx) == 0


def test_a_worker_reads_only_cases_that_are_due(ctx, at, monkeypatch):
    due = _start(ctx, "timer_escalation")
    later = _start(ctx, "timer_caller", "timer_cool_down", username="tech1")
    loaded = []
    from engine.services import scheduler

    real = scheduler.load_runtime
    monkeypatch.setattr(scheduler, "load_runtime", lambda c, u, case: loaded.append(case.id) or real(c, u, case))
    at.now = T0 + timedelta(hours=1, minutes=30)
    assert fire_due_timers(ctx) == 1
    assert loaded == [due.id]
    assert _case(ctx, later.id).next_due_at == T0 + timedelta(hours=2)


def test_the_worker_sleeps_until_the_next_due_time_or_the_poll_interval_if_sooner(ctx, at):
    assert seconds_until_due(ctx, 5.0) == 5.0
    _start(ctx, "timer_escalation")
    assert seconds_until_due(ctx, 5.0) == 5.0
    at.now = T0 + timedelta(minutes=59, seconds=58)
    assert seconds_until_due(ctx, 5.0) == pytest.approx(2.0)
    at.now = T0 + timedelta(hours=2)
    assert seconds_until_due(ctx, 5.0) == MIN_WAIT_SECONDS


# -- PostgreSQL: several workers, and a worker killed mid-case ------------------------------------


def _start_many(ctx: EngineContext, count: int) -> list[int]:
    _publish(ctx, "timer_escalation")
    sales1 = actor(ctx, "sales1")
    return [cases.start_case(ctx, sales1, "timer_escalation").id for _ in range(count)]


def _work(url: str, now: datetime, start_together, results) -> None:  # type: ignore[no-untyped-def]
    """A worker process: its own engine context on the same database, at the given time, starting
    when all the others are ready so that they really compete for the same rows."""
    clock.set_clock(lambda: now)
    ctx = make_context(url)
    start_together.wait(timeout=60)
    results.put(fire_due_timers(ctx, limit=10_000))
    ctx.database.dispose()


def _work_until_killed(url: str, now: datetime, inside, commits_before: int) -> None:  # type: ignore[no-untyped-def]
    """A worker that commits ``commits_before`` cases, then stops inside the next case's
    transaction (state, events and due time written, not committed) and waits to be killed."""
    done = []
    real_commit = UnitOfWork.commit

    def commit(self: UnitOfWork) -> None:
        if len(done) == commits_before:
            self.session.flush()
            inside.set()
            time.sleep(60)
        done.append(1)
        real_commit(self)

    UnitOfWork.commit = commit  # type: ignore[method-assign]
    clock.set_clock(lambda: now)
    fire_due_timers(make_context(url), limit=10_000)


def _postgres_only(ctx: EngineContext) -> None:
    if ctx.database.is_sqlite:
        pytest.skip("several workers need PostgreSQL row locks; on SQLite one worker is the supported set-up")


def test_four_worker_processes_fire_each_of_200_due_timers_exactly_once(ctx, at):
    _postgres_only(ctx)
    case_ids = _start_many(ctx, 200)
    ctx.database.dispose()
    spawn = multiprocessing.get_context("spawn")
    results, start_together = spawn.Queue(), spawn.Barrier(4)
    later = T0 + timedelta(hours=2)
    workers = [spawn.Process(target=_work, args=(ctx.settings.database_url, later, start_together, results))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    counts = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert sum(counts) == 200
    assert len([count for count in counts if count]) >= 2, f"the workers did not share the work: {counts}"
    assert _fired_per_case(ctx) == {case_id: 1 for case_id in case_ids}
    assert _due_count(ctx) == 0


def test_a_worker_killed_inside_a_case_loses_nothing_and_doubles_nothing(ctx, at):
    _postgres_only(ctx)
    case_ids = _start_many(ctx, 12)
    ctx.database.dispose()
    spawn = multiprocessing.get_context("spawn")
    inside = spawn.Event()
    later = T0 + timedelta(hours=2)
    doomed = spawn.Process(target=_work_until_killed, args=(ctx.settings.database_url, later, inside, 3))
    doomed.start()
    assert inside.wait(timeout=180), "the worker never reached its fourth case"
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join(timeout=10)
    assert doomed.exitcode == -signal.SIGKILL
    assert sum(_fired_per_case(ctx).values()) == 3, "only committed cases count"

    at.now = later
    advanced, deadline = 0, time.monotonic() + 20
    while _due_count(ctx) and time.monotonic() < deadline:  # the killed session's lock ends with it
        advanced += fire_due_timers(ctx)
    assert advanced == 9
    assert _fired_per_case(ctx) == {case_id: 1 for case_id in case_ids}


def test_a_worker_backs_off_a_case_someone_is_saving_instead_of_waiting_for_them(ctx, at, caplog):
    _postgres_only(ctx)
    caplog.set_level(logging.INFO, logger="serviceflow.worker")
    case = _start(ctx, "timer_escalation")
    at.now = T0 + timedelta(hours=2)
    saving = create_engine(ctx.settings.database_url)
    with saving.connect() as request:
        request.execute(text("DELETE FROM case_tasks WHERE case_id = :id"), {"id": case.id})  # a save, half done
        assert fire_due_timers(ctx) == 0  # returned while the row is still held: it did not wait
        assert f"case {case.id} is being changed by someone" in caplog.text
        request.rollback()
    saving.dispose()
    assert fire_due_timers(ctx) == 1
    assert _open(ctx, case.id) == [("Handle the escalated request", "management")]


# -- the command --------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "serviceflow.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_worker_command_fires_due_timers_and_stops_cleanly_on_a_signal(sqlite_url, stop_signal):
    ctx = make_context(sqlite_url)
    real_now = clock.utcnow()  # the worker below runs on the system clock
    clock.set_clock(lambda: real_now - timedelta(hours=2))
    try:
        case = _start(ctx, "timer_escalation")
    finally:
        clock.set_clock(None)
    env = {**os.environ, "DATABASE_URL": sqlite_url, "SERVICEFLOW_INSTANCE": str(Path(sqlite_url[10:]).parent)}
    worker = subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--poll", "0.2"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts the worker and its sandbox slowly
        while not _events(ctx, case.id, "timer_fired") and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for another process, not moving time
        assert len(_events(ctx, case.id, "timer_fired")) == 1
        worker.send_signal(stop_signal)
        _, log = worker.communicate(timeout=15)
    finally:
        worker.kill()
        ctx.database.dispose()
    assert worker.returncode == 0, log
    assert "worker stopped" in log
    assert _open(make_context(sqlite_url), case.id) == [("Handle the escalated request", "management")]
