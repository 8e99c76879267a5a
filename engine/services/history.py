"""A case's history as people read it: each event with the name of the task or element it
concerns in both languages (as the process owner wrote them), the department the task went to
with its names, the data it carried and, where the chain recorded it, the change of case data
it caused (``changes``: variable → before/after)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from engine.context import EngineContext
from engine.definitions.catalog import ParsedProcess
from engine.persistence.models import CaseEvent, Department
from engine.services.actors import Actor
from engine.services.cases import EventView, event_view, verified_events
from engine.services.integrity import CaseIntegrity


@dataclass(frozen=True)
class Change:
    variable: str
    before: object
    after: object


@dataclass(frozen=True)
class HistoryEntry:
    event: EventView
    title: str = ""
    title_zh: str = ""
    department: str = ""
    department_zh: str = ""
    changes: list[Change] = field(default_factory=list)


def _changes(event: CaseEvent) -> list[Change]:
    """The data change an event recorded, when the chain records one (older events have none)."""
    recorded = event.changes
    if not isinstance(recorded, dict):
        return []
    return [Change(str(name), change.get("before"), change.get("after"))
            for name, change in sorted(recorded.items()) if isinstance(change, dict)]


def _element_name(process: ParsedProcess, element_id: str | None) -> str:
    """The name the diagram gives an element that is not a user task (a timer, a message event, a
    script), from the process or the one it calls; "" when it has none."""
    if not element_id:
        return ""
    for spec in (process.spec, *process.subprocess_specs.values()):
        found = getattr(spec, "task_specs", {}).get(element_id)
        if found is not None and getattr(found, "bpmn_name", None):
            return str(found.bpmn_name)
    return ""


def case_history(ctx: EngineContext, actor: Actor, case_id: int) -> tuple[list[HistoryEntry], CaseIntegrity]:
    """The history in order and the verdict on it (``engine.audit.verify``: chain, case row, data
    and stored state, and the latest signed checkpoint covering the case); NotFound when
    ``actor`` may not read the case."""
    with ctx.unit_of_work(readonly=True) as uow:
        case, events, checked = verified_events(ctx, uow.session, actor, case_id)
        process = ctx.process(case.version)
        departments = {d.id: d for d in uow.session.scalars(select(Department))}
        routed: dict[str, str] = {}
        entries = []
        for event in events:
            if event.type == "task_ready" and event.task_id and isinstance(event.data.get("department"), str):
                routed[event.task_id] = event.data["department"]
            info = process.user_tasks.get(event.element_id or "")
            department = departments.get(routed.get(event.task_id or "", ""))
            entries.append(HistoryEntry(
                event=event_view(event), title=info.title if info else _element_name(process, event.element_id),
                title_zh=info.title_zh if info else "",
                department=department.name if department else "",
                department_zh=(department.name_zh or department.name) if department else "",
                changes=_changes(event)))
        return entries, checked
