"""What any request may carry, for the pages and the API alike: a body of at most the configured
size (413, whether or not the view reads the body), and no NUL character in its URL. A NUL would
otherwise reach the database, which refuses it with an error (a 500) instead of a clear answer."""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from engine.data_limits import text_problem
from engine.errors import InvalidInput

# endpoints that take an uploaded bundle: their own, larger body limit (engine.definitions.bundle_zip)
LARGER_BODIES: dict[str, int] = {}


def allow_larger_body(endpoint: str, limit: int) -> None:
    LARGER_BODIES[endpoint] = limit


def _check_request() -> None:
    """A declared body beyond the limit is refused before anything reads it (a chunked body is
    cut off by Werkzeug as it is read); a path no resource can have is not found; a query
    parameter that cannot be stored is refused with 422 naming it."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.endpoint in LARGER_BODIES:
        limit = request.max_content_length = LARGER_BODIES[request.endpoint]
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if text_problem(request.path) is not None:
        raise NotFound()
    for name, value in request.args.items(multi=True):
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            raise InvalidInput(f"Query parameter {name!r}: {problem}", {name: [problem]})


def init_app(app: Flask) -> None:
    """First of the request hooks, so that nothing (the CSRF check reads the form) reads a body
    under another limit."""
    app.before_request_funcs.setdefault(None, []).insert(0, _check_request)
