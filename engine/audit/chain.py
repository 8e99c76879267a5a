"""The case history: append-only events, each hash-chained to the one before it.

An event's hash covers its content and its predecessor's hash, so changing, removing or
reordering any recorded event breaks every hash after it; ``engine.audit.verify`` finds the first.

Since chain version 2 an event's content also covers the case's data after it (``data_hash``), the
change of case data it caused (``changes``: variable → before/after) and, for the events of an
engine step, the stored workflow state after the step (``state_hash``). Those are known only once
the step has run, while a step's first event (say ``task_completed``) is recorded before it runs:
so ``record`` only queues an event on its case, and ``seal`` hashes and adds the queued events once
the data after them is known. ``save_runtime`` seals each step's events with the step's data and
state; whatever is still queued when the transaction commits (a claim, a failure without a
runtime) is sealed then with the case's data as it is. Events are inserted once, complete: the
table refuses UPDATE on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.orm import Session, object_session

from engine.persistence.models import Case, CaseEvent
from engine.time.clock import utcnow

GENESIS = "0" * 64
CHAIN_VERSION = 2

_PENDING = "_audit_pending_events"
_BEFORE = "_audit_data_before"
_UNSEALED = "audit_unsealed_cases"


# One encoder for every call: ``json.dumps`` with options builds a new one each time, and the
# verifier encodes every event of every case.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value: Any) -> str:
    """One spelling per value, so that a hash computed today verifies in ten years."""
    return _CANONICAL.encode(value)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _content(event: CaseEvent) -> dict:
    content = {
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
    if event.chain_version >= 2:
        content.update(chain_version=event.chain_version, data_hash=event.data_hash, changes=event.changes,
                       state_hash=event.state_hash)
    return content


def event_hash(event: CaseEvent) -> str:
    """Version 1 events (recorded before data and state were covered) keep their original rule."""
    return sha256_hex(event.prev_hash + canonical_json(_content(event)))


def jsonable(value: Any) -> Any:
    """A deep, JSON-shaped copy: what is recorded can never change with the workflow's data (the
    text is a snapshot already, so the value needs no copy before it is encoded)."""
    return json.loads(canonical_json(value))


def jsonable_with_text(value: Any) -> tuple[Any, str]:
    """``jsonable`` and its canonical text from one serialisation: a step hashes the text."""
    text = canonical_json(value)
    return json.loads(text), text


def data_changes(before: dict, after: dict) -> dict:
    """Variable → ``{"before": v, "after": v}`` for each variable that differs; a side where the
    variable is unset has no key."""
    changes: dict[str, dict] = {}
    for name in before.keys() | after.keys():
        old, new = before.get(name, _UNSET), after.get(name, _UNSET)
        if old is _UNSET or new is _UNSET or old != new or type(old) is not type(new):
            change = {}
            if old is not _UNSET:
                change["before"] = old
            if new is not _UNSET:
                change["after"] = new
            changes[name] = change
    return changes


_UNSET = object()


def pending(case: Case) -> list[CaseEvent]:
    """The events recorded for ``case`` in this transaction and not sealed yet."""
    return case.__dict__.setdefault(_PENDING, [])


def record(
    case: Case,
    type_: str,
    actor: Any | None,
    data: dict | None = None,
    task_id: str | None = None,
    element_id: str | None = None,
) -> CaseEvent:
    """A new event for ``case``, queued until ``seal`` (explicit, or at commit) chains it."""
    queue = pending(case)
    if not queue:
        case.__dict__[_BEFORE] = (case.data or {}) if case.event_count else {}
        session = object_session(case)
        if session is not None:
            session.info.setdefault(_UNSEALED, []).append(case)
    event = CaseEvent(
        case_id=case.id,
        seq=(case.event_count or 0) + len(queue) + 1,
        type=type_,
        at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "username", "") or "",
        task_id=task_id,
        element_id=element_id,
        data=jsonable(data or {}),
        version_hash=case.version.content_hash,
        chain_version=CHAIN_VERSION,
    )
    queue.append(event)
    return event


def discard_since(case: Case, mark: int) -> None:
    """Forget the events queued after the first ``mark`` (their savepoint was rolled back)."""
    del pending(case)[mark:]


def seal(case: Case, data_text: str | None = None, state_hash: str | None = None) -> None:
    """Chain the queued events of ``case`` and add them to its session.

    Every event of a step records the data after the step; its first event (the one that caused
    the step) carries the change of data, the others none. ``state_hash`` is the stored
    workflow state after the step, recorded on its last event."""
    queue = case.__dict__.pop(_PENDING, None)
    if not queue:
        return
    before = case.__dict__.pop(_BEFORE, {})
    after = case.data or {}
    data_hash = sha256_hex(data_text if data_text is not None else canonical_json(after))
    prev = case.last_event_hash or GENESIS
    for position, event in enumerate(queue):
        event.data_hash = data_hash
        event.changes = jsonable(data_changes(before, after)) if position == 0 else {}
        event.state_hash = state_hash if position == len(queue) - 1 else None
        event.prev_hash = prev
        event.hash = prev = event_hash(event)
    case.event_count = queue[-1].seq
    case.last_event_hash = prev
    session = object_session(case)
    if session is None:
        raise RuntimeError("a case's events are sealed inside its session")
    session.execute(insert(_EVENTS), [{column: getattr(event, column) for column in _EVENT_COLUMNS} for event in queue])


# A step's events go in as one executemany of plain rows, not as ORM objects: the ORM needs each
# new row's id back, which SQLite's RETURNING cannot give in order for a batch, so it would insert
# them one statement at a time. Nothing reads an event's id before the transaction ends.
_EVENTS = CaseEvent.__table__
_EVENT_COLUMNS = tuple(column.key for column in _EVENTS.columns if column.key != "id")


@sa_event.listens_for(Session, "before_commit")
def _seal_on_commit(session: Session) -> None:
    """Events that no step sealed (a claim, a failure that left no runtime) are sealed at commit."""
    for case in session.info.pop(_UNSEALED, []):
        seal(case)
