"""A small published process for the web and browser tests of customer fields and records: a
Sales task on a form with a customer field (``format: customer``), a choice list and rows, then a
Sales task without a form. Publishing it again changes nothing (same content, same version)."""

from __future__ import annotations

import json

from engine.context import EngineContext
from engine.definitions.catalog import ProcessBundle
from engine.services import cases
from engine.services.cases import CaseView
from engine.services.processes import publish_bundle
from tests.factories import actor

PROCESS_ID = "customer_visit_note"
PROCESS_NAME = "Customer visit note"
RECORD_TASK = "Record the visit"
CONFIRM_TASK = "Confirm the visit"
FORM_TITLE = "Customer Visit Record"

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": FORM_TITLE,
    "type": "object",
    "required": ["customer", "visited_on", "outcome"],
    "properties": {
        "customer": {"type": "string", "format": "customer", "title": "Customer"},
        "visited_on": {"type": "string", "format": "date", "title": "Visited on"},
        "outcome": {"type": "string", "title": "Outcome", "oneOf": [
            {"const": "order", "title": "Order expected"}, {"const": "none", "title": "No follow-up"}]},
        "questions": {"type": "array", "title": "Questions raised", "items": {
            "type": "object", "required": ["question"],
            "properties": {"question": {"type": "string", "title": "Question"},
                           "owner": {"type": "string", "title": "Owner department",
                                     "enum": ["sales", "tech", "qc"]}}}},
    },
}
UI_SCHEMA = {"ui:order": ["customer", "visited_on", "outcome", "questions"]}

BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="test">
  <bpmn:process id="{PROCESS_ID}" name="{PROCESS_NAME}" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_sales" name="sales">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>record</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>confirm</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="record" name="{RECORD_TASK}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="visit-note.schema.json" />
          <spiffworkflow:property name="formUiSchemaFilename" value="visit-note.uischema.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="confirm" name="{CONFIRM_TASK}">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="Done"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="record" />
    <bpmn:sequenceFlow id="f2" sourceRef="record" targetRef="confirm" />
    <bpmn:sequenceFlow id="f3" sourceRef="confirm" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def visit_bundle() -> ProcessBundle:
    return ProcessBundle(process_id=PROCESS_ID, name=PROCESS_NAME, files={
        f"workflows/{PROCESS_ID}.bpmn": BPMN,
        "forms/visit-note.schema.json": json.dumps(SCHEMA),
        "forms/visit-note.uischema.json": json.dumps(UI_SCHEMA),
    })


def start_visit(ctx: EngineContext, username: str = "sales1") -> CaseView:
    """Publish the process (once) and start a case of it; its first task is ``RECORD_TASK``."""
    publish_bundle(ctx, visit_bundle())
    return cases.start_case(ctx, actor(ctx, username), PROCESS_ID, {})
