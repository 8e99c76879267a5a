"""Small process bundles for the process-model tests, built as zips the way an owner uploads
them: one process ``model_demo`` (a Quality Inspection check on a form, then an end event), and
the changes that make each kind of validation problem."""

from __future__ import annotations

import io
import json
import zipfile

PROCESS_ID = "model_demo"
TASK_ID = "Task_Check"
SCHEMA = {"type": "object", "required": ["result"], "properties": {"result": {"type": "string", "title": "Result"}}}

FLOW = """
    <bpmn:startEvent id="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Check" name="Check the sample">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="demo-check.schema.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Task_Check" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task_Check" targetRef="End" />"""


def bpmn(flow: str = FLOW, lane: str = "qc", name: str = "Model demo", extra_lane_refs: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="test">
  <bpmn:process id="{PROCESS_ID}" name="{name}" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="Lane_main" name="{lane}">
      <bpmn:flowNodeRef>Start</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_Check</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>End</bpmn:flowNodeRef>{extra_lane_refs}
    </bpmn:lane></bpmn:laneSet>{flow}
  </bpmn:process>
</bpmn:definitions>
"""


BROKEN_CONDITION = bpmn().replace(
    '<bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Task_Check" />',
    '<bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Task_Check">'
    '<bpmn:conditionExpression>result ==== 1</bpmn:conditionExpression></bpmn:sequenceFlow>')


def files(changes: dict[str, str | None] | None = None) -> dict[str, str]:
    """The good bundle's files (path -> text), with ``changes`` by path (None drops a file)."""
    result = {"workflows/model_demo.bpmn": bpmn(), "forms/demo-check.schema.json": json.dumps(SCHEMA)}
    for path, text in (changes or {}).items():
        if text is None:
            result.pop(path, None)
        else:
            result[path] = text
    return result


def zipped(bundle: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in bundle.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def unzipped(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}
