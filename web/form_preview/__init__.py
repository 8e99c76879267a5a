"""The form workbench for process owners: a form's JSON Schema and UI schema side by side with a
live preview, in English and Chinese, rendered by the very macros that render the form for staff,
and the schema checked as publishing checks it."""

from __future__ import annotations

import json
import posixpath

from flask import Blueprint, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_login import login_required

from engine.errors import InvalidDefinition, InvalidInput
from engine.services import customers, form_library, models
from engine.services.users import LOCALES
from web.context import actor, engine
from web.forms import with_customer_choices

bp = Blueprint("form_preview", __name__, url_prefix="/forms")
FORMS_DIR, SCHEMA_SUFFIX, UI_SUFFIX = "forms/", ".schema.json", ".uischema.json"


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _ui_path(schema_path: str) -> str:
    return schema_path.removesuffix(SCHEMA_SUFFIX) + UI_SUFFIX


@bp.get("/workbench")
@login_required
def workbench() -> ResponseReturnValue:
    """Edit a form's schema and UI schema with its preview beside them: a published form to start
    from, or (``?model=ID``) a form of a process model, saved into it when the model is a draft."""
    model_id = request.args.get("model", type=int)
    name = request.args.get("form", "")
    if model_id is None:
        forms = form_library.published_forms(engine(), actor())
        chosen = forms.get(name)
        return render_template("form_preview/workbench.html", names=list(forms), chosen_name=name if chosen else "",
                               schema_text=_pretty(chosen.schema) if chosen else "{}",
                               ui_schema_text=_pretty(chosen.ui_schema) if chosen else "{}", model=None)
    model = models.get_model(engine(), actor(), model_id)
    names = sorted(posixpath.basename(p) for p in model.files if p.startswith(FORMS_DIR) and p.endswith(SCHEMA_SUFFIX))
    path = FORMS_DIR + name
    if name not in names:
        name, path = "", ""
    editable = model.status == models.DRAFT and models.may_prepare(actor())
    return render_template(
        "form_preview/workbench.html", names=names, chosen_name=name, model=model,
        schema_text=model.files.get(path, "{}"), ui_schema_text=model.files.get(_ui_path(path), "{}") if path else "{}",
        save_url=url_for("modeler.save_file", model_id=model.id) if editable and path else "",
        schema_path=path, ui_schema_path=_ui_path(path) if path else "")


@bp.post("/preview")
@login_required
def preview() -> ResponseReturnValue:
    """The form rendered in each language, or 422 with what is wrong with its schema."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(isinstance(body.get(k, ""), str) for k in ("name", "schema", "ui_schema")):
        raise InvalidInput("Send a JSON object with the texts of the schema and the UI schema",
                           {"": ["Expected {\"name\": …, \"schema\": …, \"ui_schema\": …} as text."]})
    try:
        form = form_library.check_form(actor(), body.get("name", ""), body.get("schema", ""), body.get("ui_schema", ""))
    except InvalidDefinition as exc:
        return jsonify({"problems": [exc.message], "html": {}}), 422
    schema = with_customer_choices(form.schema, lambda: customers.customer_choices(engine()))
    html = {}
    for locale in LOCALES:
        with force_locale(locale):
            html[locale] = render_template("form_preview/_preview.html", form_schema=schema,
                                           ui_schema=form.ui_schema, prefix=f"{locale}-")
    return jsonify({"problems": [], "html": html})
