"""Lifecycle throughput of this tree against an earlier revision, measured alternately on this
machine: the check that a change keeps what it may cost (the sandbox's budget: at most 15% of
the lifecycle throughput before it).

Usage: ``python -m bench.compare REV [--cases 300] [--rounds 3]``. REV is checked out into a
temporary git worktree with its own ``make install``; each round runs the lifecycle batch (SQLite,
a fresh database, the real server, 4 clients, 20 warm-up cases) on REV, then on this tree, so
that drift in the machine's load hits both alike. Prints each round and the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_RUN = """
import json, sys
from bench.server import BACKENDS, running_server, serviceflow
from bench import workloads
with BACKENDS["sqlite"]() as backend:
    serviceflow(backend, "setup", "--demo")
    token = serviceflow(backend, "token", "create", "sales1").strip()
    with running_server(backend, 8, 1) as server:
        workloads.lifecycle_http(server.port, token, 20, 4)
        result = workloads.lifecycle_http(server.port, token, int(sys.argv[1]), 4)
print(json.dumps({"cases_per_s": result["cases_per_s"]}))
"""


def _throughput(tree: Path, cases: int) -> float:
    out = subprocess.run([str(tree / ".venv" / "bin" / "python"), "-c", ONE_RUN, str(cases)], cwd=tree,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)}, capture_output=True, text=True,
                         check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["cases_per_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("rev")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="serviceflow-compare-") as scratch:
        base = Path(scratch) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.rev], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            subprocess.run(["make", "install"], cwd=base, check=True, capture_output=True)
            before, after = [], []
            for round_no in range(1, args.rounds + 1):
                before.append(_throughput(base, args.cases))
                after.append(_throughput(ROOT, args.cases))
                print(f"round {round_no}: {args.rev} {before[-1]:.1f} cases/s, this tree {after[-1]:.1f} cases/s",
                      flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    ratio = statistics.median(after) / statistics.median(before)
    print(f"median: {args.rev} {statistics.median(before):.1f} cases/s, this tree "
          f"{statistics.median(after):.1f} cases/s ({(ratio - 1) * 100:+.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
