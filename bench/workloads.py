"""The measured workloads: case lifecycle (HTTP and pure engine), a long loop's history, the inbox.

Every HTTP workload checks each answer (status and the next open task) so that a fast error
can never pass for a fast success.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.client import ApiClient
from bench.server import FORMS, WORKFLOWS
from bench.stats import summary_ms

LIFECYCLE = "bench_lifecycle"
LOOP = "bench_loop"
STEPS = 5
HISTORY_CHECKPOINTS = (1, 200, 1000)
HISTORY_WINDOW = 5
ENGINE_ROUNDS = 3


def step_data(case_no: int, step: int) -> dict[str, Any]:
    """Valid form data; odd cases take the ``amount > 50`` branch so both gateway paths run."""
    return {"label": f"case {case_no} step {step}", "amount": 75 if case_no % 2 else 25, "confirmed": True}


def _only_open_task(view: dict[str, Any], expected_title: str | None) -> str:
    tasks = view["open_tasks"]
    if len(tasks) != 1 or (expected_title is not None and tasks[0]["title"] != expected_title):
        raise AssertionError(f"expected one open task {expected_title!r}, got {tasks!r}")
    return str(tasks[0]["id"])


def run_lifecycle_case(client: ApiClient, case_no: int) -> tuple[float, list[float]]:
    """Start one case and complete its five steps; (start latency, completion latencies)."""
    view, start_s = client.call("POST", "/api/v1/cases", {"process": LIFECYCLE, "data": {}}, expect=201)
    completions = []
    for step in range(1, STEPS + 1):
        task_id = _only_open_task(view, f"Step {step}")
        body = {"data": step_data(case_no, step)}
        view, elapsed = client.call("POST", f"/api/v1/tasks/{task_id}/complete", body)
        completions.append(elapsed)
    if view["status"] != "completed" or view["open_tasks"]:
        raise AssertionError(f"case {view['id']} did not complete: {view['status']}")
    return start_s, completions


def lifecycle_http(port: int, token: str, cases: int, concurrency: int, warmup: int = 3) -> dict[str, Any]:
    """``cases`` full lifecycles shared by ``concurrency`` client threads, each on its own keep-alive
    connection; throughput is cases over wall-clock time of the whole batch."""
    warm = ApiClient(port, token)
    for n in range(warmup):
        run_lifecycle_case(warm, -1 - n)
    warm.close()
    counter, lock = itertools.count(), threading.Lock()
    starts: list[float] = []
    completions: list[float] = []
    errors: list[BaseException] = []

    def worker() -> None:
        client = ApiClient(port, token)
        try:
            while (case_no := next(counter)) < cases:
                start_s, done = run_lifecycle_case(client, case_no)
                with lock:
                    starts.append(start_s)
                    completions.extend(done)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    if errors:
        raise errors[0]
    return {
        "cases": cases, "concurrency": concurrency, "wall_s": wall, "cases_per_s": cases / wall,
        "start": summary_ms(starts), "completion": summary_ms(completions),
    }


class _StoredState:
    """One case's stored state kept in memory the way ``case_store`` writes it to the database:
    the skeleton plus one row per task, with only the rows each save changes rewritten."""

    def __init__(self) -> None:
        self.skeleton = ""
        self.rows: dict[str, tuple[str, str]] = {}

    def save(self, runtime: Any) -> None:
        delta = runtime.dump_delta()
        self.skeleton = delta.skeleton
        for gone in delta.deletes:
            self.rows.pop(gone, None)
        self.rows.update(delta.upserts)

    def load_rows(self) -> list[tuple[str, str, str]]:
        return [(task_id, key, text) for task_id, (key, text) in self.rows.items()]


def engine_lifecycle(cases: int) -> dict[str, Any]:
    """The same diagram with no HTTP and no database, single thread: start and save, then per
    step restore from what was saved, complete, and save again (``dump_delta``, the serialization
    the app stores), so the engine pays a full round trip through its state at every step.
    Reported as the median of three rounds of ``cases`` cases: on a shared machine one slow round
    should not decide the baseline."""
    from engine.definitions.catalog import bundles_from_directory, parse_bundle
    from engine.sandbox.environment import make_script_engine
    from engine.spiff.runtime import CaseRuntime

    bundle = next(b for b in bundles_from_directory(WORKFLOWS, FORMS) if b.process_id == LIFECYCLE)
    process, script_engine = parse_bundle(bundle), make_script_engine()
    departments = frozenset({"sales"})

    def one_case(case_no: int) -> None:
        stored = _StoredState()
        stored.save(CaseRuntime.start(process, script_engine, {}))
        for step in range(1, STEPS + 1):
            runtime = CaseRuntime.restore(process, stored.skeleton, stored.load_rows(), script_engine)
            (ready,) = runtime.ready_tasks(departments)
            runtime.complete(ready.id, step_data(case_no, step))
            stored.save(runtime)
        if not runtime.is_completed:
            raise AssertionError("engine case did not complete")

    for n in range(3):
        one_case(-1 - n)
    rates = []
    for round_no in range(ENGINE_ROUNDS):
        began = time.perf_counter()
        for case_no in range(round_no * cases, (round_no + 1) * cases):
            one_case(case_no)
        rates.append(cases / (time.perf_counter() - began))
    return {"cases": cases, "rounds": ENGINE_ROUNDS, "round_cases_per_s": rates,
            "cases_per_s": statistics.median(rates)}


def _window(count: int, checkpoint: int) -> range:
    """Completions #checkpoint-2..#checkpoint+2 (1-based), shifted to stay inside the run: one
    completion is too noisy a sample, and a window keeps the figure tied to its position."""
    first = max(1, min(checkpoint - HISTORY_WINDOW // 2, count - HISTORY_WINDOW + 1))
    return range(first, min(first + HISTORY_WINDOW, count + 1))


def history(port: int, token: str, iterations: int, auditor_token: str) -> dict[str, Any]:
    """One ``bench_loop`` case whose task is completed ``iterations`` times by one client, then
    replayed from its history by an auditor (``GET /api/v1/cases/ID/replay``, which must answer
    identical)."""
    client = ApiClient(port, token)
    try:
        view, _ = client.call("POST", "/api/v1/cases", {"process": LOOP, "data": {}}, expect=201)
        latencies = []
        for n in range(1, iterations + 1):
            task_id = _only_open_task(view, "Repeat")
            data = {"again": n < iterations, "note": f"round {n}"}
            view, elapsed = client.call("POST", f"/api/v1/tasks/{task_id}/complete", {"data": data})
            latencies.append(elapsed)
        if view["status"] != "completed":
            raise AssertionError(f"loop case ended {view['status']}")
        events, _ = client.call("GET", f"/api/v1/cases/{view['id']}/events")
    finally:
        client.close()
    replayed = _replay(port, auditor_token, view["id"])
    points = {}
    for checkpoint in (c for c in HISTORY_CHECKPOINTS if c <= iterations):
        window = _window(len(latencies), checkpoint)
        median = statistics.median([latencies[n - 1] for n in window])
        points[str(checkpoint)] = {"median_ms": median * 1000, "from": window[0], "to": window[-1]}
    first, last = points["1"]["median_ms"], points[max(points, key=int)]["median_ms"]
    return {
        "iterations": iterations, "window": HISTORY_WINDOW, "points": points,
        "last_checkpoint": int(max(points, key=int)), "ratio_last_first": last / first,
        "events": len(events["events"]), "chain_intact": events["chain_intact"],
        "latencies_ms": [round(x * 1000, 3) for x in latencies], **replayed,
    }


def _replay(port: int, auditor_token: str, case_id: int) -> dict[str, Any]:
    """The loop case replayed once through the API: its time, from request to the last byte."""
    client = ApiClient(port, auditor_token)
    try:
        verdict, elapsed = client.call("GET", f"/api/v1/cases/{case_id}/replay")
    finally:
        client.close()
    if not verdict["identical"]:
        raise AssertionError(f"the loop case's replay diverged: {verdict['divergence']}")
    return {"replay_s": elapsed, "replay_steps": verdict["steps"]}


def inbox(port: int, token: str, requests: int, expected_items: int, warmup: int = 10) -> dict[str, Any]:
    """``requests`` sequential GET /api/v1/inbox (first page, default limit) on one connection."""
    client = ApiClient(port, token)
    try:
        for _ in range(warmup):
            client.call("GET", "/api/v1/inbox")
        latencies = []
        for _ in range(requests):
            items, elapsed = client.call("GET", "/api/v1/inbox")
            if len(items) != expected_items:
                raise AssertionError(f"inbox returned {len(items)} items, expected {expected_items}")
            latencies.append(elapsed)
    finally:
        client.close()
    return {"requests": requests, "items_per_page": expected_items, **summary_ms(latencies)}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and how long it took, for the seeding figures."""
    began = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - began


SANDBOX_DATA = {"customer": "C001", "amount": 75, "category": "quality", "lines": [{"sku": "PX-200", "qty": 3}] * 5,
                "note": "a typical line of text a person typed " * 3, "approved": True, "step": 3}
SANDBOX_EXPRESSION = 'amount > 50 and category == "quality"'
SANDBOX_SCRIPT = "total = sum(line['qty'] for line in lines)\nlabel = customer + ' / ' + category\nbig = total > 10"


def _median_us(call: Callable[[], Any], count: int) -> float:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1e6


def sandbox_costs(calls: int, engine_cases: int) -> dict[str, Any]:
    """What running scripts in sandbox processes costs: one gateway-style expression and one
    three-line script on typical task data, through the pool (pipe, JSON both ways, the sandbox
    process's work) against the same restricted code run in this process (what the sandbox
    process does, without the isolation); and how many sandbox calls one lifecycle case makes."""
    from engine.definitions.catalog import bundles_from_directory, parse_bundle
    from engine.sandbox import pool, runner
    from engine.sandbox.environment import RestrictedScriptEnvironment, make_script_engine
    from engine.spiff.runtime import CaseRuntime

    env = RestrictedScriptEnvironment()
    for _ in range(50):  # the pool's process started, the code compiled on both sides
        env.evaluate(SANDBOX_EXPRESSION, SANDBOX_DATA)
        env.execute(SANDBOX_SCRIPT, dict(SANDBOX_DATA))
        runner.execute(SANDBOX_SCRIPT, SANDBOX_DATA, {})
    result = {
        "calls": calls,
        "expression_isolated_us": _median_us(lambda: env.evaluate(SANDBOX_EXPRESSION, SANDBOX_DATA), calls),
        "expression_in_process_us": _median_us(lambda: runner.evaluate(SANDBOX_EXPRESSION, SANDBOX_DATA, {}), calls),
        "script_isolated_us": _median_us(lambda: env.execute(SANDBOX_SCRIPT, dict(SANDBOX_DATA)), calls),
        "script_in_process_us": _median_us(lambda: runner.execute(SANDBOX_SCRIPT, SANDBOX_DATA, {}), calls),
    }
    bundle = next(b for b in bundles_from_directory(WORKFLOWS, FORMS) if b.process_id == LIFECYCLE)
    process, script_engine = parse_bundle(bundle), make_script_engine()
    before = pool.pool().served
    for case_no in range(engine_cases):
        runtime = CaseRuntime.start(process, script_engine, {})
        for step in range(1, STEPS + 1):
            (ready,) = runtime.ready_tasks(frozenset({"sales"}))
            runtime.complete(ready.id, step_data(case_no, step))
    result["calls_per_lifecycle_case"] = (pool.pool().served - before) / engine_cases
    overhead_us = result["expression_isolated_us"] - result["expression_in_process_us"]
    result["overhead_per_lifecycle_case_ms"] = result["calls_per_lifecycle_case"] * overhead_us / 1000
    return result
