"""Every diagram in workflows/ survives a save and a reload at every step (as SpiffWorkflow's own
suite checks), walked along many branches with valid data generated from each task's form.

Saving goes through the incremental path the database uses (skeleton plus changed task rows),
applied to an in-memory table, so a task that changed but was not rewritten would show here."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine import effects
from engine.definitions.catalog import bundles_from_directory, parse_bundle
from engine.sandbox.environment import make_script_engine
from engine.spiff.runtime import CaseRuntime
from tests.factories import sample_object

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = bundles_from_directory(ROOT / "workflows", ROOT / "forms")
DEPARTMENTS = frozenset({"sales", "admin", "qc", "tech", "production", "management"})


class Table:
    """The case_tasks rows of one case, kept the way the persistence layer writes them."""

    def __init__(self) -> None:
        self.skeleton = ""
        self.rows: dict[str, tuple[str, str]] = {}

    def save(self, runtime: CaseRuntime) -> None:
        delta = runtime.dump_delta()
        self.skeleton = delta.skeleton
        for gone in delta.deletes:
            del self.rows[gone]
        self.rows.update(delta.upserts)
        workflows = [runtime.workflow, *runtime.workflow.subprocesses.values()]
        assert set(self.rows) == {str(task_id) for wf in workflows for task_id in wf.tasks}, \
            "the stored rows are exactly the case's tasks: none missing, none left behind"

    def load(self, runtime: CaseRuntime, script_engine: object) -> CaseRuntime:
        rows = [(task_id, key, text) for task_id, (key, text) in self.rows.items()]
        return CaseRuntime.restore(runtime.process, self.skeleton, rows, script_engine)


def _reloaded(runtime: CaseRuntime, table: Table, script_engine: object) -> CaseRuntime:
    table.save(runtime)
    again = table.load(runtime, script_engine)
    assert again.dump() == runtime.dump()
    return again


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.process_id for b in BUNDLES])
@pytest.mark.parametrize("seed", range(6))
def test_every_step_survives_save_and_reload(bundle, seed):
    process = parse_bundle(bundle)
    script_engine = make_script_engine()
    rng = random.Random(seed)
    table = Table()
    with effects.collecting():
        started = CaseRuntime.start(process, script_engine, {})
    runtime = _reloaded(started, table, script_engine)
    for _step in range(60):
        if runtime.is_completed:
            break
        ready = runtime.ready_tasks(DEPARTMENTS)
        waits = runtime.waiting_messages()
        if not ready and waits:  # a case waiting for a message (the customer's consent) gets one
            with effects.collecting():
                runtime.catch_message(waits[0].task_id, waits[0].name, {}, waits[0].correlation)
            runtime = _reloaded(runtime, table, script_engine)
            continue
        assert ready, "a running case must have a ready task"
        task = rng.choice(ready)
        form = process.form_for(task.element_id)
        with effects.collecting():
            runtime.complete(task.id, sample_object(form.schema, rng) if form else {})
        runtime = _reloaded(runtime, table, script_engine)
    assert runtime.is_completed or len(runtime.ready_tasks(DEPARTMENTS)) > 0
