"""Timers fire only when the worker fires them.

SpiffWorkflow fires a date or duration timer as soon as it notices the time has passed: when the
timer is reached, and at the end of every engine step. A boundary timer armed with a date already
past (production restarted after its delivery date) would then fire inside somebody's task
completion, where nobody records it as a firing and nobody mails the people it escalates to. With
this gate a timer that comes due outside the worker stays waiting, its due time in the past; the
worker (``engine.services.scheduler``) finds it by ``next_due_at`` at its next poll and fires it in
its own transaction, with its ``timer_fired`` event and its reminder or escalation mail, as every
other firing.

``firing(task_ids)`` opens the gate for exactly the timers the worker recorded. A timer marked
fired before (a start timer a person started early, a firing restored from the database) stays
fired. Cycle timers are not gated: the only ones in use are start events, whose repetition the
schedule owns (``engine.time.schedules``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition, TimeDateEventDefinition

_local = threading.local()
_applied = False


@contextmanager
def firing(task_ids: set[str]) -> Iterator[None]:
    """Let exactly these timer tasks fire while the block runs (the worker's recorded firings)."""
    previous = getattr(_local, "allowed", frozenset())
    _local.allowed = frozenset(task_ids)
    try:
        yield
    finally:
        _local.allowed = previous


def _gated(has_fired: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def gated_has_fired(self: Any, my_task: Any) -> bool:
        if my_task._get_internal_data("event_fired", False):
            return True
        if not has_fired(self, my_task):
            return False
        if str(my_task.id) in getattr(_local, "allowed", frozenset()):
            return True
        my_task.internal_data.pop("event_fired", None)
        return False

    return gated_has_fired


def apply() -> None:
    """Idempotent; called once when the engine runtime module is imported."""
    global _applied
    if not _applied:
        for cls in (TimeDateEventDefinition, DurationTimerEventDefinition):
            cls.has_fired = _gated(cls.has_fired)
        _applied = True
