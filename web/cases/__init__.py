"""Case pages: the case list, one case with its records and history, its records printed, and
starting a case."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from engine.definitions.forms import FormDefinition
from engine.errors import NotFound
from engine.services import case_search, cases, processes, replay
from engine.services.actors import Actor
from engine.services.cases import CaseView, EventView
from engine.services.checkpoints import case_checkpoint
from engine.services.comments import add_comment
from engine.services.departments import list_departments
from engine.services.history import case_history
from engine.services.interventions import CANCELLABLE, cancel_case, retry_case
from engine.services.records import RecordView, case_records
from engine.services.work_items import WorkItemView, may_work_on
from web.case_filters import STATUSES, case_filter
from web.cases.history_rows import history_rows
from web.context import actor, engine
from web.i18n import current_locale

bp = Blueprint("cases", __name__)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SHORT_HASH = 12
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


# --- helpers shared with the task page ------------------------------------------------------


@dataclass(frozen=True)
class DisplayItem:
    """One key of a data dict as text: nested values are pretty JSON, shown in <pre>."""

    key: str
    text: str
    nested: bool


def _scalar_text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def display_items(data: Mapping[str, Any]) -> list[DisplayItem]:
    """A data dict as a list of key/text pairs for a definition list."""
    items = []
    for key, value in data.items():
        if isinstance(value, dict | list):
            items.append(DisplayItem(str(key), json.dumps(value, indent=2, ensure_ascii=False), True))
        else:
            items.append(DisplayItem(str(key), _scalar_text(value), False))
    return items


@dataclass(frozen=True)
class RecordRow:
    """A completed task of the case: its form when known, else its data as plain key/values."""

    event: EventView
    title: str
    form: FormDefinition | None
    items: list[DisplayItem]
    title_zh: str = ""
    untrusted: bool = False


def humanize(element_id: str | None) -> str:
    """``Task_RecordFeedback`` → ``Record feedback``: a readable name when no title is known."""
    name = (element_id or "").removeprefix("Task_").removeprefix("Activity_")
    words = _CAMEL.sub(" ", name).replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower() if words else _("Task")


def record_rows(records: Iterable[RecordView]) -> list[RecordRow]:
    """Records, each with the form that recorded it (plain key/values when it had none)."""
    return [
        RecordRow(event=r.event, title=r.title or humanize(r.event.element_id), form=r.form,
                  items=display_items(r.event.data), title_zh=r.title_zh, untrusted=r.untrusted)
        for r in records
    ]


@bp.app_template_filter("status_label")
def status_label(status: str) -> str:
    """A case status as a translated word for badges and the status filter."""
    labels = {"running": _("Running"), "completed": _("Completed"), "error": _("Error"), "cancelled": _("Cancelled")}
    return labels.get(status, status)


def first_task_for(who: Actor, case: CaseView) -> WorkItemView | None:
    """The first open task of a case that ``who`` may work on."""
    return next((t for t in case.open_tasks if may_work_on(who, t)), None)


# --- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pager:
    """Offsets of the neighbouring pages of a list, None where there is none."""

    first: int
    last: int
    total: int
    prev_offset: int | None
    next_offset: int | None


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name, default, type=int)
    return max(low, min(high, value if value is not None else default))


@bp.get("/cases")
@login_required
def index() -> ResponseReturnValue:
    """The case list, filtered by status, process, customer and free text, and for auditors also by
    version, period, department, outcome and integrity, a page at a time; ``format=csv`` gives
    every matching case as a CSV file (auditors, administrators, process owners)."""
    limit = _int_arg("limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    offset = _int_arg("offset", 0, 0, 10**9)
    flt = case_filter(request.args, limit, offset)
    if request.args.get("format") == "csv":
        lines = cases.cases_csv(engine(), actor(), flt)
        return Response(lines, mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="cases.csv"'})
    views, total = cases.list_cases(engine(), actor(), flt)
    pager = Pager(
        first=offset + 1 if views else 0,
        last=offset + len(views),
        total=total,
        prev_offset=max(0, offset - limit) if offset > 0 else None,
        next_offset=offset + limit if offset + limit < total else None,
    )
    args = {k: v for k, v in request.args.items() if k not in ("offset", "format") and v}
    who = actor()
    return render_template(
        "cases/list.html", cases=views, pager=pager, flt=flt, args=args, statuses=STATUSES,
        processes=processes.list_published(engine()), departments=list_departments(engine(), current_locale()),
        may_export=case_search.may_export_cases(who),
    )


@bp.get("/cases/<int:case_id>")
@login_required
def detail(case_id: int) -> ResponseReturnValue:
    """One case: status, version, its records, open tasks and its verified history."""
    who = actor()
    case = cases.get_case(engine(), who, case_id)
    entries, checked = case_history(engine(), who, case_id)
    verdict = checked.verdict
    show_raw = who.is_admin or who.is_auditor
    return render_template(
        "cases/detail.html", case=case, records=record_rows(case_records(engine(), who, case_id, verdict)),
        show_raw=show_raw, data_items=display_items(case.data),
        history=history_rows(entries, verdict), verdict=verdict, verdict_reason=verdict.describe(_),
        coverage=checked.coverage, checkpoint=checked.checkpoint,
        stamped=case_checkpoint(engine(), who, case_id) if show_raw else None,
        short_hash=case.version_hash[:SHORT_HASH],
        open_tasks=[(t, may_work_on(who, t)) for t in case.open_tasks],
        may_comment=not who.reads_only and case.status != "cancelled",
        may_retry=who.is_admin and case.status == "error",
        may_cancel=who.is_admin and case.status in CANCELLABLE,
        may_replay=replay.may_replay(who),
    )


@bp.post("/cases/<int:case_id>/comments")
@login_required
def comment(case_id: int) -> ResponseReturnValue:
    """Add a comment to the case's history."""
    add_comment(engine(), actor(), case_id, request.form.get("text", ""))
    flash(_("Your comment was added to the history."), "success")
    return redirect(url_for("cases.detail", case_id=case_id, _anchor="history-heading"))


@bp.post("/cases/<int:case_id>/retry")
@login_required
def retry(case_id: int) -> ResponseReturnValue:
    """Administrators: run the failed step of a case in error again."""
    case = retry_case(engine(), actor(), case_id)
    if case.status == "error":
        flash(_("The step failed again: %(error)s", error=case.error), "error")
    else:
        flash(_("The failed step ran again; the case goes on."), "success")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.post("/cases/<int:case_id>/cancel")
@login_required
def cancel(case_id: int) -> ResponseReturnValue:
    """Administrators: cancel a case, giving the reason."""
    cancel_case(engine(), actor(), case_id, request.form.get("reason", ""))
    flash(_("Case #%(id)s was cancelled.", id=case_id), "success")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.get("/cases/<int:case_id>/records")
@login_required
def print_records(case_id: int) -> ResponseReturnValue:
    """Every record of a case as printable documents, one page each."""
    who = actor()
    case = cases.get_case(engine(), who, case_id)
    return render_template(
        "cases/print.html", case=case, records=record_rows(case_records(engine(), who, case_id)),
        single=False, short_hash=case.version_hash[:SHORT_HASH],
    )


@bp.get("/cases/<int:case_id>/records/<int:seq>")
@login_required
def print_record(case_id: int, seq: int) -> ResponseReturnValue:
    """One record of a case as a printable document."""
    who = actor()
    case = cases.get_case(engine(), who, case_id)
    found = [r for r in record_rows(case_records(engine(), who, case_id)) if r.event.seq == seq]
    if not found:
        raise NotFound(_("Case #%(case)s has no record %(seq)s.", case=case_id, seq=seq))
    return render_template(
        "cases/print.html", case=case, records=found, single=True, short_hash=case.version_hash[:SHORT_HASH],
    )


@bp.get("/cases/<int:case_id>/pack")
@login_required
def pack(case_id: int) -> ResponseReturnValue:
    """The case's audit pack (zip), as the API serves it, for whoever may read the case."""
    from web.cases.pack import audit_pack

    return send_file(io.BytesIO(audit_pack(actor(), case_id)), mimetype="application/zip", as_attachment=True,
                     download_name=f"case-{case_id}-audit-pack.zip")


@bp.get("/start")
@login_required
def start_page() -> ResponseReturnValue:
    """The published processes the user may start, each with a button that starts a case, and
    apart, without a button, those that only a timer or another system's message begins.
    Auditors start nothing and go to the case list."""
    if actor().reads_only:
        return redirect(url_for("cases.index"))
    listed = processes.list_published(engine(), actor())
    return render_template("cases/start.html", processes=[p for p in listed if p.may_start],
                           automatic=[p for p in listed if not p.starts_by_hand])


@bp.post("/start/<process_id>")
@login_required
def start(process_id: str) -> ResponseReturnValue:
    """Start a case and go to its first task when it is mine, else to the case page."""
    case = cases.start_case(engine(), actor(), process_id, {})
    if case.status == "error":
        flash(_("The case was started but failed: %(error)s", error=case.error), "error")
        return redirect(url_for("cases.detail", case_id=case.id))
    flash(_("Case #%(id)s started.", id=case.id), "success")
    task = first_task_for(actor(), case)
    if task is not None:
        return redirect(url_for("tasks.show", task_id=task.id))
    return redirect(url_for("cases.detail", case_id=case.id))

