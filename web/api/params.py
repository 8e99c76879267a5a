"""The API's query parameters, read strictly: a paging parameter that is not a whole number in
its range is refused with 422 naming it, instead of being silently replaced by its default (a
client would page wrongly without knowing) or reaching the database out of range (a 500)."""

from __future__ import annotations

import re

from flask import request

from engine.errors import InvalidInput

MAX_LIMIT = 500
MAX_OFFSET = 10**9
_DIGITS = re.compile(r"[0-9]{1,10}")


def int_param(name: str, default: int, low: int, high: int) -> int:
    """The whole number in ``[low, high]`` given as query parameter ``name``, or ``default``."""
    raw = request.args.get(name)
    if raw is None:
        return default
    value = int(raw) if _DIGITS.fullmatch(raw) else None
    if value is None or not low <= value <= high:
        message = f"Must be a whole number from {low} to {high}."
        raise InvalidInput(f"Query parameter {name!r}: {message}", {name: [message]})
    return value


def required_int_param(name: str, low: int, high: int) -> int:
    """The whole number in ``[low, high]`` that query parameter ``name`` must give."""
    if request.args.get(name) is None:
        message = "Required: a whole number."
        raise InvalidInput(f"Query parameter {name!r}: {message}", {name: [message]})
    return int_param(name, low, low, high)


def paging(default_limit: int) -> tuple[int, int]:
    """(limit, offset) of a list request."""
    return int_param("limit", default_limit, 0, MAX_LIMIT), int_param("offset", 0, 0, MAX_OFFSET)
