"""A user task's own due date (its ``dueDate`` property), as the inbox shows it.

Process owners state a due date where the procedure states one ("within two days"), without
drawing a boundary timer: either an ISO 8601 duration counted from when the task becomes ready
(``P2D``, ``PT4H``; counted as SpiffWorkflow counts a timer's duration), or a Python expression
evaluated in the sandbox over the task's data that gives a date-time, a duration (``timedelta``)
or the ISO 8601 text of either (a date alone means the end of that day, UTC: work due on a day is not late during it).

Which wins: the property, when it gives a date. A boundary timer still fires as drawn (it takes
the work away or escalates); the property only says when the task is due, so a procedure can be
due in two days and escalate after five. Without the property, or when its expression fails or
gives no date at run time, the boundary timers give the due date as before
(``CaseRuntime._deadline``). Validation refuses a malformed duration and an expression the sandbox
would refuse, at the element.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

PROPERTY = "dueDate"
_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?", re.I)
_LOOKS_LIKE_DURATION = re.compile(r"P(T?\d)", re.I)
_END_OF_DAY = time(23, 59, 59)


def is_duration(value: str) -> bool:
    """Whether the property is an ISO 8601 duration rather than an expression."""
    return _DURATION.fullmatch(value.strip()) is not None


def problem(value: str) -> str | None:
    """Why the property cannot be a due date, before any case runs (None when it may be): a text
    that starts like a duration must be one. Expressions are compiled by the sandbox checks."""
    text = value.strip()
    if not text:
        return "the due date is empty"
    if _LOOKS_LIKE_DURATION.match(text) and not is_duration(text):
        return f"due date {text!r} is not an ISO 8601 duration (like P2D, PT4H or P1M)"
    return None


def _after(duration: str, start: datetime) -> datetime:
    parsed = TimerEventDefinition.parse_iso_duration(duration.strip().upper())
    aware = start.replace(tzinfo=UTC)
    return start + TimerEventDefinition.get_timedelta_from_start(dict(parsed), aware)


def _naive_utc(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _from_value(value: Any, ready_at: datetime) -> datetime | None:
    """A due date from what an expression gave; None for anything that is not one."""
    if isinstance(value, datetime):
        return _naive_utc(value)
    if isinstance(value, timedelta):
        return ready_at + value
    if isinstance(value, date):
        return datetime.combine(value, _END_OF_DAY)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if is_duration(text):
        return _after(text, ready_at)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), _END_OF_DAY)
        return _naive_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def due_at(value: str, ready_at: datetime, evaluate: Callable[[str], Any]) -> datetime | None:
    """The due date (naive UTC) the property gives a task ready at ``ready_at`` (naive UTC);
    ``evaluate`` runs an expression over the task's data in the sandbox and may raise the
    sandbox's failures, which the caller treats as "no due date"."""
    text = value.strip()
    if not text:
        return None
    if is_duration(text):
        return _after(text, ready_at)
    return _from_value(evaluate(text), ready_at)
