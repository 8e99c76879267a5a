"""Validation of a bundle: every kind of problem, at its element and file, with its severity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.definitions.validation import Problem, validate
from engine.sandbox.environment import make_script_engine
from engine.services.directory import DEPARTMENTS
from tests.model_bundles import FLOW, bpmn, files

DEPARTMENT_IDS = frozenset(d for d, _, _ in DEPARTMENTS)
BPMN_PATH = "workflows/model_demo.bpmn"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def script_engine():  # type: ignore[no-untyped-def]
    return make_script_engine()


def found(bundle: dict[str, str], script_engine) -> list[Problem]:  # type: ignore[no-untyped-def]
    return validate(bundle, DEPARTMENT_IDS, script_engine)


def at(problems: list[Problem], element_id: str) -> list[Problem]:
    return [p for p in problems if p.element_id == element_id]


def test_a_good_bundle_has_no_problem(script_engine) -> None:  # type: ignore[no-untyped-def]
    assert found(files(), script_engine) == []


def test_malformed_xml_is_an_error_naming_the_file(script_engine) -> None:  # type: ignore[no-untyped-def]
    problems = found(files({BPMN_PATH: bpmn().replace("</bpmn:process>", "")}), script_engine)
    assert [(p.file, p.severity) for p in problems] == [(BPMN_PATH, "error")]
    assert "not well-formed XML" in problems[0].message


def test_a_dtd_or_entity_is_refused(script_engine) -> None:  # type: ignore[no-untyped-def]
    hostile = bpmn().replace('<?xml version="1.0" encoding="UTF-8"?>',
                             '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>')
    problems = found(files({BPMN_PATH: hostile}), script_engine)
    assert [p.severity for p in problems] == ["error"]
    assert "DOCTYPE and ENTITY declarations are not allowed" in problems[0].message


def test_a_user_task_without_lane_or_in_a_lane_naming_no_department_is_a_warning(script_engine) -> None:  # type: ignore[no-untyped-def]
    role_lane = found(files({BPMN_PATH: bpmn(lane="inspectors")}), script_engine)
    assert [(p.severity, p.file) for p in at(role_lane, "Task_Check")] == [("warning", BPMN_PATH)]
    assert "'inspectors', which names no department" in at(role_lane, "Task_Check")[0].message
    no_lane = bpmn().replace("<bpmn:flowNodeRef>Task_Check</bpmn:flowNodeRef>", "")
    problems = found(files({BPMN_PATH: no_lane}), script_engine)
    assert [p.severity for p in at(problems, "Task_Check")] == ["warning"]
    assert "is in no lane" in at(problems, "Task_Check")[0].message
    assert not any(p.blocks for p in problems)


def test_a_missing_form_and_an_invalid_schema_are_errors(script_engine) -> None:  # type: ignore[no-untyped-def]
    missing = found(files({"forms/demo-check.schema.json": None}), script_engine)
    assert [(p.element_id, p.severity) for p in missing] == [("Task_Check", "error")]
    assert "names form 'demo-check.schema.json', which is not in the bundle" in missing[0].message
    invalid = found(files({"forms/demo-check.schema.json": json.dumps({"type": "nonsense"})}), script_engine)
    assert [(p.file, p.severity) for p in invalid] == [("forms/demo-check.schema.json", "error")]
    assert "invalid JSON Schema" in invalid[0].message


CALLS = FLOW.replace('<bpmn:endEvent id="End"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>', """
    <bpmn:callActivity id="Call_Other" name="Run the other" calledElement="nowhere">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:callActivity>
    <bpmn:businessRuleTask id="Decide" name="Decide the route">
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>no_table</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:endEvent id="End"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="Call_Other" targetRef="Decide" />
    <bpmn:sequenceFlow id="f4" sourceRef="Decide" targetRef="End" />""").replace(
    '<bpmn:sequenceFlow id="f2" sourceRef="Task_Check" targetRef="End" />',
    '<bpmn:sequenceFlow id="f2" sourceRef="Task_Check" targetRef="Call_Other" />')


def test_called_processes_and_decisions_must_exist(script_engine) -> None:  # type: ignore[no-untyped-def]
    problems = found(files({BPMN_PATH: bpmn(CALLS)}), script_engine)
    assert [p.severity for p in at(problems, "Call_Other")] == ["error"]
    assert "calls process 'nowhere'" in at(problems, "Call_Other")[0].message
    assert [p.severity for p in at(problems, "Decide")] == ["error"]
    assert "evaluates decision 'no_table'" in at(problems, "Decide")[0].message


SCRIPTED = FLOW.replace('<bpmn:endEvent id="End"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>', """
    <bpmn:scriptTask id="Script_Total" name="Add up"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>total = (1 +</bpmn:script></bpmn:scriptTask>
    <bpmn:intermediateCatchEvent id="Timer_Wait" name="Wait a day"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition id="td"><bpmn:timeDuration>"P1D" +</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="Gateway_Route" name="Passed?" default="f6"><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing><bpmn:outgoing>f6</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="End"><bpmn:incoming>f5</bpmn:incoming><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="Script_Total" targetRef="Timer_Wait" />
    <bpmn:sequenceFlow id="f4" sourceRef="Timer_Wait" targetRef="Gateway_Route" />
    <bpmn:sequenceFlow id="f5" name="yes" sourceRef="Gateway_Route" targetRef="End">
      <bpmn:conditionExpression>result ==== "ok"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f6" sourceRef="Gateway_Route" targetRef="End" />""").replace(
    '<bpmn:sequenceFlow id="f2" sourceRef="Task_Check" targetRef="End" />',
    '<bpmn:sequenceFlow id="f2" sourceRef="Task_Check" targetRef="Script_Total" />')


def test_scripts_conditions_and_timers_must_compile_in_the_sandbox(script_engine) -> None:  # type: ignore[no-untyped-def]
    problems = found(files({BPMN_PATH: bpmn(SCRIPTED)}), script_engine)
    assert {p.element_id for p in problems if p.blocks} == {"Script_Total", "Timer_Wait", "f5"}
    assert all(p.file == BPMN_PATH for p in problems)
    assert "Add up" in at(problems, "Script_Total")[0].message


def test_a_hostile_script_is_refused_at_its_element(script_engine) -> None:  # type: ignore[no-untyped-def]
    hostile = SCRIPTED.replace("total = (1 +", "x = ().__class__.__bases__[0].__subclasses__()")
    problems = found(files({BPMN_PATH: bpmn(hostile)}), script_engine)
    assert [p.severity for p in at(problems, "Script_Total")] == ["error"]


LINT = FLOW.replace('<bpmn:endEvent id="End"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>', """
    <bpmn:exclusiveGateway id="Gateway_Ok" name="Sample ok?"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Task_Rework" name="Rework the sample"><bpmn:incoming>f4</bpmn:incoming></bpmn:userTask>
    <bpmn:userTask id="Task_Orphan" name="Nobody gets here"><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="End"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="Gateway_Ok" targetRef="End">
      <bpmn:conditionExpression>result == "ok"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="Gateway_Ok" targetRef="Task_Rework">
      <bpmn:conditionExpression>result != "ok"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="Task_Orphan" targetRef="End" />""").replace(
    '<bpmn:sequenceFlow id="f2" sourceRef="Task_Check" targetRef="End" />',
    '<bpmn:sequenceFlow id="f2" sourceRef="Task_Check" targetRef="Gateway_Ok" />')


def test_lint_unreachable_dead_end_no_default_flow_and_no_form(script_engine) -> None:  # type: ignore[no-untyped-def]
    refs = ("<bpmn:flowNodeRef>Gateway_Ok</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_Rework</bpmn:flowNodeRef>"
            "<bpmn:flowNodeRef>Task_Orphan</bpmn:flowNodeRef>")
    problems = found(files({BPMN_PATH: bpmn(LINT, extra_lane_refs=refs)}), script_engine)
    orphan = {(p.severity, p.message.split(":")[0]) for p in at(problems, "Task_Orphan")}
    assert ("error", "User task 'Nobody gets here' (Task_Orphan) is never reached") in orphan
    rework = at(problems, "Task_Rework")
    assert ("error", True) in {(p.severity, "is a dead end" in p.message) for p in rework}
    assert ("warning", True) in {(p.severity, "has no form" in p.message) for p in rework}
    assert [(p.severity, "no default flow" in p.message) for p in at(problems, "Gateway_Ok")] == [("warning", True)]


FEEDBACK = ROOT / "workflows" / "feedback_routing.dmn"


def test_decision_tests_beside_a_dmn_run_and_a_failing_one_blocks(script_engine) -> None:  # type: ignore[no-untyped-def]
    dmn = {"workflows/feedback_routing.dmn": FEEDBACK.read_text()}
    passing = (ROOT / "workflows" / "feedback_routing.tests.json").read_text()
    assert found(files({**dmn, "workflows/feedback_routing.tests.json": passing}), script_engine) == []
    wrong = json.dumps([{"decision": "feedback_routing", "inputs": {"category": "repair"},
                         "expected": {"routed_department": "qc"}}])
    problems = found(files({**dmn, "workflows/feedback_routing.tests.json": wrong}), script_engine)
    assert [(p.element_id, p.file, p.severity) for p in problems] == [
        ("feedback_routing", "workflows/feedback_routing.tests.json", "error")]
    assert "routed_department='tech', expected routed_department='qc'" in problems[0].message


def test_the_shipped_workflows_have_warnings_only(script_engine) -> None:  # type: ignore[no-untyped-def]
    from engine.definitions.catalog import scan_directory

    scan = scan_directory(ROOT / "workflows", ROOT / "forms")
    for _, bundle in scan.bundles:
        assert not [p for p in found(dict(bundle.files), script_engine) if p.blocks], bundle.process_id
