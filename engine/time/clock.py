"""The one source of "now" for the engine, so that tests and replays can move time.

A clock is any callable returning the current time in UTC: naive (the convention the database
uses) or time-zone aware (converted). ``utcnow()`` is what goes into the database; ``now()`` is
the same instant with its time zone, for libraries that compare aware datetimes (SpiffWorkflow's
timers, see ``engine.spiff.clock``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime


def _system_clock() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_now: Callable[[], datetime] = _system_clock
# A replay runs a case at its recorded moments inside a request or a command; the moment is kept
# per thread (and per task), so that the server's other requests keep reading the real clock.
_frozen: ContextVar[datetime | None] = ContextVar("serviceflow_frozen_clock", default=None)


def utcnow() -> datetime:
    """Naive UTC: the same on SQLite (no time zones) and PostgreSQL."""
    current = _frozen.get() or _now()
    return current if current.tzinfo is None else current.astimezone(UTC).replace(tzinfo=None)


def now() -> datetime:
    """The same instant as ``utcnow()``, time-zone aware (UTC)."""
    return utcnow().replace(tzinfo=UTC)


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Install a clock (tests, replay); ``None`` restores the system clock."""
    global _now
    _now = clock or _system_clock


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Inside the block, in this thread only, "now" is ``moment`` (naive UTC or aware)."""
    token = _frozen.set(moment)
    try:
        yield
    finally:
        _frozen.reset(token)
