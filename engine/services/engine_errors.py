"""Turning whatever the engine raised while running a case into a message people can act on."""

from __future__ import annotations

from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import ScriptError
from engine.sandbox.environment import script_error_of


def describe_engine_failure(exc: BaseException) -> str:
    """A one-paragraph description naming the element that failed, when the engine says which."""
    script_error = script_error_of(exc)
    task = getattr(exc, "task", None)
    where = ""
    if task is not None:
        spec = task.task_spec
        where = f"{getattr(spec, 'bpmn_name', None) or spec.name} ({spec.name}): "
    if script_error is not None:
        return f"{where}{script_error.message}"
    if isinstance(exc, ScriptError):
        return f"{where}{exc.message}"
    if isinstance(exc, SpiffWorkflowException):
        return f"{where}{exc}"
    return f"{where}{type(exc).__name__}: {exc}"
