"""Workflow state to JSON and back, without the process spec.

SpiffWorkflow's default serializer writes the whole spec into every saved state. A case pins a
process version whose parsed spec the catalog already holds, so storing the spec per case (and
re-reading it on every load) is pure waste: the state here is the task tree and data only.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

STATE_FORMAT = "serviceflow-state/1"


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Writes a workflow without its specs; restores it onto specs the caller supplies."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict, spec: Any = None, subprocess_specs: dict | None = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(value: str) -> UUID:
    return UUID(value)


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_LOCAL = threading.local()


def _serializer() -> BpmnWorkflowSerializer:
    """One serializer per thread: its registry flips a mode flag while encoding."""
    serializer = getattr(_LOCAL, "serializer", None)
    if serializer is None:
        serializer = _LOCAL.serializer = _make_serializer()
    return serializer


def dump_state(workflow: BpmnWorkflow) -> str:
    """The JSON text of a workflow's tasks and data."""
    serializer = _serializer()
    serializer.registry._encoder_mode = True
    try:
        dct = serializer.to_dict(workflow)
    finally:
        serializer.registry._encoder_mode = False
    dct["format"] = STATE_FORMAT
    return json.dumps(dct, cls=serializer._encoder_cls, separators=(",", ":"))


def load_state(text: str, spec: Any, subprocess_specs: dict, script_engine: Any) -> BpmnWorkflow:
    """Rebuild a workflow from ``dump_state`` output onto the version's parsed specs."""
    dct = json.loads(text)
    if dct.pop("format", None) != STATE_FORMAT:
        raise ValueError("unknown workflow state format")
    workflow = _serializer().from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow
