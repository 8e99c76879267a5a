"""Run every benchmark on each backend and write ``bench/README.md`` and ``bench/results/latest.json``.

Usage: ``python -m bench.run [--quick] [--backends sqlite,postgresql]`` (``make bench`` = full run).
The pure-engine baseline runs first, before any server exists, so that it has the CPU to itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bench import report, seed, workloads
from bench.server import BACKENDS, SERVER_THREADS, Backend, database_version, running_server, serviceflow


@dataclass(frozen=True)
class Config:
    """How much of each workload to run; ``--quick`` trades scale for a ~2 minute run."""

    mode: str
    lifecycle_cases: int
    engine_cases: int
    concurrency: int
    history_iterations: int
    history_window: int
    inbox_sizes: tuple[int, ...]
    inbox_seed: int
    inbox_requests: int
    server_threads: int = SERVER_THREADS


FULL = Config("full", lifecycle_cases=300, engine_cases=300, concurrency=4, history_iterations=1000,
              history_window=workloads.HISTORY_WINDOW, inbox_sizes=(10_000, 100_000), inbox_seed=1000,
              inbox_requests=200)
QUICK = Config("quick", lifecycle_cases=60, engine_cases=100, concurrency=4, history_iterations=200,
               history_window=workloads.HISTORY_WINDOW, inbox_sizes=(1000,), inbox_seed=1000, inbox_requests=200)


def log(message: str) -> None:
    """Progress on stdout, flushed, so a long run shows where it is."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def inbox_workload(backend: Backend, port: int, token: str, cfg: Config) -> dict[str, Any]:
    """Seed the smallest size through the use cases, then grow by SQL copies and measure each size."""
    count = min(cfg.inbox_seed, min(cfg.inbox_sizes))
    ids, seconds = workloads.timed(lambda: seed.start_cases(backend.url, count))
    log(f"  seeded {count} cases through start_case in {seconds:.1f} s")
    results: dict[str, Any] = {}
    seeder = seed.InboxSeeder(backend.url, ids)
    try:
        for size in cfg.inbox_sizes:
            _, copy_s = workloads.timed(lambda s=size: seeder.grow_to(s))
            measured = workloads.inbox(port, token, cfg.inbox_requests, expected_items=100)
            results[str(size)] = {**measured, "seed_use_case_cases": count, "seed_use_case_s": seconds,
                                  "seed_copy_s": copy_s}
            log(f"  inbox at {size:,}: median {measured['median_ms']:.1f} ms, p95 {measured['p95_ms']:.1f} ms "
                f"(copying took {copy_s:.1f} s)")
    finally:
        seeder.close()
    return results


def run_backend(name: str, cfg: Config, engine_cases_per_s: float) -> dict[str, Any]:
    """All HTTP workloads on one fresh database behind one server process."""
    with BACKENDS[name]() as backend:
        log(f"{name}: setup --demo")
        serviceflow(backend, "setup", "--demo")
        token = serviceflow(backend, "token", "create", "sales1").strip()
        result: dict[str, Any] = {"database": database_version(backend.url)}
        with running_server(backend, cfg.server_threads) as server:
            log(f"{name}: server on port {server.port}; lifecycle x{cfg.lifecycle_cases}")
            life = workloads.lifecycle_http(server.port, token, cfg.lifecycle_cases, cfg.concurrency)
            result["lifecycle"] = life
            result["http_engine_ratio"] = life["cases_per_s"] / engine_cases_per_s
            log(f"  {life['cases_per_s']:.1f} cases/s, completion median {life['completion']['median_ms']:.1f} ms")
            log(f"{name}: history x{cfg.history_iterations}")
            result["history"] = workloads.history(server.port, token, cfg.history_iterations)
            log("  " + ", ".join(f"#{p} {v['median_ms']:.1f} ms" for p, v in result["history"]["points"].items()))
            log(f"{name}: inbox {', '.join(f'{s:,}' for s in cfg.inbox_sizes)}")
            result["inbox"] = inbox_workload(backend, server.port, token, cfg)
    return result


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer cases, 1,000 inbox rows, 200 loop iterations")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    args = parser.parse_args(argv)
    args.backend_names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backend_names) - set(BACKENDS)
    if unknown or not args.backend_names:
        parser.error(f"unknown backends: {', '.join(sorted(unknown)) or '(none)'}; choose from {', '.join(BACKENDS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cfg = QUICK if args.quick else FULL
    began = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "config": asdict(cfg),
        "machine": report.machine_info(),
    }
    log(f"pure engine x{cfg.engine_cases}")
    results["engine"] = workloads.engine_lifecycle(cfg.engine_cases)
    log(f"  {results['engine']['cases_per_s']:.0f} cases/s")
    results["backends"] = {name: run_backend(name, cfg, results["engine"]["cases_per_s"])
                           for name in args.backend_names}
    results["total_s"] = time.perf_counter() - began
    log(f"wrote {report.write_json(results)} and {report.write_readme(results)} "
        f"in {results['total_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
