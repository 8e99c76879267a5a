"""Replay (issue 11 §3): a case rebuilt from its recorded inputs on its pinned version is compared
with its record step by step; every altered stored state is reported at the step it shows in."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update

from engine.audit import replay as audit_replay
from engine.errors import Forbidden
from engine.persistence.models import Case, CaseEvent, CaseTask, WorkItem
from engine.services import cases, replay
from engine.services.scheduler import fire_due_timers
from tests.factories import actor, complete
from tests.integration.tamper import as_database_owner
from tests.integration.test_after_sales_paths import ANALYSIS, CONTAIN, FEEDBACK
from web.cli import main as cli


def _feedback_case(ctx) -> int:  # type: ignore[no-untyped-def]
    """An after-sales case routed to CAPA and taken two tasks into it."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "quality"})
    complete(ctx, "qc1", case.id, "Contain the problem", CONTAIN)
    complete(ctx, "qc1", case.id, "Analyse root cause and propose actions", ANALYSIS)
    return case.id


def _replayed(ctx, case_id: int) -> replay.CaseReplay:  # type: ignore[no-untyped-def]
    return replay.replay_case(ctx, actor(ctx, "auditor1"), case_id)


def _steps(ctx, case_id: int) -> int:  # type: ignore[no-untyped-def]
    report = _replayed(ctx, case_id)
    assert report.identical, report.as_json()
    return report.steps


def _write(ctx, statement) -> None:  # type: ignore[no-untyped-def]
    """An edit by someone holding the database (past the events table's append-only trigger)."""
    with as_database_owner(ctx) as conn:
        conn.execute(statement)


def _last_seq(ctx, case_id: int) -> int:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(Case.event_count).where(Case.id == case_id))


def test_an_untouched_case_replays_identically_step_by_step(ctx):
    case_id = _feedback_case(ctx)
    assert _steps(ctx, case_id) == 4  # the start and three completions


def test_edited_case_data_is_reported_after_the_last_step_with_both_sides(ctx):
    case_id = _feedback_case(ctx)
    steps = _steps(ctx, case_id)
    with ctx.unit_of_work(readonly=True) as uow:
        data = uow.session.get(Case, case_id).data
    _write(ctx, update(Case).where(Case.id == case_id).values(data={**data, "description": "No defect"}))
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None
    assert (divergence.step, divergence.seq) == (steps, _last_seq(ctx, case_id))
    assert divergence.what == "stored case data (cases.data)"
    assert divergence.recorded == {"description": "No defect"}
    assert divergence.replayed == {"description": FEEDBACK["description"]}


def test_an_edited_stored_task_is_reported_as_the_workflow_state_differing(ctx):
    case_id = _feedback_case(ctx)
    steps = _steps(ctx, case_id)
    with ctx.unit_of_work(readonly=True) as uow:
        rows = list(uow.session.execute(select(CaseTask.task_id, CaseTask.state).where(CaseTask.case_id == case_id)))
    edited = 0
    for task_id, text in rows:
        task = json.loads(text)
        if task.get("data", {}).get("root_cause") == ANALYSIS["root_cause"]:
            task["data"]["root_cause"] = "Operator error"
            _write(ctx, update(CaseTask).where(CaseTask.case_id == case_id, CaseTask.task_id == task_id)
                   .values(state=json.dumps(task)))
            edited += 1
    assert edited
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None and divergence.step == steps
    assert divergence.what == "stored workflow tasks (case_states, case_tasks)"
    assert "Operator error" in json.dumps(divergence.recorded)
    assert "Operator error" not in json.dumps(divergence.replayed)


def test_a_removed_inbox_row_is_reported_as_the_open_tasks_differing(ctx):
    case_id = _feedback_case(ctx)
    steps = _steps(ctx, case_id)
    _write(ctx, delete(WorkItem).where(WorkItem.case_id == case_id))
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None and divergence.step == steps
    assert divergence.what == "stored open tasks (work_items)"
    assert divergence.recorded == [] and len(divergence.replayed) == 1


def test_recorded_form_data_changed_afterwards_is_reported_at_the_step_it_changes(ctx):
    """The feedback said "quality" (CAPA followed); recorded as "complaint", the replay takes the
    complaint path at step 2 and the tasks that became ready differ there."""
    case_id = _feedback_case(ctx)
    with ctx.unit_of_work(readonly=True) as uow:
        event = uow.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                           CaseEvent.type == "task_completed").order_by(CaseEvent.seq))
        seq, data = event.seq, event.data
    _write(ctx, update(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
           .values(data={**data, "category": "complaint"}))
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None and divergence.step == 2
    assert divergence.what == "tasks that became ready"
    assert divergence.recorded != divergence.replayed


def test_recorded_data_hashes_are_checked_at_each_step(ctx):
    """Where a history records the case data after each event, the replay checks it: each step's
    last event carries the hash of the data the service answered with after that step."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    answers = [case.data]
    answers.append(complete(ctx, "sales1", case.id, "Record customer feedback",
                            {**FEEDBACK, "category": "quality"}).data)
    answers.append(complete(ctx, "qc1", case.id, "Contain the problem", CONTAIN).data)
    with ctx.unit_of_work(readonly=True) as uow:
        events = [audit_replay.RecordedEvent.of(e) for e in uow.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))]
    steps = audit_replay.steps_of(events)
    assert len(steps) == len(answers)
    last_of_step = {step.last_seq: audit_replay.data_hash(answer) for step, answer in zip(steps, answers, strict=True)}
    hashed = [audit_replay.RecordedEvent(**{**e.__dict__, "data_hash": last_of_step.get(e.seq)}) for e in events]

    def run(history):  # type: ignore[no-untyped-def]
        with ctx.unit_of_work(readonly=True) as uow:
            version = uow.session.get(Case, case.id).version
            process = ctx.process(version)
        return audit_replay.replay(history, lambda h: process if h == process.content_hash else None,
                                   lambda _: None, ctx.script_engine, ctx.department_ids())

    assert run(hashed).identical
    wrong = audit_replay.data_hash({**answers[1], "category": "complaint"})
    tampered = [audit_replay.RecordedEvent(**{**e.__dict__, "data_hash": wrong}) if e.seq == steps[1].last_seq else e
                for e in hashed]
    divergence = run(tampered).divergence
    assert divergence is not None
    assert (divergence.step, divergence.seq) == (2, steps[1].last_seq)
    assert divergence.what == "case data after the event (data_hash)"


def test_people_who_do_not_audit_may_not_replay(ctx):
    case_id = _feedback_case(ctx)
    with pytest.raises(Forbidden):
        replay.replay_case(ctx, actor(ctx, "sales1"), case_id)
    assert replay.replay_case(ctx, actor(ctx, "admin1"), case_id).identical
    assert replay.replay_case(ctx, actor(ctx, "owner1"), case_id).identical


def test_the_api_answers_the_verdict_and_refuses_others(api, ctx):
    case_id = _feedback_case(ctx)
    ok = api.get(f"/cases/{case_id}/replay", as_="auditor1")
    assert ok.status_code == 200
    assert ok.json == {"case_id": case_id, "identical": True, "steps": 4, "divergence": None}
    assert api.get(f"/cases/{case_id}/replay", as_="sales1").status_code == 403
    assert api.get("/cases/999999/replay", as_="auditor1").status_code == 404
    _write(ctx, update(Case).where(Case.id == case_id).values(data={}))
    diverged = api.get(f"/cases/{case_id}/replay", as_="auditor1").json
    assert diverged["identical"] is False
    assert diverged["divergence"]["step"] == 4 and diverged["divergence"]["what"] == "stored case data (cases.data)"


def test_the_command_exits_non_zero_on_any_divergence(ctx, db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    first, second = _feedback_case(ctx), _feedback_case(ctx)
    assert cli(["audit", "replay", str(first)]) == 0
    assert cli(["audit", "replay", "--all"]) == 0
    assert f"case {second}: identical (4 steps)" in capsys.readouterr().out
    _write(ctx, update(Case).where(Case.id == second).values(data={}))
    assert cli(["audit", "replay", "--all"]) == 1
    assert f"case {second}: DIVERGES at step 4" in capsys.readouterr().out
    assert cli(["audit", "replay", "999999"]) == 1
    assert cli(["audit", "replay"]) == 2


def test_timers_fire_in_the_replay_at_their_recorded_moments_and_a_moved_due_time_is_reported(ctx):
    from tests.factories import clock_at
    from tests.integration import test_capa_deadlines as capa

    with clock_at(capa.T0) as at:
        case_id = capa._tracking(ctx)
        at.now = capa.REMINDER + capa.SECOND
        assert fire_due_timers(ctx) == 1
    report = replay.replay_case(ctx, actor(ctx, "auditor1"), case_id, keep_snapshots=True)
    assert report.identical, report.as_json()
    [fired] = [s for s in report.snapshots if s.type == "timer_fired"]
    assert fired.at == capa.REMINDER + capa.SECOND  # the worker's moment, not the replay's
    with ctx.unit_of_work(readonly=True) as uow:
        event = uow.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                           CaseEvent.type == "timer_fired"))
        seq, data = event.seq, event.data
    _write(ctx, update(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
           .values(data={**data, "due": "2026-12-01T09:00:00+00:00"}))
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None
    assert (divergence.step, divergence.seq) == (fired.step, seq)
    assert divergence.what.startswith("due time of timer")
    assert divergence.recorded == "2026-12-01T09:00:00+00:00"
    assert divergence.replayed == capa.REMINDER.isoformat() + "+00:00"


def test_an_event_whose_data_was_replaced_by_something_else_is_reported_not_raised(ctx):
    case_id = _feedback_case(ctx)
    _write(ctx, update(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == 1).values(data=["x"]))
    divergence = _replayed(ctx, case_id).divergence
    assert divergence is not None and (divergence.step, divergence.seq) == (1, 1)
    assert divergence.what == "the recorded step cannot be replayed"
    assert divergence.recorded.startswith("AttributeError")
