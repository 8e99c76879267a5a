"""API v1 for process models under document control (engine.services.models): upload a bundle as
a draft, take it through its sign-offs, read and export any version."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from engine.definitions.bundle_zip import FIELD, MAX_BUNDLE_BYTES
from engine.errors import InvalidInput
from engine.services import model_diff, models
from web.api import _body, bp
from web.api.params import required_int_param
from web.api.serialize import to_json
from web.context import engine
from web.request_limits import allow_larger_body

UPLOAD_OVERHEAD = 64 * 1024  # the multipart envelope and the change note around the zip
allow_larger_body("api.import_model", MAX_BUNDLE_BYTES + UPLOAD_OVERHEAD)


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field, "")
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be text", {field: "must be text"})
    return value


def _model_json(view: models.ModelView) -> dict[str, Any]:
    return {**to_json(view), "next_steps": models.next_steps(g.actor, view)}


@bp.post("/models")
def import_model():  # type: ignore[no-untyped-def]
    """Upload a zip of BPMN, DMN and form files as a new draft, with its validation problems."""
    upload = request.files.get(FIELD)
    if upload is None:
        raise InvalidInput(f"{FIELD}: send the zip as multipart field {FIELD!r}", {FIELD: "required"})
    note = request.form.get("change_note", "")
    view = models.import_bundle(engine(), g.actor, upload.read(MAX_BUNDLE_BYTES + 1), note)
    return jsonify(_model_json(view)), 201


@bp.get("/models/<int:model_id>")
def get_model(model_id: int):  # type: ignore[no-untyped-def]
    """A draft or version: its files, state, sign-offs, revision record and problems."""
    return jsonify(_model_json(models.get_model(engine(), g.actor, model_id)))


@bp.get("/models/<int:model_id>/diff")
def diff_model(model_id: int):  # type: ignore[no-untyped-def]
    """What version ``model_id`` does differently from version ``against`` of the same process:
    elements, flows, decision rules and form fields added, removed or changed."""
    against = required_int_param("against", 1, model_diff.MAX_ID)
    comparison = model_diff.compare_versions(engine(), g.actor, model_id, against)
    return jsonify({"before": to_json(comparison.before), "after": to_json(comparison.after),
                    "entries": to_json(comparison.entries)})


@bp.get("/models/<int:model_id>/export")
def export_model(model_id: int):  # type: ignore[no-untyped-def]
    """The version's files as a zip that imports again as it is."""
    view = models.get_model(engine(), g.actor, model_id)
    data = models.export_zip(engine(), g.actor, model_id)
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{models.export_file_name(view)}"'})


@bp.put("/models/<int:model_id>/distribution")
def set_model_distribution(model_id: int):  # type: ignore[no-untyped-def]
    """The process owner replaces a draft's distribution list (department ids)."""
    departments = _body().get("distribution")
    return jsonify(_model_json(models.set_distribution(engine(), g.actor, model_id, departments)))


def _sign(model_id: int, step: str):  # type: ignore[no-untyped-def]
    note = _text(_body(), "note")
    return jsonify(_model_json(models.STEPS[step](engine(), g.actor, model_id, note)))


@bp.post("/models/<int:model_id>/submit")
def submit_model(model_id: int):  # type: ignore[no-untyped-def]
    """The preparer (a process owner) submits a draft without errors for review."""
    return _sign(model_id, "submit")


@bp.post("/models/<int:model_id>/review")
def review_model(model_id: int):  # type: ignore[no-untyped-def]
    """Quality Assurance signs the review of a submitted version."""
    return _sign(model_id, "review")


@bp.post("/models/<int:model_id>/approve")
def approve_model(model_id: int):  # type: ignore[no-untyped-def]
    """Management signs the approval of a reviewed version."""
    return _sign(model_id, "approve")


@bp.post("/models/<int:model_id>/publish")
def publish_model(model_id: int):  # type: ignore[no-untyped-def]
    """Management puts an approved version in force."""
    return _sign(model_id, "publish")


@bp.post("/models/<int:model_id>/reject")
def reject_model(model_id: int):  # type: ignore[no-untyped-def]
    """Send a submitted, reviewed or approved version back to draft with a comment."""
    comment = _text(_body(), "comment")
    return jsonify(_model_json(models.reject(engine(), g.actor, model_id, comment)))


@bp.get("/processes/<process_id>/versions")
def process_versions(process_id: str):  # type: ignore[no-untyped-def]
    """A process's versions, newest first, with their labels and states."""
    return jsonify(to_json(models.process_versions(engine(), g.actor, process_id)))
