"""The decision table editor of a draft model (GET /models/<id>/decisions?file=...dmn): dmn-js
edits the table, and a small table beside it edits the decision's test cases, kept in
``<name>.tests.json`` beside the DMN file (engine.definitions.decision_tests reads them at
validation, so a routing change that breaks a stated case blocks the draft).

Both files are saved through the modeler's POST /models/<id>/files; this module only serves the
pages: the editor, and a read-only view of any version (GET /models/<id>/decisions/view?file=...)
for whoever may read it, as reviewers and approvers check a table and its tests before signing.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from engine.definitions.catalog import decision_tests_key
from engine.errors import NotFound
from engine.services import models
from web.context import actor, engine
from web.modeler import bp, editable_model, problem_dicts, require_draft
from web.security_headers import allow_style_attributes

DMN_SUFFIX = ".dmn"
# The style attributes dmn-js builds from HTML (the bpmn.io logo, its lightbox, a dragged row's
# image), exactly as its bundles hold them (tests/web/test_decision_editor_pages.py checks that).
DMN_JS_STYLE_ATTRIBUTES = (
    "vertical-align:middle",
    "position: absolute; bottom: 15px; right: 15px; z-index: 100;",
    "z-index: 1001;position: fixed;top: 0;left: 0;right: 0;bottom: 0",
    "width: 100%;height: 100%;background: rgba(40,40,40,0.2)",
    "position: absolute;left: 50%;top: 40%;transform: translate(-50%);width: 260px;padding: 10px;"
    "background: white;box-shadow: 0 1px 4px rgba(0,0,0,0.3);font-family: Helvetica, Arial, sans-serif;"
    "font-size: 14px;display: flex;line-height: 1.3",
    "margin: 15px 20px 15px 10px; align-self: center;",
    "\n          visibility: hidden;\n          position: fixed;\n          top: -10000px\n      ",
)


# The <style> element CodeMirror (dmn-js's editor of a cell's FEEL text) puts in the page's head:
# first empty, then its theme (14,620 characters, dmn-js 17.x). Allowed by their hashes, since
# CodeMirror offers a nonce only to whoever builds the editor, which dmn-js does inside its bundle.
CODEMIRROR_STYLE_HASHES = (
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "8bpD4ziF/b6m8kTyhNDPcw9xux1Aqbya63O4L1zc+qw=",
)


def _dmn_js_page(html: str) -> Response:
    """A page that runs dmn-js: its own style attributes and CodeMirror's style element allowed
    by hash, nothing else inline."""
    return allow_style_attributes(make_response(html), DMN_JS_STYLE_ATTRIBUTES, CODEMIRROR_STYLE_HASHES)


@bp.get("/models/<int:model_id>/decisions")
@login_required
def decisions(model_id: int) -> ResponseReturnValue:
    """One DMN file of a draft (``?file=``) in the decision table editor, with its test cases.
    Only a process owner edits, and only a draft, as for the BPMN modeler."""
    view = editable_model(model_id)
    dmn_files, path = _decision_file(view)
    require_draft(view)
    tests = decision_tests_key(path)
    return _dmn_js_page(render_template(
        "modeler/decisions.html", model_id=model_id, path=path, content=view.files[path], dmn_files=dmn_files,
        tests_path=tests, tests_content=view.files.get(tests, "[]"),
        problems=[p for p in problem_dicts(view.problems) if p["file"] in (path, tests)],
        save_url=url_for("modeler.save_file", model_id=model_id),
        back_url=url_for("models.detail", model_id=model_id), back_label=_("Back to the model"),
    ))


@bp.get("/models/<int:model_id>/decisions/view")
@login_required
def decisions_view(model_id: int) -> ResponseReturnValue:
    """One DMN file of any version the reader may see, read-only, with its test cases and problems."""
    view = models.get_model(engine(), actor(), model_id)
    dmn_files, path = _decision_file(view)
    tests = decision_tests_key(path)
    return _dmn_js_page(render_template(
        "modeler/decisions_view.html", model_id=model_id, view=view, path=path, content=view.files[path],
        dmn_files=dmn_files, tests_path=tests, tests=_readable_tests(view.files.get(tests, "[]")),
        problems=[p for p in view.problems if p.file in (path, tests)],
        back_url=url_for("models.detail", model_id=model_id), back_label=_("Back to the model"),
    ))


def _decision_file(view: models.ModelView) -> tuple[list[str], str]:
    """The model's DMN files and the one asked for (``?file=``); NotFound for any other file."""
    dmn_files = sorted(path for path in view.files if path.endswith(DMN_SUFFIX))
    path = request.args.get("file", "")
    if path not in dmn_files:
        raise NotFound(_("The model has no decision table %(path)s.", path=path))
    return dmn_files, path


def _readable_tests(text: str) -> list[dict[str, Any]]:
    """The test cases that can be shown as rows; a file that is not a list of objects shows none,
    since validation already reports it as a problem of the tests file."""
    try:
        cases = json.loads(text)
    except ValueError:
        return []
    return [case for case in cases if isinstance(case, dict)] if isinstance(cases, list) else []
