"""Turning whatever the engine raised while running a case into a message people can act on."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import ScriptError
from engine.sandbox.environment import script_error_of


def element_of_failure(task: Any) -> str:
    """How a failure names the element it happened at ("Compute (Task_compute)"): replay finds
    the element again by this name (``engine.audit.replay``)."""
    spec = task.task_spec
    return f"{getattr(spec, 'bpmn_name', None) or spec.name} ({spec.name})"


def describe_engine_failure(exc: BaseException) -> str:
    """A one-paragraph description naming the element that failed, when the engine says which."""
    script_error = script_error_of(exc)
    task = getattr(exc, "task", None)
    where = f"{element_of_failure(task)}: " if task is not None else ""
    if script_error is not None:
        return f"{where}{script_error.message}"
    if isinstance(exc, ScriptError):
        return f"{where}{exc.message}"
    if isinstance(exc, SpiffWorkflowException):
        return f"{where}{exc}"
    return f"{where}{type(exc).__name__}: {exc}"
