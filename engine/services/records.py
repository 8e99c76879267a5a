"""A case's records: each completed task as the filled-in form it was (PROCEDURE §4's paper
records become these), for the task page, the case page and printing."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import chain, verify
from engine.audit.verify import Verdict
from engine.context import EngineContext
from engine.definitions.catalog import ParsedProcess
from engine.definitions.forms import FormDefinition
from engine.persistence.models import CaseEvent, CaseIntegrityFailure
from engine.services import visibility
from engine.services.actors import Actor
from engine.services.cases import EventView, event_view

RECORD_EVENT = "task_completed"


@dataclass(frozen=True)
class RecordView:
    """A completed task of the case as a filled-in record: what was submitted, on which form."""

    event: EventView
    title: str
    form: FormDefinition | None
    title_zh: str = ""
    untrusted: bool = False  # its event fails verification: what it shows may have been altered


def record_views(process: ParsedProcess, events: Iterable[CaseEvent], untrusted: Callable[[int], bool]
                 ) -> list[RecordView]:
    """Completed-task events with the title and form of the task that recorded them; a record
    whose event's hash does not match its content, or that a verification of the case distrusts
    (``untrusted``, given the event's seq), is marked untrusted."""
    views = []
    for e in events:
        info = process.user_tasks.get(e.element_id or "")
        views.append(RecordView(
            event=event_view(e),
            title=info.title if info else (e.element_id or ""),
            form=process.form_for(e.element_id) if info else None,
            title_zh=info.title_zh if info else "",
            untrusted=untrusted(e.seq) or chain.event_hash(e) != e.hash,
        ))
    return views


def completed_events(session, case_id: int):  # type: ignore[no-untyped-def]
    return session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.type == RECORD_EVENT).order_by(CaseEvent.seq)
    )


def stored_distrust(session: Session, case_id: int) -> Callable[[int], bool]:
    """Which events the case's last full verification distrusts (none when it passed): for pages
    that show records without verifying the whole history themselves."""
    failure = session.get(CaseIntegrityFailure, case_id)
    if failure is None:
        return lambda seq: False
    return functools.partial(verify.distrusts, failure.code, failure.broken_seq)


def case_records(ctx: EngineContext, actor: Actor, case_id: int, verdict: Verdict | None = None) -> list[RecordView]:
    """Every record of a case in the order it was made, marked by ``verdict`` when the caller has
    just verified the case (the case page), else by its last full verification; NotFound when
    ``actor`` may not read it."""
    with ctx.unit_of_work(readonly=True) as uow:
        case = visibility.readable_case(uow.session, actor, case_id)
        distrust = verdict.untrusted if verdict is not None else stored_distrust(uow.session, case_id)
        return record_views(ctx.process(case.version), completed_events(uow.session, case_id), distrust)
