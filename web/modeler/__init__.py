"""The BPMN modeler of a draft model (GET /models/<id>/edit) and the save of one of its files
(POST /models/<id>/files, JSON {path, content} -> {problems}).

The pages of models themselves (/models, /models/<id>) are the models blueprint's; this one only
edits. Saving answers JSON in every case, errors included, since the modeler's script reads it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.exceptions import BadRequest

from engine.definitions.validation import Problem
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceFlowError
from engine.services import models
from engine.services.departments import list_departments
from web.api.json_body import json_object
from web.context import actor, engine
from web.errors import json_error, status_of
from web.i18n import current_locale

bp = Blueprint("modeler", __name__)

FORM_SUFFIXES = (".schema.json", ".uischema.json")


@bp.app_template_filter("problem_dicts")
def problem_dicts(problems: Iterable[Problem]) -> list[dict[str, str]]:
    """A model's problems as the scripts read them (the API's shape); a filter for the model page."""
    return [{"element_id": p.element_id, "file": p.file, "severity": p.severity, "message": p.message}
            for p in problems]


@bp.get("/models/<int:model_id>/edit")
@login_required
def edit(model_id: int) -> ResponseReturnValue:
    """One BPMN file of a draft (``?file=``, else its first) in the modeler. Only a process owner
    edits, and only a draft: anything else would fail at the first save, after the work is done."""
    view = editable_model(model_id)
    require_draft(view)
    bpmn_files, path = _diagram_file(view)
    return render_template(
        "modeler/editor.html", model_id=model_id, path=path, content=view.files[path], bpmn_files=bpmn_files,
        # a user task names its form by file name; the bundle keeps forms under forms/
        form_files=sorted(posixpath.basename(p) for p in view.files if p.endswith(FORM_SUFFIXES)),
        problems=problem_dicts(view.problems), departments=list_departments(engine(), current_locale()),
        save_url=url_for("modeler.save_file", model_id=model_id),
        back_url=url_for("models.detail", model_id=model_id), back_label=_("Back to the model"),
    )


def editable_model(model_id: int) -> models.ModelView:
    """The model for an editor page: Forbidden unless the user is a process owner."""
    who = actor()
    if not models.may_prepare(who):
        raise Forbidden(_("Only a process owner may edit process models."))
    return models.get_model(engine(), who, model_id)


def require_draft(view: models.ModelView) -> None:
    """Conflict unless the version is a draft: anything else would fail at the first save."""
    if view.status != models.DRAFT:
        raise Conflict(_("Version %(label)s is %(status)s: only a draft can be edited.",
                         label=view.label, status=view.status))


@bp.get("/models/<int:model_id>/diagram")
@login_required
def diagram(model_id: int) -> ResponseReturnValue:
    """One BPMN file of any version (``?file=``, else its first), read-only, with its problems at
    the elements: what a reviewer or approver looks at before signing."""
    view = models.get_model(engine(), actor(), model_id)
    bpmn_files, path = _diagram_file(view)
    return render_template(
        "modeler/diagram.html", model_id=model_id, view=view, bpmn_files=bpmn_files, diagram_path=path,
        diagram_xml=view.files[path], diagram_problems=problem_dicts(view.problems),
        back_url=url_for("models.detail", model_id=model_id), back_label=_("Back to the model"),
    )


def _diagram_file(view: models.ModelView) -> tuple[list[str], str]:
    """The model's BPMN files and the one asked for (``?file=``, else the first); NotFound for a
    file the model does not have."""
    bpmn_files = sorted(path for path in view.files if path.endswith(".bpmn"))
    path = request.args.get("file") or (bpmn_files[0] if bpmn_files else "")
    if path not in bpmn_files:
        raise NotFound(_("The model has no diagram %(path)s.", path=path))
    return bpmn_files, path


@bp.post("/models/<int:model_id>/files")
@login_required
def save_file(model_id: int) -> ResponseReturnValue:
    """Replace one file of a draft; answers the model's validation problems after the change."""
    try:
        body = json_object(engine().settings.data_limits)
        path, content = body.get("path"), body.get("content")
        for field, value in (("path", path), ("content", content)):
            if not isinstance(value, str) or not value:
                raise InvalidInput(_("%(field)s must be a non-empty string.", field=field),
                                   {field: [_("Must be a non-empty string.")]})
        view = models.save_file(engine(), actor(), model_id, path, content)
    except ServiceFlowError as exc:
        return json_error(exc.message, status_of(exc), exc.details)
    except BadRequest as exc:  # malformed JSON: the script shows the message, not an HTML page
        return json_error(exc.description or exc.name, 400)
    response: Response = jsonify({"problems": problem_dicts(view.problems)})
    return response


from web.modeler import decisions as decisions  # noqa: E402  (registers its route on bp)
