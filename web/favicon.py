"""The app's icon: an SVG in web/static, linked from every page; ``/favicon.ico`` answers with it
too, because browsers ask for that path on their own (pages that link no icon, a JSON answer
opened in a tab), and a 404 there shows as an error on the browser's console."""

from __future__ import annotations

from flask import Flask, current_app, send_from_directory
from flask.typing import ResponseReturnValue

ICON = "favicon.svg"
CACHE_SECONDS = 86_400


def favicon() -> ResponseReturnValue:
    """The SVG icon under the path browsers guess, with the SVG content type (not .ico's)."""
    return send_from_directory(current_app.static_folder or "", ICON, mimetype="image/svg+xml",
                               max_age=CACHE_SECONDS)


def init_app(app: Flask) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon, methods=["GET"])
