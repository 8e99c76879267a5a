"""The pool of sandbox processes: processes are reused, replaced when they die or retire, shared
fairly when they are all busy, and never shared with a forked server process."""

from __future__ import annotations

import os
import threading

import pytest

from engine.errors import ScriptError
from engine.sandbox import pool
from engine.sandbox.pool import SandboxPool


def _evaluate(sandboxes: SandboxPool, source: str, context: dict | None = None) -> dict:
    return sandboxes.call({"op": "evaluate", "source": source, "context": context or {}, "external": {}})


def _pid(sandboxes: SandboxPool) -> int:
    """The pid of the process that answers a request now (a pool of size 1 has one at most)."""
    assert _evaluate(sandboxes, "1")["value"] == 1
    [process] = sandboxes._idle
    return process.proc.pid


@pytest.fixture
def sandboxes():  # type: ignore[no-untyped-def]
    created = SandboxPool(size=1)
    yield created
    created.close()


def test_a_process_serves_request_after_request(sandboxes):
    first = _pid(sandboxes)
    for n in range(20):
        assert _evaluate(sandboxes, "n * 2", {"n": n})["value"] == n * 2
    assert _pid(sandboxes) == first
    assert sandboxes.served == 22


def test_a_process_that_ran_out_of_memory_is_retired_and_the_next_request_gets_a_fresh_one(sandboxes):
    first = _pid(sandboxes)
    reply = sandboxes.call({"op": "execute", "source": "x = []\nwhile True:\n    x.append('a' * 9000000 + 'b')",
                            "context": {}, "external": {}})
    assert reply["message"].startswith("Script stopped: it needed more than 256 MB of memory")
    assert reply["retire"] is True
    assert _pid(sandboxes) != first


def test_when_every_process_is_busy_a_request_waits_for_one_instead_of_failing(sandboxes):
    """Size 1: a script that runs to its CPU bound holds the only process; a second request made
    meanwhile is answered once it is free."""
    outcome: dict[str, object] = {}

    def spin() -> None:
        outcome["spin"] = sandboxes.call({"op": "execute", "source": "while True:\n    pass",
                                          "context": {}, "external": {}})

    spinner = threading.Thread(target=spin)
    spinner.start()
    while sandboxes.busy() < 1:
        pass
    assert _evaluate(sandboxes, "40 + 2")["value"] == 42
    spinner.join(timeout=60)
    assert "CPU time" in str(outcome["spin"]["message"])  # type: ignore[index]


def test_a_pool_inherited_through_fork_is_not_used_by_the_child(monkeypatch):
    parent_pool = pool.pool()
    monkeypatch.setattr(parent_pool, "pid", os.getpid() + 1)  # as a forked server process sees it
    own = pool.pool()
    assert own is not parent_pool and own.pid == os.getpid()
    assert own.call({"op": "evaluate", "source": "2 + 2", "context": {}, "external": {}})["value"] == 4


def test_a_malformed_request_is_answered_not_crashed_on(sandboxes):
    reply = sandboxes.call({"op": "evaluate", "source": "x", "context": {"x": {"__sf__": "datetime", "v": "nope"}},
                            "external": {}})
    assert reply["error"] == "python" and reply["type"] == "ValueError"
    assert _evaluate(sandboxes, "1 + 1")["value"] == 2


def test_a_process_that_cannot_start_is_a_script_error_not_a_crash(monkeypatch):
    broken = SandboxPool(size=1)
    monkeypatch.setattr(pool.sys, "executable", "/bin/false")
    with pytest.raises(ScriptError, match="could not be started"):
        broken.call({"op": "evaluate", "source": "1", "context": {}, "external": {}})
    monkeypatch.undo()
    assert broken.call({"op": "evaluate", "source": "1", "context": {}, "external": {}})["value"] == 1
    broken.close()
