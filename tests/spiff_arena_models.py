"""Process models written the way spiff-arena's own models are, for the import tests: no
``isExecutable``, pools and lanes that name roles rather than departments, ``lane_owners`` set by
a script, forms named by ``formJsonSchemaFilename``/``formUiSchemaFilename``, Markdown
``instructionsForEndUser``, options from task data, manual signal buttons, and scripts using the
globals spiff-arena offers. Each is a bundle (path -> text) uploaded through the API."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler"
    exporterVersion="5.0.0">"""


def _user_task(task_id: str, name: str, incoming: str, outgoing: str, form: str = "", ui: str = "",
               instructions: str = "") -> str:
    props = ""
    if form:
        props += f'<spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />'
    if ui:
        props += f'<spiffworkflow:property name="formUiSchemaFilename" value="{ui}" />'
    extensions = f"<spiffworkflow:properties>{props}</spiffworkflow:properties>" if props else ""
    if instructions:
        tag = "spiffworkflow:instructionsForEndUser"
        extensions += f"<{tag}>{escape(instructions)}</{tag}>"
    extensions = f"<bpmn:extensionElements>{extensions}</bpmn:extensionElements>" if extensions else ""
    return (f'<bpmn:userTask id="{task_id}" name="{name}">{extensions}<bpmn:incoming>{incoming}</bpmn:incoming>'
            f"<bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:userTask>")


def _script_task(task_id: str, name: str, incoming: str, outgoing: str, script: str) -> str:
    return (f'<bpmn:scriptTask id="{task_id}" name="{name}"><bpmn:incoming>{incoming}</bpmn:incoming>'
            f"<bpmn:outgoing>{outgoing}</bpmn:outgoing><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>")


def _flows(*pairs: tuple[str, str, str]) -> str:
    return "".join(f'<bpmn:sequenceFlow id="{f}" sourceRef="{a}" targetRef="{b}" />' for f, a, b in pairs)


# -- a request reviewed by the people a script names (lane_owners), in a pool without isExecutable --
APPROVAL = "arena_approval"
APPROVAL_OWNERS_SCRIPT = 'lane_owners = {"Reviewer": ["qc1", "tech1"]}\nrequested_at = str(datetime.date.today())'


def approval() -> dict[str, str]:
    body = (
        '<bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>'
        + _user_task("Activity_request", "Write the request", "Flow_1", "Flow_2")
        + _script_task("Activity_owners", "Name the reviewers", "Flow_2", "Flow_3", APPROVAL_OWNERS_SCRIPT)
        + _user_task("Activity_review", "Review the request", "Flow_3", "Flow_4")
        + '<bpmn:endEvent id="EndEvent_1" name="Reviewed"><bpmn:incoming>Flow_4</bpmn:incoming></bpmn:endEvent>'
        + _flows(("Flow_1", "StartEvent_1", "Activity_request"), ("Flow_2", "Activity_request", "Activity_owners"),
                 ("Flow_3", "Activity_owners", "Activity_review"), ("Flow_4", "Activity_review", "EndEvent_1")))
    lanes = (
        '<bpmn:laneSet id="LaneSet_1">'
        '<bpmn:lane id="Lane_requester" name="Requester"><bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>'
        "<bpmn:flowNodeRef>Activity_request</bpmn:flowNodeRef><bpmn:flowNodeRef>Activity_owners</bpmn:flowNodeRef>"
        "</bpmn:lane>"
        '<bpmn:lane id="Lane_reviewer" name="Reviewer"><bpmn:flowNodeRef>Activity_review</bpmn:flowNodeRef>'
        "<bpmn:flowNodeRef>EndEvent_1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>")
    xml = (HEAD.format(pid=APPROVAL)
           + f'<bpmn:collaboration id="Collaboration_1"><bpmn:participant id="Participant_1" name="Approval" '
           f'processRef="{APPROVAL}" /></bpmn:collaboration>'
           + f'<bpmn:process id="{APPROVAL}" name="Arena approval">{lanes}{body}</bpmn:process>'
           + "</bpmn:definitions>")
    return {f"workflows/{APPROVAL}.bpmn": xml}


# -- a script using the globals spiff-arena offers, then a task for whoever started the case --
SCRIPTS = "arena_scripts"
SCRIPTS_SCRIPT = """
class NotReady(ValueError):
    pass

started = datetime.datetime.now()
due = str(started.date() + timedelta(days=calendar.monthrange(started.year, started.month)[1]))
try:
    settings = json.loads(raw_settings)
except json.JSONDecodeError:
    settings = {"retries": 3}
try:
    price = decimal.Decimal(raw_price)
except decimal.InvalidOperation:
    price = decimal.Decimal("0")
total = str((price * 3).quantize(decimal.Decimal("0.01")))
del price  # a Decimal is not stored: the script keeps its text
codes = re.findall(r"[A-Z]{2}-[0-9]+", "orders AB-12 and CD-345")
random.seed(42)
pick = random.choice(codes)
reference = uuid.uuid4()
stamped = time.time() > 0
try:
    raise NotReady("not yet")
except NotReady as exc:
    note = str(exc)
"""


def scripts() -> dict[str, str]:
    body = (
        '<bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>'
        + _script_task("Activity_compute", "Compute", "Flow_1", "Flow_2", SCRIPTS_SCRIPT)
        + _user_task("Activity_check", "Check the figures", "Flow_2", "Flow_3")
        + '<bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>'
        + _flows(("Flow_1", "StartEvent_1", "Activity_compute"), ("Flow_2", "Activity_compute", "Activity_check"),
                 ("Flow_3", "Activity_check", "EndEvent_1")))
    xml = HEAD.format(pid=SCRIPTS) + f'<bpmn:process id="{SCRIPTS}">{body}</bpmn:process></bpmn:definitions>'
    return {f"workflows/{SCRIPTS}.bpmn": xml}


# -- a choice offered from task data, on a form laid out by its own UI schema file, with instructions --
FORMS = "arena_forms"
FORMS_SCRIPT = ('fruits = [{"value": "apples", "label": "Apples"}, {"value": "pears", "label": "Pears"}]\n'
                'customer_name = "Lin <b>"')
FORMS_INSTRUCTIONS = ("## Hello {{ customer_name }}\n\nPick one of **{{ fruits|length }}** fruits"
                      "{% for f in fruits %} {{ f.label }}{% endfor %}.\n\n<script>alert(1)</script>")
FRUIT_SCHEMA = {"title": "Choose a fruit", "type": "object", "required": ["fruit"], "properties": {
    "fruit": {"type": "string", "title": "Fruit", "anyOf": ["options_from_task_data_var:fruits"]},
    "note": {"type": "string", "title": "Note"}}}
FRUIT_UI = {"ui:order": ["fruit", "note"], "note": {"ui:widget": "textarea"}}


def forms(instructions: str = FORMS_INSTRUCTIONS) -> dict[str, str]:
    body = (
        '<bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>'
        + _script_task("Activity_offer", "Offer the choices", "Flow_1", "Flow_2", FORMS_SCRIPT)
        + _user_task("Activity_choose", "Choose a fruit", "Flow_2", "Flow_3", form="choose-fruit-schema.json",
                     ui="choose-fruit-uischema.json", instructions=instructions)
        + '<bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>'
        + _flows(("Flow_1", "StartEvent_1", "Activity_offer"), ("Flow_2", "Activity_offer", "Activity_choose"),
                 ("Flow_3", "Activity_choose", "EndEvent_1")))
    xml = HEAD.format(pid=FORMS) + f'<bpmn:process id="{FORMS}">{body}</bpmn:process></bpmn:definitions>'
    return {f"workflows/{FORMS}.bpmn": xml, "forms/choose-fruit-schema.json": as_json(FRUIT_SCHEMA),
            "forms/choose-fruit-uischema.json": as_json(FRUIT_UI)}


# -- a manual task with instructions and a manual signal button (an interrupting signal boundary event) --
SIGNAL = "arena_signal"
SIGNAL_NAME = "cancel_request"
SIGNAL_LABEL = "Cancel the request"


SIGNAL_INSTRUCTIONS = "Handle the request, or **cancel** it with the button."


def signal() -> dict[str, str]:
    handle = _user_task("Activity_handle", "Handle the request", "Flow_1", "Flow_2", instructions=SIGNAL_INSTRUCTIONS)
    body = (
        '<bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>'
        + handle.replace("bpmn:userTask", "bpmn:manualTask")  # spiff-arena's instructions-only task
        + '<bpmn:boundaryEvent id="Event_cancel" name="Cancelled by hand" attachedToRef="Activity_handle">'
        f"<bpmn:extensionElements><spiffworkflow:signalButtonLabel>{SIGNAL_LABEL}"
        "</spiffworkflow:signalButtonLabel></bpmn:extensionElements><bpmn:outgoing>Flow_3</bpmn:outgoing>"
        '<bpmn:signalEventDefinition id="SignalEventDefinition_1" signalRef="Signal_cancel" /></bpmn:boundaryEvent>'
        + '<bpmn:endEvent id="EndEvent_handled" name="Handled"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>'
        + '<bpmn:endEvent id="EndEvent_cancelled" name="Cancelled"><bpmn:incoming>Flow_3</bpmn:incoming>'
        "</bpmn:endEvent>"
        + _flows(("Flow_1", "StartEvent_1", "Activity_handle"), ("Flow_2", "Activity_handle", "EndEvent_handled"),
                 ("Flow_3", "Event_cancel", "EndEvent_cancelled")))
    xml = (HEAD.format(pid=SIGNAL) + f'<bpmn:process id="{SIGNAL}">{body}</bpmn:process>'
           f'<bpmn:signal id="Signal_cancel" name="{SIGNAL_NAME}" /></bpmn:definitions>')
    return {f"workflows/{SIGNAL}.bpmn": xml}


ALL = {APPROVAL: approval, SCRIPTS: scripts, FORMS: forms, SIGNAL: signal}


def as_json(value: object) -> str:
    return json.dumps(value, indent=2)
