"""Keep, for every SpiffWorkflow workflow, which of its tasks are unfinished and which changed since
the case was last saved, so that neither the engine's lookups nor saving look at the whole history.

A loop adds tasks to a case at every iteration and SpiffWorkflow keeps them all; finding the few
unfinished ones, or the few that changed, by looking at every task makes each step of a long case
cost more than the one before. Every change of a task's state goes through ``Task._set_state``,
every new task through ``Task.__init__`` (deserializing included) and every removal through
``Workflow._remove_task`` or ``BpmnWorkflow.delete_subprocess``; those four are wrapped here to keep
the index, which lives on the workflow object beside its ``tasks``.

- ``live``: the unfinished tasks, in the order they were created (or became unfinished again);
- ``changed``: the tasks created or moved to another state since ``saved()`` was last called;
- ``removed``: on the top workflow, the ids of tasks removed since then (subprocesses included).

Task data can change without a state change only while a task is unfinished (finished tasks are
history), so ``live`` plus ``changed`` is everything a save must write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

ATTRIBUTE = "_serviceflow_task_index"
_applied = False


class TaskIndex:
    """The index of one workflow; tasks are keyed by object identity (a UUID's hash is Python code)."""

    __slots__ = ("live", "changed", "removed")

    def __init__(self) -> None:
        self.live: dict[int, Task] = {}
        self.changed: dict[int, Task] = {}
        self.removed: set[str] = set()

    def note(self, task: Task) -> None:
        if task._state & TaskState.FINISHED_MASK:
            self.live.pop(id(task), None)
        else:
            self.live[id(task)] = task
        self.changed[id(task)] = task

    def drop(self, task: Task) -> None:
        self.live.pop(id(task), None)
        self.changed.pop(id(task), None)


def index_of(workflow: Any) -> TaskIndex:
    """The workflow's index, built from its tasks the first time it is asked for."""
    index = workflow.__dict__.get(ATTRIBUTE)
    if index is None:
        index = TaskIndex()
        setattr(workflow, ATTRIBUTE, index)
        for task in workflow.tasks.values():
            index.note(task)
    return index


def live_tasks(workflow: Any) -> Iterator[Task]:
    """The workflow's unfinished tasks, oldest first."""
    return iter(list(index_of(workflow).live.values()))


def changed_tasks(workflow: Any) -> list[Task]:
    """What a save must write for this workflow: its unfinished tasks and those that changed."""
    index = index_of(workflow)
    return list({**index.live, **index.changed}.values())


def removed_task_ids(top_workflow: Any) -> set[str]:
    return set(index_of(top_workflow).removed)


def saved(top_workflow: Any) -> None:
    """Everything the case holds now is stored: nothing has changed or been removed since."""
    for workflow in [top_workflow, *top_workflow.subprocesses.values()]:
        index = index_of(workflow)
        index.changed.clear()
        index.removed.clear()


def _top(workflow: Any) -> Any:
    return getattr(workflow, "top_workflow", workflow)


def _wrap_init(init: Any) -> Any:
    def __init__(self: Task, workflow: Any, *args: Any, **kwargs: Any) -> None:
        init(self, workflow, *args, **kwargs)
        index_of(workflow).note(self)

    return __init__


def _wrap_set_state(set_state: Any) -> Any:
    def _set_state(self: Task, value: int) -> None:
        set_state(self, value)
        index_of(self.workflow).note(self)

    return _set_state


def _wrap_remove_task(remove_task: Any) -> Any:
    def _remove_task(self: Any, task_id: Any) -> None:
        task = self.tasks[task_id]
        remove_task(self, task_id)
        index_of(self).drop(task)
        index_of(_top(self)).removed.add(str(task_id))

    return _remove_task


def _wrap_delete_subprocess(delete_subprocess: Any) -> Any:
    def delete_subprocess(self: Any, my_task: Any) -> list[Task]:
        tasks = delete_subprocess(self, my_task)
        index_of(self).removed.update(str(task.id) for task in tasks)
        return tasks

    return delete_subprocess


def apply() -> None:
    """Idempotent; called once when the engine runtime module is imported."""
    global _applied
    if not _applied:
        Task.__init__ = _wrap_init(Task.__init__)
        Task._set_state = _wrap_set_state(Task._set_state)
        Workflow._remove_task = _wrap_remove_task(Workflow._remove_task)
        BpmnWorkflow.delete_subprocess = _wrap_delete_subprocess(BpmnWorkflow.delete_subprocess)
        _applied = True
