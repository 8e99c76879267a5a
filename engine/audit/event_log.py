"""The event log as process-mining tools read it: every readable case with its events in order,
each event named for the activity it records, read a batch of cases at a time so that an export
of any size holds one batch in memory. ``engine.audit.xes`` and ``engine.audit.ocel`` write it.

Exports are for those who read every case and answer for the process: auditors, administrators
and process owners; anyone else is refused (a department's staff read only their own cases, and a
log of "every case" that silently left some out would mislead whoever mines it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import select

from engine.context import EngineContext
from engine.definitions.catalog import ParsedProcess
from engine.errors import Forbidden
from engine.persistence.models import Case, CaseEvent, Department, User
from engine.services.actors import Actor
from engine.time.days import parse_day

BATCH = 200

# A task's events as lifecycle transitions of the XES standard lifecycle model; every other event
# is one atomic activity ("complete").
TASK_TRANSITIONS = {
    "task_ready": "schedule",
    "task_claimed": "assign",
    "task_assigned": "reassign",
    "task_released": "withdraw",
    "task_completed": "complete",
}
EVENT_LABELS = {
    "case_started": "Case started",
    "scheduled_start": "Case started on schedule",
    "case_completed": "Case completed",
    "case_failed": "Case failed",
    "case_retried": "Case retried",
    "case_cancelled": "Case cancelled",
    "timer_fired": "Timer fired",
    "message_received": "Message received",
    "effect_applied": "Service task applied",
    "notification_queued": "Notification queued",
    "escalation": "Escalation",
    "reminder": "Reminder",
    "comment_added": "Comment added",
    "case_migrated": "Case migrated",
    "migration_reverted": "Migration reverted",
}


def may_export(actor: Actor) -> bool:
    return actor.is_auditor or actor.is_admin or actor.is_process_owner


@dataclass(frozen=True)
class LogFilter:
    """Which cases: of one process, and with events since a day (only those events are exported)."""

    process_id: str | None = None
    since: datetime | None = None

    @classmethod
    def parse(cls, process_id: str | None, since: str | None) -> LogFilter:
        """From a command line or query string; a ``since`` that is not a date is refused naming it."""
        day = parse_day("since", since)
        when = datetime.combine(day, time()) if day is not None else None
        return cls(process_id=(process_id or "").strip() or None, since=when)


@dataclass(frozen=True)
class LogEvent:
    """One recorded event as an activity: who did it, in which department, at which step of its task."""

    seq: int
    type: str
    activity: str
    transition: str
    at: datetime
    resource: str
    group: str
    element_id: str | None
    data: dict
    form: str | None
    hash: str


@dataclass(frozen=True)
class LogCase:
    id: int
    process_id: str
    process_name: str
    version: int
    title: str
    customer: str
    status: str
    outcome: str
    created_at: datetime
    data: dict
    events: list[LogEvent] = field(default_factory=list)


def _activity(event: CaseEvent, process: ParsedProcess, titles: dict[str, str]) -> str:
    if event.type in TASK_TRANSITIONS:
        info = process.user_tasks.get(event.element_id or "")
        return titles.get(event.task_id or "") or (info.title if info else "") or (event.element_id or "Task")
    label = EVENT_LABELS.get(event.type) or event.type.replace("_", " ").capitalize()
    if event.type == "timer_fired" and event.data.get("name"):
        return f"{label}: {event.data['name']}"
    return label


def _log_case(case: Case, events: list[CaseEvent], process: ParsedProcess, departments: dict[str, str],
              people: dict[int, list[str]]) -> LogCase:
    """Task titles and departments come from each task's ``task_ready`` event (the task as it was
    routed); anything else done by a person is grouped under that person's department."""
    titles: dict[str, str] = {}
    task_departments: dict[str, str] = {}
    rows = []
    for event in events:
        if event.type == "task_ready" and event.task_id:
            titles[event.task_id] = str(event.data.get("title") or "")
            task_departments[event.task_id] = str(event.data.get("department") or "")
        department = task_departments.get(event.task_id or "") or next(iter(people.get(event.actor_id or 0, [])), "")
        info = process.user_tasks.get(event.element_id or "")
        rows.append(LogEvent(
            seq=event.seq, type=event.type, activity=_activity(event, process, titles),
            transition=TASK_TRANSITIONS.get(event.type, "complete"), at=event.at, resource=event.actor or "system",
            group=departments.get(department, department), element_id=event.element_id, data=event.data or {},
            form=info.form if info and event.type == "task_completed" else None, hash=event.hash,
        ))
    return LogCase(id=case.id, process_id=case.process_id, process_name=case.version.name,
                   version=case.version.version, title=case.title, customer=case.customer, status=case.status,
                   outcome=case.outcome, created_at=case.created_at, data=case.data or {}, events=rows)


def read_log(ctx: EngineContext, actor: Actor, flt: LogFilter) -> Iterator[LogCase]:
    """The cases the filter selects, oldest first, each with its (filtered) events; Forbidden for
    anyone who does not read every case. The check happens at the call, before any case is read,
    so that a streamed answer is refused before it starts."""
    if not may_export(actor):
        raise Forbidden("Event log exports are for auditors, administrators and process owners")
    return _batches(ctx, flt)


def _batches(ctx: EngineContext, flt: LogFilter) -> Iterator[LogCase]:
    last_id = 0
    while True:
        with ctx.unit_of_work(readonly=True) as uow:
            session = uow.session
            departments = {d.id: d.name for d in session.scalars(select(Department))}
            query = select(Case).where(Case.id > last_id).order_by(Case.id).limit(BATCH)
            if flt.process_id:
                query = query.where(Case.process_id == flt.process_id)
            if flt.since:  # a case with an event since then, however old the case
                query = query.where(Case.id.in_(select(CaseEvent.case_id).where(CaseEvent.at >= flt.since)))
            batch = list(session.scalars(query))
            if not batch:
                return
            events_query = select(CaseEvent).where(CaseEvent.case_id.in_([c.id for c in batch]))
            if flt.since:
                events_query = events_query.where(CaseEvent.at >= flt.since)
            by_case: dict[int, list[CaseEvent]] = {}
            for event in session.scalars(events_query.order_by(CaseEvent.case_id, CaseEvent.seq)):
                by_case.setdefault(event.case_id, []).append(event)
            actor_ids = {e.actor_id for evs in by_case.values() for e in evs if e.actor_id is not None}
            people = {u.id: sorted(d.id for d in u.departments)
                      for u in session.scalars(select(User).where(User.id.in_(actor_ids)))} if actor_ids else {}
            cases = [_log_case(c, by_case.get(c.id, []), ctx.process(c.version), departments, people)
                     for c in batch]
        yield from cases
        last_id = cases[-1].id


def iso_utc(moment: datetime) -> str:
    """Stored times are naive UTC; logs carry the offset so that no tool guesses a time zone."""
    return moment.isoformat(timespec="milliseconds") + "+00:00"


def scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)
