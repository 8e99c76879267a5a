"""Replay over histories built by hand: a version migration switches the spec at its event
(the contract of the case-migration work: ``case_migrated`` names ``to_version_id``), and the
recorded moments drive the timers."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.audit.replay import RecordedEvent, Snapshot, replay, steps_of
from engine.definitions.catalog import ParsedProcess, ProcessBundle, parse_bundle
from engine.sandbox.environment import make_script_engine

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" name="P" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="ask" name="Ask">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    {middle}
    <bpmn:endEvent id="end" name="Done"><bpmn:incoming>{last}</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    {flows}
  </bpmn:process>
</bpmn:definitions>
"""
V1 = PROCESS.format(middle="", last="f2", flows='<bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="end" />')
V2 = PROCESS.format(
    middle='<bpmn:userTask id="check" name="Check"><bpmn:incoming>f2</bpmn:incoming>'
           '<bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>',
    last="f3",
    flows='<bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="check" />'
          '<bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end" />')
AT = datetime(2026, 12, 1, 9, 0)


@pytest.fixture(scope="module")
def versions() -> dict[int, ParsedProcess]:
    return {number: parse_bundle(ProcessBundle("p", "P", {"workflows/p.bpmn": xml}))
            for number, xml in ((1, V1), (2, V2))}


@pytest.fixture(scope="module")
def script_engine():  # type: ignore[no-untyped-def]
    return make_script_engine(1)


def _event(seq: int, type_: str, version: ParsedProcess, data: dict | None = None, task_id: str | None = None,
           element_id: str | None = None) -> RecordedEvent:
    return RecordedEvent(seq, type_, AT, task_id, element_id, data or {}, version.content_hash)


def _history(v1: ParsedProcess, v2: ParsedProcess, migrated: bool) -> list[RecordedEvent]:
    events = [
        _event(1, "case_started", v1, {"data": {"order": "A-1"}, "version": 1}),
        _event(2, "task_ready", v1, {"title": "Ask", "lane": None, "department": None}, "t-ask", "ask"),
    ]
    if migrated:
        events.append(_event(3, "case_migrated", v2, {
            "migration_id": 1, "from_version_id": 1, "to_version_id": 2, "from_version": 1, "to_version": 2,
            "verdict": "compatible"}))
    after = v2 if migrated else v1
    events += [
        _event(len(events) + 1, "task_completed", after, {"answer": "yes"}, "t-ask", "ask"),
        _event(len(events) + 2, "task_ready", after, {"title": "Check", "lane": None, "department": None},
               "t-check", "check"),
        _event(len(events) + 3, "task_completed", after, {}, "t-check", "check"),
        _event(len(events) + 4, "case_completed", after, {"outcome": "Done"}),
    ]
    return events


def test_a_migration_event_switches_the_replay_onto_the_version_it_names(versions, script_engine):
    v1, v2 = versions[1], versions[2]
    history = _history(v1, v2, migrated=True)
    report = replay(history, {v.content_hash: v for v in (v1, v2)}.get, versions.get, script_engine, frozenset())
    assert report.identical, report.divergence
    assert [s.first.type for s in steps_of(history)] == ["case_started", "case_migrated", "task_completed",
                                                         "task_completed"]
    assert report.steps == 4


def test_without_its_migration_the_same_history_diverges_where_the_version_changes(versions, script_engine):
    v1, v2 = versions[1], versions[2]
    history = [e for e in _history(v1, v2, migrated=True) if e.type != "case_migrated"]
    report = replay(history, {v.content_hash: v for v in (v1, v2)}.get, versions.get, script_engine, frozenset())
    assert report.divergence is not None
    assert (report.divergence.step, report.divergence.what) == (2, "version")
    assert (report.divergence.recorded, report.divergence.replayed) == (v2.content_hash, v1.content_hash)


def test_each_step_names_the_version_the_case_was_on_after_it_and_keeps_as_json(versions, script_engine):
    """The step-through draws each step on its own version's diagrams, and is kept as JSON."""
    v1, v2 = versions[1], versions[2]
    report = replay(_history(v1, v2, migrated=True), {v.content_hash: v for v in (v1, v2)}.get, versions.get,
                    script_engine, frozenset(), keep_snapshots=True)
    assert report.identical, report.divergence
    assert [s.version_hash for s in report.snapshots] == [v1.content_hash] + [v2.content_hash] * 3
    assert [Snapshot.from_json(s.as_json()) for s in report.snapshots] == report.snapshots
    assert report.snapshots[-1].done[("workflows/p.bpmn", "check")] == 1


def test_a_migration_reverted_switches_back(versions, script_engine):
    v1, v2 = versions[1], versions[2]
    history = _history(v1, v2, migrated=True)[:3] + [
        _event(4, "migration_reverted", v1, {"migration_id": 1, "from_version_id": 2, "to_version_id": 1,
                                             "from_version": 2, "to_version": 1, "verdict": "reverted"}),
        _event(5, "task_completed", v1, {"answer": "yes"}, "t-ask", "ask"),
        _event(6, "case_completed", v1, {"outcome": "Done"}),
    ]
    report = replay(history, {v.content_hash: v for v in (v1, v2)}.get, versions.get, script_engine, frozenset(),
                    keep_snapshots=True)
    assert report.identical, report.divergence
    assert [s.process_id for s in report.snapshots] == ["p"] * 4
    assert report.snapshots[-1].status == "completed"
    done = report.snapshots[-1].done
    assert done[("workflows/p.bpmn", "ask")] == 1 and ("workflows/p.bpmn", "check") not in done


def test_a_script_stopped_by_a_sandbox_limit_is_the_same_failure_whichever_limit_stopped_it():
    from engine.audit.replay import same_failure

    cpu = "Compute (script): Script stopped: it used more than 1 s of CPU time"
    wall = "Compute (script): Script stopped: it did not finish within 5 s"
    assert same_failure(cpu, wall)
    assert not same_failure(cpu, "Other (other): Script stopped: it did not finish within 5 s")
    assert not same_failure(cpu, "Compute (script): NameError: name 'x' is not defined")


def test_a_recorded_sandbox_stop_is_taken_as_recorded_only_where_it_names_its_element(versions):
    from engine.audit.replay import recorded_stop

    def failed(error: object) -> list[RecordedEvent]:
        return [_event(5, "case_failed", versions[1], {"error": error})]

    killed = "Script stopped: its sandbox process was ended (SIGKILL), most likely by the 256 MB memory limit"
    assert recorded_stop(failed(f"Compute (script): {killed}")) == ("Compute (script)", killed)
    assert recorded_stop(failed(killed)) is None  # no element to stop it at
    assert recorded_stop(failed("Compute (script): NameError: name 'x' is not defined")) is None
    assert recorded_stop(failed(["tampered"])) is None
    assert recorded_stop([_event(5, "task_ready", versions[1])]) is None
