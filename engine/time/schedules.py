"""Timer start events: which one a process has, and when its schedule next comes due.

A process whose start event is a timer is started by the worker (``engine.services.scheduler``)
rather than by a person. The expression is read from the parsed spec and evaluated in the sandbox
with no data (a timer start has no case yet), then parsed with SpiffWorkflow's own ISO 8601
functions, so a schedule and SpiffWorkflow agree on what an expression means. A cycle
(``R[n]/start/duration``) steps by its duration in calendar terms from each occurrence (a yearly
cycle stays on the same date through leap years; SpiffWorkflow itself adds a fixed number of
seconds, which drifts by a day after a leap year).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent

MAX_STEPS = 100_000


@dataclass(frozen=True)
class TimerStart:
    """A process's timer start event: its element and its evaluated expression."""

    element_id: str
    kind: str  # "cycle", "date" or "duration"
    expression: str


def timer_start_spec(spec: Any) -> Any | None:
    """The task spec of the process's top-level timer start event, if it has one."""
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, StartEvent) and isinstance(task_spec.event_definition, TimerEventDefinition):
            return task_spec
    return None


def timer_start(spec: Any, script_engine: Any) -> TimerStart | None:
    """The process's timer start event with its expression evaluated (no case data exists yet)."""
    task_spec = timer_start_spec(spec)
    if task_spec is None:
        return None
    definition = task_spec.event_definition
    value = script_engine.environment.evaluate(definition.expression, {})
    if isinstance(definition, CycleTimerEventDefinition):
        kind = "cycle"
    elif isinstance(definition, DurationTimerEventDefinition):
        kind = "duration"
    else:
        kind = "date"
    return TimerStart(task_spec.bpmn_id or task_spec.name, kind, str(value))


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _add(parsed: dict, start: datetime) -> datetime:
    """``start`` plus an ISO duration parsed by SpiffWorkflow, months and years by the calendar."""
    return start + TimerEventDefinition.get_timedelta_from_start(dict(parsed), start)


def _cycle_occurrence(expression: str, not_before: datetime) -> datetime | None:
    """The first occurrence of a cycle at or after ``not_before`` (aware), None once all have run."""
    components = expression.upper().replace("--", "/").strip("R").split("/")
    cycles, start, _ = TimerEventDefinition.parse_iso_recurring_interval(expression)
    duration = components[-1] if components[-1].startswith("P") else components[1]
    parsed = TimerEventDefinition.parse_iso_duration(duration)
    occurrence, run = start, 0
    while occurrence < not_before:
        if cycles >= 0 and run >= cycles - 1:
            return None
        step = _add(parsed, occurrence) - occurrence
        if step <= timedelta(0):
            raise ValueError(f"timer cycle {expression!r} does not move forward")
        if not parsed.get("years") and not parsed.get("months") and occurrence + step * MAX_STEPS < not_before:
            skipped = (not_before - occurrence) // step
            occurrence, run = occurrence + step * skipped, run + skipped
            continue
        occurrence, run = occurrence + step, run + 1
    return occurrence


def next_run(timer: TimerStart, not_before: datetime, published_at: datetime | None = None) -> datetime | None:
    """The schedule's next run at or after ``not_before`` (naive UTC in, naive UTC out): the next
    occurrence of a cycle; a date once, if it has not passed; a duration once, after publishing."""
    after = not_before.replace(tzinfo=UTC)
    if timer.kind == "cycle":
        found = _cycle_occurrence(timer.expression, after)
    elif timer.kind == "duration":
        base = (published_at or not_before).replace(tzinfo=UTC)
        found = _add(TimerEventDefinition.parse_iso_duration(timer.expression), base)
        found = found if found >= after else None
    else:
        found = TimerEventDefinition.parse_time_or_duration(timer.expression)
        found = found if isinstance(found, datetime) and found >= after else None
    return _naive_utc(found) if found is not None else None
