"""The server's side of the sandbox: a pool of pre-started sandbox processes (engine.sandbox.child).

A request thread borrows a process, sends one request and waits on its pipe without holding the
GIL; a process that overruns its CPU or memory limit dies (the kernel kills it), one that does not
answer in ``WALL_LIMIT_S`` is killed here, and either way it is replaced. One pool per server
process: a pool inherited through fork (gunicorn) is left alone and a new one is started.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from engine.errors import ScriptError
from engine.sandbox import wire
from engine.sandbox.guards import MAX_MEMORY_GROWTH, TIME_LIMIT_S

WALL_LIMIT_S = max(60.0, 30 * TIME_LIMIT_S)  # the kernel stops CPU overruns; this is for the unforeseen
START_LIMIT_S = 60.0
BORROW_LIMIT_S = 30.0
DEFAULT_SIZE = 8
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SandboxFailed(ScriptError):
    """The sandbox process died or hung while running a script; the message names the bound."""


def _death(returncode: int | None, timed_out: bool) -> str:
    if timed_out:
        return f"Script stopped: it did not finish within {WALL_LIMIT_S:g} s"
    if returncode == -signal.SIGXCPU:
        return f"Script stopped: it used more than {TIME_LIMIT_S:g} s of CPU time"
    if returncode in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS):
        return f"Script stopped: its sandbox process was ended ({signal.Signals(-returncode).name}), " \
               f"most likely by the {MAX_MEMORY_GROWTH >> 20} MB memory limit"
    return f"Script stopped: its sandbox process ended unexpectedly (exit status {returncode})"


class SandboxProcess:
    """One sandbox process and its two pipes."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-E", "-s", "-m", "engine.sandbox.child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_PROJECT_ROOT, env={}, close_fds=True,
        )
        try:
            hello = wire.read_frame_before(self.proc.stdout.fileno(), time.monotonic() + START_LIMIT_S)
        except (wire.ChannelClosed, wire.ChannelTimeout) as exc:
            self.kill()
            raise SandboxFailed(f"The script sandbox could not be started: {exc}") from None
        if not hello.get("ready"):
            self.kill()
            raise SandboxFailed("The script sandbox could not be started")

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to ``request``; SandboxFailed (the process is then dead) if there is none."""
        timed_out = False
        try:
            self.proc.stdin.write(wire.dumps(request))
            self.proc.stdin.flush()
            return wire.read_frame_before(self.proc.stdout.fileno(), time.monotonic() + WALL_LIMIT_S)
        except wire.ChannelTimeout:
            timed_out = True
        except (wire.ChannelClosed, OSError):
            pass
        self.kill()
        raise SandboxFailed(_death(self.proc.returncode, timed_out))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class SandboxPool:
    """Up to ``size`` sandbox processes, started when first needed and kept for the next request."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = max(1, size)
        self.pid = os.getpid()
        self._idle: list[SandboxProcess] = []
        self._count = 0
        self.served = 0  # requests answered, for the benchmark's count of calls per case
        self._cond = threading.Condition()

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        process = self._borrow()
        healthy = False
        try:
            reply = process.call(request)
            healthy = not reply.get("retire")
            self.served += 1
            return reply
        finally:
            self._give_back(process, healthy)

    def _borrow(self) -> SandboxProcess:
        deadline = time.monotonic() + BORROW_LIMIT_S
        with self._cond:
            while not self._idle and self._count >= self.size:
                if not self._cond.wait(deadline - time.monotonic()):
                    raise SandboxFailed(f"Script waited {BORROW_LIMIT_S:g} s for a free sandbox process")
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return SandboxProcess()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _give_back(self, process: SandboxProcess, healthy: bool) -> None:
        if not healthy:
            process.kill()
        with self._cond:
            if healthy:
                self._idle.append(process)
            else:
                self._count -= 1
            self._cond.notify()

    def warm(self, count: int) -> None:
        """Start ``count`` processes ahead of the first request (server start-up)."""
        started = [self._borrow() for _ in range(min(count, self.size))]
        for process in started:
            self._give_back(process, True)

    def close(self) -> None:
        """Stop the idle processes (busy ones stop when their pipe closes)."""
        if os.getpid() != self.pid:
            return
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for process in idle:
            process.kill()

    def busy(self) -> int:
        """How many processes are running a request now."""
        with self._cond:
            return self._count - len(self._idle)


_pool: SandboxPool | None = None
_pool_lock = threading.Lock()
_configured_size = DEFAULT_SIZE


def configure(size: int) -> None:
    """The most sandbox processes this server process runs at once (Settings.sandbox_processes)."""
    global _configured_size
    _configured_size = max(1, size)
    if _pool is not None and _pool.pid == os.getpid():
        _pool.size = max(_pool.size, _configured_size)


def pool() -> SandboxPool:
    """This server process's pool, started on first use (and again after a fork)."""
    global _pool
    current = _pool
    if current is not None and current.pid == os.getpid():
        return current
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = SandboxPool(_configured_size)
            atexit.register(_pool.close)
        return _pool
