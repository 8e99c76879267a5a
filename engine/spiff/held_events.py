"""Which timers and messages an element waits for, and the diagram element that stands for each.

A catch event usually holds its own event definition, but not always: SpiffWorkflow's
event-based gateway takes the definitions of the catch events after it into a
``MultipleEventDefinition`` of its own (and leaves those events with none), so the case waits at
the gateway, not at the timer or message event a modeller drew. Anything that asks "which timers
does this case wait on" or "which messages can reach it" by looking for a ``TimerEventDefinition``
or ``MessageEventDefinition`` on the waiting task misses them, and the case waits forever
unnoticed. Every such question goes through here instead.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway


def _held(spec: Any) -> list[tuple[Any, Any]]:
    """(definition, element spec) of every event ``spec`` waits for."""
    if not isinstance(spec, CatchingEvent):
        return []
    definition = spec.event_definition
    if not isinstance(definition, MultipleEventDefinition):
        return [(definition, spec)]
    if isinstance(spec, EventBasedGateway):
        # the gateway appended each following event's definition as it connected to it, in order
        return list(zip(definition.event_definitions, spec.outputs, strict=False))
    return [(item, spec) for item in definition.event_definitions]


def timers_held(spec: Any) -> list[tuple[TimerEventDefinition, Any]]:
    """The timers an element waits on, each with the element that stands for it."""
    return [(d, element) for d, element in _held(spec) if isinstance(d, TimerEventDefinition)]


def messages_held(spec: Any) -> list[tuple[MessageEventDefinition, Any]]:
    """The messages an element waits for, each with the catch event that receives it."""
    return [(d, element) for d, element in _held(spec) if isinstance(d, MessageEventDefinition)]


def races(spec: Any) -> bool:
    """Whether the element waits for several events at once (an event-based gateway, a multiple
    event): the first one to come decides, and the others are cancelled with it."""
    return isinstance(spec, CatchingEvent) and isinstance(spec.event_definition, MultipleEventDefinition)
