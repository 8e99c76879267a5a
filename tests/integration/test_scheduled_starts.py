"""Scheduled case starts (PROCEDURE 5.2: the yearly customer review starts by itself) on SQLite and
PostgreSQL: publishing a process whose start event is a timer creates its schedule; the worker
starts one case when it comes due, as the system, and moves the schedule to the next occurrence;
runs missed while no worker ran start one case; two workers never start the same run twice.
Time is moved with ``engine.time.clock.set_clock``, never by sleeping."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import delete, func, select

from engine.context import EngineContext
from engine.definitions.catalog import bundles_from_directory
from engine.persistence.models import Case, Schedule
from engine.services import cases, work_items
from engine.services.processes import publish_bundle
from engine.services.scheduler import MIN_WAIT_SECONDS, seconds_until_due, start_scheduled_cases
from tests.conftest import ROOT, make_context
from tests.factories import MovableClock, actor, clock_at, complete

PROCESS = "customer_review_yearly"
T0 = datetime(2026, 12, 1, 8, 0)
FIRST_RUN = datetime(2027, 1, 15, 1, 0)  # 15 January 2027, 09:00 China time, in UTC


@pytest.fixture
def at() -> Iterator[MovableClock]:
    with clock_at(T0) as movable:
        yield movable


def _publish(ctx: EngineContext) -> None:
    """Publish the yearly review as ``serviceflow setup`` does, its schedule made afresh at T0."""
    with ctx.unit_of_work() as uow:
        uow.session.execute(delete(Schedule).where(Schedule.process_id == PROCESS))
        uow.commit()
    [bundle] = [b for b in bundles_from_directory(ROOT / "workflows", ROOT / "forms") if b.process_id == PROCESS]
    publish_bundle(ctx, bundle)


def _schedule(ctx: EngineContext) -> tuple[datetime | None, datetime | None, int | None]:
    with ctx.unit_of_work(readonly=True) as uow:
        row = uow.session.scalar(select(Schedule).where(Schedule.process_id == PROCESS))
        return row.next_run_at, row.last_run_at, row.last_case_id


def _case_ids(ctx: EngineContext) -> list[int]:
    with ctx.unit_of_work(readonly=True) as uow:
        return list(uow.session.scalars(select(Case.id).where(Case.process_id == PROCESS).order_by(Case.id)))


@pytest.mark.clause("5.2")
def test_the_yearly_review_starts_by_itself_once_a_year_with_the_review_in_the_sales_inbox(ctx, at):
    _publish(ctx)
    assert _schedule(ctx) == (FIRST_RUN, None, None)

    at.now = datetime(2027, 1, 15, 0, 59)  # 08:59 in China: not yet
    assert start_scheduled_cases(ctx) == 0
    assert _case_ids(ctx) == []

    at.now = datetime(2027, 1, 15, 1, 0, 30)
    assert start_scheduled_cases(ctx) == 1
    [case_id] = _case_ids(ctx)
    assert _schedule(ctx) == (datetime(2028, 1, 15, 1, 0), at.now, case_id)
    view = cases.get_case(ctx, actor(ctx, "auditor1"), case_id)
    assert view.status == "running" and view.title == "Yearly customer review"
    assert [(t.title, t.department) for t in view.open_tasks] == [("Review Customer List", "sales")]
    assert [t.case_id for t in work_items.inbox(ctx, actor(ctx, "sales1"))] == [case_id]
    history, broken = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert broken is None
    started = [e for e in history if e.type in ("case_started", "scheduled_start")]
    assert [(e.type, e.actor) for e in started] == [("case_started", "system"), ("scheduled_start", "system")]
    assert started[1].data["due"] == FIRST_RUN.isoformat()

    assert start_scheduled_cases(ctx) == 0  # the same run never starts twice
    assert len(_case_ids(ctx)) == 1

    # the review goes on like one started by hand, and the case ends when it is done
    complete(ctx, "sales1", case_id, "Review Customer List",
             {"reviewed_on": "2027-01-15", "customers_reviewed": 5, "changes_needed": []})
    done = cases.get_case(ctx, actor(ctx, "auditor1"), case_id)
    assert (done.status, done.outcome, done.open_tasks) == ("completed", "Yearly review done", [])


@pytest.mark.clause("5.2")
def test_runs_missed_while_no_worker_ran_start_one_case_not_one_each(ctx, at):
    _publish(ctx)
    at.now = datetime(2027, 1, 15, 2, 0)
    assert start_scheduled_cases(ctx) == 1
    at.now = datetime(2029, 3, 1, 0, 0)  # the worker was down through the 2028 and 2029 runs
    assert start_scheduled_cases(ctx) == 1
    assert start_scheduled_cases(ctx) == 0
    assert len(_case_ids(ctx)) == 2
    assert _schedule(ctx)[0] == datetime(2030, 1, 15, 1, 0)


@pytest.mark.clause("5.2")
def test_the_worker_sleeps_no_longer_than_until_the_next_scheduled_start(ctx, at):
    _publish(ctx)
    with ctx.unit_of_work() as uow:  # no case timers; the schedule alone decides
        assert uow.session.scalar(select(func.count()).select_from(Case).where(Case.next_due_at.is_not(None))) == 0
    at.now = datetime(2027, 1, 15, 0, 59, 50)
    assert seconds_until_due(ctx, 60.0) == pytest.approx(10.0)
    at.now = datetime(2027, 1, 15, 1, 0, 1)
    assert seconds_until_due(ctx, 60.0) == MIN_WAIT_SECONDS


@pytest.mark.clause("5.2")
def test_staff_still_start_customer_data_by_hand_for_a_change(ctx, at):
    _publish(ctx)
    view = cases.start_case(ctx, actor(ctx, "sales1"), "customer_data")
    assert [t.title for t in view.open_tasks] == ["Customer data request"]


@pytest.mark.clause("5.2")
def test_two_workers_at_the_same_moment_start_one_case(ctx, at, db_url):
    if ctx.database.is_sqlite:
        pytest.skip("one worker is the supported set-up on SQLite; row locks are PostgreSQL's")
    _publish(ctx)
    at.now = datetime(2027, 1, 15, 1, 5)
    workers = [make_context(db_url) for _ in range(2)]
    barrier, started, errors = threading.Barrier(2), [], []

    def run(worker: EngineContext) -> None:
        try:
            barrier.wait()
            started.append(start_scheduled_cases(worker))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for worker in workers:
        worker.database.dispose()
    assert errors == []
    assert sorted(started) == [0, 1]
    assert len(_case_ids(ctx)) == 1
