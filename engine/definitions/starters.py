"""Who may start a process by hand: the ``startableBy`` property of the BPMN process element.

Starting a case commits a department to work, so who may do it is part of the version, like who
may do each task (lanes) and who may send each message (``allowedSenders``). The process element
names its starters in the same vocabulary, read by the same parser (``engine.definitions.senders``)::

    <bpmn:process id="customer_visit" ...>
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="startableBy" value="department:sales" />
      </spiffworkflow:properties></bpmn:extensionElements>

A process that names no starters may be started by the departments of the lanes that hold its
by-hand start events, and by administrators: in BPMN the lane of the start event is who begins
the process, so a diagram drawn with lanes already says it, and an administrator can still start
a case while an unlaned diagram is corrected. A process that only a timer or a message starts has
no starters at all, and naming some is refused at publish (it would promise a Start button that
cannot exist).
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.definitions import senders

PROPERTY = "startableBy"


def default(lanes: Iterable[str | None]) -> senders.AllowedSenders:
    """The starters of a process that names none: its start events' lanes, and administrators."""
    rules = [senders.SenderRule("department", lane) for lane in sorted({lane for lane in lanes if lane})]
    return senders.AllowedSenders((*rules, senders.SenderRule("role", "admin")), declared=False)


def parse(value: str | None, lanes: Iterable[str | None], where: str) -> senders.AllowedSenders:
    """The starters a ``startableBy`` value names (``where`` names the process for errors), or the
    default for ``lanes`` when the property is absent."""
    return senders.parse(value, where, PROPERTY, default(lanes))
