"""The controlled procedure: its text and header, and its traceability (each clause, the published
elements implementing it, its tests)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import project_root
from engine.context import EngineContext
from engine.definitions.procedure_document import DocumentControl, load_control, load_text
from engine.definitions.traceability import ClauseTrace, elements_by_clause, load_clauses, marked_tests_by_clause, trace
from engine.services.processes import latest_versions_query

CLAUSES_FILE = "clauses.json"


def traceability(ctx: EngineContext) -> list[ClauseTrace]:
    """Read from what is published (not from the working copy) and from the test suite, if shipped."""
    clauses = load_clauses(ctx.settings.workflows_dir / CLAUSES_FILE)
    with ctx.unit_of_work(readonly=True) as uow:
        files: dict[str, str] = {}
        for version in uow.session.scalars(latest_versions_query()):
            files.update({f.path: f.content for f in version.files})
    tests_dir = project_root() / "tests"
    tests = marked_tests_by_clause(tests_dir) if tests_dir.is_dir() else {}
    return trace(clauses, elements_by_clause(files), tests)


@dataclass(frozen=True)
class ProcedureDocument:
    """The controlled procedure in one language, under its document-control header."""

    control: DocumentControl
    language: str
    text: str


def procedure_document(ctx: EngineContext, language: str) -> ProcedureDocument:
    """Read from ``procedure/`` on every call: the files are the process owners' working copy and
    small, so an edit shows at once, as the clause catalogue does."""
    directory = ctx.settings.procedure_dir
    return ProcedureDocument(load_control(directory), language, load_text(directory, language))
