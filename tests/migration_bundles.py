"""Two versions of one small process for the case-migration tests, published through the
document-control services as an owner would: version 1 is a Sales task "Write" and a Sales task
"Check", the second with a reminder timer; version 2 renames "Write" (so a case still at it
cannot move) and adds a Sales task "Confirm" after "Check" (so a case at "Check" can move and then
runs through the new task to its end)."""

from __future__ import annotations

from engine.context import EngineContext
from engine.services import cases, models
from engine.services.cases import CaseView
from tests.factories import actor
from tests.model_bundles import zipped

PROCESS_ID = "migration_demo"
WRITE, CHECK, CONFIRM = "Write the note", "Check the note", "Confirm the note"
RENAMED_WRITE = "Write the customer note"


def _bpmn(write_name: str, with_confirm: bool) -> str:
    after_check = "to_confirm" if with_confirm else "to_end"
    confirm = f"""
    <bpmn:userTask id="Task_Confirm" name="{CONFIRM}">
      <bpmn:incoming>to_confirm</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_confirm" sourceRef="Task_Check" targetRef="Task_Confirm" />
    <bpmn:sequenceFlow id="to_end" sourceRef="Task_Confirm" targetRef="Done" />""" if with_confirm else """
    <bpmn:sequenceFlow id="to_end" sourceRef="Task_Check" targetRef="Done" />"""
    confirm_ref = "<bpmn:flowNodeRef>Task_Confirm</bpmn:flowNodeRef>" if with_confirm else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="test">
  <bpmn:process id="{PROCESS_ID}" name="Migration demo" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="Lane_sales" name="sales">
      <bpmn:flowNodeRef>Begin</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_Write</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Task_Check</bpmn:flowNodeRef><bpmn:flowNodeRef>Reminder</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Remind_End</bpmn:flowNodeRef>{confirm_ref}<bpmn:flowNodeRef>Done</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="Begin"><bpmn:outgoing>to_write</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Write" name="{write_name}">
      <bpmn:incoming>to_write</bpmn:incoming><bpmn:outgoing>to_check</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="Task_Check" name="{CHECK}">
      <bpmn:incoming>to_check</bpmn:incoming><bpmn:outgoing>{after_check}</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Reminder" name="Reminder" attachedToRef="Task_Check" cancelActivity="false">
      <bpmn:outgoing>to_remind_end</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P3D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="Remind_End"><bpmn:incoming>to_remind_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Done" name="Done"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_write" sourceRef="Begin" targetRef="Task_Write" />
    <bpmn:sequenceFlow id="to_check" sourceRef="Task_Write" targetRef="Task_Check" />
    <bpmn:sequenceFlow id="to_remind_end" sourceRef="Reminder" targetRef="Remind_End" />{confirm}
  </bpmn:process>
</bpmn:definitions>
"""


def bundle(version: int) -> bytes:
    if version == 1:
        return zipped({f"workflows/{PROCESS_ID}.bpmn": _bpmn(WRITE, with_confirm=False)})
    return zipped({f"workflows/{PROCESS_ID}.bpmn": _bpmn(RENAMED_WRITE, with_confirm=True)})


def publish_version(ctx: EngineContext, version: int) -> int:
    """Upload version ``version``'s bundle as owner1 and sign it through to published (owner1,
    reviewer1, gm1); the id of the published version."""
    draft = models.import_bundle(ctx, actor(ctx, "owner1"), bundle(version), f"Version {version}")
    for step, username in (("submit", "owner1"), ("review", "reviewer1"), ("approve", "gm1"), ("publish", "gm1")):
        models.STEPS[step](ctx, actor(ctx, username), draft.id, f"{step} ok")
    return draft.id


def start(ctx: EngineContext) -> CaseView:
    return cases.start_case(ctx, actor(ctx, "sales1"), PROCESS_ID, {"title": "A customer note"})
