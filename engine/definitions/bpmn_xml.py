"""Safe reading of uploaded BPMN/DMN XML, and the few facts the catalog needs from it.

Process files come from process owners' browsers, so they are untrusted input: no DTDs, no
entities, no network, no unbounded trees (billion-laughs and XXE are refused, not expanded).
"""

from __future__ import annotations

import re

from lxml import etree

from engine.errors import InvalidDefinition

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
)
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
MAX_FILE_BYTES = 5 * 1024 * 1024


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
    )


def parse_xml(text: str | bytes, filename: str) -> etree._Element:
    """Parse one process file, refusing anything that could make the parser do more than parse."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidDefinition(f"{filename}: file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise InvalidDefinition(f"{filename}: DOCTYPE and ENTITY declarations are not allowed")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidDefinition(f"{filename}: not well-formed XML (line {exc.lineno}): {exc.msg}") from exc
    return root


def is_dmn(root: etree._Element) -> bool:
    """DMN files are told apart by their namespace, whatever their extension."""
    return etree.QName(root).namespace in DMN_NAMESPACES


def process_ids(root: etree._Element) -> list[tuple[str, str, bool]]:
    """(id, name, isExecutable) of every process a BPMN file defines."""
    return [
        (p.get("id", ""), p.get("name") or p.get("id", ""), p.get("isExecutable", "true") == "true")
        for p in root.iterfind(".//bpmn:process", NS)
    ]


def process_property(root: etree._Element, process_id: str, name: str) -> str | None:
    """The value of a ``spiffworkflow:property`` on a process element itself (not on its tasks),
    or None when the process does not set it or the file does not define the process."""
    for process in root.iterfind("bpmn:process", NS):
        if process.get("id") != process_id:
            continue
        for prop in process.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
            if prop.get("name") == name:
                return prop.get("value", "")
    return None


def decision_ids(root: etree._Element) -> list[str]:
    """Ids of the decisions a DMN file defines."""
    namespace = etree.QName(root).namespace
    return [d.get("id", "") for d in root.iterfind(f".//{{{namespace}}}decision")]


def references(root: etree._Element) -> tuple[set[str], set[str], set[str]]:
    """What a BPMN file needs from elsewhere: called processes, decisions and form files."""
    called = {e.get("calledElement", "") for e in root.iterfind(".//bpmn:callActivity", NS)}
    decisions = {(e.text or "").strip() for e in root.iter(f"{{{SPIFF_NS}}}calledDecisionId")}
    forms = {
        p.get("value", "")
        for p in root.iter(f"{{{SPIFF_NS}}}property")
        if p.get("name") in ("formJsonSchemaFilename", "formUiSchemaFilename")
    }
    return called - {""}, decisions - {""}, forms - {""}


def space_dmn_input_cells(root: etree._Element) -> None:
    """Put a space before DMN input cells that start with a keyword operator.

    SpiffWorkflow 3.2 joins an input expression and an operator cell with no space in between,
    so a cell ``in ("a", "b")`` over the input ``category`` becomes ``categoryin (...)``. Only
    keyword operators need it; other cells (values, comparisons, ``-``) are left as written.
    """
    namespace = etree.QName(root).namespace
    for text in root.iterfind(f".//{{{namespace}}}inputEntry/{{{namespace}}}text"):
        value = (text.text or "").strip()
        if KEYWORD_CELL.match(value):
            text.text = " " + value


KEYWORD_CELL = re.compile(r"^(in|not\s+in|is)\b")
