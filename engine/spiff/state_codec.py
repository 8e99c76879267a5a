"""Workflow state to JSON and back: without the process spec, and task by task.

SpiffWorkflow's default serializer writes the whole spec and every task into one document. A
case pins a process version whose parsed spec the catalog already holds, so the spec is never
stored per case; and a task that has finished and not changed since it was last saved is never
written again, so the cost of saving a step does not grow with the case's history.

A saved state is a *skeleton* (each workflow's own fields, tasks left out) plus one JSON row per
task, keyed by task id and by the workflow it belongs to ('' for the top-level process, else the
id of the task that runs the subprocess).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.spiff import state_digest
from engine.spiff import task_index as spiff_task_index

STATE_FORMAT = "serviceflow-state/2"
TOP = ""


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Writes a workflow without its specs; restores it onto specs the caller supplies."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict, spec: Any = None, subprocess_specs: dict | None = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


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


@dataclass
class StateDelta:
    """What changed since the last save: the skeleton (always), task rows to write and to drop."""

    skeleton: str
    upserts: dict[str, tuple[str, str]] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)


@dataclass
class SaveTracker:
    """The ids of the task rows stored for the case, so that a save deletes only rows that exist.

    Which tasks a save writes comes from ``engine.spiff.task_index``: the unfinished ones (few; their
    data and children may change without a state change) and those created, changed or removed
    since the last save, never a look at every task of a long history.
    """

    known: set[str] = field(default_factory=set)
    digests: dict[str, int] = field(default_factory=dict)
    rows_total: int = 0
    # The message index rows (engine.services.message_index) the last save wrote, so that a save
    # that changes no wait leaves them alone; None while unknown (a workflow read from the database).
    indexed_waits: tuple | None = None

    def replace_rows(self, drop: Iterable[str], write: dict[str, tuple[str, str]]) -> None:
        """Keep the stored rows' digest sum (``engine.spiff.state_digest``) in step with a save."""
        total = self.rows_total
        for task_id in drop:
            total -= self.digests.pop(task_id, 0)
        for task_id, (key, text) in write.items():
            digest = state_digest.row_digest(task_id, key, text)
            total += digest - self.digests.get(task_id, 0)
            self.digests[task_id] = digest
        self.rows_total = total % state_digest.MODULUS

    def state_hash(self, skeleton: str) -> str:
        return state_digest.state_hash(skeleton, self.rows_total)


def _workflows(workflow: BpmnWorkflow) -> list[tuple[str, Any]]:
    return [(TOP, workflow)] + [(str(key), sub) for key, sub in workflow.subprocesses.items()]


def _skeleton(workflow: BpmnWorkflow, serializer: BpmnWorkflowSerializer) -> dict:
    registry = serializer.registry

    def fields(wf: Any) -> dict:
        return {
            "typename": registry.typenames[type(wf)],
            "data": registry.convert(registry.clean(wf.data)),
            "correlations": wf.correlations,
            "last_task": str(wf.last_task.id) if wf.last_task is not None else None,
            "success": wf.success,
            "completed": wf.completed,
            "root": str(wf.task_tree.id),
        }

    subprocesses = {
        str(key): {**fields(sub), "parent_task_id": str(sub.parent_task_id), "spec": sub.spec.name}
        for key, sub in workflow.subprocesses.items()
    }
    return {
        "format": STATE_FORMAT,
        **fields(workflow),
        "subprocesses": subprocesses,
        "bpmn_events": registry.convert(workflow.bpmn_events),
    }


def dump_delta(workflow: BpmnWorkflow, tracker: SaveTracker) -> StateDelta:
    """The rows to write for a workflow, given what ``tracker`` says was saved; updates it."""
    serializer = _serializer()
    encoder = serializer._encoder_cls
    serializer.registry._encoder_mode = True
    try:
        delta = StateDelta(json.dumps(_skeleton(workflow, serializer), cls=encoder, separators=(",", ":")))
        for key, wf in _workflows(workflow):
            for task in spiff_task_index.changed_tasks(wf):
                if wf.tasks.get(task.id) is not task:
                    continue  # removed since it changed
                row = json.dumps(serializer.registry.convert(task), cls=encoder, separators=(",", ":"))
                delta.upserts[str(task.id)] = (key, row)
    finally:
        serializer.registry._encoder_mode = False
    delta.deletes = (spiff_task_index.removed_task_ids(workflow) & tracker.known) - set(delta.upserts)
    tracker.known = (tracker.known - delta.deletes) | set(delta.upserts)
    tracker.replace_rows(delta.deletes, delta.upserts)
    spiff_task_index.saved(workflow)
    return delta


def load_rows(
    skeleton: str, rows: list[tuple[str, str, str]], spec: Any, subprocess_specs: dict, script_engine: Any
) -> tuple[BpmnWorkflow, SaveTracker]:
    """Rebuild a workflow from its skeleton and its (task id, workflow key, JSON) rows."""
    dct = json.loads(skeleton)
    if dct.pop("format", None) != STATE_FORMAT:
        raise ValueError("unknown workflow state format")
    dct["tasks"] = {}
    for sub in dct["subprocesses"].values():
        sub["tasks"] = {}
    tracker = SaveTracker()
    tracker.replace_rows((), {task_id: (key, text) for task_id, key, text in rows})
    parsed = [(task_id, key, json.loads(text)) for task_id, key, text in rows]
    for task_id, key, task in parsed:
        (dct if key == TOP else dct["subprocesses"][key])["tasks"][task_id] = task
        tracker.known.add(task_id)
    for wf in [dct, *dct["subprocesses"].values()]:
        wf["tasks"] = _parents_first(wf["tasks"], wf["root"])
    workflow = _serializer().from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    spiff_task_index.saved(workflow)
    return workflow, tracker


def _parents_first(tasks: dict[str, dict], root: str) -> dict[str, dict]:
    """Tasks restore their data from their parent's, so parents must come first."""
    ordered: dict[str, dict] = {}
    pending = [root]
    while pending:
        task_id = pending.pop()
        task = tasks.get(task_id)
        if task is None or task_id in ordered:
            continue
        ordered[task_id] = task
        pending.extend(reversed(task["children"]))
    return ordered


def dump_state(workflow: BpmnWorkflow) -> str:
    """The whole state as one canonical JSON text: for comparisons and replays, not for saving."""
    serializer = _serializer()
    serializer.registry._encoder_mode = True
    try:
        dct = serializer.to_dict(workflow)
    finally:
        serializer.registry._encoder_mode = False
    return json.dumps(dct, cls=serializer._encoder_cls, sort_keys=True, separators=(",", ":"))


def spec_registry() -> Any:
    """The serializer's registry, which also converts task specs: SpiffWorkflow's diff compares
    two specs by their converted attributes."""
    return _serializer().registry


def dump_rows(workflow: BpmnWorkflow) -> tuple[str, list[tuple[str, str, str]]]:
    """The whole state as a skeleton and every task's row (task id, workflow key, JSON), as
    ``load_rows`` reads them: for rewriting a case whose every task may have changed."""
    serializer = _serializer()
    encoder = serializer._encoder_cls
    serializer.registry._encoder_mode = True
    try:
        skeleton = json.dumps(_skeleton(workflow, serializer), cls=encoder, separators=(",", ":"))
        rows = [(str(task.id), key, json.dumps(serializer.registry.convert(task), cls=encoder, separators=(",", ":")))
                for key, wf in _workflows(workflow) for task in wf.tasks.values()]
    finally:
        serializer.registry._encoder_mode = False
    return skeleton, rows
