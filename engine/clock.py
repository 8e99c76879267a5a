"""The one source of "now" for the engine, so that tests and replays can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC).replace(tzinfo=None)  # noqa: E731


def utcnow() -> datetime:
    """Naive UTC: the same on SQLite (no time zones) and PostgreSQL."""
    return _now()


def set_clock(now: Callable[[], datetime] | None) -> None:
    """Install a clock (tests, replay); ``None`` restores the system clock."""
    global _now
    _now = now or (lambda: datetime.now(UTC).replace(tzinfo=None))
