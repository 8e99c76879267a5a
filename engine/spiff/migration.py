"""Moving one workflow instance onto another version's specs, with SpiffWorkflow's own diff.

``SpiffWorkflow.bpmn.util.diff`` aligns the task specs of two versions (by element id, then by
structure) and says which of a workflow's tasks sit on removed or changed specs. A workflow may
move when every task it is at (ready, waiting, or running a subprocess) is on a spec that exists
unchanged in the target; what follows those tasks is predicted again from the target, so a
version that adds, removes or reroutes later steps is fine. One change is tolerated on an open
task: its outgoing flows (``outputs``), because the path after it is predicted from the target.

SpiffWorkflow's ``migrate_workflow`` resets every ready and waiting task, which clears a waiting
timer's stored due time (it would start counting again) and a caught event, and it leaves the
path predicted after a running subprocess on the old version (completing it then fails). The move
here re-predicts the path after every open task instead and keeps the task's own state and data,
so a case keeps its task ids (the inbox rows), its timers' due dates and its message waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.spiff import state_codec

OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE
TOLERATED_CHANGES = frozenset({"outputs"})


@dataclass
class Verdict:
    """Whether a workflow can move, and if not, one line per element that stops it."""

    reasons: list[str] = field(default_factory=list)

    @property
    def can_migrate(self) -> bool:
        return not self.reasons


def _element(task: Any) -> str:
    spec = task.task_spec
    name = spec.bpmn_name or ""
    return f"{spec.bpmn_id or spec.name} ({name})" if name and name != spec.bpmn_id else str(spec.bpmn_id or spec.name)


def _open_tasks(workflow: Any) -> list[Any]:
    return list(workflow.get_tasks(state=OPEN, skip_subprocesses=True))


@dataclass
class _Diff:
    """SpiffWorkflow's diff of one workflow, with what changed on each changed spec (the
    ``WorkflowDiff`` keeps only which tasks changed, the ``SpecDiff`` which attributes)."""

    tasks: WorkflowDiff
    changes: dict[Any, list[str]]

    @classmethod
    def of(cls, registry: Any, workflow: Any, spec: Any) -> _Diff:
        spec_diff = SpecDiff(registry, workflow.spec, spec)
        return cls(WorkflowDiff(workflow, spec_diff), spec_diff.changed)


def _check(diff: _Diff, workflow: Any, target: str, reasons: list[str]) -> None:
    removed = {t.id for t in diff.tasks.removed}
    changed = {t.id for t in diff.tasks.changed}
    for task in _open_tasks(workflow):
        if task.id in removed:
            reasons.append(f"{_element(task)} is open in the case and is not in {target}")
        elif task.id in changed:
            fields = sorted(set(diff.changes.get(task.task_spec, [])) - TOLERATED_CHANGES)
            if fields:
                reasons.append(f"{_element(task)} is open in the case and is changed in {target} "
                               f"({', '.join(fields)})")


def judge(workflow: BpmnWorkflow, spec: Any, subprocess_specs: dict,
          target: str) -> tuple[Verdict, _Diff, dict[Any, _Diff]]:
    """The verdict on moving ``workflow`` to ``spec`` (named ``target`` in reasons), and the diffs
    the move uses."""
    registry = state_codec.spec_registry()
    top = _Diff.of(registry, workflow, spec)
    verdict = Verdict()
    _check(top, workflow, target, verdict.reasons)
    subs: dict[Any, _Diff] = {}
    for key, sub in workflow.subprocesses.items():
        sub_spec = subprocess_specs.get(sub.spec.name)
        if sub_spec is None:
            verdict.reasons.append(f"subprocess {sub.spec.name} of the case is not in {target}")
            continue
        subs[key] = _Diff.of(registry, sub, sub_spec)
        _check(subs[key], sub, target, verdict.reasons)
    return verdict, top, subs


def _move(diff: _Diff, workflow: Any, spec: Any) -> None:
    """Put the workflow on ``spec``: aligned tasks take the target's specs; the predicted path
    after each open task is dropped and predicted again from the target (the instances a
    multi-instance task has made are its triggered children, and stay)."""
    workflow.spec = spec
    for task in list(workflow.tasks.values()):
        aligned = diff.tasks.alignment.get(task)
        if aligned is not None:
            task.task_spec = aligned
    for task in list(workflow.get_tasks(state=OPEN, skip_subprocesses=True)):
        if task.id not in workflow.tasks:
            continue
        for child in list(task.children):
            if child.has_state(PREDICTED) and not child.triggered:
                workflow._remove_task(child.id)
        task.task_spec._predict(task, mask=PREDICTED | task.state)  # its own state too: predict from it
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = None


def _unknown_specs(workflow: Any, target: str) -> list[str]:
    """Tasks left on specs the target does not have (a finished step the target removed): the
    stored state could not be read back on the target."""
    return [f"{_element(task)}, already passed in the case, is not in {target}"
            for task in workflow.tasks.values()
            if workflow.spec.task_specs.get(task.task_spec.name) is not task.task_spec]


def migrate(workflow: BpmnWorkflow, spec: Any, subprocess_specs: dict, target: str) -> Verdict:
    """Judge and, when the verdict allows, move ``workflow`` (in place) onto the target's specs.
    The caller works on a copy it may throw away: a refusal found while moving leaves it half
    moved."""
    verdict, top, subs = judge(workflow, spec, subprocess_specs, target)
    if not verdict.can_migrate:
        return verdict
    _move(top, workflow, spec)
    workflow.subprocess_specs = subprocess_specs
    for key, sub in workflow.subprocesses.items():
        _move(subs[key], sub, subprocess_specs[sub.spec.name])
    for wf in [workflow, *workflow.subprocesses.values()]:
        verdict.reasons.extend(_unknown_specs(wf, target))
    return verdict
