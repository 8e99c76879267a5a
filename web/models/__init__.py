"""Process model pages: the processes and their versions, one version with its files, problems,
sign-offs, revision record and distribution, and the forms for the next step the reader may
take. The diagram viewer and the editor (/models/ID/edit) are added beside these pages."""

from __future__ import annotations

import mimetypes
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.definitions.bundle_zip import MAX_BUNDLE_BYTES
from engine.errors import InvalidDefinition, InvalidInput
from engine.services import model_diff, models
from engine.services.departments import list_departments
from web.api.models import UPLOAD_OVERHEAD
from web.api.params import required_int_param
from web.context import actor, engine
from web.i18n import current_locale
from web.request_limits import allow_larger_body

bp = Blueprint("models", __name__, url_prefix="/models")
allow_larger_body("models.upload", MAX_BUNDLE_BYTES + UPLOAD_OVERHEAD)


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    """Whether the signed-in reader gets the Models link (process owners, QA, management,
    administrators, auditors)."""
    return {"may_read_models": lambda: current_user.is_authenticated and models.may_read(actor())}


def _done_message(step: str) -> str:
    return {"submit": _("Submitted for review."), "review": _("Review signed."),
            "approve": _("Approval signed."), "publish": _("Published: new cases start on this version."),
            "reject": _("Sent back to draft.")}[step]


def _list_page(status: int = 200, problems: list[dict[str, Any]] | None = None):  # type: ignore[no-untyped-def]
    processes = models.list_models(engine(), actor())
    return render_template("models/list.html", processes=processes, may_prepare=models.may_prepare(actor()),
                           upload_problems=problems or []), status


@bp.get("")
@login_required
def index():  # type: ignore[no-untyped-def]
    """Every process with its versions, their labels and states."""
    return _list_page()


@bp.post("")
@login_required
def upload():  # type: ignore[no-untyped-def]
    """A zip of BPMN, DMN, decision tests and forms becomes a new draft."""
    bundle = request.files.get("bundle")
    if bundle is None or not bundle.filename:
        flash(_("Choose a zip file to upload."), "error")
        return _list_page(422)
    try:
        view = models.import_bundle(engine(), actor(), bundle.read(), request.form.get("change_note", ""))
    except InvalidInput as exc:
        flash(exc.message, "error")
        return _list_page(422)
    except InvalidDefinition as exc:
        flash(exc.message, "error")
        return _list_page(422, (exc.details or {}).get("problems", []))
    flash(_("Draft created."), "success")
    return redirect(url_for("models.detail", model_id=view.id))


@bp.post("/new/<process_id>")
@login_required
def new_draft(process_id: str):  # type: ignore[no-untyped-def]
    """A draft copying the newest version of a process, to be edited into the next version."""
    view = models.new_draft(engine(), actor(), process_id)
    flash(_("Draft created."), "success")
    return redirect(url_for("models.detail", model_id=view.id))


@bp.get("/<int:model_id>")
@login_required
def detail(model_id: int):  # type: ignore[no-untyped-def]
    """One version: files, problems, sign-offs, revision record, distribution, next steps."""
    view = models.get_model(engine(), actor(), model_id)
    departments = list_departments(engine(), current_locale())
    return render_template("models/detail.html", model=view, steps=models.next_steps(actor(), view),
                           comparable=model_diff.other_versions(engine(), actor(), model_id),
                           departments=departments, department_names={d.id: d.name for d in departments})


@bp.get("/<int:model_id>/diff")
@login_required
def diff(model_id: int):  # type: ignore[no-untyped-def]
    """Version ``model_id`` beside version ``against`` of the same process: both diagrams with the
    elements added, removed and changed marked, and the list of every change."""
    against = required_int_param("against", 1, model_diff.MAX_ID)
    comparison = model_diff.compare_versions(engine(), actor(), model_id, against)
    return render_template("models/diff.html", comparison=comparison)


@bp.post("/<int:model_id>/distribution")
@login_required
def distribution(model_id: int):  # type: ignore[no-untyped-def]
    """The process owner chooses the draft's distribution list from the department list."""
    models.set_distribution(engine(), actor(), model_id, request.form.getlist("department"))
    flash(_("Distribution list saved."), "success")
    return redirect(url_for("models.detail", model_id=model_id, _anchor="distribution-heading"))


@bp.get("/<int:model_id>/print")
@login_required
def print_header(model_id: int):  # type: ignore[no-untyped-def]
    """The version's document-control header as the paper procedure's: process, label, date, the
    three sign-offs, the revision record and the distribution list, laid out for printing."""
    view = models.get_model(engine(), actor(), model_id)
    names = {d.id: d.name for d in list_departments(engine(), current_locale())}
    return render_template("models/print.html", model=view, signed=models.signed_steps(view),
                           distribution=[names.get(d, d) for d in view.distribution])


@bp.get("/<int:model_id>/files/<path:path>")
@login_required
def download_file(model_id: int, path: str):  # type: ignore[no-untyped-def]
    """One file of a version, as a download (never rendered by the browser as a page)."""
    view = models.get_model(engine(), actor(), model_id)
    if path not in view.files:
        abort(404)
    mimetype = mimetypes.guess_type(path)[0] or "application/xml"
    name = path.rsplit("/", 1)[-1]
    return Response(view.files[path], mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/<int:model_id>/export")
@login_required
def export(model_id: int):  # type: ignore[no-untyped-def]
    """The version's files as a zip that imports again as it is."""
    view = models.get_model(engine(), actor(), model_id)
    return Response(models.export_zip(engine(), actor(), model_id), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{models.export_file_name(view)}"'})


@bp.post("/<int:model_id>/<any(submit, review, approve, publish, reject):step>")
@login_required
def sign(model_id: int, step: str):  # type: ignore[no-untyped-def]
    """Take the next step; a refusal (role, order, missing comment) is shown as an error page."""
    if step == "reject":
        models.reject(engine(), actor(), model_id, request.form.get("comment", ""))
    else:
        models.STEPS[step](engine(), actor(), model_id, request.form.get("note", ""))
    flash(_done_message(step), "success")
    return redirect(url_for("models.detail", model_id=model_id))
