"""The results as ``bench/results/latest.json`` and as ``bench/README.md`` (rewritten every run).

Every figure in the README is read from the results of the run that writes it; the only
constants here are the goals and the peer's published figures they are compared with.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.machine import BUSY_THRESHOLD_CORES
from bench.method import method_section
from bench.server import BENCH_DIR

README = BENCH_DIR / "README.md"
RESULTS = BENCH_DIR / "results" / "latest.json"

GOAL_CASES_PER_S = 100.0
GOAL_HISTORY_RATIO = 1.5
GOAL_INBOX_P95_MS = 20.0
GOAL_INBOX_ROWS = 100_000
GOAL_CHECKPOINT_S = 60.0
GOAL_CHECKPOINT_CASES = 100_000
GOAL_VERIFY_CASES = 100_000
GOAL_VERIFY_S = 60.0
GOAL_REPLAY_S = 10.0
GOAL_REPLAY_ITERATIONS = 1000
PEER = "spiff-arena (same engine, same machine class)"
PEER_CASES_PER_S = 3.1
PEER_COMPLETION_MS = 50.0
PEER_LOOP = "53 → 135 ms (1st → 200th, 2.5×)"
PEER_INBOX = "63–83 ms at 10,000 open cases"
BACKEND_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def machine_info() -> dict[str, Any]:
    """What the figures depend on: cores, CPU, memory and the software versions."""
    import sqlite3

    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "nproc": int(nproc) if nproc.isdigit() else None, "cpu": _cpu_model(),
        "memory_gib": round(_memory_gib(), 1),
        "os": platform.platform(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "spiffworkflow": metadata.version("SpiffWorkflow"), "waitress": metadata.version("waitress"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "commit": _commit(),
    }


def _commit() -> str:
    """The code the figures belong to; ``-dirty`` when the working tree had uncommitted changes."""
    result = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=BENCH_DIR, capture_output=True,
                            text=True, check=False)
    return result.stdout.strip() or "unknown"


def write_json(results: dict[str, Any]) -> Path:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return RESULTS


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _spread(summary: dict[str, Any]) -> str:
    """``median / p95`` of a latency summary."""
    return f"{_ms(summary['median_ms'])} / {_ms(summary['p95_ms'])}"


def _figure_rows(results: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(label, one cell per backend) for the figures table."""
    backends, cfg = results["backends"], results["config"]
    first = next(iter(backends.values()))
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Any) -> None:
        rows.append((label, [cell(b) for b in backends.values()]))

    row("Database", lambda b: b["database"])
    row(f"Lifecycle throughput, {cfg['concurrency']} clients",
        lambda b: f"{b['lifecycle']['cases_per_s']:.1f} cases/s")
    row(f"Task completion, {cfg['concurrency']} clients, median / p95",
        lambda b: _spread(b["lifecycle"]["completion"]))
    row(f"Case start, {cfg['concurrency']} clients, median / p95", lambda b: _spread(b["lifecycle"]["start"]))
    row("Lifecycle throughput, 1 client",
        lambda b: f"{b['lifecycle_single_client']['cases_per_s']:.1f} cases/s")
    row("Task completion, 1 client, median / p95",
        lambda b: _spread(b["lifecycle_single_client"]["completion"]))
    row("Pure engine, same diagram, 1 thread", lambda b: f"{results['engine']['cases_per_s']:.0f} cases/s")
    if "sandbox" in results:
        sb = results["sandbox"]
        row("Sandbox: one expression, isolated / in-process (median)",
            lambda b: f"{sb['expression_isolated_us']:.0f} µs / {sb['expression_in_process_us']:.0f} µs")
        row("Sandbox: one 3-line script, isolated / in-process (median)",
            lambda b: f"{sb['script_isolated_us']:.0f} µs / {sb['script_in_process_us']:.0f} µs")
        row("Sandbox calls per lifecycle case; isolation cost per case",
            lambda b: f"{sb['calls_per_lifecycle_case']:.1f}; {sb['overhead_per_lifecycle_case_ms']:.2f} ms")
    row(f"HTTP ({cfg['concurrency']} clients) / engine throughput",
        lambda b: f"{b['http_engine_ratio']:.3f} (HTTP {1 / b['http_engine_ratio']:.0f}× slower)")
    for point in first["history"]["points"]:
        row(f"Loop completion #{point} (median of {cfg['history_window']})",
            lambda b, p=point: _ms(b["history"]["points"][p]["median_ms"]))
    row("Loop #last / #1",
        lambda b: f"{b['history']['ratio_last_first']:.2f}× (#{b['history']['last_checkpoint']} / #1)")
    row(f"Replay of the loop case ({cfg['history_iterations']:,} iterations, GET /cases/ID/replay)",
        lambda b: f"{b['history']['replay_s']:.2f} s ({b['history']['replay_steps']:,} steps, identical)")
    for size in first["inbox"]:
        row(f"Inbox at {int(size):,} open cases, median / p95", lambda b, s=size: _spread(b["inbox"][s]))
    if "checkpoint" in first:
        row("Signed checkpoint over every case, median / max of "
            f"{first['checkpoint']['rounds']}", lambda b: _checkpoint_cell(b["checkpoint"]))
        row("Verifying the latest checkpoint; one case's inclusion proof",
            lambda b: f"{b['checkpoint']['verify_latest_s']:.2f} s; {_ms(b['checkpoint']['inclusion_proof_s'] * 1000)} "
            f"({b['checkpoint']['proof_length']} hashes)")
    for count in _timer_counts(results):
        row(f"Timers fired, {count} worker process{'es' if int(count) > 1 else ''} "
            f"({cfg.get('timer_cases', 0):,} due)", lambda b, c=count: _timer_cell(b, c, _timers_per_s))
        row(f"Timer worker peak RSS, {count} worker{'s' if int(count) > 1 else ''}",
            lambda b, c=count: _timer_cell(b, c, _peak_rss))
    if cfg.get("verify_cases"):
        row(f"Audit verify, {cfg['verify_cases']:,} cases, all processes", _verify_cell)
    return rows


def _checkpoint_cell(measured: dict[str, Any]) -> str:
    return f"{measured['median_s']:.1f} s / {measured['max_s']:.1f} s ({measured['cases']:,} cases)"


def _checkpoint_target(title: str, measured: dict[str, Any]) -> list[str]:
    if measured["cases"] >= GOAL_CHECKPOINT_CASES:
        verdict = _verdict(measured["max_s"] < GOAL_CHECKPOINT_S) + _busy(measured)
    else:
        verdict = f"not measured (this run has {measured['cases']:,} cases)"
    return [f"Checkpoint over {GOAL_CHECKPOINT_CASES:,} cases < {GOAL_CHECKPOINT_S:.0f} s (slowest of "
            f"{measured['rounds']})", title, _checkpoint_cell(measured), "— (no peer signs its history)", verdict]


def _verify_cell(backend: dict[str, Any]) -> str:
    measured = backend.get("verify")
    if measured is None:
        return "—"
    return (f"{measured['seconds']:.1f} s ({measured['cases_per_s']:,.0f} cases/s, "
            f"{measured['events'] / measured['cases']:.0f} events per case)")


def _timer_counts(results: dict[str, Any]) -> list[str]:
    """The worker counts the timer workload ran with on any backend, ascending."""
    counts = {c for b in results["backends"].values() for c in b.get("timers", {})}
    return sorted(counts, key=int)


def _timers_per_s(measured: dict[str, Any]) -> str:
    return f"{measured['timers_per_s']:.1f} timers/s"


def _peak_rss(measured: dict[str, Any]) -> str:
    return f"{max(measured['peak_rss_mib']):.0f} MiB (VmHWM, largest worker)"


def _timer_cell(backend: dict[str, Any], count: str, show: Any) -> str:
    measured = backend.get("timers", {}).get(count)
    if measured is None:
        return "— (one worker is the supported set-up)" if backend["database"].startswith("SQLite") else "—"
    return str(show(measured))


def _cpu_cell(cpu: dict[str, float]) -> str:
    flag = " ⚠" if cpu["other_cores"] > BUSY_THRESHOLD_CORES else ""
    return f"{cpu['own_cores']:.2f} / {cpu['postgres_cores']:.2f} / {cpu['other_cores']:.2f}{flag}"


def _cpu_rows(results: dict[str, Any]) -> list[list[str]]:
    """Average cores used during each measured workload: benchmark + server / PostgreSQL / others."""
    backends = results["backends"]
    first = next(iter(backends.values()))
    workloads: list[tuple[str, Any]] = [
        ("Lifecycle, concurrent", lambda b: b["lifecycle"]),
        ("Lifecycle, 1 client", lambda b: b["lifecycle_single_client"]),
        ("History", lambda b: b["history"]),
        *((f"Inbox at {int(size):,}", lambda b, s=size: b["inbox"][s]) for size in first["inbox"]),
        *((("Checkpoints", lambda b: b["checkpoint"]),) if "checkpoint" in first else ()),
    ]
    rows = [[label, *(_cpu_cell(pick(b)["cpu"]) for b in backends.values())] for label, pick in workloads]
    for count in _timer_counts(results):
        rows.append([f"Timers, {count} worker{'s' if int(count) > 1 else ''}",
                     *(_timer_cell(b, count, lambda m: _cpu_cell(m["cpu"])) for b in backends.values())])
    if any("verify" in b for b in backends.values()):
        rows.append(["Audit verify", *(_cpu_cell(b["verify"]["cpu"]) if "verify" in b else "—"
                                       for b in backends.values())])
    engine = _cpu_cell(results["engine"]["cpu"])
    return [["Pure engine", *([engine] * len(backends))], *rows]


def _cpu_section(results: dict[str, Any]) -> list[str]:
    names = [BACKEND_TITLES[n] for n in results["backends"]]
    return [
        "## CPU during each workload",
        "",
        "Average cores busy while each workload ran, as `benchmark + server (or timer workers) / PostgreSQL / other "
        f"processes` (of {results['machine']['nproc']}). ⚠ marks workloads during which other processes "
        f"used more than {BUSY_THRESHOLD_CORES} cores: their figures are pessimistic. PostgreSQL is shared "
        "with anything else using it on this machine.",
        "",
        *_table(["Workload", *names], _cpu_rows(results)),
        "",
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _busy(*measurements: dict[str, Any]) -> str:
    """A warning for verdicts whose figures were taken while other processes used the CPU."""
    if any(m["cpu"]["other_cores"] > BUSY_THRESHOLD_CORES for m in measurements):
        return " (⚠ machine busy)"
    return ""


def _throughput_targets(name: str, b: dict[str, Any], concurrency: int) -> list[list[str]]:
    life, title = b["lifecycle"], BACKEND_TITLES[name]
    if name == "sqlite":
        verdict = _verdict(life["cases_per_s"] >= GOAL_CASES_PER_S) + _busy(life)
    else:
        verdict = "— (the goal is for SQLite)"
    loaded = life["completion"]["median_ms"]
    single = b["lifecycle_single_client"]["completion"]["median_ms"]
    speed = PEER_COMPLETION_MS / loaded
    vs_peer = f"{speed:.1f}× faster" if speed >= 1 else f"{1 / speed:.1f}× slower"
    return [
        [f"Lifecycle ≥ {GOAL_CASES_PER_S:.0f} cases/s", title, f"{life['cases_per_s']:.1f} cases/s",
         f"{PEER_CASES_PER_S} cases/s", verdict],
        ["Task completion, median (no goal; peer only)", title,
         f"{_ms(loaded)} ({concurrency} clients), {_ms(single)} (1 client)", f"{PEER_COMPLETION_MS:.0f} ms",
         f"{vs_peer} than the peer at {concurrency} clients"],
    ]


def _loop_target(title: str, hist: dict[str, Any]) -> list[str]:
    points = hist["points"]
    value = " → ".join(f"{_ms(points[p]['median_ms'])} (#{p})" for p in points)
    if "1000" in points:
        ratio = points["1000"]["median_ms"] / points["1"]["median_ms"]
        verdict = f"{ratio:.2f}×: {_verdict(ratio <= GOAL_HISTORY_RATIO)}{_busy(hist)}"
    else:
        verdict = f"not measured (this run stopped at #{hist['last_checkpoint']})"
    return [f"Loop #1000 ≤ {GOAL_HISTORY_RATIO}× #1", title, value, PEER_LOOP, verdict]


def _replay_target(title: str, hist: dict[str, Any]) -> list[str]:
    value = f"{hist['replay_s']:.2f} s ({hist['iterations']:,} iterations)"
    if hist["iterations"] >= GOAL_REPLAY_ITERATIONS:
        verdict = _verdict(hist["replay_s"] < GOAL_REPLAY_S) + _busy(hist)
    else:
        verdict = f"not measured (this run's loop has {hist['iterations']:,} iterations)"
    return [f"Replay of the {GOAL_REPLAY_ITERATIONS:,}-iteration loop case < {GOAL_REPLAY_S:.0f} s", title, value,
            "—", verdict]


def _inbox_target(title: str, inbox: dict[str, Any]) -> list[str]:
    largest = max(inbox, key=int)
    if int(largest) >= GOAL_INBOX_ROWS:
        verdict = _verdict(inbox[largest]["p95_ms"] <= GOAL_INBOX_P95_MS) + _busy(inbox[largest])
    else:
        verdict = f"not measured (largest inbox in this run: {int(largest):,})"
    value = " · ".join(f"{_ms(inbox[s]['p95_ms'])} at {int(s):,}" for s in inbox)
    return [f"Inbox p95 ≤ {GOAL_INBOX_P95_MS:.0f} ms at {GOAL_INBOX_ROWS:,} open cases", title, value,
            PEER_INBOX, verdict]


def _target_rows(results: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    for name, b in results["backends"].items():
        rows += _throughput_targets(name, b, results["config"]["concurrency"])
    for name, b in results["backends"].items():
        rows.append(_loop_target(BACKEND_TITLES[name], b["history"]))
    for name, b in results["backends"].items():
        rows.append(_replay_target(BACKEND_TITLES[name], b["history"]))
    for name, b in results["backends"].items():
        rows.append(_inbox_target(BACKEND_TITLES[name], b["inbox"]))
    for name, b in results["backends"].items():
        if "checkpoint" in b:
            rows.append(_checkpoint_target(BACKEND_TITLES[name], b["checkpoint"]))
        if "verify" in b:
            rows.append(_verify_target(BACKEND_TITLES[name], b["verify"]))
    return rows


def _verify_target(title: str, measured: dict[str, Any]) -> list[str]:
    if measured["cases"] >= GOAL_VERIFY_CASES:
        verdict = _verdict(measured["seconds"] < GOAL_VERIFY_S) + _busy(measured)
    else:
        verdict = f"not measured (this run verified {measured['cases']:,} cases)"
    return [f"`audit verify` of {GOAL_VERIFY_CASES:,} cases < {GOAL_VERIFY_S:.0f} s", title,
            f"{measured['seconds']:.1f} s", "— (no peer verifies histories)", verdict]


def render(results: dict[str, Any]) -> str:
    """The whole README."""
    m, cfg = results["machine"], results["config"]
    names = [BACKEND_TITLES[n] for n in results["backends"]]
    figure_rows = [[label, *cells] for label, cells in _figure_rows(results)]
    databases = ", ".join(b["database"] for b in results["backends"].values())
    load = " / ".join(str(x) for x in m["load_average_at_start"])
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench.run` — do not edit: every run rewrites this file "
        "(raw results: `bench/results/latest.json`, not committed).",
        "",
        f"- Date: {results['date']} ({cfg['mode']} run, {results['total_s'] / 60:.1f} min)",
        f"- Machine: {m['nproc']} cores (`nproc`), {m['cpu']}, {m['memory_gib']} GiB RAM, {m['os']}",
        f"- Software: Python {m['python']}, {databases}, SpiffWorkflow {m['spiffworkflow']}, "
        f"waitress {m['waitress']}; ServiceFlow at `{m['commit']}`",
        f"- Load average (1/5/15 min) when the run started: {load}. The machine is shared with other "
        "engineers' test runs: see *CPU during each workload* for who used the cores during each measurement",
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                                  # full run, SQLite and PostgreSQL",
        ".venv/bin/python -m bench.run --quick       # smaller run: 1,000 inbox rows, 200 loops, 200 timers",
        ".venv/bin/python -m bench.run --backends sqlite",
        ".venv/bin/python -m bench.run --workers 2   # pre-forked server (serve --workers 2)",
        ".venv/bin/python -m bench.compare REV      # lifecycle throughput against revision REV, alternately",
        "```",
        "",
        f"This {cfg['mode']} run took {results['total_s'] / 60:.1f} min. PostgreSQL is reached as "
        "`postgresql+psycopg://postgres@127.0.0.1:5432/postgres` "
        "(override with `BENCH_PG_ADMIN_URL`); `make bench` starts it when it is down.",
        "",
        *method_section(results),
        "",
        "## Figures",
        "",
        *_table(["", *names], figure_rows),
        "",
        *_cpu_section(results),
        "## Targets",
        "",
        f"Peer: {PEER}.",
        "",
        *_table(["Goal", "Backend", "ServiceFlow", "Peer", "Verdict"], _target_rows(results)),
        "",
    ]
    return "\n".join(lines)


def write_readme(results: dict[str, Any]) -> Path:
    README.write_text(render(results))
    return README
