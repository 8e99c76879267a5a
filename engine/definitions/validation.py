"""Validation of a process bundle before it becomes a version: every problem at once, each at
its element, in words a process owner understands.

A user task without a lane, or in a lane that names no department, is a warning (as in
spiff-arena, the users the case data's ``lane_owners`` names work it, else whoever started the
case); every other problem is an error and blocks submitting and
publishing. The checks reuse what publishing already enforces (``catalog.parse_bundle`` with
SpiffWorkflow, ``checks`` in the sandbox, ``forms``) and add the lint a modeler needs: elements no
path reaches, dead ends, exclusive gateways without a default flow, user tasks without a form,
and the decision tables' own tests (``decision_tests``).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.definitions import bpmn_xml, decision_tests, senders
from engine.definitions.bpmn_xml import NS, SPIFF_NS
from engine.definitions.catalog import (
    DECISION_TESTS_SUFFIX,
    FORM_PREFIX,
    UI_SCHEMA_SUFFIX,
    WORKFLOW_PREFIX,
    ProcessBundle,
    parse_bundle,
)
from engine.definitions.checks import expression_problems, operation_problems, owner
from engine.definitions.forms import FormDefinition
from engine.errors import InvalidDefinition
from engine.time import due_dates

ERROR, WARNING = "error", "warning"
FLOW_NODES = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "exclusiveGateway",
    "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
})
KIND_NAMES = {
    "startEvent": "Start event", "endEvent": "End event", "intermediateCatchEvent": "Event",
    "intermediateThrowEvent": "Event", "boundaryEvent": "Boundary event", "userTask": "User task",
    "scriptTask": "Script task", "serviceTask": "Service task", "businessRuleTask": "Decision task",
    "callActivity": "Call activity", "subProcess": "Sub-process", "exclusiveGateway": "Exclusive gateway",
    "parallelGateway": "Parallel gateway", "inclusiveGateway": "Inclusive gateway",
    "eventBasedGateway": "Event-based gateway", "sequenceFlow": "Sequence flow",
}
QUOTED_ID = re.compile(r"id=['\"]([^'\"]+)['\"]")


@dataclass(frozen=True)
class Problem:
    """One finding: the element it is at ("" for the whole file), the file, its severity and a
    sentence for the process owner."""

    element_id: str
    file: str
    severity: str
    message: str

    @property
    def blocks(self) -> bool:
        return self.severity == ERROR


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def describe(node: etree._Element) -> str:
    """How a message names an element: its kind, name and id (``User task 'Check order' (Task_1)``)."""
    kind = KIND_NAMES.get(_local(node), _local(node))
    name = node.get("name")
    return f"{kind} {name!r} ({node.get('id')})" if name else f"{kind} {node.get('id')}"


def _properties(node: etree._Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in node.iter(f"{{{SPIFF_NS}}}property")}


class _Findings:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, severity: str, path: str, node: etree._Element | None, message: str) -> None:
        element_id = (node.get("id") or "") if node is not None else ""
        self.items.append(Problem(element_id, path, severity, message))


def _flow_element(node: etree._Element) -> etree._Element:
    """The element a diagram shows: an event rather than its (timer, message…) definition."""
    parent = node.getparent()
    if _local(node).endswith("EventDefinition") and parent is not None:
        return parent
    return node


def _containers(root: etree._Element) -> Iterator[etree._Element]:
    yield from root.iterfind(".//bpmn:process", NS)
    for tag in ("subProcess", "transaction"):
        yield from root.iterfind(f".//bpmn:{tag}", NS)


def _is_event_subprocess(node: etree._Element) -> bool:
    return _local(node) == "subProcess" and node.get("triggeredByEvent") == "true"


def _has_definition(node: etree._Element, kind: str) -> bool:
    return node.find(f"bpmn:{kind}", NS) is not None


def _reachable(nodes: dict[str, etree._Element], outgoing: dict[str, list[str]]) -> set[str]:
    """Ids reached from a start event (or a link catch event), boundary events following the
    activity they are attached to, until nothing more is reached."""
    pending = [i for i, n in nodes.items() if _local(n) == "startEvent" or _is_event_subprocess(n)
               or (_local(n) == "intermediateCatchEvent" and _has_definition(n, "linkEventDefinition"))]
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        pending.extend(outgoing.get(current, []))
        pending.extend(i for i, n in nodes.items()
                       if _local(n) == "boundaryEvent" and n.get("attachedToRef") == current)
    return seen


def _lint_container(container: etree._Element, path: str, found: _Findings) -> None:
    nodes = {c.get("id", ""): c for c in container if isinstance(c.tag, str) and _local(c) in FLOW_NODES}
    outgoing: dict[str, list[str]] = {}
    for flow in container.iterfind("bpmn:sequenceFlow", NS):
        outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow.get("targetRef", ""))
    if not nodes:
        return
    reached = _reachable(nodes, outgoing)
    for element_id, node in nodes.items():
        kind = _local(node)
        if element_id not in reached:
            found.add(ERROR, path, node, f"{describe(node)} is never reached: no sequence flow leads to it "
                                         "from a start event.")
        ends_here = kind == "endEvent" or _is_event_subprocess(node) or (
            kind == "intermediateThrowEvent" and _has_definition(node, "linkEventDefinition"))
        if not ends_here and not outgoing.get(element_id):
            found.add(ERROR, path, node, f"{describe(node)} is a dead end: it has no outgoing sequence flow; "
                                         "connect it to the next step or to an end event.")
        if kind == "exclusiveGateway" and len(outgoing.get(element_id, [])) > 1 and not node.get("default"):
            conditional = container.xpath("bpmn:sequenceFlow[@sourceRef=$id][bpmn:conditionExpression]",
                                          namespaces=NS, id=element_id)
            if conditional:
                found.add(WARNING, path, node, f"{describe(node)} has conditions but no default flow: a case "
                                               "that matches none of them stops there with an error.")


def _lanes(process: etree._Element) -> dict[str, etree._Element]:
    """Flow node id -> the lane it is in, for every lane of a process (nested lane sets included)."""
    return {(ref.text or "").strip(): lane for lane in process.iterfind(".//bpmn:lane", NS)
            for ref in lane.iterfind("bpmn:flowNodeRef", NS)}


def _lint_user_tasks(root: etree._Element, path: str, departments: frozenset[str], found: _Findings) -> None:
    for process in root.iterfind(".//bpmn:process", NS):
        lanes = _lanes(process)
        for task in process.iterfind(".//bpmn:userTask", NS):
            properties = _properties(task)
            if not properties.get("formJsonSchemaFilename"):
                found.add(WARNING, path, task, f"{describe(task)} has no form: people can only confirm it "
                                               "is done, without recording anything.")
            lane = lanes.get(task.get("id", ""))
            if properties.get("departmentExpression"):
                continue  # its department is computed per case
            if lane is None:
                found.add(WARNING, path, task, f"{describe(task)} is in no lane, so no department works it: "
                                               "it goes to the person who started the case.")
            elif (lane.get("name") or "") not in departments:
                found.add(WARNING, path, task, f"{describe(task)} is in lane {lane.get('name') or lane.get('id')!r}, "
                                               "which names no department: it goes to the people the case's "
                                               "lane_owners names for it, else to the person who started the case.")


LOOP_VARIABLES = {
    "loopDataInputRef": "collection", "loopDataOutputRef": "output collection",
    "inputDataItem": "item variable", "outputDataItem": "output item variable",
}


def _check_loops(root: etree._Element, path: str, found: _Findings) -> None:
    """A multi-instance names its collections and items by case-data variable, which scripts,
    forms and expressions read by that name; a standard loop's maximum is a whole number. Either
    mistake would otherwise show only as a case stuck at the element, or as a schema error naming
    no element."""
    for loop in root.iterfind(".//bpmn:multiInstanceLoopCharacteristics", NS):
        activity = loop.getparent()
        for tag, what in LOOP_VARIABLES.items():
            for node in loop.iterfind(f"bpmn:{tag}", NS):
                name = (node.text or "").strip() if tag.endswith("Ref") else node.get("name") or node.get("id") or ""
                if not name.isidentifier() or keyword.iskeyword(name):
                    found.add(ERROR, path, activity, f"{describe(activity)}: its multi-instance {what} {name!r} is "
                                                     "not a variable name (letters, digits and _, not starting "
                                                     "with a digit).")
    for loop in root.iterfind(".//bpmn:standardLoopCharacteristics", NS):
        maximum = loop.get("loopMaximum")
        if maximum is not None and not maximum.strip().isdigit():
            activity = loop.getparent()
            found.add(ERROR, path, activity, f"{describe(activity)}: its loop maximum {maximum!r} is not a "
                                             "whole number.")


def _check_due_dates(root: etree._Element, path: str, found: _Findings) -> None:
    """A user task's own due date (``dueDate``): a duration that is not one would otherwise be
    run as an expression and give no due date, unnoticed."""
    for prop in root.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") == due_dates.PROPERTY:
            reason = due_dates.problem(prop.get("value", ""))
            if reason is not None:
                found.add(ERROR, path, owner(prop), f"{describe(owner(prop))}: {reason}.")


def _check_references(root: etree._Element, path: str, files: Mapping[str, str], process_ids: set[str],
                      decision_ids: set[str], found: _Findings) -> None:
    for call in root.iterfind(".//bpmn:callActivity", NS):
        called = call.get("calledElement", "")
        if called not in process_ids:
            found.add(ERROR, path, call, f"{describe(call)} calls process {called!r}, which no BPMN file of "
                                         "the bundle defines.")
    for ref in root.iter(f"{{{SPIFF_NS}}}calledDecisionId"):
        decision = (ref.text or "").strip()
        if decision not in decision_ids:
            found.add(ERROR, path, owner(ref), f"{describe(owner(ref))} evaluates decision {decision!r}, "
                                               "which no DMN file of the bundle defines.")
    for prop in root.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") in ("formJsonSchemaFilename", "formUiSchemaFilename"):
            form = prop.get("value", "")
            if FORM_PREFIX + form not in files:
                found.add(ERROR, path, owner(prop), f"{describe(owner(prop))} names form {form!r}, which is "
                                                    "not in the bundle's forms/.")


def _check_forms(files: Mapping[str, str], found: _Findings) -> None:
    for path, text in sorted(files.items()):
        if not path.startswith(FORM_PREFIX) or not path.endswith(".json"):
            continue
        name = path.removeprefix(FORM_PREFIX)
        try:
            if path.endswith(UI_SCHEMA_SUFFIX):
                FormDefinition.from_json(name, "{}", text)
            else:
                FormDefinition.from_json(name, text)
        except InvalidDefinition as exc:
            found.add(ERROR, path, None, exc.message)


def _check_decision_tests(files: Mapping[str, str], dmn_paths: Iterable[str], script_engine: Any,
                          found: _Findings) -> None:
    dmn_texts = {p: files[p] for p in dmn_paths}
    for path in sorted(p for p in files if p.endswith(DECISION_TESTS_SUFFIX)):
        if path.removesuffix(DECISION_TESTS_SUFFIX) + ".dmn" not in dmn_texts:
            found.add(ERROR, path, None, f"{path} is beside no DMN file; name it after the decision file it tests.")
            continue
        for failure in decision_tests.run_tests(dmn_texts, files[path], script_engine):
            found.items.append(Problem(failure.decision, path, ERROR, f"Decision test failed: {failure.message}"))


def _spiff_problem(message: str, files: Mapping[str, str]) -> Problem:
    """An error SpiffWorkflow or publishing raised, at the element and file its message names."""
    path = next((p for p in files if message.startswith(p + ":")), "")
    match = QUOTED_ID.search(message)
    return Problem(match.group(1) if match else "", path, ERROR, message)


def main_process(files: Mapping[str, str]) -> tuple[str, str]:
    """(id, name) of the bundle's process: the one executable process no other process of the
    bundle calls. A bundle is one process with what it calls; anything else is refused."""
    return _main_process({path: bpmn_xml.parse_xml(text, path) for path, text in sorted(files.items())
                          if path.startswith(WORKFLOW_PREFIX) and path.endswith(".bpmn")})


def _main_process(parsed: Mapping[str, etree._Element]) -> tuple[str, str]:
    """``main_process`` of the bundle's BPMN files, already parsed (path -> root)."""
    defined: list[tuple[str, str]] = []
    called: set[str] = set()
    for path, root in sorted(parsed.items()):
        if not path.startswith(WORKFLOW_PREFIX) or not path.endswith(".bpmn"):
            continue
        defined += [(pid, name) for pid, name, executable in bpmn_xml.process_ids(root) if executable]
        called |= bpmn_xml.references(root)[0]
    roots = [(pid, name) for pid, name in defined if pid not in called]
    if len(roots) != 1:
        found = ", ".join(pid for pid, _ in roots) or "none"
        raise InvalidDefinition(f"A bundle holds one executable process and what it calls; this one has "
                                f"{len(roots)} that nothing calls ({found}).")
    return roots[0]


def validate(files: Mapping[str, str], departments: frozenset[str], script_engine: Any) -> list[Problem]:
    """Every problem of a bundle (paths ``workflows/…`` and ``forms/…``), errors and warnings."""
    found = _Findings()
    roots: dict[str, etree._Element] = {}
    for path, text in sorted(files.items()):
        if path.startswith(WORKFLOW_PREFIX) and path.endswith((".bpmn", ".dmn")):
            try:
                roots[path] = bpmn_xml.parse_xml(text, path)
            except InvalidDefinition as exc:
                found.add(ERROR, path, None, exc.message)
    dmn_paths = [p for p, r in roots.items() if bpmn_xml.is_dmn(r)]
    process_ids = {pid for p, r in roots.items() if p not in dmn_paths for pid, _, _ in bpmn_xml.process_ids(r)}
    decision_ids = {d for p in dmn_paths for d in bpmn_xml.decision_ids(roots[p])}
    for path, root in roots.items():
        if path in dmn_paths:
            continue
        for node, reason in [*expression_problems(root), *operation_problems(root)]:
            element = _flow_element(owner(node))
            found.add(ERROR, path, element, f"{describe(element)} (line {node.sourceline}): {reason}")
        _check_references(root, path, files, process_ids, decision_ids, found)
        _check_loops(root, path, found)
        _check_due_dates(root, path, found)
        for container in _containers(root):
            _lint_container(container, path, found)
        _lint_user_tasks(root, path, departments, found)
    _check_forms(files, found)
    if not any(p.blocks for p in found.items):
        found.items += _parse_problems(files, roots, departments)
    if not any(p.blocks for p in found.items):
        _check_decision_tests(files, dmn_paths, script_engine, found)
    return found.items


def _parse_problems(files: Mapping[str, str], roots: Mapping[str, etree._Element],
                    departments: frozenset[str]) -> list[Problem]:
    """What SpiffWorkflow's parser and the publishing checks refuse, once the rest is clean (every
    file parsed: ``roots`` holds them all)."""
    try:
        process_id, name = _main_process(roots)
        parsed = parse_bundle(ProcessBundle(process_id, name, files))
        for catch in parsed.message_catches.values():
            senders.check_known(catch.senders, departments, f"bpmn:event id={catch.element_id!r}")
    except InvalidDefinition as exc:
        return [_spiff_problem(exc.message, files)]
    return []
