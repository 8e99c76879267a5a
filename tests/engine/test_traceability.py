"""Clauses are traced to elements from documentation lines and to tests from their markers."""

from __future__ import annotations

import textwrap
from pathlib import Path

from engine.definitions.traceability import Clause, elements_by_clause, marked_tests_by_clause, trace

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:userTask id="a" name="Record"><bpmn:documentation>PROCEDURE 5.5.1, 5.5.3
Sales records it.</bpmn:documentation></bpmn:userTask>
    <bpmn:userTask id="b" name="Other"><bpmn:documentation>Not a clause line</bpmn:documentation></bpmn:userTask>
  </bpmn:process>
</bpmn:definitions>"""


def test_documentation_first_lines_name_the_clauses_of_an_element():
    found = elements_by_clause({"workflows/p.bpmn": BPMN})
    assert [e.element_id for e in found["5.5.1"]] == ["a"]
    assert [e.name for e in found["5.5.3"]] == ["Record"]
    assert "Not" not in str(found)


def test_clause_markers_on_tests_are_found_and_states_follow(tmp_path: Path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_x.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.clause("5.5.1")
        def test_walks():
            pass
    """))
    traced = trace(
        [Clause("5.5.1", "a", ""), Clause("5.5.3", "b", ""), Clause("5.6", "c", "")],
        elements_by_clause({"workflows/p.bpmn": BPMN}),
        marked_tests_by_clause(tests),
    )
    assert [t.state for t in traced] == ["implemented", "untested", "missing"]
    assert traced[0].tests == ["tests/test_x.py::test_walks"]
