"""Raise SpiffWorkflow's task-tree walk depth so that long-running loops never stall silently.

SpiffWorkflow 3.2 walks the task tree with iterators that stop descending at depth 1,000. A
loop adds a level per element per iteration, so a case that loops past ~330 times would stop
finding its ready tasks and simply sit there. The iterators are constructed in many places
inside the library with the default, so the default itself is what must change; the engine
also checks after every step that a running case still has something to do (see runtime).
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

MAX_TREE_DEPTH = 1_000_000


def _raise_default_depth(cls: type) -> None:
    init = cls.__init__
    defaults = list(init.__defaults__ or ())
    names = init.__code__.co_varnames[: init.__code__.co_argcount]
    position = names.index("max_depth") - (len(names) - len(defaults))
    defaults[position] = MAX_TREE_DEPTH
    init.__defaults__ = tuple(defaults)


def apply() -> None:
    """Idempotent; called once when the engine module is imported."""
    for cls in (TaskIterator, BpmnTaskIterator):
        _raise_default_depth(cls)
