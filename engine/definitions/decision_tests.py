"""Decision tables that carry their own tests: ``workflows/x.tests.json`` beside ``x.dmn`` lists
cases ``{"decision": id, "inputs": {...}, "expected": {...}}`` taken from the procedure, run with
SpiffWorkflow's DMN engine through the sandboxed script engine, as a case would evaluate them.
A routing change that breaks a case the procedure states is then caught before it is published.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.definitions import bpmn_xml
from engine.errors import InvalidDefinition
from engine.sandbox.environment import SCRIPT_FAILURES


@dataclass(frozen=True)
class DecisionTestFailure:
    """One test that could not run or gave another result; ``decision`` is the element to show it at."""

    decision: str
    message: str


@dataclass
class _Workflow:
    script_engine: Any


@dataclass
class _Evaluation:
    """What the DMN engine reads of the task it decides for: its data and the script engine."""

    data: dict[str, Any]
    workflow: _Workflow


def _cases(text: str) -> list[dict[str, Any]]:
    try:
        cases = json.loads(text)
    except ValueError as exc:
        raise InvalidDefinition(f"not valid JSON: {exc}") from exc
    if not isinstance(cases, list):
        raise InvalidDefinition("must be a JSON list of test cases")
    for number, case in enumerate(cases, 1):
        if not (isinstance(case, dict) and isinstance(case.get("decision"), str)
                and isinstance(case.get("inputs"), dict) and isinstance(case.get("expected"), dict)):
            raise InvalidDefinition(
                f"test {number} must be an object with \"decision\" (text), \"inputs\" and \"expected\" (objects)")
    return cases


def _label(number: int, case: Mapping[str, Any]) -> str:
    description = case.get("description")
    return f"test {number} ({description})" if isinstance(description, str) and description else f"test {number}"


def run_tests(dmn_texts: Mapping[str, str], tests_text: str, script_engine: Any) -> Iterator[DecisionTestFailure]:
    """Every failing test of one tests file, against the bundle's DMN files (path -> text)."""
    parser = SpiffBpmnParser()
    for path, text in dmn_texts.items():
        root = bpmn_xml.parse_xml(text, path)
        bpmn_xml.space_dmn_input_cells(root)
        parser.add_dmn_xml(root, filename=path)
    try:
        cases = _cases(tests_text)
    except InvalidDefinition as exc:
        yield DecisionTestFailure("", exc.message)
        return
    for number, case in enumerate(cases, 1):
        decision = case["decision"]
        if decision not in parser.dmn_parsers:
            yield DecisionTestFailure(decision, f"{_label(number, case)} names decision {decision!r}, "
                                                f"which no DMN file of the bundle defines")
            continue
        try:
            result = parser.get_engine(decision, None).result(
                _Evaluation(dict(case["inputs"]), _Workflow(script_engine)))
        except (*SCRIPT_FAILURES, SpiffWorkflowException) as exc:
            yield DecisionTestFailure(decision, f"{_label(number, case)} could not be evaluated: {exc}")
            continue
        wrong = {k: v for k, v in case["expected"].items() if result.get(k) != v}
        if wrong:
            got = ", ".join(f"{k}={result.get(k)!r}" for k in wrong)
            expected = ", ".join(f"{k}={v!r}" for k, v in wrong.items())
            inputs = ", ".join(f"{k}={v!r}" for k, v in case["inputs"].items())
            yield DecisionTestFailure(decision, f"{_label(number, case)}: with {inputs or 'no inputs'} the "
                                                f"table gives {got}, expected {expected}")
