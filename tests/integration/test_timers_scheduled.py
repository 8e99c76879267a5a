"""No case waits forever unnoticed, on SQLite and PostgreSQL: for every diagram in workflows/ that
holds a timer a case can wait on (boundary, intermediate, behind an event-based gateway), a case
is walked to it and on through its firings, and whenever it waits on a timer its ``next_due_at``
is the earliest of them. The timers are found in the stored state by a scan of its own (every
waiting task whose event, or the events it races, include a timer), not through the code that
schedules them. A diagram with a timer and no walk here fails the check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.definitions.bpmn_xml import NS
from engine.persistence.models import Case
from engine.services.case_store import load_runtime
from engine.services.scheduler import fire_due_timers
from tests.factories import clock_at
from tests.integration import test_capa_deadlines, test_delivery_deadlines, test_presales_deadlines
from tests.integration.case_reads import next_due

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SECOND = timedelta(seconds=1)
MAX_FIRINGS = 5


def _on_time_order(ctx) -> int:  # type: ignore[no-untyped-def]
    return test_delivery_deadlines._ordered(ctx, test_delivery_deadlines.ON_TIME)


# diagram file -> (the clock its walk starts at, a walk that leaves a case waiting on its timers)
WALKS: dict[str, tuple[datetime, Callable[[Any], int]]] = {
    "presales_request.bpmn": (test_presales_deadlines.T0, test_presales_deadlines._requested),
    "order_delivery.bpmn": (test_delivery_deadlines.T0, _on_time_order),
    "capa.bpmn": (test_capa_deadlines.T0, test_capa_deadlines._tracking),
}


def _diagrams_with_waiting_timers() -> set[str]:
    """Diagrams with a timer a running case waits on; a timer start event is a schedule's
    (``engine.time.schedules``), not a running case's."""
    found = set()
    for path in WORKFLOWS.glob("*.bpmn"):
        root = etree.parse(str(path)).getroot()
        for timer in root.iterfind(".//bpmn:timerEventDefinition", NS):
            if etree.QName(timer.getparent()).localname != "startEvent":
                found.add(path.name)
    return found


def _timers(definition: Any) -> list[TimerEventDefinition]:
    if isinstance(definition, TimerEventDefinition):
        return [definition]
    return [t for item in getattr(definition, "event_definitions", []) for t in _timers(item)]


def _waiting_timer_dues(ctx, case_id: int) -> list[datetime]:  # type: ignore[no-untyped-def]
    """When each timer the stored case waits on comes due (naive UTC), however it is held."""
    with ctx.unit_of_work(readonly=True) as uow:
        runtime = load_runtime(ctx, uow, uow.session.get(Case, case_id))
    workflows = [runtime.workflow, *runtime.workflow.subprocesses.values()]
    dues = []
    for workflow in workflows:
        for task in workflow.get_tasks(state=TaskState.WAITING):
            for timer in _timers(getattr(task.task_spec, "event_definition", None)):
                value = timer.details(task).value
                dues.append(TimerEventDefinition.get_datetime(value).astimezone(UTC).replace(tzinfo=None))
    return dues


def test_every_diagram_holding_a_timer_has_a_walk_here():
    assert set(WALKS) == _diagrams_with_waiting_timers()


@pytest.mark.parametrize("diagram", sorted(WALKS))
def test_whenever_a_case_waits_on_a_timer_its_next_due_time_is_set(ctx, diagram: str):
    start, walk = WALKS[diagram]
    with clock_at(start) as at:
        case_id = walk(ctx)
        dues = _waiting_timer_dues(ctx, case_id)
        assert dues, f"the walk of {diagram} does not reach a timer"
        for _ in range(MAX_FIRINGS):
            assert next_due(ctx, case_id) == min(dues)
            at.now = min(dues) + SECOND
            assert fire_due_timers(ctx) == 1
            dues = _waiting_timer_dues(ctx, case_id)
            if not dues:
                break
        assert next_due(ctx, case_id) is None
