"""The flat task lookup (engine.spiff.task_lookup) finds exactly the tasks SpiffWorkflow's own tree
walk finds, in the same order, at every step of every process in workflows/ (parallel branches,
multi-instance tasks, call activities, boundary timers, messages) and of a long loop."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from SpiffWorkflow.util.task import TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

from engine import effects
from engine.definitions.catalog import bundles_from_directory, parse_bundle
from engine.sandbox.environment import make_script_engine
from engine.spiff import task_lookup as spiff_task_lookup
from engine.spiff.runtime import CaseRuntime
from engine.time import clock
from tests.engine.test_roundtrip import BUNDLES, DEPARTMENTS
from tests.factories import MovableClock, sample_object

ROOT = Path(__file__).resolve().parents[2]
LOOP = next(b for b in bundles_from_directory(ROOT / "bench" / "workflows", ROOT / "bench" / "workflows" / "forms")
            if b.process_id == "bench_loop")


class Compared:
    """Counts the lookups checked against SpiffWorkflow's walk (a test that checked none proves nothing)."""

    def __init__(self) -> None:
        self.ready = self.waiting = 0


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Compared]:
    seen = Compared()
    flat_get_tasks, flat_update = Workflow.get_tasks, Workflow.update_waiting_tasks

    def get_tasks(self, first_task=None, **kwargs):  # type: ignore[no-untyped-def]
        found = flat_get_tasks(self, first_task, **kwargs)
        if first_task is None and set(kwargs) == {"state"}:
            walked = list(self.get_tasks_iterator(None, **kwargs))
            assert [t.id for t in found] == [t.id for t in walked]
            seen.ready += 1
        return found

    def update_waiting_tasks(self):  # type: ignore[no-untyped-def]
        walked = [t.id for t in TaskIterator(self.task_tree, state=TaskState.WAITING)]
        flat = [t.id for t in spiff_task_lookup.tasks_in_state(self, TaskState.WAITING, subprocesses=False)]
        assert flat == walked
        seen.waiting += 1
        flat_update(self)

    monkeypatch.setattr(Workflow, "get_tasks", get_tasks)
    monkeypatch.setattr(Workflow, "update_waiting_tasks", update_waiting_tasks)
    yield seen


@pytest.fixture
def moved() -> Iterator[MovableClock]:
    movable = MovableClock(datetime(2026, 11, 20, 8, 0))
    clock.set_clock(movable)
    yield movable
    clock.set_clock(None)


def _walk(runtime: CaseRuntime, rng: random.Random, moved: MovableClock, steps: int) -> None:
    for _ in range(steps):
        if runtime.is_completed:
            return
        ready, waits, timers = runtime.ready_tasks(DEPARTMENTS), runtime.waiting_messages(), runtime.pending_timers()
        with effects.collecting():
            if timers and (not ready or rng.random() < 0.3):
                moved.now = max(moved.now, timers[0].due.astimezone(UTC).replace(tzinfo=None) + timedelta(seconds=1))
                runtime.fire_timers([t for t in timers if t.is_due(clock.now())])
            elif not ready and waits:
                runtime.catch_message(waits[0].task_id, waits[0].name, {}, waits[0].correlation)
            else:
                task = rng.choice(ready)
                form = runtime.process.form_for(task.element_id)
                runtime.complete(task.id, sample_object(form.schema, rng) if form else {})


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.process_id for b in BUNDLES])
@pytest.mark.parametrize("seed", range(3))
def test_the_flat_lookup_finds_what_the_tree_walk_finds(bundle, seed, compared, moved):
    process = parse_bundle(bundle)
    with effects.collecting():
        runtime = CaseRuntime.start(process, make_script_engine(), {})
    _walk(runtime, random.Random(seed), moved, 60)
    assert compared.ready > 0 and compared.waiting > 0


def test_the_flat_lookup_holds_deep_into_a_long_loop(compared, moved):
    runtime = CaseRuntime.start(parse_bundle(LOOP), make_script_engine(), {})
    for i in range(300):
        [task] = runtime.ready_tasks(DEPARTMENTS)
        runtime.complete(task.id, {"again": True, "note": f"round {i}"})
    assert compared.ready >= 300 and compared.waiting >= 300
