"""Two versions of one small process for the case-migration tests, published through the
document-control services as an owner would: version 1 is a Sales task "Write" and a Sales task
"Check", the second with a reminder timer; version 2 renames "Write" (so a case still at it
cannot move) and adds a Sales task "Confirm" after "Check" (so a case at "Check" can move and then
runs through the new task to its end). With ``with_layout`` the diagrams carry their layout, so a
browser can draw them."""

from __future__ import annotations

from engine.context import EngineContext
from engine.services import cases, models
from engine.services.cases import CaseView
from tests.factories import actor
from tests.model_bundles import zipped

PROCESS_ID = "migration_demo"
WRITE, CHECK, CONFIRM = "Write the note", "Check the note", "Confirm the note"
RENAMED_WRITE = "Write the customer note"


def _shape(element: str, x: int, y: int, width: int = 100, height: int = 80) -> str:
    return (f'<bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}">'
            f'<dc:Bounds x="{x}" y="{y}" width="{width}" height="{height}" /></bpmndi:BPMNShape>')


def _edge(flow: str, *points: tuple[int, int]) -> str:
    waypoints = "".join(f'<di:waypoint x="{x}" y="{y}" />' for x, y in points)
    return f'<bpmndi:BPMNEdge id="{flow}_di" bpmnElement="{flow}">{waypoints}</bpmndi:BPMNEdge>'


def _layout(with_confirm: bool) -> str:
    """Left to right: Begin, Write, Check (its reminder below it), [Confirm,] Done."""
    done_x = 632 if with_confirm else 482
    shapes = [_shape("Begin", 102, 102, 36, 36), _shape("Task_Write", 180, 80), _shape("Task_Check", 330, 80),
              _shape("Reminder", 362, 142, 36, 36), _shape("Remind_End", 362, 222, 36, 36),
              _shape("Done", done_x, 102, 36, 36)]
    edges = [_edge("to_write", (138, 120), (180, 120)), _edge("to_check", (280, 120), (330, 120)),
             _edge("to_remind_end", (380, 178), (380, 222))]
    if with_confirm:
        shapes.append(_shape("Task_Confirm", 480, 80))
        edges += [_edge("to_confirm", (430, 120), (480, 120)), _edge("to_end", (580, 120), (632, 120))]
    else:
        edges.append(_edge("to_end", (430, 120), (482, 120)))
    return (f'<bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="{PROCESS_ID}">'
            f'{"".join(shapes)}{"".join(edges)}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>')


LAYOUT_NAMESPACES = ('xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
                     'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
                     'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" ')


def _bpmn(write_name: str, with_confirm: bool, with_layout: bool = False) -> str:
    after_check = "to_confirm" if with_confirm else "to_end"
    confirm = f"""
    <bpmn:userTask id="Task_Confirm" name="{CONFIRM}">
      <bpmn:incoming>to_confirm</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_confirm" sourceRef="Task_Check" targetRef="Task_Confirm" />
    <bpmn:sequenceFlow id="to_end" sourceRef="Task_Confirm" targetRef="Done" />""" if with_confirm else """
    <bpmn:sequenceFlow id="to_end" sourceRef="Task_Check" targetRef="Done" />"""
    confirm_ref = "<bpmn:flowNodeRef>Task_Confirm</bpmn:flowNodeRef>" if with_confirm else ""
    namespaces = LAYOUT_NAMESPACES if with_layout else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {namespaces}id="defs" targetNamespace="test">
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
  </bpmn:process>{_layout(with_confirm) if with_layout else ""}
</bpmn:definitions>
"""


def bundle(version: int, with_layout: bool = False) -> bytes:
    if version == 1:
        return zipped({f"workflows/{PROCESS_ID}.bpmn": _bpmn(WRITE, False, with_layout)})
    return zipped({f"workflows/{PROCESS_ID}.bpmn": _bpmn(RENAMED_WRITE, True, with_layout)})


def publish_version(ctx: EngineContext, version: int, with_layout: bool = False) -> int:
    """Upload version ``version``'s bundle as owner1 and sign it through to published (owner1,
    reviewer1, gm1); the id of the published version."""
    draft = models.import_bundle(ctx, actor(ctx, "owner1"), bundle(version, with_layout), f"Version {version}")
    for step, username in (("submit", "owner1"), ("review", "reviewer1"), ("approve", "gm1"), ("publish", "gm1")):
        models.STEPS[step](ctx, actor(ctx, username), draft.id, f"{step} ok")
    return draft.id


def start(ctx: EngineContext) -> CaseView:
    return cases.start_case(ctx, actor(ctx, "sales1"), PROCESS_ID, {"title": "A customer note"})
