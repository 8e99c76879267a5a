"""The sandbox process: reads requests on stdin, runs each with engine.sandbox.runner, answers on
stdout. The server starts a few of these (engine.sandbox.pool) and kills any that overrun.

Why a process: a single C-level operation (``pow(7, 10**k, 10**k + 1)``, ``[*s, *s]``) cannot be
interrupted inside the server and holds the GIL, freezing every request. Here the operating system
bounds it: the address-space limit turns a huge allocation into MemoryError, the CPU limit kills
the process outright when Python's own timer signal cannot run, and the server only waits on a
pipe. The process also gets no environment (no database URL, no secret key), may not write files
or start processes, and runs at a lower priority than the server.
"""

from __future__ import annotations

import math
import os
import resource
import sys
from typing import Any

from engine.sandbox import runner, wire
from engine.sandbox.guards import MAX_MEMORY_GROWTH, TIME_LIMIT_S

RETIRE_AFTER_REQUESTS = 20_000
RETIRE_ABOVE_RSS = 128 * 2**20  # growth past the starting RSS after which a fresh process is better
NICENESS = 5


def _statm() -> tuple[int, int]:
    """(address space, resident set) in bytes."""
    with open("/proc/self/statm", "rb") as statm:
        size, rss = statm.read().split()[:2]
    page = os.sysconf("SC_PAGE_SIZE")
    return int(size) * page, int(rss) * page


def _limit(which: int, soft: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def _restrict() -> int:
    """Limits for the whole life of the process; returns the RSS it started with."""
    size, rss = _statm()
    _limit(resource.RLIMIT_AS, size + MAX_MEMORY_GROWTH)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_FSIZE, 0)
    _limit(resource.RLIMIT_NPROC, 0)
    os.nice(NICENESS)
    return rss


def _cpu_budget() -> None:
    """The CPU time this request may use before the kernel kills the process (SIGXCPU): a second
    past the Python timer's limit, for C code that never returns to the interpreter."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _limit(resource.RLIMIT_CPU, math.ceil(usage.ru_utime + usage.ru_stime + TIME_LIMIT_S) + 1)


def _answer(request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        return {"error": "script", "message": "Script refused: a malformed request", "line": None}
    _cpu_budget()
    return runner.run(request)


def main() -> None:
    """Serve requests until the server closes the pipe."""
    runner.install()
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by accident goes to the log, not into a reply
    started_rss = _restrict()
    wire.write_frame(replies, {"ready": True, "pid": os.getpid()})
    for served in range(1, RETIRE_AFTER_REQUESTS + 1):
        try:
            request = wire.read_frame(requests)
        except wire.ChannelClosed:
            return
        except (ValueError, RecursionError, MemoryError):
            request = None
        reply = _answer(request)
        reply["retire"] = bool(reply.get("retire")) or served == RETIRE_AFTER_REQUESTS \
            or _statm()[1] - started_rss > RETIRE_ABOVE_RSS
        wire.write_frame(replies, reply)
        if reply["retire"]:
            return


if __name__ == "__main__":
    sys.exit(main())
