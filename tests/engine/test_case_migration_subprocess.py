"""Migration of a case waiting inside an embedded subprocess, on both backends: the subprocess's
own tasks are judged against the target's subprocess, the case moves, and it runs through the
step the new version added after the subprocess to its end; a version that changes the task the
case waits at inside the subprocess is refused naming it."""

from __future__ import annotations

from engine.services import migrations, models
from tests.factories import actor, complete
from tests.model_bundles import zipped

PROCESS_ID = "migration_sub_demo"
INNER, AFTER, EXTRA = "Inspect the unit", "File the report", "Tell the customer"


def _bpmn(inner_name: str, with_extra: bool) -> str:
    after_target, after_flow = ("Task_Extra", "f_extra") if with_extra else ("Done", "f_done")
    extra = """
    <bpmn:userTask id="Task_Extra" name="Tell the customer">
      <bpmn:incoming>f_extra</bpmn:incoming><bpmn:outgoing>f_done</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f_done" sourceRef="Task_Extra" targetRef="Done" />""" if with_extra else ""
    extra_ref = "<bpmn:flowNodeRef>Task_Extra</bpmn:flowNodeRef>" if with_extra else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="test">
  <bpmn:process id="{PROCESS_ID}" name="Migration subprocess demo" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="Lane_qc" name="qc">
      <bpmn:flowNodeRef>Begin</bpmn:flowNodeRef><bpmn:flowNodeRef>Inspection</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Task_After</bpmn:flowNodeRef>{extra_ref}<bpmn:flowNodeRef>Done</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="Begin"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="Inspection" name="Inspection">
      <bpmn:incoming>f_start</bpmn:incoming><bpmn:outgoing>f_after</bpmn:outgoing>
      <bpmn:startEvent id="Sub_Begin"><bpmn:outgoing>f_sub</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="Task_Inner" name="{inner_name}">
        <bpmn:incoming>f_sub</bpmn:incoming><bpmn:outgoing>f_sub_done</bpmn:outgoing>
      </bpmn:userTask>
      <bpmn:endEvent id="Sub_Done"><bpmn:incoming>f_sub_done</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="f_sub" sourceRef="Sub_Begin" targetRef="Task_Inner" />
      <bpmn:sequenceFlow id="f_sub_done" sourceRef="Task_Inner" targetRef="Sub_Done" />
    </bpmn:subProcess>
    <bpmn:userTask id="Task_After" name="{AFTER}">
      <bpmn:incoming>f_after</bpmn:incoming><bpmn:outgoing>{after_flow}</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="Done" name="Done"><bpmn:incoming>f_done</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="Begin" targetRef="Inspection" />
    <bpmn:sequenceFlow id="f_after" sourceRef="Inspection" targetRef="Task_After" />
    <bpmn:sequenceFlow id="{after_flow}" sourceRef="Task_After" targetRef="{after_target}" />{extra}
  </bpmn:process>
</bpmn:definitions>
"""


def _publish(ctx, bpmn: str) -> None:  # type: ignore[no-untyped-def]
    draft = models.import_bundle(ctx, actor(ctx, "owner1"), zipped({f"workflows/{PROCESS_ID}.bpmn": bpmn}))
    for step, username in (("submit", "owner1"), ("review", "reviewer1"), ("approve", "gm1"), ("publish", "gm1")):
        models.STEPS[step](ctx, actor(ctx, username), draft.id, "ok")


def _move(ctx, case_id: int, to_version: int, dry_run: bool) -> migrations.CaseVerdict:  # type: ignore[no-untyped-def]
    request = migrations.read_request({"process": PROCESS_ID, "to_version": to_version, "cases": [case_id],
                                       "dry_run": dry_run})
    return migrations.migrate_cases(ctx, actor(ctx, "owner1"), request).cases[0]


def test_a_case_inside_a_subprocess_moves_and_runs_through_the_added_step_to_its_end(ctx) -> None:  # type: ignore[no-untyped-def]
    from engine.services import cases

    _publish(ctx, _bpmn(INNER, with_extra=False))
    case = cases.start_case(ctx, actor(ctx, "qc1"), PROCESS_ID, {})
    _publish(ctx, _bpmn(INNER, with_extra=True))
    _publish(ctx, _bpmn("Inspect the unit again", with_extra=True))
    refused = _move(ctx, case.id, 3, dry_run=True)
    assert not refused.can_migrate and "Task_Inner" in refused.reason
    moved = _move(ctx, case.id, 2, dry_run=False)
    assert moved.migrated, moved.reason
    complete(ctx, "qc1", case.id, INNER, {})
    complete(ctx, "qc1", case.id, AFTER, {})
    done = complete(ctx, "qc1", case.id, EXTRA, {})
    assert (done.status, done.version) == ("completed", 2)
