"""The procedure page: the controlled document's text in the reader's language under its
document-control header, beside every clause with what implements it and what tests it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from engine.definitions.procedure_document import LANGUAGES
from engine.definitions.traceability import ClauseTrace, ElementRef
from engine.errors import InvalidInput
from engine.services.procedure import ProcedureDocument, procedure_document, traceability
from web.context import engine
from web.i18n import current_locale
from web.procedure.markdown import RenderedText, anchor, render

bp = Blueprint("procedure", __name__)


@dataclass(frozen=True)
class ClauseRow:
    """A clause with its elements grouped by process, so a long list folds into a few lines, and
    the anchor of its text (None when the shown text does not number that clause)."""

    trace: ClauseTrace
    processes: list[tuple[str, list[ElementRef]]]
    text_anchor: str | None


def _row(trace: ClauseTrace, anchored: set[str]) -> ClauseRow:
    grouped: dict[str, list[ElementRef]] = defaultdict(list)
    for element in trace.elements:
        grouped[element.process_id].append(element)
    text_anchor = anchor(trace.clause.id) if trace.clause.id in anchored else None
    return ClauseRow(trace, sorted(grouped.items()), text_anchor)


def _language() -> str:
    """``?lang=`` when given (the switch to the other language), else the reader's language."""
    wanted = request.args.get("lang")
    if wanted is None:
        return current_locale() if current_locale() in LANGUAGES else LANGUAGES[0]
    if wanted not in LANGUAGES:
        raise InvalidInput(_("Unknown language %(lang)s", lang=wanted[:20]),
                           {"lang": [_("Choose one of %(choices)s.", choices=", ".join(LANGUAGES))]})
    return wanted


def _document(language: str) -> tuple[ProcedureDocument, RenderedText, str]:
    """The document in ``language``, its text rendered, and the other language (for the switch)."""
    document = procedure_document(engine(), language)
    other = next(lang for lang in LANGUAGES if lang != language)
    return document, render(document.text), other


@bp.get("/procedure")
@login_required
def index() -> ResponseReturnValue:
    """The procedure's text and header, and its clauses (5.2–5.6.1) with their BPMN elements,
    tests and state, each linked to its place in the text."""
    document, text, other = _document(_language())
    traces = traceability(engine())
    counts = {state: sum(1 for t in traces if t.state == state) for state in ("implemented", "untested", "missing")}
    anchored = set(text.clauses)
    return render_template("procedure/index.html", rows=[_row(t, anchored) for t in traces], counts=counts,
                           document=document, text=text.html, other=other)


@bp.get("/procedure/print")
@login_required
def print_view() -> ResponseReturnValue:
    """The procedure as its paper original looks: the header table, then the text (A4)."""
    document, text, other = _document(_language())
    return render_template("procedure/print.html", document=document, text=text.html, other=other)
