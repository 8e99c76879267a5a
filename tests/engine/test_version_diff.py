"""The diff of two versions' files on crafted pairs: every kind of BPMN change at its element with
its before and after, elements and flows added and removed, DMN rules and cells, form fields,
layout left out, and files that cannot be parsed compared as text instead of failing."""

from __future__ import annotations

import json

import pytest

from engine.definitions.diff import ADDED, CHANGED, FILE, REMOVED, DiffEntry, diagram_marks, diff_files

BPMN = "workflows/demo.bpmn"
DMN = "workflows/routing.dmn"
FORM = "forms/check.schema.json"
UI = "forms/check.uischema.json"

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="test">
  <bpmn:message id="Message_reply" name="customer_reply" />
  <bpmn:process id="demo" name="Demo" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="name:zh" value="演示" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="Lane_qc" name="qc">
        <bpmn:flowNodeRef>Start</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_Check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Script_Count</bpmn:flowNodeRef><bpmn:flowNodeRef>Gateway_Ok</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_sales" name="sales">
        <bpmn:flowNodeRef>Task_Tell</bpmn:flowNodeRef><bpmn:flowNodeRef>Wait_Reply</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Call_Capa</bpmn:flowNodeRef><bpmn:flowNodeRef>Rule_Route</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End</bpmn:flowNodeRef><bpmn:flowNodeRef>Timer_Late</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Start" name="Started" />
    <bpmn:userTask id="Task_Check" name="Check the sample">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="name:zh" value="检查样品" />
          <spiffworkflow:property name="formJsonSchemaFilename" value="check.schema.json" />
        </spiffworkflow:properties>
        <spiffworkflow:preScript>checked = False</spiffworkflow:preScript>
        <spiffworkflow:postScript>checked = True</spiffworkflow:postScript>
      </bpmn:extensionElements>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopDataInputRef>samples</bpmn:loopDataInputRef>
        <bpmn:inputDataItem id="sample" name="sample" />
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:scriptTask id="Script_Count" name="Count">
      <bpmn:script>count = len(samples)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Gateway_Ok" name="All good?" default="Flow_Bad" />
    <bpmn:userTask id="Task_Tell" name="Tell the customer" />
    <bpmn:boundaryEvent id="Timer_Late" name="Late" attachedToRef="Task_Tell">
      <bpmn:timerEventDefinition id="TimerDef"><bpmn:timeDuration>"P2D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:intermediateCatchEvent id="Wait_Reply" name="Reply">
      <bpmn:messageEventDefinition id="MessageDef" messageRef="Message_reply" />
    </bpmn:intermediateCatchEvent>
    <bpmn:callActivity id="Call_Capa" name="CAPA" calledElement="capa" />
    <bpmn:businessRuleTask id="Rule_Route" name="Route">
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>routing</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="End" name="Done" />
    <bpmn:sequenceFlow id="Flow_Start" sourceRef="Start" targetRef="Task_Check" />
    <bpmn:sequenceFlow id="Flow_Check" sourceRef="Task_Check" targetRef="Script_Count" />
    <bpmn:sequenceFlow id="Flow_Count" sourceRef="Script_Count" targetRef="Gateway_Ok" />
    <bpmn:sequenceFlow id="Flow_Good" name="yes" sourceRef="Gateway_Ok" targetRef="Task_Tell">
      <bpmn:conditionExpression>count &gt; 0</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_Bad" sourceRef="Gateway_Ok" targetRef="End" />
    <bpmn:sequenceFlow id="Flow_Tell" sourceRef="Task_Tell" targetRef="Wait_Reply" />
    <bpmn:sequenceFlow id="Flow_Reply" sourceRef="Wait_Reply" targetRef="Call_Capa" />
    <bpmn:sequenceFlow id="Flow_Capa" sourceRef="Call_Capa" targetRef="Rule_Route" />
    <bpmn:sequenceFlow id="Flow_Route" sourceRef="Rule_Route" targetRef="End" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="demo">
    <bpmndi:BPMNShape id="Start_di" bpmnElement="Start"><dc:Bounds x="100" y="100" width="36" height="36" />
    </bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

DECISION = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dmn" name="Routing" namespace="test">
  <decision id="routing" name="Routing">
    <decisionTable id="table" hitPolicy="FIRST">
      <input id="Input_category" label="Category">
        <inputExpression id="expr" typeRef="string"><text>category</text></inputExpression>
      </input>
      <output id="Output_department" label="Department" name="department" typeRef="string" />
      <rule id="Rule_quality">
        <inputEntry id="c1"><text>"quality"</text></inputEntry>
        <outputEntry id="c2"><text>"qc"</text></outputEntry>
      </rule>
      <rule id="Rule_other">
        <inputEntry id="c3"><text>-</text></inputEntry>
        <outputEntry id="c4"><text>"sales"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""

SCHEMA = {"type": "object", "title": "Check", "required": ["result"], "properties": {
    "result": {"type": "string", "title": "Result", "enum": ["pass", "fail"]},
    "notes": {"type": "string", "title": "Notes"},
    "address": {"type": "object", "properties": {"city": {"type": "string", "title": "City"}}},
}}
UI_SCHEMA = {"ui:order": ["result", "notes", "address"], "notes": {"ui:widget": "textarea"},
             "ui:translations": {"zh": {"": "检查", "result": "结果", "notes": "备注"}}}


def bundle(**changes: str | None) -> dict[str, str]:
    """The base version's files, with files changed (``bpmn=``, ``dmn=``, ``form=``, ``ui=``) or dropped (None)."""
    files = {BPMN: PROCESS, DMN: DECISION, FORM: json.dumps(SCHEMA), UI: json.dumps(UI_SCHEMA)}
    paths = {"bpmn": BPMN, "dmn": DMN, "form": FORM, "ui": UI}
    for key, text in changes.items():
        if text is None:
            files.pop(paths[key])
        else:
            files[paths[key]] = text
    return files


def changed_process(old: str, new: str) -> list[DiffEntry]:
    assert old in PROCESS, old
    return diff_files(bundle(), bundle(bpmn=PROCESS.replace(old, new, 1)))


def only(entries: list[DiffEntry]) -> DiffEntry:
    assert len(entries) == 1, entries
    return entries[0]


def test_the_same_files_have_no_differences() -> None:
    assert diff_files(bundle(), bundle()) == []


@pytest.mark.parametrize(("old", "new", "element_id", "attribute", "before", "after"), [
    ('name="Check the sample"', 'name="Check each sample"', "Task_Check", "name", "Check the sample",
     "Check each sample"),
    ('value="检查样品"', 'value="检验样品"', "Task_Check", "name:zh", "检查样品", "检验样品"),
    ('value="演示"', 'value="示范"', "demo", "name:zh", "演示", "示范"),
    ("count &gt; 0", "count &gt; 1", "Flow_Good", "condition", "count > 0", "count > 1"),
    ("count = len(samples)", "count = len(samples) + 1", "Script_Count", "script", "count = len(samples)",
     "count = len(samples) + 1"),
    ("checked = False", "checked = None", "Task_Check", "pre_script", "checked = False", "checked = None"),
    ("checked = True", "checked = 1", "Task_Check", "post_script", "checked = True", "checked = 1"),
    ('"P2D"', '"P3D"', "Timer_Late", "timer", 'timeDuration: "P2D"', 'timeDuration: "P3D"'),
    ("<bpmn:flowNodeRef>Task_Tell</bpmn:flowNodeRef>", "",
     "Task_Tell", "lane", "sales", ""),
    ('value="check.schema.json"', 'value="check2.schema.json"', "Task_Check", "form", "check.schema.json",
     "check2.schema.json"),
    ('calledElement="capa"', 'calledElement="capa_v2"', "Call_Capa", "called_element", "capa", "capa_v2"),
    ("routing</spiffworkflow:calledDecisionId>", "routing_v2</spiffworkflow:calledDecisionId>", "Rule_Route",
     "decision", "routing", "routing_v2"),
    ('name="customer_reply"', 'name="customer_answer"', "Wait_Reply", "message", "customer_reply",
     "customer_answer"),
    ("<bpmn:loopDataInputRef>samples", "<bpmn:loopDataInputRef>batches", "Task_Check",
     "multi_instance.loopDataInputRef", "samples", "batches"),
    ('isSequential="false"', 'isSequential="true"', "Task_Check", "multi_instance", "parallel", "sequential"),
    ('default="Flow_Bad"', 'default="Flow_Good"', "Gateway_Ok", "default", "Flow_Bad", "Flow_Good"),
    ('id="Flow_Bad" sourceRef="Gateway_Ok" targetRef="End"',
     'id="Flow_Bad" sourceRef="Gateway_Ok" targetRef="Task_Tell"', "Flow_Bad", "target", "End", "Task_Tell"),
    ('<bpmn:userTask id="Task_Tell" name="Tell the customer" />',
     '<bpmn:manualTask id="Task_Tell" name="Tell the customer" />', "Task_Tell", "type", "userTask", "manualTask"),
])
def test_each_kind_of_bpmn_change_is_named_at_its_element_with_before_and_after(
        old: str, new: str, element_id: str, attribute: str, before: str, after: str) -> None:
    entry = only(changed_process(old, new))
    assert (entry.file, entry.element_id, entry.kind) == (BPMN, element_id, CHANGED)
    assert [(c.attribute, c.before, c.after) for c in entry.changes] == [(attribute, before, after)]


def test_a_changed_entry_carries_the_elements_type_and_name() -> None:
    entry = only(changed_process("count &gt; 0", "count &gt; 2"))
    assert (entry.element_type, entry.name) == ("sequenceFlow", "yes")
    entry = only(changed_process('name="Count"', 'name="Count them"'))
    assert (entry.element_type, entry.name) == ("scriptTask", "Count them")


def test_a_task_moved_to_another_lane_names_both_lanes() -> None:
    moved = PROCESS.replace("<bpmn:flowNodeRef>Task_Tell</bpmn:flowNodeRef>", "").replace(
        "<bpmn:flowNodeRef>Gateway_Ok</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Gateway_Ok</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_Tell</bpmn:flowNodeRef>")
    entry = only(diff_files(bundle(), bundle(bpmn=moved)))
    assert (entry.element_id, [(c.attribute, c.before, c.after) for c in entry.changes]) == (
        "Task_Tell", [("lane", "sales", "qc")])


def test_a_renamed_lane_is_a_change_of_the_lane_and_of_the_lane_of_its_elements() -> None:
    entries = changed_process('name="sales"', 'name="centre"')
    lane = next(e for e in entries if e.element_id == "Lane_sales")
    assert (lane.element_type, lane.kind, lane.changes[0].after) == ("lane", CHANGED, "centre")
    moved = {e.element_id for e in entries if e.changes[0].attribute == "lane"}
    assert moved == {"Task_Tell", "Wait_Reply", "Call_Capa", "Rule_Route", "End", "Timer_Late"}


def test_elements_and_flows_added_and_removed_are_listed_with_their_type_and_name() -> None:
    added = PROCESS.replace('<bpmn:endEvent id="End" name="Done" />',
                            '<bpmn:endEvent id="End" name="Done" /><bpmn:endEvent id="End_Early" name="Stopped" />'
                            '<bpmn:sequenceFlow id="Flow_Early" sourceRef="Gateway_Ok" targetRef="End_Early" />')
    entries = diff_files(bundle(), bundle(bpmn=added))
    assert [(e.element_id, e.element_type, e.name, e.kind) for e in entries] == [
        ("End_Early", "endEvent", "Stopped", ADDED), ("Flow_Early", "sequenceFlow", "", ADDED)]
    reverse = diff_files(bundle(bpmn=added), bundle())
    assert [(e.element_id, e.kind) for e in reverse] == [("End_Early", REMOVED), ("Flow_Early", REMOVED)]


def test_moving_shapes_on_the_diagram_is_no_change() -> None:
    moved = PROCESS.replace('x="100" y="100"', 'x="400" y="250"')
    assert diff_files(bundle(), bundle(bpmn=moved)) == []


def test_a_removed_bpmn_file_lists_the_file_and_each_of_its_elements() -> None:
    entries = diff_files(bundle(), bundle(bpmn=None))
    assert (entries[0].element_type, entries[0].kind, entries[0].element_id) == (FILE, REMOVED, "")
    assert {e.element_id for e in entries[1:]} >= {"demo", "Task_Check", "Flow_Good", "Lane_qc"}
    assert {e.kind for e in entries} == {REMOVED}


def test_dmn_rules_added_removed_and_cells_changed_are_named_by_rule_and_column() -> None:
    changed = DECISION.replace('"qc"', '"tech"').replace('hitPolicy="FIRST"', 'hitPolicy="UNIQUE"').replace(
        """      <rule id="Rule_other">""", """      <rule id="Rule_complaint">
        <description>complaints</description>
        <inputEntry id="c5"><text>"complaint"</text></inputEntry>
        <outputEntry id="c6"><text>"qc"</text></outputEntry>
      </rule>
      <rule id="Rule_gone">""")
    entries = {e.element_id: e for e in diff_files(bundle(), bundle(dmn=changed))}
    assert [(c.attribute, c.before, c.after) for c in entries["routing"].changes] == [
        ("hit_policy", "FIRST", "UNIQUE")]
    assert [(c.attribute, c.before, c.after) for c in entries["Rule_quality"].changes] == [
        ("then Department", '"qc"', '"tech"')]
    assert (entries["Rule_complaint"].kind, entries["Rule_complaint"].element_type,
            entries["Rule_complaint"].name) == (ADDED, "decision rule", "complaints")
    assert entries["Rule_other"].kind == REMOVED and entries["Rule_gone"].kind == ADDED


def test_a_changed_decision_input_expression_is_named_at_its_column() -> None:
    entry = only(diff_files(bundle(), bundle(dmn=DECISION.replace("<text>category</text>", "<text>kind</text>"))))
    assert (entry.element_id, entry.element_type) == ("Input_category", "decision input")
    assert [(c.attribute, c.before, c.after) for c in entry.changes] == [("expression", "category", "kind")]


def test_form_fields_added_removed_and_changed_are_listed_by_path() -> None:
    schema = json.loads(json.dumps(SCHEMA))
    schema["properties"]["result"]["enum"] = ["pass", "fail", "retest"]
    del schema["properties"]["notes"]
    schema["properties"]["address"]["properties"]["zip"] = {"type": "string", "title": "Postcode"}
    schema["required"] = ["result", "address"]
    schema["title"] = "Sample check"
    entries = {e.element_id: e for e in diff_files(bundle(), bundle(form=json.dumps(schema)))}
    assert [(c.attribute, c.before, c.after) for c in entries["result"].changes] == [
        ("enum", '["pass", "fail"]', '["pass", "fail", "retest"]')]
    assert (entries["notes"].kind, entries["notes"].element_type, entries["notes"].name) == (
        REMOVED, "form field", "Notes")
    assert (entries["address.zip"].kind, entries["address.zip"].name) == (ADDED, "Postcode")
    assert [(c.attribute, c.before, c.after) for c in entries["address"].changes] == [("required", "false", "true")]
    assert [(c.attribute, c.after) for c in entries[""].changes] == [("title", "Sample check")]
    assert entries[""].element_type == "form" and set(entries) == {"", "result", "notes", "address", "address.zip"}


def test_form_layout_changes_are_listed_by_field() -> None:
    ui = {"ui:order": ["notes", "result", "address"], "notes": {"ui:widget": "text"},
          "ui:translations": {"zh": {"": "检查", "result": "检验结果", "notes": "备注"}}}
    entries = {e.element_id: e for e in diff_files(bundle(), bundle(ui=json.dumps(ui)))}
    assert [(c.attribute, c.before, c.after) for c in entries["notes"].changes] == [
        ("ui:widget", "textarea", "text")]
    assert entries["notes"].element_type == "field layout"
    assert [c.attribute for c in entries[""].changes] == ["ui:order", "ui:translations.zh.result"]
    assert entries[""].changes[1].after == "检验结果"


def test_a_file_that_cannot_be_parsed_is_compared_as_text() -> None:
    entry = only(diff_files(bundle(), bundle(bpmn="<bpmn:definitions")))
    assert (entry.element_type, entry.kind, entry.changes[0].attribute, entry.changes[0].after) == (
        FILE, CHANGED, "content", "<bpmn:definitions")
    entry = only(diff_files(bundle(), bundle(form="[1, 2]")))
    assert (entry.file, entry.element_type, entry.changes[0].before) == (FORM, FILE, json.dumps(SCHEMA))


def test_hostile_xml_is_refused_by_the_hardened_parser_and_shown_as_text() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            "<bpmn:definitions>&lol2;</bpmn:definitions>")
    entry = only(diff_files(bundle(), bundle(bpmn=bomb)))
    assert (entry.element_type, entry.changes[0].after) == (FILE, bomb)


def test_deeply_nested_form_json_does_not_exhaust_the_stack() -> None:
    deep = '{"properties": {"a": ' * 5000 + "{}" + "}}" * 5000
    entries = diff_files(bundle(), bundle(form=deep))
    assert entries and all(e.file == FORM for e in entries)


def test_added_and_removed_non_diagram_files_are_one_entry_each() -> None:
    entries = diff_files(bundle(dmn=None), bundle(form=None))
    assert [(e.file, e.element_type, e.kind) for e in entries] == [(FORM, FILE, REMOVED), (DMN, FILE, ADDED)]


def test_diagram_marks_show_removed_and_changed_before_and_added_and_changed_after() -> None:
    changed = PROCESS.replace('name="Count"', 'name="Count them"').replace(
        '<bpmn:endEvent id="End" name="Done" />', '<bpmn:endEvent id="End" name="Done" /><bpmn:task id="New_Task" />'
    ).replace('<bpmn:callActivity id="Call_Capa" name="CAPA" calledElement="capa" />', "")
    entries = diff_files(bundle(), bundle(bpmn=changed))
    assert diagram_marks(entries, BPMN, "before") == {"Script_Count": CHANGED, "Call_Capa": REMOVED}
    assert diagram_marks(entries, BPMN, "after") == {"Script_Count": CHANGED, "New_Task": ADDED}
    assert diagram_marks(entries, DMN, "after") == {}


def test_two_decision_columns_with_one_label_are_told_apart() -> None:
    second = ('<input id="Input_again" label="Category">'
              '<inputExpression id="expr2" typeRef="string"><text>subcategory</text></inputExpression></input>')
    two_inputs = DECISION.replace('<output id="Output_department"', second + '<output id="Output_department"').replace(
        '<inputEntry id="c1"><text>"quality"</text></inputEntry>',
        '<inputEntry id="c1"><text>"quality"</text></inputEntry><inputEntry id="c1b"><text>"a"</text></inputEntry>')
    changed = two_inputs.replace('<text>"a"</text>', '<text>"b"</text>')
    entry = only(diff_files(bundle(dmn=two_inputs), bundle(dmn=changed)))
    assert [(c.attribute, c.before, c.after) for c in entry.changes] == [("when Category (2)", '"a"', '"b"')]
