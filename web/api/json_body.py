"""Reading an API request's JSON body without trusting it: malformed JSON is a 400, JSON nested
beyond what the interpreter can read is a 400 (not a RecursionError), and a body that parses but
holds what cannot be stored (nested beyond the data limit, a NUL character, a lone surrogate, a
non-finite number) is a 422 naming the field. The body's size is bounded before it is read
(MAX_CONTENT_LENGTH, 413)."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest

from engine.data_limits import DataLimits, first_problem
from engine.errors import InvalidInput

ENVELOPE = 1  # the body's own object around the data it carries


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_object(limits: DataLimits) -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    if not request.is_json:
        raise InvalidInput("The request body must be a JSON object (Content-Type: application/json)",
                           {"": ["Must be a JSON object."]})
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise BadRequest("The request body is nested too deeply to be read") from exc
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object", {"": ["Must be a JSON object."]})
    found = first_problem(body, limits.max_depth, envelope=ENVELOPE)
    if found is not None:
        path, message = found
        raise InvalidInput(f"The request body cannot be stored: {path}: {message}", {path: [message]})
    return body
