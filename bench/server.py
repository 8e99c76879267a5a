"""A throw-away database per backend and a real ``serviceflow serve`` process on it.

The benchmark must measure what a deployment runs (waitress, Flask, the use cases, the database
driver), so the server is the installed console script in its own process, configured only
through the environment as an operator would, and always stopped and cleaned up afterwards.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

BENCH_DIR = Path(__file__).resolve().parent
WORKFLOWS = BENCH_DIR / "workflows"
FORMS = WORKFLOWS / "forms"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SERVER_THREADS = 8
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Backend:
    """A fresh, empty database and the scratch folder the server's instance files go to."""

    name: str
    url: str
    workdir: Path
    workflows: Path = WORKFLOWS
    forms: Path = FORMS

    def env(self) -> dict[str, str]:
        """The environment every ``serviceflow`` command of this run gets: bench diagrams only
        (or the ``workflows`` and ``forms`` folders given), this database, and an instance folder
        that is not the developer's ``instance/``."""
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.url,
            SERVICEFLOW_WORKFLOWS=str(self.workflows),
            SERVICEFLOW_FORMS=str(self.forms),
            SERVICEFLOW_INSTANCE=str(self.workdir / "instance"),
            SECRET_KEY=secrets.token_hex(32),
            SERVICEFLOW_ENV="development",
        )
        return env


def _serviceflow_command() -> list[str]:
    """The console script of the venv running the benchmark (what ``make run`` uses)."""
    script = Path(sys.executable).parent / "serviceflow"
    if script.exists():
        return [str(script)]
    found = shutil.which("serviceflow")
    if found is None:
        raise RuntimeError("the serviceflow console script is not installed (pip install -e .)")
    return [found]


def serviceflow(backend: Backend, *args: str) -> str:
    """Run one ``serviceflow`` CLI command against the backend and return its stdout."""
    result = subprocess.run(
        [*_serviceflow_command(), *args], env=backend.env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"serviceflow {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


@contextmanager
def sqlite_backend() -> Iterator[Backend]:
    """A temp SQLite file, removed with its folder afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="serviceflow_bench_"))
    try:
        yield Backend("sqlite", f"sqlite:///{workdir / 'bench.db'}", workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def postgresql_backend() -> Iterator[Backend]:
    """A freshly created ``serviceflow_bench_<random>`` database, dropped afterwards even if the
    server still holds connections (``WITH (FORCE)``)."""
    name = f"serviceflow_bench_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    workdir = Path(tempfile.mkdtemp(prefix="serviceflow_bench_"))
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield Backend("postgresql", PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", workdir)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


BACKENDS = {"sqlite": sqlite_backend, "postgresql": postgresql_backend}


def database_version(url: str) -> str:
    """The server version the figures were taken on (SQLite: the library linked into Python)."""
    if url.startswith("sqlite"):
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return f"PostgreSQL {conn.scalar(text('SHOW server_version'))}"
    finally:
        engine.dispose()


def settle_database(url: str) -> None:
    """Write back what the previous workload left in memory (PostgreSQL ``CHECKPOINT``, SQLite WAL
    checkpoint) so that its write-back does not land in the next workload's latencies."""
    engine = create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            statement = "PRAGMA wal_checkpoint(TRUNCATE)" if url.startswith("sqlite") else "CHECKPOINT"
            conn.execute(text(statement))
    finally:
        engine.dispose()


def free_port() -> int:
    """A port nobody listens on now (the tiny race until the server binds it is acceptable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running ``serviceflow serve`` (or ``worker``); its output goes to a log file so that a
    failure can be shown."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _wait_until_ready(server: Server) -> None:
    """Poll the public OpenAPI document: the app has been built and waitress accepts requests."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            raise RuntimeError(f"serviceflow serve exited with {code}:\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"serviceflow serve did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n{server.log_tail()}"
    )


def stop(server: Server) -> None:
    """SIGTERM, then SIGKILL if it lingers: only this process, which the benchmark started."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)


@contextmanager
def running_server(backend: Backend, threads: int = SERVER_THREADS, workers: int = 1,
                   name: str = "server") -> Iterator[Server]:
    """``serviceflow serve`` on 127.0.0.1 and a free port, stopped however the block ends.
    ``workers`` > 1 asks for the pre-forked multi-process server; 1 is the default single process.
    ``name`` names its log file (``<workdir>/<name>.log``), so several servers can share a backend."""
    port = free_port()
    log_path = backend.workdir / f"{name}.log"
    command = [*_serviceflow_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
               "--threads", str(threads)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=backend.env(), stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, port, log_path)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        stop(server)


def start_worker(backend: Backend, name: str, poll_seconds: float = 0.2, batch: int = 50) -> Server:
    """A ``serviceflow worker`` subprocess (port 0: it serves nothing), logging to
    ``<workdir>/<name>.log``; the caller stops it with ``stop`` (see ``running_workers``)."""
    log_path = backend.workdir / f"{name}.log"
    command = [*_serviceflow_command(), "worker", "--poll", str(poll_seconds), "--batch", str(batch)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=backend.env(), stdout=log, stderr=subprocess.STDOUT)
    return Server(process, 0, log_path)


def wait_for_workers(workers: list[Server], timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Until every worker has logged ``worker started`` (its context is built and it polls)."""
    deadline = time.monotonic() + timeout_s
    waiting = list(workers)
    while waiting:
        for worker in list(waiting):
            if worker.process.poll() is not None:
                raise RuntimeError(f"serviceflow worker exited with {worker.process.returncode}:\n"
                                   f"{worker.log_tail()}")
            if worker.log_path.exists() and "worker started" in worker.log_path.read_text(errors="replace"):
                waiting.remove(worker)
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"serviceflow worker did not start within {timeout_s:.0f} s:\n"
                               f"{waiting[0].log_tail()}")
        time.sleep(0.1)


@contextmanager
def running_workers(backend: Backend, count: int, poll_seconds: float = 0.2) -> Iterator[list[Server]]:
    """``count`` ``serviceflow worker`` processes on the backend, ready (see ``wait_for_workers``),
    each stopped however the block ends."""
    workers: list[Server] = []
    try:
        for n in range(count):
            workers.append(start_worker(backend, f"worker{n + 1}", poll_seconds))
        wait_for_workers(workers)
        yield workers
    finally:
        for worker in workers:
            stop(worker)


def peak_rss_mib(pid: int) -> float:
    """The peak resident memory of a running process (``VmHWM`` of ``/proc/PID/status``), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")
