"""The timers a case waits on, read from SpiffWorkflow's tasks: which, and when each comes due.

SpiffWorkflow keeps a waiting timer's due time in the task itself (the event value its timer
definition stored when the timer was reached: an ISO 8601 date-time for ``timeDate`` and
``timeDuration``, the next occurrence for ``timeCycle``). Reading it back here lets the database
hold each case's earliest due time in an indexed column, so that a worker finds due cases with one
index range scan and never deserializes a case that has nothing to do.

A timer counts as pending while its task is WAITING, and also while it is READY (due now, the
engine step has not run it yet). Timers come due only when the worker fires them
(``engine.spiff.timer_gate``): one whose time passed during somebody's step stays WAITING with its due
time in the past, and the worker fires it, recorded and mailed, at its next poll.

Whatever element holds a timer counts: a timer catch event, a boundary timer, and a timer behind
an event-based gateway, which SpiffWorkflow keeps on the gateway's task (``engine.spiff.held_events``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.held_events import races, timers_held


@dataclass(frozen=True)
class PendingTimer:
    """One timer a case waits on. ``due`` is time-zone aware UTC; ``ready`` means it has already
    come due and waits only to be run."""

    task_id: str
    element_id: str
    name: str
    due: datetime
    ready: bool = False

    def is_due(self, now: datetime) -> bool:
        """SpiffWorkflow fires a timer once its due time is strictly before now; so does this."""
        return self.ready or self.due < now


def _due(definition: TimerEventDefinition, task: Task) -> datetime | None:
    value = definition.details(task).value
    if not isinstance(value, str):
        return None
    try:
        due = TimerEventDefinition.parse_time_or_duration(value)
    except (ValueError, TypeError, AttributeError):
        return None
    if not isinstance(due, datetime):
        return None
    due = due.astimezone(UTC)
    return datetime.combine(due.date(), due.time(), UTC)  # a plain datetime, whatever class parsed it


def due_time(task: Task) -> datetime | None:
    """When a timer task comes due (aware UTC), or None when it holds no timer or its timer has no
    next occurrence (a cycle that has run all its repetitions).

    SpiffWorkflow refuses a value it cannot parse at the moment the timer is reached (the step
    fails and the case goes to error), so a waiting timer always holds a parsable value; anything
    else is reported as "no due time" rather than failing whoever is saving the case.
    """
    dues = [due for definition, _ in timers_held(task.task_spec) if (due := _due(definition, task)) is not None]
    return min(dues, default=None)


def pending(tasks: Iterable[Task]) -> list[PendingTimer]:
    """The timers among ``tasks`` that are waiting or have come due, earliest first, each named by
    the element that stands for it (the timer event after an event-based gateway, not the gateway).
    A race that is READY has been decided (by its message, or by a timer the worker fired and runs
    in the same step): its timers are no longer pending."""
    found = []
    for task in tasks:
        if not task.state & (TaskState.WAITING | TaskState.READY):
            continue
        if task.state == TaskState.READY and races(task.task_spec):
            continue
        for definition, element in timers_held(task.task_spec):
            due = _due(definition, task)
            if due is not None:
                found.append(PendingTimer(str(task.id), element.name, element.bpmn_name or element.name, due,
                                          ready=task.state == TaskState.READY))
    return sorted(found, key=lambda timer: (timer.due, timer.task_id))


def next_due_at(timers: Iterable[PendingTimer]) -> datetime | None:
    """The earliest due time as naive UTC, the convention of every date-time in the database."""
    earliest = min((timer.due for timer in timers), default=None)
    return earliest.astimezone(UTC).replace(tzinfo=None) if earliest is not None else None


@dataclass(frozen=True)
class BoundaryTimer:
    """What a boundary timer is attached to, read before it fires: whether it interrupts, and the
    ids of the open user tasks of its activity (every instance of a multi-instance activity, every
    task open inside a subprocess or call activity)."""

    interrupting: bool
    attached_task_ids: list[str]


def _open_user_tasks(task: Task) -> list[str]:
    """The open user tasks at or after ``task``, inside the subprocesses on the way included: the
    work of an embedded subprocess or a call activity is in its own workflow, not among the
    activity's children."""
    found, stack = [], [task]
    subprocesses = task.workflow.top_workflow.subprocesses
    while stack:
        current = stack.pop()
        if current.state == TaskState.READY and getattr(current.task_spec, "manual", False):
            found.append(str(current.id))
        stack.extend(current.children)
        subprocess = subprocesses.get(current.id)
        if subprocess is not None:
            stack.append(subprocess.task_tree)
    return sorted(found)


def boundary_timer(task: Task) -> BoundaryTimer | None:
    """The boundary timer ``task`` is (None for other timers): what it interrupts or reminds of."""
    spec = task.task_spec
    if not isinstance(spec, BoundaryEvent) or task.parent is None:
        return None
    attached = [sibling for sibling in task.parent.children if not isinstance(sibling.task_spec, BoundaryEvent)]
    return BoundaryTimer(bool(getattr(spec, "cancel_activity", True)),
                         [task_id for activity in attached for task_id in _open_user_tasks(activity)])


def user_tasks_after(task: Task) -> list[str]:
    """The ids of the open user tasks a fired timer led to (its path's tasks, not its activity's)."""
    return [task_id for child in task.children for task_id in _open_user_tasks(child)]
