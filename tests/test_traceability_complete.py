"""Every clause of the controlled document is implemented by a published BPMN element and walked by
a test: a clause of workflows/clauses.json without either fails here, naming the clause."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from engine.definitions.traceability import ClauseTrace, elements_by_clause, load_clauses, marked_tests_by_clause, trace

ROOT = Path(__file__).resolve().parent.parent
CLAUSES = load_clauses(ROOT / "workflows" / "clauses.json")


@cache
def traced() -> dict[str, ClauseTrace]:
    files = {f"workflows/{p.name}": p.read_text(encoding="utf-8") for p in sorted((ROOT / "workflows").glob("*.bpmn"))}
    found = trace(CLAUSES, elements_by_clause(files), marked_tests_by_clause(ROOT / "tests"))
    return {t.clause.id: t for t in found}


def test_the_clause_catalogue_is_read():
    assert len(CLAUSES) >= 1
    assert len({c.id for c in CLAUSES}) == len(CLAUSES), "clause ids in workflows/clauses.json repeat"


@pytest.mark.parametrize("clause_id", [c.id for c in CLAUSES])
def test_every_clause_has_an_element_and_a_test(clause_id: str):
    entry = traced()[clause_id]
    label = f"PROCEDURE {clause_id} ({entry.clause.title})"
    assert entry.elements, f"{label}: no BPMN element in workflows/ documents this clause"
    assert entry.tests, f"{label}: no test is marked @pytest.mark.clause({clause_id!r})"


def test_tests_mark_only_clauses_of_the_document():
    known = {c.id for c in CLAUSES}
    unknown = {clause: tests for clause, tests in marked_tests_by_clause(ROOT / "tests").items() if clause not in known}
    assert not unknown, f"tests marked with clauses that workflows/clauses.json does not have: {unknown}"
