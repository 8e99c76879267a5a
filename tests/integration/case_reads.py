"""What a case shows after time has moved, read through the public services and the tables the
deadline tests check: its open tasks, the mail it queued, the timers it recorded as fired and when
the worker will next look at it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.persistence.models import Case, OutboxMessage
from engine.services import cases
from tests.factories import actor


def open_tasks(ctx, case_id: int) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """(title, department) of the case's open tasks, sorted."""
    return sorted((t.title, t.department) for t in cases.get_case(ctx, actor(ctx, "auditor1"), case_id).open_tasks)


def queued_mail(ctx, case_id: int, kind: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(address, task title) of the case's queued mail of one kind."""
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id,
                                                               OutboxMessage.kind == kind))
        return sorted((m.to_address, m.subject.split(": ", 1)[1].split(" — ")[0]) for m in rows)


def fired_timers(ctx, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The element ids of the case's ``timer_fired`` events, in order (the chain checked intact)."""
    history, broken = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert broken is None
    return [e.element_id for e in history if e.type == "timer_fired"]


def next_due(ctx, case_id: int) -> datetime | None:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.get(Case, case_id).next_due_at
