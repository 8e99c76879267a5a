"""The message index (``message_waits``): which case waits for which message with which
correlation values. Kept apart from delivery so that ``save_runtime`` can maintain it without
importing the use case that delivers messages (which itself saves cases)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import delete, func, insert, or_, select

from engine.audit import chain as audit
from engine.persistence.models import MessageWait
from engine.persistence.uow import UnitOfWork
from engine.spiff.runtime import WaitingMessage
from engine.spiff.state_codec import SaveTracker
from engine.time.clock import utcnow

MAX_VALUE = 255
NO_KEY = ""


def index_value(value: Any) -> str:
    """One spelling per correlation value (canonical JSON: ``"PO-1"`` and ``1`` differ), hashed
    when too long for the indexed column."""
    text = audit.canonical_json(value)
    return text if len(text) <= MAX_VALUE else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def replace_waits(uow: UnitOfWork, case_id: int, waits: list[WaitingMessage], tracker: SaveTracker) -> None:
    """Make the case's rows say exactly what it waits for now: an inbox-style index, rewritten
    when a save changes it (a case waits at a handful of events at most, so rewriting is cheaper
    than diffing). ``tracker`` remembers what the runtime's last save wrote: most steps change no
    wait, and then the rows, and the time each wait began, stay as they are. Message start events
    of a new top-level workflow are not indexed: they start cases, which the deployed process
    versions say, not a waiting case."""
    rows = []
    for wait in waits:
        if wait.is_start:
            continue
        pairs = [(key, index_value(value)) for key, value in sorted(wait.correlation.items())] or [(NO_KEY, "")]
        rows += [{"case_id": case_id, "task_id": wait.task_id, "element_id": wait.element_id, "name": wait.name,
                  "key": key[:200], "value": value} for key, value in pairs]
    indexed = tuple(sorted(tuple(row.values()) for row in rows))
    if tracker.indexed_waits == indexed:
        return
    uow.session.execute(delete(MessageWait).where(MessageWait.case_id == case_id))
    if rows:
        now = utcnow()
        uow.session.execute(insert(MessageWait), [{**row, "created_at": now} for row in rows])
    tracker.indexed_waits = indexed


def find_waits(uow: UnitOfWork, name: str, correlation: dict[str, Any], case_id: int | None = None,
               ) -> list[tuple[int, str, str]]:
    """The (case id, task id, element id) of waits for message ``name`` whose correlation values
    include every given one, longest waiting first. Without correlation, only waits that have
    none match: an uncorrelated message must not pick an arbitrary order among many."""
    if correlation:
        pairs = [(key, index_value(value)) for key, value in correlation.items()]
        matches = [(MessageWait.key == key) & (MessageWait.value == value) for key, value in pairs]

        condition = or_(*matches)
        needed = len(pairs)
    else:
        condition, needed = (MessageWait.key == NO_KEY), 1
    query = (
        select(MessageWait.case_id, MessageWait.task_id, MessageWait.element_id)
        .where(MessageWait.name == name, condition)
        .group_by(MessageWait.case_id, MessageWait.task_id, MessageWait.element_id)
        .having(func.count(MessageWait.id) == needed)
        .order_by(func.min(MessageWait.id))
    )
    if case_id is not None:
        query = query.where(MessageWait.case_id == case_id)
    return [tuple(row) for row in uow.session.execute(query)]
