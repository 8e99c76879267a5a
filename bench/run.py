"""Run every benchmark on each backend and write ``bench/README.md`` and ``bench/results/latest.json``.

Usage: ``python -m bench.run [--quick] [--backends sqlite,postgresql]`` (``make bench`` = full run).
The pure-engine baseline runs first, before any server exists, so that it has the CPU to itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bench import checkpoints, report, seed, timers, verify, workloads
from bench.machine import BUSY_THRESHOLD_CORES, cpu_watch, wait_for_quiet
from bench.server import (
    BACKENDS,
    SERVER_THREADS,
    Backend,
    Server,
    database_version,
    running_server,
    serviceflow,
    settle_database,
)


@dataclass(frozen=True)
class Config:
    """How much of each workload to run; ``--quick`` trades scale for a ~2 minute run."""

    mode: str
    lifecycle_cases: int
    single_client_cases: int
    engine_cases: int
    concurrency: int
    history_iterations: int
    history_window: int
    inbox_sizes: tuple[int, ...]
    inbox_seed: int
    inbox_requests: int
    timer_cases: int
    verify_cases: int = 0  # case histories ``serviceflow audit verify`` checks (bench.verify)
    timer_workers: tuple[int, ...] = (1, 4)  # worker processes per measurement (SQLite: 1 only)
    server_threads: int = SERVER_THREADS
    server_workers: int = 1
    quiet_wait_s: float = 30.0  # per measured workload, for other processes to leave the CPU


FULL = Config(
    "full", lifecycle_cases=1000, single_client_cases=200, engine_cases=500, concurrency=4,
    history_iterations=1000, history_window=workloads.HISTORY_WINDOW, inbox_sizes=(10_000, 100_000),
    inbox_seed=1000, inbox_requests=200, timer_cases=2000, verify_cases=100_000,
)
QUICK = Config(
    "quick", lifecycle_cases=100, single_client_cases=30, engine_cases=100, concurrency=4,
    history_iterations=200, history_window=workloads.HISTORY_WINDOW, inbox_sizes=(1000,),
    inbox_seed=1000, inbox_requests=200, timer_cases=200, verify_cases=2000, quiet_wait_s=5.0,
)


SANDBOX_CALLS = 2000


def log(message: str) -> None:
    """Progress on stdout, flushed, so a long run shows where it is."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def watched(fn: Callable[[], dict[str, Any]], cfg: Config, *pids: int) -> dict[str, Any]:
    """``fn()``'s result with the CPU use of everyone during it (see ``bench.machine``), after
    waiting a little for other processes to leave the CPU alone."""
    waited = wait_for_quiet(cfg.quiet_wait_s)
    if waited > 5:
        log(f"  waited {waited:.0f} s for the machine to quiet down")
    with cpu_watch(*pids) as cpu:
        result = fn()
    result["cpu"] = {**cpu, "waited_for_quiet_s": waited}
    if cpu["other_cores"] > BUSY_THRESHOLD_CORES:
        log(f"  warning: other processes used {cpu['other_cores']:.2f} cores meanwhile")
    return result


def inbox_workload(backend: Backend, server: Server, token: str, cfg: Config) -> dict[str, Any]:
    """Seed the smallest size through the use cases, then grow by SQL copies and measure each size."""
    count = min(cfg.inbox_seed, min(cfg.inbox_sizes))
    ids, seconds = workloads.timed(lambda: seed.start_cases(backend.url, count))
    log(f"  seeded {count} cases through start_case in {seconds:.1f} s")
    results: dict[str, Any] = {}
    seeder = seed.InboxSeeder(backend.url, ids)
    try:
        for size in cfg.inbox_sizes:
            _, copy_s = workloads.timed(lambda s=size: seeder.grow_to(s))
            settle_database(backend.url)
            measured = watched(lambda: workloads.inbox(server.port, token, cfg.inbox_requests, 100),
                               cfg, server.process.pid)
            results[str(size)] = {**measured, "seed_use_case_cases": count, "seed_use_case_s": seconds,
                                  "seed_copy_s": copy_s}
            log(f"  inbox at {size:,}: median {measured['median_ms']:.1f} ms, "
                f"p95 {measured['p95_ms']:.1f} ms (copying took {copy_s:.1f} s)")
    finally:
        seeder.close()
    return results


def lifecycle_workloads(server: Server, token: str, cfg: Config) -> dict[str, Any]:
    """The concurrent lifecycle batch, then a single-client one for the unloaded latency."""
    port, pid = server.port, server.process.pid
    cases, clients = cfg.lifecycle_cases, cfg.concurrency
    life = watched(lambda: workloads.lifecycle_http(port, token, cases, clients), cfg, pid)
    log(f"  {cfg.concurrency} clients: {life['cases_per_s']:.1f} cases/s, "
        f"completion median {life['completion']['median_ms']:.1f} ms")
    single = watched(lambda: workloads.lifecycle_http(port, token, cfg.single_client_cases, 1), cfg, pid)
    log(f"  1 client: {single['cases_per_s']:.1f} cases/s, "
        f"completion median {single['completion']['median_ms']:.1f} ms")
    return {"lifecycle": life, "lifecycle_single_client": single}


def timers_workload(backend: Backend, cfg: Config) -> dict[str, Any]:
    """A fresh batch of due timers per worker count (``bench.timers``); SQLite runs one worker."""
    counts = (1,) if backend.name == "sqlite" else cfg.timer_workers
    results: dict[str, Any] = {}
    for count in counts:
        settle_database(backend.url)
        measured = timers.fire_batch(backend, cfg.timer_cases, count,
                                     lambda fn, pids: watched(fn, cfg, *pids))
        results[str(count)] = measured
        log(f"  {count} worker(s): {measured['timers_per_s']:.1f} timers/s, peak RSS "
            f"{max(measured['peak_rss_mib']):.0f} MiB (seeding took {measured['seed_use_case_s']:.1f} s)")
    return results


def run_backend(name: str, cfg: Config, engine_cases_per_s: float) -> dict[str, Any]:
    """All HTTP workloads on one fresh database behind one server process."""
    with BACKENDS[name]() as backend:
        log(f"{name}: setup --demo")
        serviceflow(backend, "setup", "--demo")
        token = serviceflow(backend, "token", "create", "sales1").strip()
        auditor_token = serviceflow(backend, "token", "create", "auditor1").strip()
        result: dict[str, Any] = {"database": database_version(backend.url)}
        with running_server(backend, cfg.server_threads, cfg.server_workers) as server:
            log(f"{name}: server on port {server.port}; lifecycle x{cfg.lifecycle_cases}")
            result.update(lifecycle_workloads(server, token, cfg))
            result["http_engine_ratio"] = result["lifecycle"]["cases_per_s"] / engine_cases_per_s
            settle_database(backend.url)
            log(f"{name}: history x{cfg.history_iterations}")
            result["history"] = watched(
                lambda: workloads.history(server.port, token, cfg.history_iterations, auditor_token),
                cfg, server.process.pid)
            points = result["history"]["points"]
            log("  " + ", ".join(f"#{p} {v['median_ms']:.1f} ms" for p, v in points.items()))
            log(f"  replay of the loop case: {result['history']['replay_s']:.2f} s")
            log(f"{name}: inbox {', '.join(f'{s:,}' for s in cfg.inbox_sizes)}")
            result["inbox"] = inbox_workload(backend, server, token, cfg)
        settle_database(backend.url)
        log(f"{name}: signed checkpoints over every case")
        result["checkpoint"] = watched(lambda: checkpoints.checkpoint_workload(backend.url), cfg)
        log(f"  {result['checkpoint']['cases']:,} cases: median {result['checkpoint']['median_s']:.1f} s, "
            f"verifying the latest {result['checkpoint']['verify_latest_s']:.1f} s")
        log(f"{name}: timers x{cfg.timer_cases}")
        result["timers"] = timers_workload(backend, cfg)
    if cfg.verify_cases:
        result["verify"] = verify_workload(name, cfg)
    return result


def verify_workload(name: str, cfg: Config) -> dict[str, Any]:
    """``serviceflow audit verify`` over ``cfg.verify_cases`` histories, on a database of its own
    (the inbox workload's copies do not verify: their chains were not re-hashed)."""
    with BACKENDS[name]() as backend:
        log(f"{name}: audit verify x{cfg.verify_cases:,}")
        serviceflow(backend, "setup", "--demo")
        measured = verify.audit_verify(backend, cfg.verify_cases, lambda fn, pids: watched(fn, cfg, *pids))
        log(f"  {measured['seconds']:.1f} s ({measured['events']:,} events; seeding took "
            f"{measured['seed_use_case_s']:.0f} s + {measured['seed_copy_s']:.0f} s)")
        return measured


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer cases, 1,000 inbox rows, 200 loop iterations, 200 timers")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (serviceflow serve --workers); default 1: one process")
    args = parser.parse_args(argv)
    args.backend_names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backend_names) - set(BACKENDS)
    if unknown or not args.backend_names:
        parser.error(f"unknown backends: {', '.join(sorted(unknown)) or '(none)'}; "
                     f"choose from {', '.join(BACKENDS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cfg = replace(QUICK if args.quick else FULL, server_workers=args.workers)
    began = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "config": asdict(cfg),
        "machine": report.machine_info(),
    }
    log(f"pure engine x{cfg.engine_cases}")
    results["engine"] = watched(lambda: workloads.engine_lifecycle(cfg.engine_cases), cfg)
    log(f"  {results['engine']['cases_per_s']:.0f} cases/s")
    log("sandbox costs")
    results["sandbox"] = watched(lambda: workloads.sandbox_costs(SANDBOX_CALLS, 20), cfg)
    log(f"  expression {results['sandbox']['expression_isolated_us']:.0f} µs isolated, "
        f"{results['sandbox']['expression_in_process_us']:.0f} µs in process")
    results["backends"] = {name: run_backend(name, cfg, results["engine"]["cases_per_s"])
                           for name in args.backend_names}
    results["total_s"] = time.perf_counter() - began
    log(f"wrote {report.write_json(results)} and {report.write_readme(results)} "
        f"in {results['total_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
