"""Find a workflow's unfinished tasks by state from the task index instead of walking its task tree.

SpiffWorkflow 3.2 finds the ready tasks of every engine step, and the waiting tasks after every
completed task, by walking the whole task tree from its root. A loop adds levels to that tree at
every iteration, so each step of a long-running case costs more than the one before (a walk per
node, thousands of nodes by the 1,000th iteration). ``engine.spiff.task_index`` keeps each
workflow's unfinished tasks, so the tasks in a state can be picked from those and put in the
order the walk would have produced: depth first, a subprocess's tasks right after the task that
runs it and before that task's children. Only that
order matters to the engine (it decides which of several parallel ready tasks runs first), and
computing it costs a walk up from each match, which is needed only when there are several.

Only the two lookups the engine makes on every step are replaced, and only for the plain
"tasks in state S" query they make; anything else goes to SpiffWorkflow's own walk.
``tests/engine/test_spiff_task_lookup.py`` compares both at every step of every process.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow, BpmnSubWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

from engine.spiff.task_index import live_tasks

_original_get_tasks = Workflow.get_tasks
_applied = False


def _tree_key(task: Task, top: Any) -> list[int]:
    """The position of a task in a depth-first walk from the top workflow's root, as the child
    index at every level (a subprocess's root counts as child -1 of the task that runs it)."""
    key: list[int] = []
    while True:
        node = task
        while (parent := node.parent) is not None:
            key.append(parent._children.index(node.id))
            node = parent
        workflow = task.workflow
        if not isinstance(workflow, BpmnSubWorkflow):
            break
        key.append(-1)
        task = top.get_task_from_id(workflow.parent_task_id)
    key.reverse()
    return key


def _in_walk_order(tasks: list[Task], top: Any) -> list[Task]:
    if len(tasks) < 2:
        return tasks
    return sorted(tasks, key=lambda t: _tree_key(t, top))


def _open_subprocesses_under(workflow: Any) -> list[Any]:
    """The subprocesses a walk from ``workflow`` descends into when it looks for unfinished
    tasks: those whose running task, and every such task above it up to ``workflow``, has not
    finished."""
    top = workflow.top_workflow if isinstance(workflow, BpmnSubWorkflow) else workflow
    found = []
    for subprocess in top.subprocesses.values():
        current = subprocess
        while True:
            owner = top.get_task_from_id(current.parent_task_id)
            if owner is None or owner.state & TaskState.FINISHED_MASK:
                break
            if owner.workflow is workflow:
                found.append(subprocess)
                break
            if not isinstance(owner.workflow, BpmnSubWorkflow):
                break
            current = owner.workflow
    return found


def tasks_in_state(workflow: Any, state: int, subprocesses: bool) -> list[Task]:
    """The tasks of ``workflow`` (and of the open subprocesses under it) whose state is in the
    ``state`` mask of unfinished states, in the order SpiffWorkflow's tree walk finds them."""
    top = workflow.top_workflow if isinstance(workflow, BpmnSubWorkflow) else workflow
    found = [t for t in live_tasks(workflow) if t._state & state]
    if subprocesses:
        for subprocess in _open_subprocesses_under(workflow):
            found += [t for t in live_tasks(subprocess) if t._state & state]
    return _in_walk_order(found, top)


def _is_plain_unfinished_query(first_task: Any, kwargs: dict) -> bool:
    """A "tasks in state S" query for unfinished, non-predicted states: the only kind whose walk
    this module reproduces (the walk prunes predicted branches and finished subprocesses)."""
    if first_task is not None or set(kwargs) != {"state"}:
        return False
    state = kwargs["state"]
    return isinstance(state, int) and state and not state & (TaskState.PREDICTED_MASK | TaskState.FINISHED_MASK)


def _get_tasks(self: Any, first_task: Any = None, **kwargs: Any) -> list[Task]:
    if isinstance(self, BpmnBaseWorkflow) and _is_plain_unfinished_query(first_task, kwargs):
        return tasks_in_state(self, kwargs["state"], subprocesses=True)
    return _original_get_tasks(self, first_task, **kwargs)


def _update_waiting_tasks(self: Any) -> None:
    """Update every waiting task of this workflow (not of its subprocesses, as SpiffWorkflow's own
    walk here does not descend into them). A task an earlier update moved on is skipped, as the
    lazy walk would skip it."""
    for task in tasks_in_state(self, TaskState.WAITING, subprocesses=False):
        if task.state == TaskState.WAITING:
            task.task_spec._update(task)


def apply() -> None:
    """Idempotent; called once when the engine module is imported."""
    global _applied
    if not _applied:
        Workflow.get_tasks = _get_tasks
        Workflow.update_waiting_tasks = _update_waiting_tasks
        _applied = True
