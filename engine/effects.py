"""Effects a process asks for beyond its own data (service tasks), applied with its state change.

A service task in a diagram names an operation (``customer.update_card``) and its parameters.
The engine step only *records* the request; the use case that ran the step applies it in the
same transaction as the new state and the events, so a card update and the case step that made
it commit together or not at all. The runtime stays free of databases and users.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from engine.errors import ScriptError

OPERATIONS = frozenset({"customer.update_card"})


@dataclass(frozen=True)
class Effect:
    operation: str
    params: dict[str, Any]


_requested: ContextVar[list[Effect] | None] = ContextVar("serviceflow_effects", default=None)


@contextmanager
def collecting() -> Iterator[list[Effect]]:
    """Collect the effects requested by engine steps run inside the block."""
    effects: list[Effect] = []
    token = _requested.set(effects)
    try:
        yield effects
    finally:
        _requested.reset(token)


def request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Record a service task's request; the answer becomes the task's result variable."""
    if operation not in OPERATIONS:
        raise ScriptError(f"Unknown service operation {operation!r}; known: {', '.join(sorted(OPERATIONS))}")
    effects = _requested.get()
    if effects is None:
        raise ScriptError(f"Service operation {operation!r} can only run inside a case step")
    effects.append(Effect(operation, params))
    return {"status": "accepted", "operation": operation}
