"""What the modeler's properties panel writes, saved through the modeler's own path (POST
/models/<id>/files) and taken through the sign-offs: the saved XML is validated at the element
and executed by the cases that start on the published version."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html

from engine.context import EngineContext
from engine.services import cases, models, tasks
from engine.services.users import find_actor
from tests.factories import clock_at
from tests.model_bundles import zipped

PROCESS_ID = "sample_checks"
PATH = f"workflows/{PROCESS_ID}.bpmn"
SCHEMA = {"type": "object", "required": ["result"], "properties": {"result": {"type": "string", "title": "Result"}}}
TASK = """<bpmn:userTask id="Task_CheckSample" name="Check a sample">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="sample-check.schema.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>"""
BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="test">
  <bpmn:process id="{PROCESS_ID}" name="Sample checks" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="Lane_QC" name="qc">
      <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef><bpmn:flowNodeRef>Script_Samples</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Task_CheckSample</bpmn:flowNodeRef><bpmn:flowNodeRef>EndEvent_1</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Script_Samples" name="List the samples" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>samples = ["S1", "S2", "S3"]</bpmn:script>
    </bpmn:scriptTask>
    {TASK}
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="StartEvent_1" targetRef="Script_Samples" />
    <bpmn:sequenceFlow id="f2" sourceRef="Script_Samples" targetRef="Task_CheckSample" />
    <bpmn:sequenceFlow id="f3" sourceRef="Task_CheckSample" targetRef="EndEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram">
    <bpmndi:BPMNPlane id="plane" bpmnElement="{PROCESS_ID}">
      <bpmndi:BPMNShape id="Lane_QC_di" bpmnElement="Lane_QC" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="640" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="172" y="142" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Script_Samples_di" bpmnElement="Script_Samples">
        <dc:Bounds x="260" y="120" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_CheckSample_di" bpmnElement="Task_CheckSample">
        <dc:Bounds x="420" y="120" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="EndEvent_1_di" bpmnElement="EndEvent_1">
        <dc:Bounds x="592" y="142" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1">
        <di:waypoint x="208" y="160" /><di:waypoint x="260" y="160" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2">
        <di:waypoint x="360" y="160" /><di:waypoint x="420" y="160" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3">
        <di:waypoint x="520" y="160" /><di:waypoint x="592" y="160" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
MULTI_INSTANCE = """<bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}">
        <bpmn:loopDataInputRef>{collection}</bpmn:loopDataInputRef>
        <bpmn:loopDataOutputRef>results</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="sample" name="sample" />
        <bpmn:outputDataItem id="result" name="result" />{extra}
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>"""


def login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302
    return client


def new_draft(ctx: EngineContext) -> models.ModelView:
    bundle = {PATH: BPMN, "forms/sample-check.schema.json": json.dumps(SCHEMA)}
    return models.import_bundle(ctx, find_actor(ctx, "owner1"), zipped(bundle), "Sample checks")


def save(client: FlaskClient, model_id: int, content: str) -> list[dict]:
    response = client.post(f"/models/{model_id}/files", json={"path": PATH, "content": content})
    assert response.status_code == 200, response.get_json()
    problems: list[dict] = response.get_json()["problems"]
    return problems


def with_loop(sequential: str = "false", collection: str = "samples", extra: str = "") -> str:
    loop = MULTI_INSTANCE.format(sequential=sequential, collection=collection, extra=extra)
    return BPMN.replace("\n    </bpmn:userTask>", "\n      " + loop, 1)


def publish(ctx: EngineContext, model_id: int) -> None:
    models.submit(ctx, find_actor(ctx, "owner1"), model_id)
    models.review(ctx, find_actor(ctx, "reviewer1"), model_id)
    models.approve(ctx, find_actor(ctx, "gm1"), model_id)
    models.publish(ctx, find_actor(ctx, "gm1"), model_id)


def test_a_multi_instance_user_task_saved_in_the_modeler_runs_once_per_item(app: Flask, ctx: EngineContext) -> None:
    draft = new_draft(ctx)
    assert save(login(app, "owner1"), draft.id, with_loop()) == []
    publish(ctx, draft.id)
    qc1 = find_actor(ctx, "qc1")
    case = cases.start_case(ctx, qc1, PROCESS_ID)
    assert [t.element_id for t in case.open_tasks] == ["Task_CheckSample [child]"] * 3
    for number, task in enumerate(case.open_tasks, start=1):
        case = tasks.complete_task(ctx, qc1, task.id, {"result": f"check {number}"})
    assert case.status == "completed"
    assert case.data["results"] == ["check 1", "check 2", "check 3"]


def test_a_sequential_multi_instance_opens_one_task_at_a_time_and_stops_at_its_completion_condition(
        app: Flask, ctx: EngineContext) -> None:
    draft = new_draft(ctx)
    condition = "\n        <bpmn:completionCondition>result == 'stop'</bpmn:completionCondition>"
    assert save(login(app, "owner1"), draft.id, with_loop("true", extra=condition)) == []
    publish(ctx, draft.id)
    qc1 = find_actor(ctx, "qc1")
    case = cases.start_case(ctx, qc1, PROCESS_ID)
    [first] = case.open_tasks
    case = tasks.complete_task(ctx, qc1, first.id, {"result": "fine"})
    [second] = case.open_tasks
    assert second.id != first.id
    case = tasks.complete_task(ctx, qc1, second.id, {"result": "stop"})
    assert case.status == "completed" and case.open_tasks == []
    assert case.data["results"] == ["fine", "stop"]


def test_multi_instance_mistakes_are_reported_at_the_element(app: Flask, ctx: EngineContext) -> None:
    draft = new_draft(ctx)
    client = login(app, "owner1")
    for content, expected in [
        (with_loop(collection="sample list"), "collection 'sample list' is not a variable name"),
        (with_loop(extra="\n        <bpmn:completionCondition>result ==</bpmn:completionCondition>"), "SyntaxError"),
        (with_loop().replace("<bpmn:loopDataInputRef>", "<bpmn:loopCardinality>3</bpmn:loopCardinality>"
                                                         "<bpmn:loopDataInputRef>"),
         "exactly one of cardinality or loop input"),
        (BPMN.replace("\n    </bpmn:userTask>", "<bpmn:standardLoopCharacteristics loopMaximum='two'/>"
                                                "</bpmn:userTask>", 1), "loop maximum 'two' is not a whole number"),
        (BPMN.replace("\n    </bpmn:userTask>", "<bpmn:standardLoopCharacteristics><bpmn:loopCondition>"
                                                "__import__('os')</bpmn:loopCondition>"
                                                "</bpmn:standardLoopCharacteristics></bpmn:userTask>", 1), "refused"),
    ]:
        problems = save(client, draft.id, content)
        errors = [p for p in problems if p["severity"] == "error"]
        assert [p["element_id"] for p in errors] == ["Task_CheckSample"], (expected, problems)
        assert expected in errors[0]["message"], (expected, problems)


DUE_PROPERTY = '<spiffworkflow:property name="dueDate" value="{value}" />'
REMINDER = """<bpmn:boundaryEvent id="Timer_Remind" attachedToRef="Task_CheckSample" cancelActivity="false">
      <bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="EndEvent_Reminded"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="Timer_Remind" targetRef="EndEvent_Reminded" />
  </bpmn:process>"""


def with_due_date(value: str | None, reminder: bool = False) -> str:
    content = BPMN.replace('samples = ["S1", "S2", "S3"]', 'promised_on = "2026-03-10"', 1)
    if value is not None:
        content = content.replace('value="sample-check.schema.json" />',
                                  'value="sample-check.schema.json" />' + DUE_PROPERTY.format(value=value), 1)
    return content.replace("  </bpmn:process>", REMINDER, 1) if reminder else content


def due_in_inbox(app: Flask, ctx: EngineContext, content: str) -> tuple[datetime | None, str]:
    """Publish ``content``, start a case at 2026-03-02 08:00 UTC; the task's due date and the
    inbox row's due-date cell."""
    draft = new_draft(ctx)
    assert save(login(app, "owner1"), draft.id, content) == []
    publish(ctx, draft.id)
    qc1 = find_actor(ctx, "qc1")
    with clock_at(datetime(2026, 3, 2, 8, 0)):
        case = cases.start_case(ctx, qc1, PROCESS_ID)
        page = html.fromstring(login(app, "qc1").get("/inbox").data)
    [task] = case.open_tasks
    [due_cell] = page.xpath("//tr[@data-task-id=$id]/td[7]", id=task.id)
    return task.due_at, due_cell.text_content().strip()


@pytest.mark.parametrize(("value", "due"), [
    ("P2D", datetime(2026, 3, 4, 8, 0)),
    ("promised_on", datetime(2026, 3, 10, 23, 59, 59)),
])
def test_a_user_tasks_due_date_property_sets_its_inbox_due_date(
        app: Flask, ctx: EngineContext, value: str, due: datetime) -> None:
    task_due, shown = due_in_inbox(app, ctx, with_due_date(value))
    assert task_due == due
    assert shown == due.strftime("%Y-%m-%d %H:%M")


def test_the_due_date_property_wins_over_a_boundary_timer_which_still_decides_without_it(
        app: Flask, ctx: EngineContext) -> None:
    assert due_in_inbox(app, ctx, with_due_date(None, reminder=True))[0] == datetime(2026, 3, 2, 9, 0)
    assert due_in_inbox(app, ctx, with_due_date("P2D", reminder=True))[0] == datetime(2026, 3, 4, 8, 0)


def test_an_expression_that_gives_no_date_leaves_the_timers_due_date(app: Flask, ctx: EngineContext) -> None:
    assert due_in_inbox(app, ctx, with_due_date("no_such_variable", reminder=True))[0] == datetime(2026, 3, 2, 9, 0)


@pytest.mark.parametrize(("value", "expected"), [
    ("P2X", "due date 'P2X' is not an ISO 8601 duration"),
    ("promised_on +", "SyntaxError"),
    ("__import__('os')", "refused"),
])
def test_a_bad_due_date_is_reported_at_the_user_task(app: Flask, ctx: EngineContext, value: str, expected: str) -> None:
    problems = save(login(app, "owner1"), new_draft(ctx).id, with_due_date(value))
    errors = [p for p in problems if p["severity"] == "error"]
    assert [p["element_id"] for p in errors] == ["Task_CheckSample"], problems
    assert expected in errors[0]["message"]


NAME_ZH = "样品检验"


def with_process_name_zh(name_zh: str) -> str:
    return BPMN.replace('name="Sample checks" isExecutable="true">',
                        'name="Sample checks" isExecutable="true"><bpmn:extensionElements><spiffworkflow:properties>'
                        f'<spiffworkflow:property name="name:zh" value="{name_zh}" /></spiffworkflow:properties>'
                        '</bpmn:extensionElements>', 1)


def test_the_processs_chinese_name_is_stored_with_the_draft_and_shown_in_chinese(
        app: Flask, ctx: EngineContext) -> None:
    draft = new_draft(ctx)
    owner = login(app, "owner1")
    assert save(owner, draft.id, with_process_name_zh(NAME_ZH)) == []
    assert models.get_model(ctx, find_actor(ctx, "owner1"), draft.id).name_zh == NAME_ZH
    listing = owner.get("/models").text
    assert "Sample checks" in listing and NAME_ZH not in listing
    owner.post("/language", data={"locale": "zh", "next": "/models"})
    for page in ("/models", f"/models/{draft.id}", f"/models/{draft.id}/print", f"/models/{draft.id}/diagram"):
        assert NAME_ZH in owner.get(page).text, page

    publish(ctx, draft.id)
    case = cases.start_case(ctx, find_actor(ctx, "qc1"), PROCESS_ID)
    assert case.process_name_zh == NAME_ZH
    qc = login(app, "qc1")
    qc.post("/language", data={"locale": "zh", "next": "/inbox"})
    assert NAME_ZH in qc.get(f"/cases/{case.id}").text
    assert NAME_ZH in qc.get("/start").text


def test_changing_or_removing_the_chinese_name_in_a_draft_follows_the_file(app: Flask, ctx: EngineContext) -> None:
    draft = new_draft(ctx)
    owner = login(app, "owner1")
    save(owner, draft.id, with_process_name_zh("  " + NAME_ZH + "  "))
    assert models.get_model(ctx, find_actor(ctx, "owner1"), draft.id).name_zh == NAME_ZH
    save(owner, draft.id, BPMN)
    assert models.get_model(ctx, find_actor(ctx, "owner1"), draft.id).name_zh == ""
