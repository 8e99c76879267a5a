"""Replay covers what people do to a case besides completing its tasks (issue 11 §3): an
administrator's retry of a failed step, a cancellation, a manual signal. Each is an input of the
replay, run again as the service ran it; a recorded input changed afterwards is reported at its
step. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, update

from engine.definitions.catalog import ProcessBundle
from engine.persistence.models import Case, CaseEvent
from engine.services import cases, replay, tasks
from engine.services.interventions import cancel_case, retry_case
from engine.services.processes import publish_bundle
from tests import spiff_arena_models as arena
from tests.factories import actor, complete, script_process
from tests.integration.tamper import as_database_owner
from tests.integration.test_case_history_events import _failing_once

KILLED = "Compute (script): Script stopped: the sandbox process was killed"


def _replayed(ctx, case_id: int) -> replay.CaseReplay:  # type: ignore[no-untyped-def]
    return replay.replay_case(ctx, actor(ctx, "auditor1"), case_id, keep_snapshots=True)


def _seq(ctx, case_id: int, type_: str) -> int:  # type: ignore[no-untyped-def]
    """The seq of the case's one ``type_`` event."""
    with ctx.unit_of_work(readonly=True) as uow:
        [seq] = uow.session.scalars(select(CaseEvent.seq).where(CaseEvent.case_id == case_id,
                                                                CaseEvent.type == type_))
        return seq


def _rewrite(ctx, case_id: int, type_: str, data: dict) -> int:  # type: ignore[no-untyped-def]
    """Change the recorded data of the case's one ``type_`` event, as someone holding the database
    could (past the events table's append-only trigger); its seq."""
    seq = _seq(ctx, case_id, type_)
    with as_database_owner(ctx) as conn:
        conn.execute(update(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq).values(data=data))
    return seq


def _retried_after_a_passing_failure(ctx, monkeypatch) -> int:  # type: ignore[no-untyped-def]
    """A case whose script failed because the sandbox process was killed, retried by an
    administrator, then completed."""
    publish_bundle(ctx, script_process("flaky", "total = 40 + 2"))
    case = cases.start_case(ctx, actor(ctx, "sales1"), "flaky")
    _failing_once(monkeypatch)
    assert complete(ctx, "sales1", case.id, "Before", {"note": "kept"}).error == KILLED
    assert retry_case(ctx, actor(ctx, "admin1"), case.id).status == "running"
    assert complete(ctx, "sales1", case.id, "After", {}).status == "completed"
    return case.id


def test_a_case_retried_after_its_script_failed_and_then_completed_replays_identically(ctx, monkeypatch):
    case_id = _retried_after_a_passing_failure(ctx, monkeypatch)
    report = _replayed(ctx, case_id)
    assert report.identical, report.as_json()
    assert [(s.type, s.status) for s in report.snapshots] == [
        ("case_started", "running"), ("task_completed", "error"), ("case_retried", "running"),
        ("task_completed", "completed")]
    failed, retried = report.snapshots[1], report.snapshots[2]
    assert failed.open_tasks == [] and "total" not in failed.data
    assert [t.title for t in retried.open_tasks] == ["After"] and retried.data["total"] == 42
    assert retried.submitted == {"error": KILLED, "elements": ["Compute"]}


def test_the_failed_steps_a_retry_names_changed_afterwards_are_reported_at_the_retry(ctx, monkeypatch):
    case_id = _retried_after_a_passing_failure(ctx, monkeypatch)
    seq = _rewrite(ctx, case_id, "case_retried", {"error": KILLED, "elements": ["Approve"]})
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None and (divergence.step, divergence.seq) == (3, seq)
    assert divergence.what == "the failed steps run again"
    assert (divergence.recorded, divergence.replayed) == (["Approve"], ["Compute"])


def test_a_recorded_sandbox_stop_at_an_element_the_step_never_runs_is_reported_at_that_step(ctx, monkeypatch):
    """A sandbox stop is taken as recorded only where the replay runs a script: moved to another
    element, the replayed step completes and the failure is the difference."""
    case_id = _retried_after_a_passing_failure(ctx, monkeypatch)
    moved = "Other (other): Script stopped: the sandbox process was killed"
    seq = _rewrite(ctx, case_id, "case_failed", {"error": moved})
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None and (divergence.step, divergence.seq) == (2, seq)
    assert (divergence.what, divergence.recorded, divergence.replayed) == ("failure", moved, None)


def test_a_retry_that_fails_again_and_the_cancellation_that_ends_the_case_replay_identically(ctx):
    publish_bundle(ctx, script_process("broken", "x = 1 / 0"))
    case = cases.start_case(ctx, actor(ctx, "sales1"), "broken")
    assert complete(ctx, "sales1", case.id, "Before", {}).status == "error"
    assert retry_case(ctx, actor(ctx, "admin1"), case.id).status == "error"
    assert cancel_case(ctx, actor(ctx, "admin1"), case.id, "The script cannot be fixed").status == "cancelled"
    report = _replayed(ctx, case.id)
    assert report.identical, report.as_json()
    assert [(s.type, s.status) for s in report.snapshots] == [
        ("case_started", "running"), ("task_completed", "error"), ("case_retried", "error"),
        ("case_cancelled", "cancelled")]
    assert report.snapshots[-1].submitted == {"reason": "The script cannot be fixed", "status": "error"}


def test_a_cancelled_case_replays_identically_and_its_status_or_cancellation_edited_is_reported(ctx):
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    cancel_case(ctx, actor(ctx, "admin1"), case.id, "Duplicate of case 12")
    report = _replayed(ctx, case.id)
    assert report.identical, report.as_json()
    assert report.steps == 2 and report.snapshots[-1].open_tasks == []
    with as_database_owner(ctx) as conn:
        conn.execute(update(Case).where(Case.id == case.id).values(status="running"))
    divergence = _replayed(ctx, case.id).divergence
    assert divergence is not None and divergence.what == "stored case status"
    assert (divergence.recorded, divergence.replayed) == ("running", "cancelled")
    seq = _rewrite(ctx, case.id, "case_cancelled", {"reason": "Duplicate of case 12", "status": "error"})
    divergence = _replayed(ctx, case.id).divergence
    assert divergence is not None and (divergence.step, divergence.seq) == (2, seq)
    assert (divergence.what, divergence.recorded, divergence.replayed) == (
        "status of the case when it was cancelled", "error", "running")


def _signalled(ctx) -> int:  # type: ignore[no-untyped-def]
    """A spiff-arena case whose task was cancelled with its manual signal button."""
    publish_bundle(ctx, ProcessBundle(arena.SIGNAL, arena.SIGNAL, arena.signal()))
    case = cases.start_case(ctx, actor(ctx, "admin1"), arena.SIGNAL)
    [task] = case.open_tasks
    done = tasks.send_signal(ctx, actor(ctx, "admin1"), task.id, arena.SIGNAL_NAME)
    assert (done.status, done.outcome) == ("completed", "Cancelled")
    return case.id


def test_a_case_moved_on_by_a_signal_replays_identically(ctx):
    case_id = _signalled(ctx)
    report = _replayed(ctx, case_id)
    assert report.identical, report.as_json()
    signalled = report.snapshots[-1]
    assert (signalled.type, signalled.status, signalled.element_id) == ("signal_sent", "completed", "Activity_handle")
    assert signalled.submitted == {"signal": arena.SIGNAL_NAME, "label": arena.SIGNAL_LABEL}
    assert ("workflows/arena_signal.bpmn", "EndEvent_cancelled") in signalled.done_now


def test_a_recorded_signal_changed_afterwards_is_reported_at_its_step(ctx):
    case_id = _signalled(ctx)
    seq = _rewrite(ctx, case_id, "signal_sent", {"signal": "approve_request", "label": arena.SIGNAL_LABEL})
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None and (divergence.step, divergence.seq) == (2, seq)
    assert divergence.what == "signal approve_request is not offered by task Activity_handle in the replay"
    assert (divergence.recorded, divergence.replayed) == ("approve_request", [arena.SIGNAL_NAME])
    seq = _rewrite(ctx, case_id, "signal_sent", {"signal": arena.SIGNAL_NAME, "label": "Approve"})
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None and (divergence.step, divergence.seq) == (2, seq)
    assert (divergence.what, divergence.recorded, divergence.replayed) == (
        f"label of signal {arena.SIGNAL_NAME}", "Approve", arena.SIGNAL_LABEL)
