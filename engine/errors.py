"""Domain errors. The web layer maps each class to one HTTP status in a single place."""

from __future__ import annotations


class ServiceFlowError(Exception):
    """Base of every error a use case raises on purpose."""

    def __init__(self, message: str, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(ServiceFlowError):
    """The named case, task, process or user does not exist."""


class Forbidden(ServiceFlowError):
    """The caller may not do this (not in the task's department, not its assignee, …)."""


class Conflict(ServiceFlowError):
    """The thing changed underneath the caller: task already completed, case moved on."""


class InvalidInput(ServiceFlowError):
    """Submitted data failed validation; ``details`` maps field paths to messages."""


class InvalidDefinition(ServiceFlowError):
    """A BPMN/DMN/form file cannot be used; the message names the offending element."""


class ScriptError(ServiceFlowError):
    """A sandboxed script or expression failed, was refused, or ran out of time or memory."""
