"""Scale-out on PostgreSQL: two real ``serviceflow serve`` processes and two ``serviceflow worker``
processes on one database serve one set of cases consistently. Cases started through one server
are worked through either; the same task completed on both at once succeeds exactly once (the
other answers 409); both servers answer the same state and a history whose hash chain verifies;
and each case's timer (due two seconds after its task opened, on the real clock) fires exactly
once although two workers look for it.

PostgreSQL only: SQLite supports one worker and is not a scale-out set-up. Skipped when PostgreSQL
is unreachable, except where CI is set (then it fails, as ``tests/conftest.py`` does)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bench.server import Backend, Server, running_server, running_workers, serviceflow
from tests.conftest import PG_ADMIN_URL, _pg_reachable

DIAGRAM = Path(__file__).resolve().parents[1] / "data" / "timers" / "timer_scale_out.bpmn"
PROCESS = "timer_scale_out"
CASES = 6
TIMER_WAIT_S = 15.0


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    """A fresh PostgreSQL database with only the scale-out diagram published, dropped afterwards."""
    problem = _pg_reachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    workflows, forms = tmp_path / "workflows", tmp_path / "forms"
    workflows.mkdir()
    forms.mkdir()
    shutil.copy(DIAGRAM, workflows / DIAGRAM.name)
    name = f"serviceflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield Backend("postgresql", PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", tmp_path, workflows, forms)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _call(server: Server, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """(status, decoded JSON) of one request on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request(method, f"/api/v1{path}", body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _ok(server: Server, token: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    status, answer = _call(server, token, method, path, body)
    assert status == expect, (method, path, status, answer)
    return answer


def _only_task(view: dict[str, Any], title: str) -> str:
    assert [task["title"] for task in view["open_tasks"]] == [title], view["open_tasks"]
    return str(view["open_tasks"][0]["id"])


def _state(view: dict[str, Any]) -> tuple[Any, ...]:
    """What both servers must agree on about a case."""
    tasks = sorted((t["id"], t["title"], t["department"]) for t in view["open_tasks"])
    return view["id"], view["status"], view["version"], tuple(tasks)


def _race(servers: list[Server], token: str, task_id: str) -> list[int]:
    """The same completion sent to every server at the same moment; the statuses, sorted."""
    barrier, statuses = threading.Barrier(len(servers)), []

    def send(server: Server) -> None:
        barrier.wait()
        statuses.append(_call(server, token, "POST", f"/tasks/{task_id}/complete", {"data": {}})[0])

    threads = [threading.Thread(target=send, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return sorted(statuses)


def _escalated(server: Server, token: str, case_ids: list[int]) -> bool:
    views = [_ok(server, token, "GET", f"/cases/{case_id}") for case_id in case_ids]
    return all([t["title"] for t in v["open_tasks"]] == ["Handle the escalated request"] for v in views)


def test_two_servers_and_two_workers_serve_one_set_of_cases(backend: Backend) -> None:
    serviceflow(backend, "setup", "--demo")
    sales = serviceflow(backend, "token", "create", "sales1").strip()
    auditor = serviceflow(backend, "token", "create", "auditor1").strip()
    with ExitStack() as stack:
        a = stack.enter_context(running_server(backend, threads=4, name="server_a"))
        b = stack.enter_context(running_server(backend, threads=4, name="server_b"))
        stack.enter_context(running_workers(backend, 2, poll_seconds=0.5))

        started = [_ok(a, sales, "POST", "/cases", {"process": PROCESS, "data": {}}, expect=201)
                   for _ in range(CASES)]
        case_ids = [view["id"] for view in started]
        first_tasks = [_only_task(view, "Receive the request") for view in started]

        # The same task on both servers at once: exactly one completes it.
        assert _race([a, b], sales, first_tasks[0]) == [200, 409]
        # The others alternately through A and B, each answering the next task.
        for n, task_id in enumerate(first_tasks[1:], start=1):
            view = _ok((a, b)[n % 2], sales, "POST", f"/tasks/{task_id}/complete", {"data": {}})
            _only_task(view, "Answer the customer")

        deadline = time.monotonic() + TIMER_WAIT_S
        while not _escalated(b, auditor, case_ids):
            assert time.monotonic() < deadline, "the workers did not fire every timer in time"
            time.sleep(0.25)
        time.sleep(1.0)  # a second firing, if any, would land now

        for case_id in case_ids:
            on_a = _ok(a, auditor, "GET", f"/cases/{case_id}")
            on_b = _ok(b, auditor, "GET", f"/cases/{case_id}")
            assert _state(on_a) == _state(on_b)
            assert on_a["status"] == "running"
            _only_task(on_a, "Handle the escalated request")
            history_a = _ok(a, auditor, "GET", f"/cases/{case_id}/events")
            history_b = _ok(b, auditor, "GET", f"/cases/{case_id}/events")
            assert history_a == history_b
            assert history_a["chain_intact"] is True
            types = [event["type"] for event in history_a["events"]]
            assert types.count("timer_fired") == 1, types
            assert types.count("task_completed") == 1, types
