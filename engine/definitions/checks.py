"""Checks that a process definition's Python (and its tasks' Jinja instructions) will compile in
the sandbox, before it is published.

A condition with a typo or a script that reaches for ``__class__`` is refused at publish time
with the element that holds it, instead of failing in the middle of somebody's case.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from engine.definitions.bpmn_xml import NS, SPIFF_NS
from engine.effects import OPERATIONS
from engine.errors import InvalidDefinition, ScriptError
from engine.sandbox.environment import check_source
from engine.time import due_dates

EXPRESSIONS = {
    "conditionExpression": "eval",
    "timeDate": "eval",
    "timeDuration": "eval",
    "timeCycle": "eval",
    "loopCardinality": "eval",
    "completionCondition": "eval",
    "loopCondition": "eval",
}

EXPRESSION_PROPERTIES = {"departmentExpression"}


def owner(node: etree._Element) -> etree._Element:
    """The flow element an expression or operator belongs to (skipping extensionElements and the
    like): its problems are shown there."""
    current = node.getparent()
    while current is not None and current.get("id") is None:
        current = current.getparent()
    return current if current is not None else node


def _sources(root: etree._Element) -> Iterator[tuple[etree._Element, str, str]]:
    for tag, mode in EXPRESSIONS.items():
        for node in root.iterfind(f".//bpmn:{tag}", NS):
            yield node, (node.text or "").strip(), mode
    for node in root.iterfind(".//bpmn:scriptTask/bpmn:script", NS):
        yield node, node.text or "", "exec"
    for tag in ("preScript", "postScript"):
        for node in root.iter(f"{{{SPIFF_NS}}}{tag}"):
            yield node, node.text or "", "exec"
    for node in root.iter(f"{{{SPIFF_NS}}}property"):
        value = node.get("value", "")
        if node.get("name") in EXPRESSION_PROPERTIES or (
                node.get("name") == due_dates.PROPERTY and not due_dates.is_duration(value)):
            yield node, value, "eval"
    for node in root.iter(f"{{{SPIFF_NS}}}parameter"):
        yield node, node.get("value", ""), "eval"
    for node in root.iter(f"{{{SPIFF_NS}}}instructionsForEndUser"):
        yield node, node.text or "", "jinja"


def _describe(node: etree._Element) -> str:
    element = owner(node)
    kind = etree.QName(element).localname
    name = f" name={element.get('name')!r}" if element.get("name") else ""
    return f"bpmn:{kind} id={element.get('id')!r}{name} (line {node.sourceline})"


def operation_problems(root: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    """(node, reason) for every service task naming an operation the engine does not offer."""
    for node in root.iter(f"{{{SPIFF_NS}}}serviceTaskOperator"):
        if node.get("id") not in OPERATIONS:
            yield node, f"unknown service operation {node.get('id')!r}; known: {', '.join(sorted(OPERATIONS))}"


def expression_problems(root: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    """(node, reason) for every expression or script the sandbox would refuse, so that a
    process owner sees them all at once (validation) rather than one per attempt."""
    for node, source, mode in _sources(root):
        if not source.strip():
            continue
        try:
            check_source(source, mode)
        except ScriptError as exc:
            yield node, exc.message


def check_operations(root: etree._Element, filename: str) -> None:
    """Raise InvalidDefinition for a service task naming an operation the engine does not offer."""
    for node, message in operation_problems(root):
        raise InvalidDefinition(f"{filename}: {_describe(node)}: {message}")


def check_expressions(root: etree._Element, filename: str) -> None:
    """Raise InvalidDefinition for the first expression or script the sandbox would refuse."""
    for node, message in expression_problems(root):
        raise InvalidDefinition(f"{filename}: {_describe(node)}: {message}")
