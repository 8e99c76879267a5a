"""The case history proves itself: each event's hash covers its content, the case's data and
stored state after it, and the verifier names the first broken event for every kind of tampering
someone with database access can do (the re-hashed chain only against a signed checkpoint)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from engine.audit import chain, verify
from engine.persistence.models import Case, CaseEvent, CaseState, CaseTask, User, UserDepartment
from engine.services import cases, work_items
from tests.factories import actor, complete, open_task
from tests.integration import tamper
from tests.integration.test_after_sales_paths import FEEDBACK


def _case_with_history(ctx) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    return case.id


def _verdict(ctx, case_id: int, checkpoint: tuple[int, str] | None = None) -> verify.Verdict:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        one = verify.verify_case(uow.session, case_id, checkpoint)
        [streamed] = verify.verify_cases(uow.session, [case_id], {case_id: checkpoint} if checkpoint else None)
    assert streamed == one, "the streaming verifier and the single-case verifier agree"
    return one


def _events(ctx, case_id: int) -> list[CaseEvent]:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        events = list(uow.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                          .order_by(CaseEvent.seq)))
        uow.session.expunge_all()
        return events


def _claim_open_task(ctx, case_id: int) -> None:  # type: ignore[no-untyped-def]
    task = open_task(ctx, case_id)
    with ctx.unit_of_work(readonly=True) as uow:
        username = uow.session.scalars(select(User.username).join(UserDepartment, UserDepartment.user_id == User.id)
                                       .where(UserDepartment.department_id == task.department)).first()
    work_items.claim(ctx, actor(ctx, username), task.id)


def _head(ctx, case_id: int) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        case = uow.session.get(Case, case_id)
        return case.event_count, case.last_event_hash


def test_an_untouched_history_verifies(ctx):
    case_id = _case_with_history(ctx)
    events, broken = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert broken is None
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "case_started"
    verdict = _verdict(ctx, case_id, _head(ctx, case_id))
    assert verdict.ok and verdict.event_count == len(events) and verdict.broken_seq is None


def test_each_event_records_the_data_after_it_and_the_change_its_step_caused(ctx):
    case_id = _case_with_history(ctx)
    events = _events(ctx, case_id)
    with ctx.unit_of_work(readonly=True) as uow:
        data = uow.session.get(Case, case_id).data
    assert all(e.chain_version == chain.CHAIN_VERSION for e in events)
    assert events[-1].data_hash == chain.sha256_hex(chain.canonical_json(data))
    [completed] = [e for e in events if e.type == "task_completed"]
    assert completed.changes["description"] == {"after": FEEDBACK["description"]}
    assert completed.changes["category"] == {"after": "complaint"}
    step = [e for e in events if e.seq > completed.seq]
    assert all(e.changes == {} for e in step), "the rest of the step caused no change of its own"
    assert {e.data_hash for e in [completed, *step]} == {events[-1].data_hash}
    assert completed.data_hash != events[0].data_hash
    assert events[-1].state_hash is not None


def test_a_change_names_both_sides_and_leaves_out_an_unset_one():
    assert chain.data_changes({"a": 1, "b": 2, "c": True}, {"a": 1, "b": 3, "c": 1, "d": None}) == {
        "b": {"before": 2, "after": 3}, "c": {"before": True, "after": 1}, "d": {"after": None}}
    assert chain.data_changes({"gone": "x"}, {}) == {"gone": {"before": "x"}}


def test_a_claim_changes_no_data_and_still_records_the_data_after_it(ctx):
    case_id = _case_with_history(ctx)
    _claim_open_task(ctx, case_id)
    *_, before, claimed = _events(ctx, case_id)
    assert claimed.type == "task_claimed" and claimed.changes == {}
    assert claimed.data_hash == before.data_hash and claimed.state_hash is None
    assert _verdict(ctx, case_id).ok


def test_changing_recorded_form_data_is_detected_at_that_event(ctx):
    case_id = _case_with_history(ctx)
    [completed] = [e for e in _events(ctx, case_id) if e.type == "task_completed"]
    tamper.edit_event(ctx, case_id, completed.seq, data={**completed.data, "customer": "Someone else"})
    verdict = _verdict(ctx, case_id)
    assert (verdict.code, verdict.broken_seq) == (verify.HASH, completed.seq)
    assert verdict.failing == {completed.seq} and verdict.untrusted(completed.seq)
    assert cases.case_events(ctx, actor(ctx, "auditor1"), case_id)[1] == completed.seq


def test_changing_the_recorded_change_of_data_is_detected(ctx):
    case_id = _case_with_history(ctx)
    [completed] = [e for e in _events(ctx, case_id) if e.type == "task_completed"]
    tamper.edit_event(ctx, case_id, completed.seq, changes={"category": {"after": "question"}})
    assert (_verdict(ctx, case_id).code, _verdict(ctx, case_id).broken_seq) == (verify.HASH, completed.seq)


def test_changing_who_did_it_is_detected(ctx):
    case_id = _case_with_history(ctx)
    tamper.edit_event(ctx, case_id, 2, actor="gm1")
    assert _verdict(ctx, case_id).broken_seq == 2


def test_deleting_the_newest_event_is_detected_by_the_case_count(ctx):
    case_id = _case_with_history(ctx)
    count, _ = _head(ctx, case_id)
    tamper.delete_event(ctx, case_id, count)
    verdict = _verdict(ctx, case_id)
    assert (verdict.code, verdict.broken_seq) == (verify.COUNT, count)
    assert str(count) in verdict.reason


def test_deleting_a_middle_event_is_detected_at_the_gap(ctx):
    case_id = _case_with_history(ctx)
    tamper.delete_event(ctx, case_id, 2)
    verdict = _verdict(ctx, case_id)
    assert (verdict.code, verdict.broken_seq) == (verify.SEQUENCE, 2)


def test_reordering_events_is_detected_at_the_first_moved_one(ctx):
    case_id = _case_with_history(ctx)
    tamper.swap_events(ctx, case_id, 2, 3)
    verdict = _verdict(ctx, case_id)
    assert verdict.broken_seq == 2 and not verdict.ok


def test_a_rewritten_and_rehashed_history_is_caught_only_against_the_signed_checkpoint(ctx):
    case_id = _case_with_history(ctx)
    signed = _head(ctx, case_id)
    [completed] = [e for e in _events(ctx, case_id) if e.type == "task_completed"]
    tamper.edit_event(ctx, case_id, completed.seq, data={**completed.data, "customer": "Someone else"})
    tamper.rehash_chain(ctx, case_id)
    assert _verdict(ctx, case_id).ok, "without a checkpoint a re-hashed chain is self-consistent"
    verdict = _verdict(ctx, case_id, signed)
    assert (verdict.code, verdict.broken_seq) == (verify.CHECKPOINT_DIVERGED, signed[0])


def test_a_history_cut_below_the_signed_checkpoint_is_caught(ctx):
    case_id = _case_with_history(ctx)
    signed = _head(ctx, case_id)
    *_, kept, newest = _events(ctx, case_id)
    tamper.delete_event(ctx, case_id, newest.seq)
    tamper.edit_event(ctx, case_id, kept.seq, state_hash=newest.state_hash)
    tamper.rehash_chain(ctx, case_id)
    assert _verdict(ctx, case_id).ok, "the cut history is made self-consistent"
    verdict = _verdict(ctx, case_id, signed)
    assert (verdict.code, verdict.broken_seq) == (verify.CHECKPOINT_SHORT, signed[0])


def test_a_history_grown_after_the_checkpoint_still_extends_it(ctx):
    case_id = _case_with_history(ctx)
    signed = _head(ctx, case_id)
    _claim_open_task(ctx, case_id)
    assert _head(ctx, case_id)[0] == signed[0] + 1
    assert _verdict(ctx, case_id, signed).ok


def test_editing_the_case_data_is_detected(ctx):
    case_id = _case_with_history(ctx)
    with ctx.unit_of_work(readonly=True) as uow:
        data = uow.session.get(Case, case_id).data
    tamper.edit_case(ctx, case_id, data={**data, "customer": "C999"})
    verdict = _verdict(ctx, case_id)
    assert (verdict.code, verdict.broken_seq) == (verify.DATA, _head(ctx, case_id)[0])


@pytest.mark.parametrize("table", ["case_tasks", "case_states"])
def test_editing_the_stored_workflow_state_is_detected(ctx, table):
    case_id = _case_with_history(ctx)
    with tamper.as_database_owner(ctx) as conn:
        if table == "case_tasks":
            task_id, state = conn.execute(select(CaseTask.task_id, CaseTask.state)
                                          .where(CaseTask.case_id == case_id).limit(1)).one()
            conn.execute(update(CaseTask).where(CaseTask.case_id == case_id, CaseTask.task_id == task_id)
                         .values(state=state.replace('"state":', '"state" :', 1)))
        else:
            state = conn.execute(select(CaseState.state).where(CaseState.case_id == case_id)).scalar_one()
            conn.execute(update(CaseState).where(CaseState.case_id == case_id).values(state=state + " "))
    verdict = _verdict(ctx, case_id)
    assert verdict.code == verify.STATE and verdict.broken_seq is not None


def test_events_recorded_before_the_chain_covered_data_still_verify_and_newer_ones_follow_them(ctx):
    """A history from before chain version 2 (as migration 0016 finds it) keeps its hash rule; the
    case's next events are version 2 and chain on from it."""
    case_id = _case_with_history(ctx)
    with tamper.as_database_owner(ctx) as conn:
        conn.execute(update(CaseEvent).where(CaseEvent.case_id == case_id)
                     .values(chain_version=1, data_hash=None, changes=None, state_hash=None))
    tamper.rehash_chain(ctx, case_id)
    assert _verdict(ctx, case_id).ok
    _claim_open_task(ctx, case_id)
    *old, newest = _events(ctx, case_id)
    assert {e.chain_version for e in old} == {1} and newest.chain_version == chain.CHAIN_VERSION
    assert _verdict(ctx, case_id).ok


def test_an_older_format_event_after_a_newer_one_is_refused(ctx):
    case_id = _case_with_history(ctx)
    count, _ = _head(ctx, case_id)
    tamper.edit_event(ctx, case_id, count, chain_version=1, data_hash=None, changes=None, state_hash=None)
    tamper.rehash_chain(ctx, case_id)
    verdict = _verdict(ctx, case_id)
    assert (verdict.code, verdict.broken_seq) == (verify.DOWNGRADE, count)


def test_all_cases_are_verified_in_one_stream_and_only_the_tampered_one_fails(ctx):
    ids = [_case_with_history(ctx) for _ in range(3)]
    tamper.edit_event(ctx, ids[1], 1, actor="nobody")
    with ctx.unit_of_work(readonly=True) as uow:
        verdicts = list(verify.verify_cases(uow.session))
    assert [v.case_id for v in verdicts] == ids
    assert [v.ok for v in verdicts] == [True, False, True]


def test_postgresql_refuses_to_update_or_delete_an_event(ctx):
    if ctx.database.engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    case_id = _case_with_history(ctx)
    for statement in ("UPDATE case_events SET actor = 'gm1' WHERE case_id = :id",
                      "DELETE FROM case_events WHERE case_id = :id",
                      "DELETE FROM cases WHERE id = :id"):
        with pytest.raises(Exception, match="append-only"), ctx.database.engine.begin() as conn:
            conn.execute(text(statement), {"id": case_id})
    assert _verdict(ctx, case_id).ok
