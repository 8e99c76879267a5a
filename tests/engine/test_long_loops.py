"""A loop past SpiffWorkflow's default tree-walk depth (about 330 iterations) keeps running, and
a case that cannot go on is reported, naming the element, instead of sitting silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from SpiffWorkflow.exceptions import WorkflowException

from engine.definitions.catalog import ProcessBundle, bundles_from_directory, parse_bundle
from engine.sandbox.environment import make_script_engine
from engine.spiff.runtime import CaseRuntime

ROOT = Path(__file__).resolve().parents[2]
DEPARTMENTS = frozenset({"sales"})


def _loop_process():  # type: ignore[no-untyped-def]
    [bundle] = [b for b in bundles_from_directory(ROOT / "bench" / "workflows", ROOT / "bench" / "workflows" / "forms")
                if b.process_id == "bench_loop"]
    return parse_bundle(bundle)


def test_a_loop_runs_past_the_default_walk_depth_and_then_ends():
    runtime = CaseRuntime.start(_loop_process(), make_script_engine(), {})
    for iteration in range(400):
        [task] = runtime.ready_tasks(DEPARTMENTS)
        runtime.complete(task.id, {"again": iteration < 399, "note": str(iteration)})
    assert runtime.is_completed
    assert runtime.data["note"] == "399"


def test_a_gateway_with_no_way_out_is_reported_naming_it():
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="dead_end" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="choose"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="choose" />
    <bpmn:sequenceFlow id="f2" sourceRef="choose" targetRef="end">
      <bpmn:conditionExpression>False</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>"""
    process = parse_bundle(ProcessBundle("dead_end", "Dead end", {"workflows/dead_end.bpmn": xml}))
    with pytest.raises(WorkflowException, match="choose"):
        CaseRuntime.start(process, make_script_engine(), {})
