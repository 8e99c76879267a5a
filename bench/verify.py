"""The verification workload: ``serviceflow audit verify`` over 100,000 case histories.

Each backend gets a database of its own (after ``serviceflow setup --demo``). 500 cases of
``bench_lifecycle`` are run through the real use cases in the benchmark process (started, then
Step 1 and Step 2 completed: six events each, with data, changes and state covered), then
copied under new case ids until the target count is reached. A copy's events are re-chained in
Python (``engine.audit.chain``: the hash covers the case id) and its case row carries the new
chain's head; its stored workflow state (``case_states``, ``case_tasks``) is copied with SQL
``INSERT … SELECT``, unchanged, so it still matches the state hash its events record. Every
copy therefore verifies like a case the app wrote, and the measurement fails unless the command
reports every case verified and exits 0.

The figure is the wall-clock time of the ``serviceflow audit verify`` process (start-up
included), which reads every case, event and task row and recomputes every hash.
"""

from __future__ import annotations

import re
import resource
import subprocess
import time
from collections.abc import Callable
from itertools import groupby
from types import SimpleNamespace
from typing import Any

from sqlalchemy import create_engine, insert, select, text

from bench.server import FORMS, WORKFLOWS, Backend, _serviceflow_command
from bench.workloads import LIFECYCLE, step_data

TEMPLATE_CASES = 500
TEMPLATE_STEPS = 2
BATCH = 5000


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_templates(url: str, count: int) -> list[int]:
    """``count`` lifecycle cases started and taken through ``TEMPLATE_STEPS`` steps by sales1."""
    from engine.config import Settings
    from engine.context import build_context
    from engine.services.cases import start_case
    from engine.services.tasks import complete_task
    from engine.services.users import find_actor

    settings = Settings(database_url=url, secret_key="bench-seed", workflows_dir=WORKFLOWS, forms_dir=FORMS,
                        runtime_cache_size=0)
    ctx = build_context(settings)
    try:
        actor = find_actor(ctx, "sales1")
        ids = []
        for n in range(count):
            view = start_case(ctx, actor, LIFECYCLE, {"customer": f"Bench customer {n % 100}"})
            for step in range(1, TEMPLATE_STEPS + 1):
                view = complete_task(ctx, actor, view.open_tasks[0].id, step_data(n, step))
            ids.append(view.id)
        return sorted(ids)
    finally:
        ctx.database.dispose()


def _rechained(case: dict, events: list[dict], case_id: int) -> tuple[dict, list[dict]]:
    from engine.audit import chain

    prev = chain.GENESIS
    rows = []
    for event in events:
        row = {**event, "case_id": case_id, "prev_hash": prev}
        row["hash"] = prev = chain.event_hash(SimpleNamespace(**row))
        rows.append(row)
    return {**case, "id": case_id, "last_event_hash": prev}, rows


def copy_cases(url: str, template: list[int], target: int) -> int:
    """Copies of the template cases under new ids (copy ``j`` adds ``j * shift``) until ``target``
    cases exist; returns how many events the database then holds."""
    from engine.persistence.models import Case, CaseEvent

    engine = create_engine(url, connect_args={"timeout": 60} if url.startswith("sqlite") else {})
    cases_t, events_t = Case.__table__, CaseEvent.__table__
    try:
        with engine.begin() as conn:
            cases = [dict(r) for r in conn.execute(select(cases_t).where(cases_t.c.id.in_(template))
                                                   .order_by(cases_t.c.id)).mappings()]
            rows = conn.execute(select(events_t).where(events_t.c.case_id.in_(template))
                                .order_by(events_t.c.case_id, events_t.c.seq)).mappings()
            events = {k: [{c: v for c, v in r.items() if c != "id"} for r in g]
                      for k, g in groupby(rows, key=lambda r: r["case_id"])}
            shift = int(conn.scalar(text("SELECT max(id) FROM cases")))
            existing = int(conn.scalar(text("SELECT count(*) FROM cases")))
            planned = [(j, case) for j in range(1, (target - existing) // len(cases) + 2) for case in cases]
            planned = planned[:target - existing]
            for start in range(0, len(planned), BATCH):
                new_cases, new_events = [], []
                for j, case in planned[start:start + BATCH]:
                    row, chained = _rechained(case, events[case["id"]], case["id"] + j * shift)
                    new_cases.append(row)
                    new_events.extend(chained)
                conn.execute(insert(cases_t), new_cases)
                conn.execute(insert(events_t), new_events)
            copies = max((j for j, _ in planned), default=0)
            conn.execute(text("CREATE TEMPORARY TABLE bench_verify_copies (j INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO bench_verify_copies (j) VALUES (:j)"),
                         [{"j": j} for j in range(1, copies + 1)])
            params = {"shift": shift, "first": template[0], "last": template[-1]}
            for table, columns in (("case_states", "state"), ("case_tasks", "task_id, workflow_key, state")):
                conn.execute(text(
                    f"INSERT INTO {table} (case_id, {columns}) SELECT s.case_id + k.j * :shift, "
                    f"{', '.join('s.' + c.strip() for c in columns.split(','))} FROM {table} s "
                    "CROSS JOIN bench_verify_copies k JOIN cases c ON c.id = s.case_id + k.j * :shift "
                    "WHERE s.case_id BETWEEN :first AND :last"), params)
            return int(conn.scalar(text("SELECT count(*) FROM case_events")))
    finally:
        engine.dispose()


def audit_verify(backend: Backend, target: int,
                 watched: Callable[[Callable[[], dict[str, Any]], list[int]], dict[str, Any]]) -> dict[str, Any]:
    """Seed ``target`` verifiable cases, then time ``serviceflow audit verify`` over all of them."""
    began = time.perf_counter()
    template = run_templates(backend.url, min(TEMPLATE_CASES, target))
    use_case_s = time.perf_counter() - began
    began = time.perf_counter()
    events = copy_cases(backend.url, template, target)
    copy_s = time.perf_counter() - began

    def measure() -> dict[str, Any]:
        start, children = time.perf_counter(), _children_cpu_s()
        result = subprocess.run([*_serviceflow_command(), "audit", "verify"], env=backend.env(),
                                capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        command_cores = (_children_cpu_s() - children) / seconds
        found = re.search(r"verified (\d+) case\(s\): none failed", result.stdout)
        if result.returncode != 0 or found is None or int(found.group(1)) != target:
            raise RuntimeError(f"audit verify did not verify {target} cases: {result.stdout[-500:]} "
                               f"{result.stderr[-500:]}")
        return {"seconds": seconds, "cases_per_s": target / seconds, "command_cores": command_cores}

    measured = watched(measure, [])
    # The command and its processes finished inside the measurement: their CPU is the benchmark's,
    # not "other processes" (``cpu_watch`` sees only live processes).
    cpu = measured["cpu"]
    cpu["own_cores"] += measured["command_cores"]
    cpu["other_cores"] = max(0.0, cpu["other_cores"] - measured["command_cores"])
    return {**measured, "cases": target, "events": events, "seed_use_case_cases": len(template),
            "seed_use_case_s": use_case_s, "seed_copy_s": copy_s}
