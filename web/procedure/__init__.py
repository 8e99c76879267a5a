"""The procedure page: every clause of the controlled document, what implements it, what tests it."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

from engine.services.procedure import traceability
from web.context import engine

bp = Blueprint("procedure", __name__)


@bp.get("/procedure")
@login_required
def index() -> ResponseReturnValue:
    """Clauses of PROCEDURE 5.2–5.6.1 with their BPMN elements, tests and state."""
    rows = traceability(engine())
    counts = {state: sum(1 for r in rows if r.state == state) for state in ("implemented", "untested", "missing")}
    return render_template("procedure/index.html", rows=rows, counts=counts)
