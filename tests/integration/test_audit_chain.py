"""The case history is hash-chained: any change to a recorded event is detected and located."""

from __future__ import annotations

from sqlalchemy import update

from engine.persistence.models import CaseEvent
from engine.services import cases
from tests.factories import actor, complete
from tests.integration.test_after_sales_paths import FEEDBACK


def _case_with_history(ctx) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    return case.id


def _tamper(ctx, case_id: int, seq: int, **values) -> None:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
                            .values(**values))
        uow.commit()


def test_an_untouched_history_verifies(ctx):
    case_id = _case_with_history(ctx)
    events, broken = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert broken is None
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "case_started"


def test_changing_recorded_form_data_is_detected_at_that_event(ctx):
    case_id = _case_with_history(ctx)
    events, _ = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    [completed] = [e for e in events if e.type == "task_completed"]
    _tamper(ctx, case_id, completed.seq, data={**completed.data, "customer": "Someone else"})
    assert cases.case_events(ctx, actor(ctx, "auditor1"), case_id)[1] == completed.seq


def test_changing_who_did_it_is_detected(ctx):
    case_id = _case_with_history(ctx)
    _tamper(ctx, case_id, 2, actor="gm1")
    assert cases.case_events(ctx, actor(ctx, "auditor1"), case_id)[1] == 2
