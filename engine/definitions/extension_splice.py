"""Keeping the original bytes of what a BPMN editor only passed through.

bpmn-js reads a file into its model and writes it out again: extension elements it does not know
(spiff-arena's other ``spiffworkflow:*`` elements, Camunda's ``camunda:*``, Zeebe's ``zeebe:*``)
survive with their meaning, but not byte for byte: quotes in text come back as ``&quot;``,
indentation changes, and an attribute at its default (``isSequential="false"``) is dropped. Other
tools that read those files (spiff-arena, Camunda) and a reviewer comparing versions should see
exactly what was there.

So when a saved BPMN file replaces one of a draft, every extension element (each child of a
``bpmn:extensionElements``) and every loop characteristics element of the new file is matched to
the old file's by the id of the element that holds it, its tag and its place among its siblings
of that tag. Where both mean the same (the same canonical XML, ignoring whitespace between
elements and BPMN defaults written or not), the new file's text of that element is replaced by
the old file's. Anything changed, added or moved keeps the editor's text. The result means
exactly what the editor saved, so validation and execution see what the owner drew.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from xml.parsers import expat

from lxml import etree

from engine.definitions import bpmn_xml
from engine.definitions.bpmn_xml import BPMN_NS
from engine.errors import InvalidDefinition

EXTENSION_ELEMENTS = f"{{{BPMN_NS}}}extensionElements"
LOOPS = {f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics", f"{{{BPMN_NS}}}standardLoopCharacteristics"}
# attributes a BPMN editor drops when they have their default value: written or not, the same
DEFAULTS = {"isSequential": "false", "testBefore": "false"}


@dataclass(frozen=True)
class _Kept:
    """One element that may keep its text: its byte span in its file and what it means."""

    start: int
    end: int
    canonical: bytes
    namespaces: dict[str | None, str]
    used: frozenset[str]


def _tag_end(data: bytes, start: int) -> int:
    """The index just past the tag that begins at ``start`` (quotes may hold a '>')."""
    quote = 0
    for index in range(start, len(data)):
        byte = data[index]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x3E:
            return index + 1
    raise ValueError("unterminated tag")


def _spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) byte span of every element, in document order."""
    parser = expat.ParserCreate(encoding="utf-8")
    spans: list[list[int]] = []
    open_elements: list[int] = []

    def started(_name: str, _attrs: dict) -> None:
        open_elements.append(len(spans))
        spans.append([parser.CurrentByteIndex, -1])

    def ended(_name: str) -> None:
        spans[open_elements.pop()][1] = _tag_end(data, parser.CurrentByteIndex)

    parser.StartElementHandler = started
    parser.EndElementHandler = ended
    parser.Parse(data, True)
    return [(start, end) for start, end in spans]


def _canonical(element: etree._Element) -> bytes:
    """What the element means: exclusive canonical XML without whitespace between elements and
    with default-valued attributes left out."""
    clone = copy.deepcopy(element)
    for node in clone.iter():
        if isinstance(node.tag, str):
            for name, default in DEFAULTS.items():
                if node.tag in LOOPS and node.get(name) == default:
                    del node.attrib[name]
            if node.text is not None and not node.text.strip() and len(node):
                node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    clone.tail = None
    return etree.tostring(clone, method="c14n", exclusive=True, with_comments=False)


def _used_namespaces(element: etree._Element) -> frozenset[str]:
    used = set()
    for node in element.iter(tag=etree.Element):
        used.add(etree.QName(node).namespace or "")
        used.update(etree.QName(name).namespace or "" for name in node.attrib)
    return frozenset(used - {""})


def _holder_id(element: etree._Element) -> str | None:
    current = element.getparent()
    while current is not None and current.get("id") is None:
        current = current.getparent()
    return current.get("id") if current is not None else None


def _candidates(root: etree._Element, spans: list[tuple[int, int]]) -> Iterator[tuple[tuple, _Kept]]:
    counts: dict[tuple, int] = {}
    for element, (start, end) in zip(root.iter(tag=etree.Element), spans, strict=True):
        parent = element.getparent()
        if element.tag not in LOOPS and (parent is None or parent.tag != EXTENSION_ELEMENTS):
            continue
        holder = _holder_id(element)
        if holder is None:
            continue
        place = (holder, element.tag)
        counts[place] = counts.get(place, -1) + 1
        yield (*place, counts[place]), _Kept(start, end, _canonical(element), dict(element.nsmap),
                                             _used_namespaces(element))


def _read(text: str, path: str) -> tuple[bytes, dict[tuple, _Kept]]:
    data = text.encode("utf-8")
    root = bpmn_xml.parse_xml(data, path)
    return data, dict(_candidates(root, _spans(data)))


def keep_unchanged_extensions(old: str, new: str, path: str) -> str:
    """``new`` with the original text of each extension or loop element that means the same as
    in ``old``; ``new`` as it is when either cannot be read (validation reports it)."""
    try:
        old_data, old_kept = _read(old, path)
        new_data, new_kept = _read(new, path)
    except (InvalidDefinition, expat.ExpatError, ValueError):
        return new
    replacements = []
    for key, now in new_kept.items():
        before = old_kept.get(key)
        if before is None or before.canonical != now.canonical:
            continue
        if any(now.namespaces.get(prefix) != uri for prefix, uri in before.namespaces.items() if uri in before.used):
            continue  # the original's prefixes are not declared alike where it would go
        replacements.append((now.start, now.end, old_data[before.start:before.end]))
    result = new_data
    for start, end, original in sorted(replacements, reverse=True):
        if _inside_another(start, end, replacements):
            continue
        result = result[:start] + original + result[end:]
    return result.decode("utf-8")


def _inside_another(start: int, end: int, replacements: list[tuple[int, int, bytes]]) -> bool:
    """Whether the span lies inside another replaced span (it is replaced with that one)."""
    return any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in replacements)
