"""Make SpiffWorkflow's timers read the engine's clock instead of the system's.

SpiffWorkflow 3.2 decides whether a timer event has fired by calling ``datetime.now(timezone.utc)``
directly inside its timer module (when a timer is reached, to turn a duration into a due time,
and on every refresh, to compare). Nothing in its API lets a caller supply the time, so a test
could only move time by sleeping, and a replay could never re-run a case at the moments it ran.
The module looks ``datetime`` up in its own globals at each call, so pointing that one name at a
subclass whose ``now()`` asks ``engine.time.clock`` is enough; every other ``datetime`` behaviour
(parsing, arithmetic, ``isinstance`` checks) is the standard one, inherited.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer

from engine.time import clock


class EngineDatetime(datetime):
    """``datetime`` whose ``now()`` is ``engine.time.clock.now()``; instances are of this class so that
    SpiffWorkflow's ``isinstance(value, datetime)`` checks hold for parsed and current times alike."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> EngineDatetime:
        current = clock.now()
        current = current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)
        return cls.combine(current.date(), current.time(), current.tzinfo)


def apply() -> None:
    """Idempotent; called once when the engine runtime module is imported."""
    timer.datetime = EngineDatetime
