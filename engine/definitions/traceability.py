"""Which BPMN elements implement each clause of the procedure, and which tests walk it.

An element names its clause in the first line of its documentation (``PROCEDURE 5.5.1``; several
clauses separated by commas); a test names the clauses it walks with ``@pytest.mark.clause``.
Both are read from the files themselves, so the trace cannot drift from what runs.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from engine.definitions import bpmn_xml

CLAUSE_LINE = re.compile(r"^\s*PROCEDURE\s+(.+)$")
CLAUSE_ID = re.compile(r"\d+(?:\.\d+)*")


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    title_zh: str


@dataclass(frozen=True)
class ElementRef:
    process_id: str
    element_id: str
    kind: str
    name: str


@dataclass(frozen=True)
class ClauseTrace:
    clause: Clause
    elements: list[ElementRef] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """``implemented`` (elements and tests), ``untested`` (elements only) or ``missing``."""
        if not self.elements:
            return "missing"
        return "implemented" if self.tests else "untested"


def load_clauses(path: Path) -> list[Clause]:
    """The clause catalogue of the controlled document (workflows/clauses.json)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Clause(c["id"], c["title"], c.get("title_zh", "")) for c in data["clauses"]]


def _clause_ids(text: str | None) -> list[str]:
    first = (text or "").strip().splitlines()[:1]
    match = CLAUSE_LINE.match(first[0]) if first else None
    return CLAUSE_ID.findall(match.group(1)) if match else []


def elements_by_clause(files: Mapping[str, str]) -> dict[str, list[ElementRef]]:
    """Clause id → the elements documenting it, over a set of BPMN files (path → text)."""
    found: dict[str, list[ElementRef]] = {}
    for path, text in sorted(files.items()):
        if not path.endswith(".bpmn"):
            continue
        root = bpmn_xml.parse_xml(text, path)
        for process in root.iterfind(".//bpmn:process", bpmn_xml.NS):
            for doc in process.iter(f"{{{bpmn_xml.BPMN_NS}}}documentation"):
                owner = doc.getparent()
                ref = ElementRef(process.get("id", ""), owner.get("id", ""), etree.QName(owner).localname,
                                 owner.get("name", "") or "")
                for clause_id in _clause_ids(doc.text):
                    found.setdefault(clause_id, []).append(ref)
    return found


def _marker_clauses(decorator: ast.expr) -> list[str]:
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return []
    if decorator.func.attr != "clause":
        return []
    return [a.value for a in decorator.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def marked_tests_by_clause(tests_dir: Path) -> dict[str, list[str]]:
    """Clause id → ``file::test`` of every test marked ``@pytest.mark.clause(...)`` for it."""
    found: dict[str, list[str]] = {}
    for path in sorted(tests_dir.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                for clause_id in _marker_clauses(decorator):
                    found.setdefault(clause_id, []).append(f"{path.relative_to(tests_dir.parent)}::{node.name}")
    return found


def trace(clauses: Iterable[Clause], elements: Mapping[str, list[ElementRef]],
          tests: Mapping[str, list[str]]) -> list[ClauseTrace]:
    """Every clause with its elements and tests, in the document's order."""
    return [ClauseTrace(c, list(elements.get(c.id, [])), list(tests.get(c.id, []))) for c in clauses]
