"""The task page: its form, the case it belongs to and the case's earlier records;
completing, claiming, releasing and assigning a task."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup

from engine.definitions.forms import coerce_form_post
from engine.errors import Conflict, InvalidInput
from engine.services import customers, tasks, users, work_items
from engine.services.tasks import TaskPage
from web.cases import record_rows
from web.context import actor, engine
from web.forms import error_links, with_customer_choices

bp = Blueprint("tasks", __name__)


def _readonly_reason(page: TaskPage) -> str | None:
    task, reason = page.task, page.permissions.reason
    if reason == "case_not_running":
        return _("The case is %(status)s; its tasks cannot be completed.", status=page.case.status)
    if reason == "claimed_by_other":
        return _("This task is claimed by %(user)s.", user=task.assignee)
    if reason == "not_an_owner":
        return _("Only %(people)s can complete this task.", people=", ".join(task.owners) or "—")
    if reason == "not_in_department":
        return _("Only members of the department %(department)s can complete this task.",
                 department=task.department or "—")
    return None


def _render(page: TaskPage, data: Mapping, errors: Mapping[str, list[str]], status: int = 200,
            ) -> ResponseReturnValue:
    allowed = page.permissions
    schema = page.form.schema if page.form is not None else {}
    return render_template(
        "tasks/task.html",
        page=page,
        form_schema=with_customer_choices(schema, lambda: customers.customer_choices(engine()), data),
        data=data,
        errors=errors,
        error_links=error_links(page.form, errors),
        records=record_rows(page.records),
        readonly_reason=_readonly_reason(page),
        may_claim=allowed.may_claim,
        may_release=allowed.may_release,
        may_assign=allowed.may_assign,
        colleagues=users.colleagues(engine(), page.task.department, page.task.owners)
        if allowed.may_assign else [],
        instructions=Markup(page.instructions),  # markdown-it's HTML with raw HTML off: safe as it is
    ), status


def _conflict(exc: Conflict) -> ResponseReturnValue:
    """The task was completed by someone else (or its case moved on) while this user worked on it."""
    flash(_("Someone else has already completed this task, or its case has moved on."), "error")
    return render_template("error.html", status=409, message=exc.message), 409


def _back(task_id: str) -> str:
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("tasks.show", task_id=task_id)


@bp.get("/tasks/<task_id>")
@login_required
def show(task_id: str) -> ResponseReturnValue:
    """The task page: form (or read-only values), case summary and earlier records."""
    page = tasks.get_task(engine(), actor(), task_id)
    return _render(page, page.prefill, {})


@bp.post("/tasks/<task_id>")
@login_required
def complete(task_id: str) -> ResponseReturnValue:
    """Complete the task with the submitted form: 422 with messages, 409 if someone was first."""
    try:
        page = tasks.get_task(engine(), actor(), task_id)
    except Conflict as exc:
        return _conflict(exc)
    items = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"]
    data = coerce_form_post(page.form, items) if page.form is not None else {}
    try:
        case = tasks.complete_task(engine(), actor(), task_id, data)
    except InvalidInput as exc:
        details = exc.details if isinstance(exc.details, Mapping) else {"": [exc.message]}
        return _render(page, data, details, 422)
    except Conflict as exc:
        return _conflict(exc)
    if case.status == "error":
        flash(_("The task was recorded, but the case stopped with an error: %(error)s", error=case.error),
              "error")
        return redirect(url_for("cases.detail", case_id=case.id))
    flash(_("“%(task)s” completed for case #%(case)s.", task=page.task.title, case=case.id), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<task_id>/signal")
@login_required
def signal(task_id: str) -> ResponseReturnValue:
    """Press one of the task's manual signal buttons; the case runs on from its signal event."""
    try:
        page = tasks.get_task(engine(), actor(), task_id)
        case = tasks.send_signal(engine(), actor(), task_id, request.form.get("signal", ""))
    except Conflict as exc:
        return _conflict(exc)
    label = next((s.label for s in page.signals if s.name == request.form.get("signal")), "")
    if case.status == "error":
        flash(_("The signal was sent, but the case stopped with an error: %(error)s", error=case.error), "error")
        return redirect(url_for("cases.detail", case_id=case.id))
    flash(_("“%(signal)s” sent for case #%(case)s.", signal=label, case=case.id), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str) -> ResponseReturnValue:
    """Claim an unclaimed task of one of my departments."""
    item = work_items.claim(engine(), actor(), task_id)
    flash(_("You have claimed “%(task)s”.", task=item.title), "success")
    return redirect(_back(task_id))


@bp.post("/tasks/<task_id>/release")
@login_required
def release(task_id: str) -> ResponseReturnValue:
    """Give a task I hold back to its department."""
    item = work_items.release(engine(), actor(), task_id)
    flash(_("“%(task)s” is back in the department's inbox.", task=item.title), "success")
    return redirect(_back(task_id))


@bp.post("/tasks/<task_id>/assign")
@login_required
def assign(task_id: str) -> ResponseReturnValue:
    """Hand a task to a colleague of its department."""
    item = work_items.assign(engine(), actor(), task_id, request.form.get("assignee", ""))
    flash(_("“%(task)s” is now assigned to %(user)s.", task=item.title, user=item.assignee), "success")
    return redirect(_back(task_id))
