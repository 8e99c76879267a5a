"""Who used the CPU while a workload ran: the benchmark, PostgreSQL, or someone else.

The machine is shared (other engineers run test suites on the same two cores), and a figure taken
while another process ate a core is not comparable with one taken on an idle machine. Measuring
the other processes' CPU during each workload lets the report say so instead of hiding it.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter, sleep

TICK = os.sysconf("SC_CLK_TCK")
BUSY_THRESHOLD_CORES = 0.2


def _machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICK


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process, 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / TICK


def _postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process (the server is shared, so this counts others' too)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    total += _process_cpu_s(int(entry.name))
            except OSError:
                continue
    return total


def _with_children(pids: tuple[int, ...]) -> set[int]:
    """The processes and their children (a pre-forked server's workers)."""
    found = set(pids)
    for pid in pids:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        found |= {int(c) for c in children}
    return found


def _own_cpu_s(pids: tuple[int, ...]) -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + sum(_process_cpu_s(p) for p in _with_children(pids))


@contextmanager
def cpu_watch(*pids: int) -> Iterator[dict[str, float]]:
    """Yield a dict filled on exit with the average cores used during the block by this process
    plus ``pids`` (the server), by PostgreSQL, and by everything else."""
    result: dict[str, float] = {}
    start = (perf_counter(), _machine_busy_s(), _own_cpu_s(pids), _postgres_cpu_s())
    try:
        yield result
    finally:
        wall = perf_counter() - start[0]
        busy = _machine_busy_s() - start[1]
        own = _own_cpu_s(pids) - start[2]
        postgres = _postgres_cpu_s() - start[3]
        result.update(
            wall_s=wall, own_cores=own / wall, postgres_cores=max(0.0, postgres) / wall,
            other_cores=max(0.0, busy - own - postgres) / wall,
        )


def wait_for_quiet(max_wait_s: float, probe_s: float = 2.0) -> float:
    """Wait until the machine's cores are idle (under ``BUSY_THRESHOLD_CORES`` for ``probe_s``),
    at most ``max_wait_s``; returns the seconds waited. Called between workloads, when the
    benchmark's own processes are idle, so that a test suite someone else started does not
    share the CPU with a measurement when a short wait avoids it."""
    began = perf_counter()
    while True:
        start = _machine_busy_s()
        sleep(probe_s)
        if (_machine_busy_s() - start) / probe_s < BUSY_THRESHOLD_CORES:
            break
        if perf_counter() - began >= max_wait_s:
            break
    return perf_counter() - began
