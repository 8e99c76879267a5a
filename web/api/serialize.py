"""Views' dataclasses as JSON-ready dicts."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from functools import cache
from typing import Any

from engine.definitions.forms import FormDefinition
from engine.services.work_items import WorkItemView


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _fields(value: Any) -> dict[str, Any]:
    return {name: to_json(getattr(value, name)) for name in _names(type(value))}


def to_json(value: Any) -> Any:
    """JSON-ready form of a view; plain values first, as most of a page of tasks is plain values."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, FormDefinition):
        return {"name": value.name, "schema": value.schema, "ui_schema": value.ui_schema}
    if isinstance(value, WorkItemView):
        return {**_fields(value), "name": value.title}  # the API's documented name of a task's title
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value
