"""After every process walk, every case it produced is replayed from its history and must come
out identical (issue 11 §3): the walks are the suite's record of how the procedures run."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from engine.services.replay import replay_all

WALKS = re.compile(r"(^|\.)test_\w+_(paths|deadlines)$|(^|\.)test_(messages|event_gateway_timers|timers_scheduled|"
                   r"scheduled_starts|centre_intake|called_procedures_standalone|worker|failures|hostile_scripts|message_senders|who_may_start|notifications)$")


@pytest.fixture(autouse=True)
def every_walked_case_replays_identically(request: pytest.FixtureRequest) -> Iterator[None]:
    if not WALKS.search(request.module.__name__) or "ctx" not in request.fixturenames:
        yield
        return
    ctx = request.getfixturevalue("ctx")
    yield
    reports = list(replay_all(ctx))
    assert all(report.steps > 0 for report in reports)
    diverged = [report.as_json() for report in reports if not report.identical]
    assert diverged == []
