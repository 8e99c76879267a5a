"""Lifecycle cost of this tree against an earlier revision: the check that a change keeps what it
may cost (the sandbox's budget: at most 15% of the lifecycle throughput before it; the auditors'
history: at most 10% more per task completion).

Usage: ``python -m bench.compare REV [--cases 300] [--rounds 3] [--no-instructions]``. REV is
checked out into a temporary git worktree with its own ``make install``. Two measurements, each on
REV and on this tree:

- **Instructions per case** (when valgrind is installed): the lifecycle (one start, five task
  completions with the benchmark's data) run through the app's WSGI stack in one process, the
  Flask test client standing in for the socket server, on a fresh SQLite database, under
  valgrind's callgrind, once with a few cases and once with more (both after the same warm-up);
  the difference of the two counts over the difference of cases is what one case costs in
  instructions, start-up and warm-up cancelled out (one case run before either count, outside
  valgrind, compiles and caches every module's bytecode). Only the main thread is counted, where the
  test client runs every request: the other threads are Argon2's (the dummy password hash made
  at import, the same on every run), whose share of valgrind's total varies from run to run.
  The count does not depend on the machine's load, so it is the figure that tells a few percent
  apart on a shared machine. The sandbox's own processes (one expression per case on both sides)
  are not counted.
- **Rounds through the real server**: each round runs the lifecycle batch (SQLite, a fresh
  database, ``serviceflow serve``, 4 clients, 20 warm-up cases) on REV, then on this tree, so that
  drift in the machine's load hits both alike: throughput (cases per second of wall-clock time)
  and the server's CPU time per case (user and system time of the server process over the
  measured batch, read from /proc). On a machine shared with other work both move by tens of
  percent from one round to the next.

The result is printed and written to ``bench/COMPARE.md`` (rewritten every run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import machine_info

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "COMPARE.md"
FIGURES = (("cases_per_s", "cases/s"), ("cpu_ms_per_case", "ms CPU/case"))
FEW, MORE, WARM_UP = 2, 12, 5

# Run by each tree's own Python with that tree on PYTHONPATH, so each side uses its own code.
ONE_RUN = """
import json, os, sys
from bench.server import BACKENDS, running_server, serviceflow
from bench import workloads

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

cases = int(sys.argv[1])
with BACKENDS["sqlite"]() as backend:
    serviceflow(backend, "setup", "--demo")
    token = serviceflow(backend, "token", "create", "sales1").strip()
    with running_server(backend, 8, 1) as server:
        workloads.lifecycle_http(server.port, token, 20, 4)
        before = cpu_seconds(server.process.pid)
        result = workloads.lifecycle_http(server.port, token, cases, 4)
        cpu = cpu_seconds(server.process.pid) - before
print(json.dumps({"cases_per_s": result["cases_per_s"], "cpu_ms_per_case": cpu * 1000 / cases}))
"""

# The lifecycle in one process, run under callgrind: ``WARM_UP`` cases, then the counted ones.
IN_PROCESS = """
import os, sys
from web import create_app
from bench.workloads import LIFECYCLE, STEPS, step_data

client = create_app().test_client()
headers = {"Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}

def one_case(case_no):
    view = client.post("/api/v1/cases", json={"process": LIFECYCLE, "data": {}}, headers=headers).get_json()
    for step in range(1, STEPS + 1):
        task_id = view["open_tasks"][0]["id"]
        view = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": step_data(case_no, step)},
                           headers=headers).get_json()
    if view["status"] != "completed":
        raise SystemExit(f"case {view['id']} did not complete: {view}")

for case_no in range(int(sys.argv[1]) + int(sys.argv[2])):
    one_case(case_no)
"""

ONE_COUNT = """
import json, subprocess, sys
from bench.server import BACKENDS, serviceflow

warm_up, cases, program = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with BACKENDS["sqlite"]() as backend:
    serviceflow(backend, "setup", "--demo")
    token = serviceflow(backend, "token", "create", "sales1").strip()
    env = {**backend.env(), "PYTHONHASHSEED": "0", "BENCH_TOKEN": token}
    # One case first without valgrind, so that every module's bytecode is compiled and cached
    # before counting: a fresh checkout would otherwise pay for compiling in the first count only.
    subprocess.run([sys.executable, "-c", program, "0", "1"], env=env, capture_output=True, check=True)
    out = backend.workdir / "callgrind.out"
    subprocess.run(["valgrind", "--tool=callgrind", "--cache-sim=no", "--separate-threads=yes",
                    f"--callgrind-out-file={out}", sys.executable, "-c", program, str(warm_up), str(cases)],
                   env=env, capture_output=True, text=True, check=True)
    main_thread = (backend.workdir / "callgrind.out-01").read_text()
summary = next(line for line in main_thread.splitlines() if line.startswith("summary:"))
print(json.dumps({"instructions": int(summary.split()[1])}))
"""


def _run(tree: Path, program: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([str(tree / ".venv" / "bin" / "python"), "-c", program, *args], cwd=tree,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(tree: Path, cases: int) -> dict[str, float]:
    return _run(tree, ONE_RUN, str(cases))


def _instructions_per_case(tree: Path) -> float:
    counts = {n: _run(tree, ONE_COUNT, str(WARM_UP), str(n), IN_PROCESS)["instructions"] for n in (FEW, MORE)}
    return (counts[MORE] - counts[FEW]) / (MORE - FEW)


def _change(before: list[float], after: list[float]) -> str:
    return f"{(statistics.median(after) / statistics.median(before) - 1) * 100:+.1f}%"


def _report(args: argparse.Namespace, before: list[dict[str, float]], after: list[dict[str, float]],
            instructions: tuple[float, float] | None, started: str, load_at_start: list[float],
            load_at_end: list[float]) -> str:
    """The comparison as Markdown: the instruction counts, every round (so that a noisy one
    shows) and the rounds' medians."""
    machine: dict[str, Any] = machine_info()
    rev = subprocess.run(["git", "rev-parse", "--short", args.rev], cwd=ROOT, capture_output=True, text=True,
                         check=False).stdout.strip() or args.rev
    lines = [
        "# Lifecycle cost against an earlier revision",
        "",
        "Generated by `python -m bench.compare REV` — do not edit: every run rewrites this file. The method is in "
        "the docstring of `bench/compare.py`.",
        "",
        f"- Date: {started}",
        f"- This tree: `{machine['commit']}`; earlier revision: `{rev}` (`{args.rev}`)",
        f"- Machine: {machine['nproc']} cores, {machine['cpu']}, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}",
        f"- Load average (1/5/15 min) at the start and at the end: "
        f"{' / '.join(map(str, load_at_start))}; {' / '.join(map(str, load_at_end))}",
        "",
        "## Instructions per case",
        "",
    ]
    if instructions is None:
        lines.append("Not measured (valgrind is not installed, or `--no-instructions`).")
    else:
        old, new = instructions
        lines += [
            f"One start and five task completions through the WSGI app in one process (valgrind callgrind, "
            f"({MORE} − {FEW} cases) after {WARM_UP} warm-up cases):",
            "",
            "| earlier | this tree | change |",
            "|---|---|---|",
            f"| {old / 1e6:.1f} M | {new / 1e6:.1f} M | {(new / old - 1) * 100:+.1f}% |",
        ]
    lines += ["", "## Rounds through the real server", ""]
    if not before:
        lines.append("Not run (`--rounds 0`).")
        return "\n".join(lines) + "\n"
    lines += [
        f"{args.rounds} rounds of {args.cases} cases (SQLite, `serviceflow serve`, 4 clients, 20 warm-up cases), "
        "the earlier revision first in each round. ms CPU/case is the server process's user and system time over "
        "the measured batch divided by its cases.",
        "",
        "| round | earlier cases/s | this tree cases/s | earlier ms CPU/case | this tree ms CPU/case |",
        "|---|---|---|---|---|",
    ]
    for n, (old_run, new_run) in enumerate(zip(before, after, strict=True), start=1):
        lines.append(f"| {n} | {old_run['cases_per_s']:.1f} | {new_run['cases_per_s']:.1f} "
                     f"| {old_run['cpu_ms_per_case']:.1f} | {new_run['cpu_ms_per_case']:.1f} |")
    lines += ["", "| median | earlier | this tree | change |", "|---|---|---|---|"]
    for figure, unit in FIGURES:
        old_runs, new_runs = [run[figure] for run in before], [run[figure] for run in after]
        lines.append(f"| {unit} | {statistics.median(old_runs):.1f} | {statistics.median(new_runs):.1f} "
                     f"| {_change(old_runs, new_runs)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-instructions", action="store_true", help="skip the valgrind count")
    args = parser.parse_args(argv)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    count = not args.no_instructions and shutil.which("valgrind") is not None
    instructions = None
    before, after = [], []
    with tempfile.TemporaryDirectory(prefix="serviceflow-compare-") as scratch:
        base = Path(scratch) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.rev], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            subprocess.run(["make", "install"], cwd=base, check=True, capture_output=True)
            if count:
                instructions = (_instructions_per_case(base), _instructions_per_case(ROOT))
                print(f"instructions per case: {args.rev} {instructions[0] / 1e6:.1f} M, this tree "
                      f"{instructions[1] / 1e6:.1f} M ({(instructions[1] / instructions[0] - 1) * 100:+.1f}%)",
                      flush=True)
            for round_no in range(1, args.rounds + 1):
                before.append(_measure(base, args.cases))
                after.append(_measure(ROOT, args.cases))
                print(f"round {round_no}: {args.rev} {before[-1]['cases_per_s']:.1f} cases/s "
                      f"{before[-1]['cpu_ms_per_case']:.1f} ms CPU/case, this tree {after[-1]['cases_per_s']:.1f} "
                      f"cases/s {after[-1]['cpu_ms_per_case']:.1f} ms CPU/case", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    for figure, unit in FIGURES if before else ():
        old = [run[figure] for run in before]
        new = [run[figure] for run in after]
        print(f"median {unit}: {args.rev} {statistics.median(old):.1f}, this tree {statistics.median(new):.1f} "
              f"({_change(old, new)})")
    REPORT.write_text(_report(args, before, after, instructions, started, load_at_start,
                                    [round(x, 2) for x in os.getloadavg()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
