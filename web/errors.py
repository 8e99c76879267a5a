"""Domain errors to HTTP responses, in one place: JSON for the API, a page for people."""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _

from engine import errors

STATUS = {
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.InvalidDefinition: 422,
    errors.ScriptError: 422,
}


def status_of(exc: errors.ServiceFlowError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def json_error(message: str, status: int, details: object | None = None):  # type: ignore[no-untyped-def]
    return jsonify({"error": message, "details": details}), status


def _handle(exc: errors.ServiceFlowError):  # type: ignore[no-untyped-def]
    status = status_of(exc)
    if request.blueprint == "api":
        return json_error(exc.message, status, exc.details)
    return render_template("error.html", message=exc.message, status=status), status


def _is_api() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


def _http_error(exc):  # type: ignore[no-untyped-def]
    """Werkzeug's errors (404, 405, 413, …) in this app's shape, keeping the headers they carry
    (a 405's ``Allow``, which clients and RFC 9110 rely on) but not their HTML content type."""
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    if _is_api():
        body, status = json_error(exc.description or exc.name, exc.code)
        return body, status, headers
    return render_template("error.html", message=exc.description, status=exc.code), exc.code, headers


def _too_large(exc):  # type: ignore[no-untyped-def]
    """413 naming the limit, so the sender knows how much is accepted."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if _is_api():
        return json_error(f"The request body is larger than the {limit} bytes accepted", 413,
                          {"max_bytes": limit})
    message = _("The request is larger than the %(limit)s bytes this server accepts.", limit=limit)
    return render_template("error.html", message=message, status=413), 413


def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
    """A bug: recorded as an incident whose id the answer carries, never passed off as a 4xx."""
    from flask_login import current_user

    from engine.services.incidents import record_incident
    from web.context import engine

    who = getattr(getattr(g, "actor", None), "username", "") or \
        (current_user.actor.username if getattr(current_user, "is_authenticated", False) else "")
    incident = record_incident(engine(), f"{request.method} {request.path}", who, exc)
    message = f"Internal error: something went wrong on our side (incident {incident})"
    if _is_api():
        return json_error(message, 500, {"incident": incident})
    return render_template("error.html", message=message, status=500), 500


def init_app(app: Flask) -> None:
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

    app.register_error_handler(errors.ServiceFlowError, _handle)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
