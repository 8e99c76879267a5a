"""The timer workload: how fast ``serviceflow worker`` processes fire due timers, alone and four
at a time on PostgreSQL, and how much memory a worker holds.

Each measurement gets a batch of its own cases of ``bench_timer`` (one task with an interrupting
boundary timer of one second; firing it ends the case), started through the real use case
(``engine.services.cases.start_case``) in the benchmark process. Until the workers are up, the
batch's ``cases.next_due_at`` is moved a day ahead, so that no worker fires anything while the
others are still starting; once every worker polls, the batch's timers (long due themselves, the
diagram's second having passed) are made due in one statement by setting ``next_due_at`` a second
in the past, and the clock runs until no case of the batch is running any more. Afterwards every
case must have completed with exactly one ``timer_fired`` event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text

from bench import seed
from bench.server import Backend, peak_rss_mib, running_workers

TIMER = "bench_timer"
TIMER_STARTER = "prod1"  # its start lane is production (startableBy defaults to the start lanes)
TIMER_DURATION_S = 1.0
WORKER_POLL_S = 0.2
FIRE_TIMEOUT_S = 900.0


def _execute(url: str, statement: str, params: dict[str, Any]) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()


def _running(url: str, first: int, last: int) -> int:
    rows = _execute(url, "SELECT count(*) FROM cases WHERE id BETWEEN :first AND :last AND status = 'running'",
                    {"first": first, "last": last})
    return int(rows[0][0])


def _check_fired_once(url: str, ids: list[int]) -> None:
    """Every case of the batch completed, with exactly one ``timer_fired`` event."""
    rows = _execute(url, (
        "SELECT c.id, c.status, (SELECT count(*) FROM case_events e WHERE e.case_id = c.id "
        "AND e.type = 'timer_fired') FROM cases c WHERE c.id BETWEEN :first AND :last"
    ), {"first": ids[0], "last": ids[-1]})
    wrong = [(case_id, status, fired) for case_id, status, fired in rows if status != "completed" or fired != 1]
    if len(rows) != len(ids) or wrong:
        raise AssertionError(f"{len(wrong)} timer cases did not fire exactly once, e.g. {wrong[:5]}")


def fire_batch(backend: Backend, cases: int, workers: int,
               watch: Callable[[Callable[[], dict[str, Any]], list[int]], dict[str, Any]]) -> dict[str, Any]:
    """Seed ``cases`` due timers, fire them with ``workers`` worker processes and check the result.
    ``watch(fn, pids)`` runs the measurement (the caller adds CPU figures)."""
    url = backend.url
    started = time.perf_counter()
    ids = seed.start_cases(url, cases, TIMER, TIMER_STARTER)
    seed_s = time.perf_counter() - started
    if ids != list(range(ids[0], ids[0] + cases)):
        raise RuntimeError("the timer cases' ids are not consecutive: something else started cases")
    bounds = {"first": ids[0], "last": ids[-1]}
    _execute(url, "UPDATE cases SET next_due_at = next_due_at + INTERVAL '1 day' "
             "WHERE id BETWEEN :first AND :last" if not url.startswith("sqlite") else
             "UPDATE cases SET next_due_at = datetime(next_due_at, '+1 day') WHERE id BETWEEN :first AND :last",
             bounds)
    time.sleep(max(0.0, TIMER_DURATION_S + 0.5 - (time.perf_counter() - started - seed_s)))
    with running_workers(backend, workers, WORKER_POLL_S) as procs:
        pids = [p.process.pid for p in procs]

        def fire() -> dict[str, Any]:
            past = "now() AT TIME ZONE 'UTC' - INTERVAL '1 second'" if not url.startswith("sqlite") \
                else "datetime('now', '-1 second')"
            _execute(url, f"UPDATE cases SET next_due_at = {past} WHERE id BETWEEN :first AND :last", bounds)
            began = time.perf_counter()
            deadline = began + FIRE_TIMEOUT_S
            while _running(url, ids[0], ids[-1]) > 0:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"timers still due after {FIRE_TIMEOUT_S:.0f} s")
                time.sleep(0.05)
            seconds = time.perf_counter() - began
            return {"seconds": seconds, "timers_per_s": cases / seconds}

        result = watch(fire, pids)
        result["peak_rss_mib"] = [round(peak_rss_mib(pid), 1) for pid in pids]
    _check_fired_once(url, ids)
    return {**result, "cases": cases, "workers": workers, "seed_use_case_s": seed_s}
