"""Bounds on the JSON data a caller hands the engine (start data, a task's submission, a
message's payload and correlation), checked before anything is copied, hashed or stored.

Why here and not only in the web layer: the CLI, the worker and tests call the services
directly, and every one of them must be refused the same way. Deep nesting would exhaust the
interpreter's recursion (copying, hashing and serializing are recursive), a NUL character or a
lone surrogate cannot be stored in PostgreSQL's JSON (or encoded as UTF-8 at all), a non-finite
number is not JSON, and an unbounded size would be copied into the case and every event.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidInput


@dataclass(frozen=True)
class DataLimits:
    """How deep (objects and arrays inside each other) and how large (bytes as JSON) data may be."""

    max_depth: int = 32
    max_bytes: int = 1024 * 1024


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored, or None when it can."""
    if "\x00" in text:
        return "Must not contain the NUL character."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Must not contain a lone surrogate (not valid Unicode)."
    return None


def _children(node: dict | list) -> Iterator[tuple[object, Any]]:
    return iter(node.items()) if isinstance(node, dict) else enumerate(node)


def first_problem(value: Any, max_depth: int, path: str = "", envelope: int = 0) -> tuple[str, str] | None:
    """(dotted path, message) of the first part of ``value`` that cannot be stored, or None.
    ``envelope`` levels around the data (a request body's own object) do not count.

    Iterative, so a value nested far beyond any limit is refused without recursing into it."""
    stack: list[tuple[Any, str, int]] = [(value, path, -envelope)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= max_depth:
                return where, f"Nested more than {max_depth} levels deep."
            for key, child in _children(node):
                if isinstance(key, str) and (problem := text_problem(key)) is not None:
                    return _join(where, key.encode("utf-8", "replace").decode()), f"Field name: {problem}"
                stack.append((child, _join(where, key), depth + 1))
        elif isinstance(node, str):
            problem = text_problem(node)
            if problem is not None:
                return where, problem
        elif isinstance(node, float) and not math.isfinite(node):
            return where, "Must be a finite number."
    return None


def check_data(value: Any, limits: DataLimits, field: str, what: str) -> None:
    """Raise InvalidInput naming the offending field (``field`` prefixes the paths; ``""`` for a
    form's own fields) when ``value`` is too deep, too large or holds what cannot be stored."""
    found = first_problem(value, limits.max_depth, field)
    if found is not None:
        path, message = found
        raise InvalidInput(f"{what} cannot be stored: {path or 'the value'}: {message}", {path: [message]})
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
    if size > limits.max_bytes:
        message = f"Must be at most {limits.max_bytes} bytes as JSON (it is {size})."
        raise InvalidInput(f"{what} is too large: {message}", {field: [message]})


def required_text(value: Any, field: str, most: int, missing: str) -> str:
    """A person's short text (a comment, a reason), trimmed: present, at most ``most`` characters
    and storable, else InvalidInput naming ``field`` (``missing`` says what to write)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(missing, {field: ["Required."]})
    if len(text) > most or text_problem(text) is not None:
        raise InvalidInput(f"The {field} must be at most {most} characters of text",
                           {field: [f"At most {most} characters, no NUL character."]})
    return text
