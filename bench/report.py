"""The results as ``bench/results/latest.json`` and as ``bench/README.md`` (rewritten every run).

Every figure in the README is read from the results of the run that writes it; the only
constants here are the goals and the peer's published figures they are compared with.
"""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.server import BENCH_DIR

README = BENCH_DIR / "README.md"
RESULTS = BENCH_DIR / "results" / "latest.json"

GOAL_CASES_PER_S = 100.0
GOAL_HISTORY_RATIO = 1.5
GOAL_INBOX_P95_MS = 20.0
GOAL_INBOX_ROWS = 100_000
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
        "nproc": int(nproc) if nproc.isdigit() else None, "cpu": _cpu_model(), "memory_gib": round(_memory_gib(), 1),
        "os": platform.platform(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "spiffworkflow": metadata.version("SpiffWorkflow"), "waitress": metadata.version("waitress"),
    }


def write_json(results: dict[str, Any]) -> Path:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return RESULTS


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _figure_rows(results: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(label, one cell per backend) for the figures table."""
    backends = results["backends"]
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Any) -> None:
        rows.append((label, [cell(b) for b in backends.values()]))

    row("Database", lambda b: b["database"])
    row(f"Lifecycle throughput ({results['config']['concurrency']} clients)",
        lambda b: f"{b['lifecycle']['cases_per_s']:.1f} cases/s")
    row("Task completion, median / p95",
        lambda b: f"{_ms(b['lifecycle']['completion']['median_ms'])} / {_ms(b['lifecycle']['completion']['p95_ms'])}")
    row("Case start, median / p95",
        lambda b: f"{_ms(b['lifecycle']['start']['median_ms'])} / {_ms(b['lifecycle']['start']['p95_ms'])}")
    row("Pure engine, same diagram (1 thread)", lambda b: f"{results['engine']['cases_per_s']:.0f} cases/s")
    row("HTTP / engine throughput",
        lambda b: f"{b['http_engine_ratio']:.3f} ({1 / b['http_engine_ratio']:.0f}× slower)")
    for point in next(iter(backends.values()))["history"]["points"]:
        row(f"Loop completion #{point} (median of {results['config']['history_window']})",
            lambda b, p=point: _ms(b["history"]["points"][p]["median_ms"]))
    row("Loop #last / #1", lambda b: f"{b['history']['ratio_last_first']:.2f}× (#{b['history']['last_checkpoint']})")
    for size in next(iter(backends.values()))["inbox"]:
        row(f"Inbox at {int(size):,} open cases, median / p95",
            lambda b, s=size: f"{_ms(b['inbox'][s]['median_ms'])} / {_ms(b['inbox'][s]['p95_ms'])}")
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _throughput_targets(name: str, b: dict[str, Any]) -> list[list[str]]:
    life = b["lifecycle"]
    verdict = _verdict(life["cases_per_s"] >= GOAL_CASES_PER_S) if name == "sqlite" else "— (goal is for SQLite)"
    completion = life["completion"]["median_ms"]
    vs_peer = f"{PEER_COMPLETION_MS / completion:.1f}× faster" if completion < PEER_COMPLETION_MS else "slower"
    return [
        [f"Lifecycle ≥ {GOAL_CASES_PER_S:.0f} cases/s", BACKEND_TITLES[name], f"{life['cases_per_s']:.1f} cases/s",
         f"{PEER_CASES_PER_S} cases/s", verdict],
        ["Task completion (median; no goal, peer only)", BACKEND_TITLES[name], _ms(completion),
         f"{PEER_COMPLETION_MS:.0f} ms", vs_peer],
    ]


def _scaling_targets(name: str, b: dict[str, Any]) -> list[list[str]]:
    hist, title = b["history"], BACKEND_TITLES[name]
    points = hist["points"]
    loop_value = " → ".join(f"{_ms(points[p]['median_ms'])} (#{p})" for p in points)
    if "1000" in points:
        ratio = points["1000"]["median_ms"] / points["1"]["median_ms"]
        loop_verdict = f"{ratio:.2f}×: {_verdict(ratio <= GOAL_HISTORY_RATIO)}"
    else:
        loop_verdict = f"not measured (run stopped at #{hist['last_checkpoint']})"
    largest = max(b["inbox"], key=int)
    inbox = b["inbox"][largest]
    if int(largest) >= GOAL_INBOX_ROWS:
        inbox_verdict = _verdict(inbox["p95_ms"] <= GOAL_INBOX_P95_MS)
    else:
        inbox_verdict = f"not measured (largest inbox {int(largest):,})"
    return [
        [f"Loop #1000 ≤ {GOAL_HISTORY_RATIO}× #1", title, loop_value, PEER_LOOP, loop_verdict],
        [f"Inbox p95 ≤ {GOAL_INBOX_P95_MS:.0f} ms at {GOAL_INBOX_ROWS:,} open cases", title,
         " · ".join(f"{_ms(b['inbox'][s]['p95_ms'])} at {int(s):,}" for s in b["inbox"]), PEER_INBOX, inbox_verdict],
    ]


def _target_rows(results: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    for name, b in results["backends"].items():
        rows += _throughput_targets(name, b)
    for name, b in results["backends"].items():
        rows += _scaling_targets(name, b)
    return rows


def _first_history(results: dict[str, Any]) -> dict[str, Any]:
    return next(iter(results["backends"].values()))["history"]


def _method(results: dict[str, Any]) -> list[str]:
    cfg = results["config"]
    seed = cfg["inbox_seed"]
    return [
        "## Method",
        "",
        "Every HTTP figure is taken through the real server: `serviceflow serve` (waitress, "
        f"{cfg['server_threads']} threads) started as a subprocess on 127.0.0.1 and a free port, with "
        "`SERVICEFLOW_WORKFLOWS=bench/workflows`, `SERVICEFLOW_FORMS=bench/workflows/forms` and a fresh "
        "database per backend (a temp SQLite file, or a new PostgreSQL database `serviceflow_bench_<random>` "
        "dropped afterwards), after `serviceflow setup --demo`; the client authenticates with a token from "
        "`serviceflow token create sales1`. Clients use keep-alive `http.client` connections in the same "
        f"machine's benchmark process, so client and server share its {results['machine']['nproc']} cores. "
        "Latency is from sending a request to reading the last byte of its answer; every answer is checked.",
        "",
        f"1. **Lifecycle** — {cfg['lifecycle_cases']} cases of `bench_lifecycle` shared by "
        f"{cfg['concurrency']} client threads (one keep-alive connection each): `POST /api/v1/cases`, then "
        "`POST /api/v1/tasks/ID/complete` for Step 1..5 with valid data, each next task id taken from the "
        "answer's `open_tasks`; odd cases take the `amount > 50` branch. Throughput = cases / wall-clock time "
        "of the batch (after 3 warm-up cases); latency percentiles are over every task completion.",
        f"   **Pure engine** — the same diagram in this process, one thread, {results['engine']['cases']} cases: "
        "`bundles_from_directory` + `parse_bundle`, `CaseRuntime.start(process, make_script_engine(), {})`, "
        "then per step `CaseRuntime.restore` from the last `dump()`, `complete`, `dump()`; no database, no HTTP.",
        f"2. **History** — one `bench_loop` case whose task is completed {cfg['history_iterations']:,} times "
        "(again=true until the last) by one client. The figure at #N is the median of "
        f"{cfg['history_window']} consecutive completions around #N ("
        + "; ".join(f"#{p}: #{w['from']}–#{w['to']}" for p, w in _first_history(results)["points"].items())
        + "). The server keeps the live workflow between requests (runtime cache), as in production.",
        f"3. **Inbox** — {cfg['inbox_requests']} sequential `GET /api/v1/inbox` (first page, default limit "
        "100) as sales1 after 10 warm-up requests, with "
        + ", ".join(f"{s:,}" for s in cfg["inbox_sizes"])
        + " open cases each waiting at Step 1 in the sales inbox (the only open tasks in the database). "
        f"Seeding: the first {seed:,} cases are started through the real use case "
        "(`engine.services.cases.start_case`, in the benchmark process, on the same database); their rows in "
        "`cases`, `case_states`, `work_items` and `case_events` are then bulk-copied with SQL "
        "`INSERT … SELECT` under new ids (case id, task id — also inside the stored workflow state — and the "
        "`#id` in titles renumbered; all other columns, including `created_at`, copied as written) until the "
        "target count is reached. The copies' event hash chains do not verify (the hash covers the case "
        "id); the inbox does not read them. PostgreSQL gets `ANALYZE` after seeding; SQLite gets nothing "
        "the app would not do itself.",
    ]


def render(results: dict[str, Any]) -> str:
    """The whole README."""
    m, cfg = results["machine"], results["config"]
    names = [BACKEND_TITLES[n] for n in results["backends"]]
    figure_rows = [[label, *cells] for label, cells in _figure_rows(results)]
    databases = ", ".join(b["database"] for b in results["backends"].values())
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench.run` — do not edit: every run rewrites this file "
        "(raw results: `bench/results/latest.json`, not committed).",
        "",
        f"- Date: {results['date']} ({cfg['mode']} run, {results['total_s'] / 60:.1f} min)",
        f"- Machine: {m['nproc']} cores (`nproc`), {m['cpu']}, {m['memory_gib']} GiB RAM, {m['os']}",
        f"- Software: Python {m['python']}, {databases}, SpiffWorkflow {m['spiffworkflow']}, "
        f"waitress {m['waitress']}",
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                                  # full run, SQLite and PostgreSQL (~10 min)",
        ".venv/bin/python -m bench.run --quick       # smaller run (~2 min)",
        ".venv/bin/python -m bench.run --backends sqlite",
        "```",
        "",
        "PostgreSQL is reached as `postgresql+psycopg://postgres@127.0.0.1:5432/postgres` "
        "(override with `BENCH_PG_ADMIN_URL`); `make bench` starts it when it is down.",
        "",
        *_method(results),
        "",
        "## Figures",
        "",
        *_table(["", *names], figure_rows),
        "",
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
