"""The case history: append-only events, each hash-chained to the one before it.

An event's hash covers its content and its predecessor's hash, so changing, removing or
reordering any recorded event breaks every hash after it; ``verify_chain`` finds the first.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from engine.persistence.models import Case, CaseEvent
from engine.time.clock import utcnow

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """One spelling per value, so that a hash computed today verifies in ten years."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _content(event: CaseEvent) -> dict:
    return {
        "case_id": event.case_id,
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor,
        "task_id": event.task_id,
        "element_id": event.element_id,
        "data": event.data,
        "version_hash": event.version_hash,
    }


def event_hash(event: CaseEvent) -> str:
    return hashlib.sha256((event.prev_hash + canonical_json(_content(event))).encode()).hexdigest()


def jsonable(value: Any) -> Any:
    """A deep, JSON-shaped copy: what is recorded can never change with the workflow's data."""
    return json.loads(canonical_json(copy.deepcopy(value)))


def record(
    case: Case,
    type_: str,
    actor: Any | None,
    data: dict | None = None,
    task_id: str | None = None,
    element_id: str | None = None,
) -> CaseEvent:
    """A new event for ``case``, chained to its last one; the caller adds it to the session."""
    case.event_count = (case.event_count or 0) + 1
    event = CaseEvent(
        case_id=case.id,
        seq=case.event_count,
        type=type_,
        at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "username", "") or "",
        task_id=task_id,
        element_id=element_id,
        data=jsonable(data or {}),
        version_hash=case.version.content_hash,
        prev_hash=case.last_event_hash or GENESIS,
    )
    event.hash = event_hash(event)
    case.last_event_hash = event.hash
    return event


def verify_chain(events: Iterable[CaseEvent]) -> int | None:
    """The sequence number of the first event that does not verify, or None when all do."""
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq or event.prev_hash != prev or event_hash(event) != event.hash:
            return event.seq
        prev = event.hash
    return None
