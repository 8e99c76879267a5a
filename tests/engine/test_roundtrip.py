"""Every diagram in workflows/ survives a save and a reload at every step (as SpiffWorkflow's own
suite checks), walked along many branches with valid data generated from each task's form."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine.catalog import bundles_from_directory, parse_bundle
from engine.runtime import CaseRuntime
from engine.sandbox import make_script_engine
from tests.factories import sample_object

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = bundles_from_directory(ROOT / "workflows", ROOT / "forms")
DEPARTMENTS = frozenset({"sales", "admin", "qc", "tech", "production", "management"})


def _reloaded(runtime: CaseRuntime, script_engine: object) -> CaseRuntime:
    state = runtime.dump()
    again = CaseRuntime.restore(runtime.process, state, script_engine)
    assert again.dump() == state
    return again


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.process_id for b in BUNDLES])
@pytest.mark.parametrize("seed", range(6))
def test_every_step_survives_save_and_reload(bundle, seed):
    process = parse_bundle(bundle)
    script_engine = make_script_engine()
    rng = random.Random(seed)
    runtime = _reloaded(CaseRuntime.start(process, script_engine, {}), script_engine)
    for _step in range(60):
        if runtime.is_completed:
            break
        ready = runtime.ready_tasks(DEPARTMENTS)
        assert ready, "a running case must have a ready task"
        task = rng.choice(ready)
        form = process.form_for(task.element_id)
        runtime.complete(task.id, sample_object(form.schema, rng) if form else {})
        runtime = _reloaded(runtime, script_engine)
    assert runtime.is_completed or len(runtime.ready_tasks(DEPARTMENTS)) > 0
