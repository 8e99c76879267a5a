"""The procedure page: every clause of the controlled document, what implements it, what tests it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

from engine.definitions.traceability import ClauseTrace, ElementRef
from engine.services.procedure import traceability
from web.context import engine

bp = Blueprint("procedure", __name__)


@dataclass(frozen=True)
class ClauseRow:
    """A clause with its elements grouped by process, so a long list folds into a few lines."""

    trace: ClauseTrace
    processes: list[tuple[str, list[ElementRef]]]


def _row(trace: ClauseTrace) -> ClauseRow:
    grouped: dict[str, list[ElementRef]] = defaultdict(list)
    for element in trace.elements:
        grouped[element.process_id].append(element)
    return ClauseRow(trace, sorted(grouped.items()))


@bp.get("/procedure")
@login_required
def index() -> ResponseReturnValue:
    """Clauses of PROCEDURE 5.2–5.6.1 with their BPMN elements, tests and state."""
    traces = traceability(engine())
    counts = {state: sum(1 for t in traces if t.state == state) for state in ("implemented", "untested", "missing")}
    return render_template("procedure/index.html", rows=[_row(t) for t in traces], counts=counts)
