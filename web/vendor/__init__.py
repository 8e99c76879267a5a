"""Front-end libraries installed from the npm registry (package-lock.json), served by the app itself.

The browser editors must work without a CDN (CSP ``'self'``, offline plants), and without a bundler:
bpmn-js and dmn-js ship prebuilt UMD bundles, CSS and fonts in their ``dist/``. Only the files
listed here are served, each with its content type fixed here, never guessed from the request: a
URL outside the allowlist is a 404, so no path in node_modules (or outside it) can be reached by
crafting one. Files are cached for a day; the lock file changes them only on an upgrade.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_file
from flask.typing import ResponseReturnValue

NODE_MODULES = Path(__file__).resolve().parent.parent.parent / "node_modules"
CACHE_SECONDS = 86_400

JS = "text/javascript"
CSS = "text/css"
FONTS = {
    "woff2": "font/woff2",
    "woff": "font/woff",
    "ttf": "font/ttf",
    "eot": "application/vnd.ms-fontobject",
    "svg": "image/svg+xml",
}


def _font_files(package: str, font: str) -> dict[str, tuple[str, str]]:
    """The icon font of bpmn-js or dmn-js in every format its CSS names (``../font/NAME.EXT``)."""
    folder = f"assets/{font}-font/font"
    return {
        f"{package}/{folder}/{font}.{ext}": (f"{package}/dist/{folder}/{font}.{ext}", kind)
        for ext, kind in FONTS.items()
    }


def _dist(package: str, names: list[str], kind: str) -> dict[str, tuple[str, str]]:
    return {f"{package}/{name}": (f"{package}/dist/{name}", kind) for name in names}


# URL path under /vendor/ -> (path under node_modules, content type). The URL keeps dist/'s layout
# below the package name, so the relative font URLs in the libraries' CSS resolve to listed files.
FILES: dict[str, tuple[str, str]] = {
    **_dist("bpmn-js", ["bpmn-modeler.production.min.js", "bpmn-navigated-viewer.production.min.js"], JS),
    **_dist("bpmn-js", ["assets/bpmn-js.css", "assets/diagram-js.css", "assets/bpmn-font/css/bpmn.css"], CSS),
    **_font_files("bpmn-js", "bpmn"),
    **_dist("dmn-js", ["dmn-modeler.production.min.js", "dmn-viewer.production.min.js"], JS),
    **_dist("dmn-js", [
        "assets/diagram-js.css", "assets/dmn-js-shared.css", "assets/dmn-js-drd.css",
        "assets/dmn-js-decision-table.css", "assets/dmn-js-decision-table-controls.css",
        "assets/dmn-js-literal-expression.css", "assets/dmn-font/css/dmn.css",
    ], CSS),
    **_font_files("dmn-js", "dmn"),
}

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.get("/<path:name>")
def file(name: str) -> ResponseReturnValue:
    """One allowlisted file of node_modules; 404 for anything else, or when `npm ci` has not run."""
    listed = FILES.get(name)
    if listed is None:
        abort(404)
    relative, content_type = listed
    root = Path(current_app.config.get("NODE_MODULES", NODE_MODULES))
    path = root / relative
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=content_type, max_age=CACHE_SECONDS, conditional=True)
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response
