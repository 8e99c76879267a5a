"""What changed between two versions of one process, element by element.

A reviewer signing a new version, or an owner about to move running cases onto it, needs to see
what the new files do differently, not how their XML text moved about: so each BPMN element and
sequence flow, each DMN decision, column and rule, and each form field is compared by its id (a
form field by its path) on the facts that change behaviour or what people read: names in both
languages, conditions, scripts, timers, lanes, forms, called elements, decisions, messages,
multi-instance settings, cells. Diagram layout (BPMN DI) is not compared: moving a shape changes
nothing a case does.

Files are untrusted (a draft's owner may upload anything): XML goes through the hardened parser
of ``bpmn_xml``, and a file that cannot be read as its kind is compared as text instead, so a
broken draft still has a diff rather than an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.definitions import bpmn_xml
from engine.definitions.catalog import DECISION_TESTS_SUFFIX, FORM_PREFIX, NAME_ZH
from engine.errors import InvalidDefinition

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
FILE = "file"
MAX_SHOWN = 2000   # characters of a whole file shown before/after when it is compared as text
MAX_FORM_DEPTH = 32  # nested form fields followed; deeper ones are compared as one JSON value

_BPMN = f"{{{bpmn_xml.BPMN_NS}}}"
_SPIFF = f"{{{bpmn_xml.SPIFF_NS}}}"
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess", "callActivity", "participant"}
_CONNECTIONS = {"sequenceFlow", "messageFlow"}
_PROPERTY_KEYS = {NAME_ZH: "name:zh", "formJsonSchemaFilename": "form", "formUiSchemaFilename": "ui_form"}
_EXTENSION_KEYS = {"preScript": "pre_script", "postScript": "post_script", "calledDecisionId": "decision",
                   "instructionsForEndUser": "instructions"}
_EVENT_REFS = {"messageRef": "message", "signalRef": "signal", "errorRef": "error", "escalationRef": "escalation"}


@dataclass(frozen=True)
class AttributeChange:
    attribute: str
    before: str
    after: str


@dataclass(frozen=True)
class DiffEntry:
    """One element added, removed or changed (with each attribute's before and after)."""

    file: str
    element_id: str
    element_type: str
    name: str
    kind: str
    changes: tuple[AttributeChange, ...] = ()


@dataclass(frozen=True)
class _Element:
    type: str
    name: str
    attributes: dict[str, str] = field(default_factory=dict)
    name_is_attribute: bool = False  # a form field's name is its title, compared among its attributes


def diff_files(before: Mapping[str, str], after: Mapping[str, str]) -> list[DiffEntry]:
    """Every difference between two versions' files (path -> text), file by file in path order."""
    entries: list[DiffEntry] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None or new is None:
            entries.append(DiffEntry(path, "", FILE, path, ADDED if old is None else REMOVED))
        entries += _diff_file(path, old, new)
    return entries


def diagram_marks(entries: Iterable[DiffEntry], path: str, side: str) -> dict[str, str]:
    """Element id -> kind for the elements of one BPMN file to mark on one side's diagram: the
    version before shows what was removed or changed, the version after what was added or changed."""
    shown = {"before": (REMOVED, CHANGED), "after": (ADDED, CHANGED)}[side]
    return {e.element_id: e.kind for e in entries if e.file == path and e.element_id and e.kind in shown}


def _diff_file(path: str, old: str | None, new: str | None) -> list[DiffEntry]:
    """The file's elements compared; a file added or removed as a whole is one entry (made by the
    caller), except a BPMN file, whose elements are listed too so that the diagram can mark them."""
    whole_file = old is None or new is None
    reader = _reader(path)
    if reader is None or (whole_file and reader is not _bpmn_elements):
        return [] if old is None or new is None else [_text_change(path, old, new)]
    try:
        before = reader(old) if old is not None else {}
        after = reader(new) if new is not None else {}
    except (InvalidDefinition, ValueError, RecursionError):
        return [] if old is None or new is None else [_text_change(path, old, new)]
    return _compare(path, before, after)


def _reader(path: str) -> Callable[[str], dict[str, _Element]] | None:
    """How a file's elements are read, by its kind; None for a file compared as text."""
    if path.endswith(".bpmn"):
        return _bpmn_elements
    if path.endswith(".dmn"):
        return _dmn_elements
    if path.startswith(FORM_PREFIX) and path.endswith(".uischema.json"):
        return _ui_schema_fields
    if path.startswith(FORM_PREFIX) and path.endswith(".json") and not path.endswith(DECISION_TESTS_SUFFIX):
        return _schema_fields
    return None


def _shown(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def _text_change(path: str, old: str, new: str) -> DiffEntry:
    return DiffEntry(path, "", FILE, path, CHANGED, (AttributeChange("content", _shown(old), _shown(new)),))


def _compare(path: str, before: dict[str, _Element], after: dict[str, _Element]) -> list[DiffEntry]:
    entries: list[DiffEntry] = []
    for element_id in [*after, *(i for i in before if i not in after)]:
        old, new = before.get(element_id), after.get(element_id)
        if old is None and new is not None:
            entries.append(DiffEntry(path, element_id, new.type, new.name, ADDED))
        elif new is None and old is not None:
            entries.append(DiffEntry(path, element_id, old.type, old.name, REMOVED))
        elif old is not None and new is not None:
            changes = _attribute_changes(old, new)
            if changes:
                entries.append(DiffEntry(path, element_id, new.type, new.name or old.name, CHANGED, changes))
    return entries


def _attribute_changes(old: _Element, new: _Element) -> tuple[AttributeChange, ...]:
    first = {"type": old.type, **({} if old.name_is_attribute else {"name": old.name}), **old.attributes}
    second = {"type": new.type, **({} if new.name_is_attribute else {"name": new.name}), **new.attributes}
    keys = [*first, *(k for k in second if k not in first)]
    return tuple(AttributeChange(k, first.get(k, ""), second.get(k, ""))
                 for k in keys if first.get(k, "") != second.get(k, ""))


# --- BPMN --------------------------------------------------------------------------------------

def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _is_element(element: etree._Element) -> bool:
    if not isinstance(element.tag, str) or not element.tag.startswith(_BPMN) or not element.get("id"):
        return False
    local = _local(element)
    return (local in _CONTAINERS or local in _CONNECTIONS or local in ("lane", "task")
            or local.endswith(("Task", "Event", "Gateway")))


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _bpmn_elements(text: str) -> dict[str, _Element]:
    root = bpmn_xml.parse_xml(text, "bpmn")
    definitions = {e.get("id", ""): e.get("name") or e.get("errorCode") or e.get("escalationCode") or e.get("id", "")
                   for e in root if _local(e) in ("message", "signal", "error", "escalation")}
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{_BPMN}lane"):
        for ref in lane.iterfind(f"{_BPMN}flowNodeRef"):
            lanes[_text(ref)] = lane.get("name") or lane.get("id", "")
    found: dict[str, _Element] = {}
    for element in root.iter():
        if _is_element(element):
            attributes = _bpmn_attributes(element, definitions)
            element_id = element.get("id", "")
            if element_id in lanes and _local(element) not in ("lane", *_CONNECTIONS):
                attributes["lane"] = lanes[element_id]
            found[element_id] = _Element(_local(element), element.get("name", ""), attributes)
    return found


def _bpmn_attributes(element: etree._Element, definitions: Mapping[str, str]) -> dict[str, str]:
    """The facts of one element that decide what a case does or what people read."""
    found: dict[str, str] = {}
    plain = {"sourceRef": "source", "targetRef": "target", "default": "default", "calledElement": "called_element",
             "attachedToRef": "attached_to", "cancelActivity": "cancel_activity", "isExecutable": "executable",
             "scriptFormat": "script_format", "processRef": "process"}
    for attribute, key in plain.items():
        if element.get(attribute) is not None:
            found[key] = element.get(attribute, "")
    for attribute, key in _EVENT_REFS.items():
        if element.get(attribute) is not None:
            found[key] = definitions.get(element.get(attribute, ""), element.get(attribute, ""))
    documentation = "\n".join(_text(d) for d in element.iterfind(f"{_BPMN}documentation"))
    if documentation:
        found["documentation"] = documentation
    for child, key in ((f"{_BPMN}script", "script"), (f"{_BPMN}conditionExpression", "condition")):
        if element.find(child) is not None:
            found[key] = _text(element.find(child))
    found |= _extensions(element.find(f"{_BPMN}extensionElements"))
    found |= _event_definitions(element, definitions)
    found |= _loop(element)
    return found


def _extensions(extensions: etree._Element | None) -> dict[str, str]:
    found: dict[str, str] = {}
    if extensions is None:
        return found
    for child in extensions:
        local = _local(child)
        if child.tag == f"{_SPIFF}properties":
            for prop in child.iterfind(f"{_SPIFF}property"):
                name = prop.get("name", "")
                found[_PROPERTY_KEYS.get(name, f"property:{name}")] = prop.get("value", "")
        elif local:
            found[_EXTENSION_KEYS.get(local, f"extension:{local}")] = _canonical_xml(child)
    return found


def _canonical_xml(element: etree._Element) -> str:
    """Text of a simple extension element; the markup of one with children (compared as a whole)."""
    if len(element) == 0:
        return _text(element)
    return etree.tostring(element, encoding="unicode", with_tail=False).strip()


def _event_definitions(element: etree._Element, definitions: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    kinds: list[str] = []
    for definition in element:
        local = _local(definition)
        if not local.endswith("EventDefinition") or not definition.tag.startswith(_BPMN):
            continue
        kinds.append(local.removesuffix("EventDefinition"))
        for ref, key in _EVENT_REFS.items():
            if definition.get(ref) is not None:
                found[key] = definitions.get(definition.get(ref, ""), definition.get(ref, ""))
        timers = [f"{_local(t)}: {_text(t)}" for t in definition
                  if _local(t) in ("timeDate", "timeDuration", "timeCycle")]
        if timers:
            found["timer"] = "; ".join(timers)
        if definition.find(f"{_BPMN}condition") is not None:
            found["condition"] = _text(definition.find(f"{_BPMN}condition"))
    if kinds:
        found["event"] = ", ".join(kinds)
    return found


def _loop(element: etree._Element) -> dict[str, str]:
    """Multi-instance (and standard loop) settings, one attribute each, so a changed collection or
    completion condition is named on its own."""
    found: dict[str, str] = {}
    multi = element.find(f"{_BPMN}multiInstanceLoopCharacteristics")
    if multi is not None:
        found["multi_instance"] = "sequential" if multi.get("isSequential") == "true" else "parallel"
        for child in multi:
            local = _local(child)
            if local:
                found[f"multi_instance.{local}"] = _text(child) or child.get("name") or child.get("id", "")
    loop = element.find(f"{_BPMN}standardLoopCharacteristics")
    if loop is not None:
        condition = _text(loop.find(f"{_BPMN}loopCondition"))
        found["loop"] = "; ".join(p for p in (condition, f"max {loop.get('loopMaximum')}"
                                                if loop.get("loopMaximum") else "") if p) or "standard"
    return found


# --- DMN ---------------------------------------------------------------------------------------

def _dmn_elements(text: str) -> dict[str, _Element]:
    root = bpmn_xml.parse_xml(text, "dmn")
    if not bpmn_xml.is_dmn(root):
        raise InvalidDefinition("not a DMN file")
    ns = f"{{{etree.QName(root).namespace}}}"
    found: dict[str, _Element] = {}
    for decision in root.iter(f"{ns}decision"):
        table = decision.find(f"{ns}decisionTable")
        attributes = {"hit_policy": table.get("hitPolicy", "UNIQUE")} if table is not None else {}
        found[decision.get("id", "")] = _Element("decision", decision.get("name", ""), attributes)
        if table is None:
            continue
        columns: list[str] = []
        for column in table:
            local = _local(column)
            if local not in ("input", "output"):
                continue
            expression_element = column.find(f"{ns}inputExpression")
            expression = _text(expression_element.find(f"{ns}text")) if expression_element is not None else ""
            label = column.get("label") or column.get("name") or expression or column.get("id", "")
            attributes = {"label": column.get("label", ""), "name": column.get("name", ""),
                          "expression": expression,
                          "type_ref": (expression_element if expression_element is not None else column)
                          .get("typeRef", "")}
            found[column.get("id", "")] = _Element(f"decision {local}", column.get("name") or label, attributes)
            columns.append(f"{'when' if local == 'input' else 'then'} {label}")
        keys = _column_keys(columns)
        for number, rule in enumerate(table.iterfind(f"{ns}rule"), start=1):
            cells = [c for c in rule if _local(c) in ("inputEntry", "outputEntry")]
            attributes = {keys[i] if i < len(keys) else f"cell {i + 1}": _text(c.find(f"{ns}text"))
                          for i, c in enumerate(cells)}
            description = _text(rule.find(f"{ns}description"))
            if description:
                attributes["description"] = description
            found[rule.get("id", "")] = _Element("decision rule", description or f"#{number}", attributes)
    return found


def _column_keys(columns: list[str]) -> list[str]:
    """Each column's key in a rule's attributes; columns with one label are told apart by number."""
    seen: dict[str, int] = {}
    keys: list[str] = []
    for label in columns:
        seen[label] = seen.get(label, 0) + 1
        keys.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return keys


# --- forms (JSON Schema and UI schema) ----------------------------------------------------------

def _json_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _load_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _schema_fields(text: str) -> dict[str, _Element]:
    """Each field of a form's JSON Schema by its path (``address.city``, ``items[]``), with its
    keywords and whether it is required; the form itself is the field with the empty path."""
    found: dict[str, _Element] = {}

    def walk(node: dict[str, Any], path: str, required: bool | None, depth: int) -> None:
        nested = depth < MAX_FORM_DEPTH
        properties = node.get("properties") if nested and isinstance(node.get("properties"), dict) else None
        items = node.get("items") if nested and isinstance(node.get("items"), dict) else None
        skip = {"properties"} if properties is not None else set()
        skip |= {"items"} if items is not None else set()
        skip |= {"required"} if properties is not None and isinstance(node.get("required"), list) else set()
        attributes = {k: _json_value(v) for k, v in node.items() if k not in skip}
        if required is not None:
            attributes["required"] = "true" if required else "false"
        found[path] = _Element("form" if not path else "form field", _json_value(node.get("title", "")), attributes,
                               name_is_attribute=True)
        listed = node.get("required") if isinstance(node.get("required"), list) else []
        for name, child in (properties or {}).items():
            if isinstance(child, dict):
                walk(child, f"{path}.{name}" if path else name, name in listed, depth + 1)
        if items is not None:
            walk(items, f"{path}[]", None, depth + 1)

    walk(_load_object(text), "", None, 0)
    return found


def _ui_schema_fields(text: str) -> dict[str, _Element]:
    """Each field's layout options (``ui:*`` keys) by its path; the form's own options at ''."""
    found: dict[str, _Element] = {}

    def walk(node: dict[str, Any], path: str, depth: int) -> None:
        attributes: dict[str, str] = {}
        found[path] = _Element("form layout" if not path else "field layout", "", attributes, name_is_attribute=True)
        for key, value in node.items():
            if isinstance(value, dict) and not key.startswith("ui:") and depth < MAX_FORM_DEPTH:
                walk(value, f"{path}.{key}" if path else key, depth + 1)
            elif key == "ui:translations" and isinstance(value, dict):
                attributes |= _translations(value)
            else:
                attributes[key] = _json_value(value)

    walk(_load_object(text), "", 0)
    return found


def _translations(value: dict[str, Any]) -> dict[str, str]:
    """A form's names in other languages (``ui:translations``: language -> key -> text), one
    attribute per text, so that one renamed field is one change rather than the whole table."""
    found: dict[str, str] = {}
    for language, table in value.items():
        if isinstance(table, dict):
            found |= {f"ui:translations.{language}.{key}": _json_value(text) for key, text in table.items()}
        else:
            found[f"ui:translations.{language}"] = _json_value(table)
    return found
