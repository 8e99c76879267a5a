"""Web-side helpers around the engine's forms: the error summary of a failed submission, and the
Customer List offered by a form's customer fields. Form rules (validation, coercion) stay in
``engine.definitions.forms``; nothing here decides whether a value is acceptable."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from engine.definitions.forms import FormDefinition, field_labels
from web.i18n import form_text

CUSTOMER_FORMAT = "customer"


@dataclass(frozen=True)
class ErrorLink:
    """One line of the error summary, linking to the field it is about."""

    anchor: str
    label: str
    message: str


def _pattern(path: str) -> str:
    """``actions.0.owner`` → ``actions.*.owner``, the key ``field_labels`` uses for array items."""
    return ".".join("*" if p.isdigit() else p for p in path.split("."))


def error_links(form: FormDefinition | None, errors: Mapping[str, list[str]]) -> list[ErrorLink]:
    """The error summary: a label and a link to the field for every message, in form order."""
    labels = field_labels(form) if form is not None else {}
    order = {key: i for i, key in enumerate(labels)}
    links = []
    for path, messages in sorted(errors.items(), key=lambda e: order.get(_pattern(e[0]), len(order))):
        parts = path.split(".") if path else []
        label = form_text(form.ui_schema if form else None, _pattern(path), labels.get(_pattern(path), path)) \
            if path else _("Form")
        rows = [str(int(p) + 1) for p in parts if p.isdigit()]
        if rows:
            label = _("%(label)s (row %(row)s)", label=label, row=", ".join(rows))
        anchor = "f-" + path.replace(".", "-") if path else "form-errors"
        links.extend(ErrorLink(anchor, label, m) for m in messages)
    return links


def has_customer_fields(schema: Any) -> bool:
    """Whether a form schema (at any depth) has a ``format: customer`` field."""
    if isinstance(schema, Mapping):
        return schema.get("format") == CUSTOMER_FORMAT or any(has_customer_fields(v) for v in schema.values())
    if isinstance(schema, list):
        return any(has_customer_fields(v) for v in schema)
    return False


def with_customer_choices(schema: Mapping[str, Any], choices: Callable[[], Iterable[tuple[str, str]]],
                          data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a form schema in which every ``format: customer`` field offers the Customer List
    as ``oneOf`` choices ("code — name"), so the form macros render it as a select; ``choices``
    (the Customer List as (code, name)) is only read when the form has such a field.

    A value the list does not hold (typed through the API, or a customer since removed) is kept
    as an extra choice so that re-rendering never silently drops it; the engine reports it.
    """
    if not has_customer_fields(schema):
        return dict(schema)
    options = [{"const": code, "title": f"{code} — {name}"} for code, name in choices()]
    copied = copy.deepcopy(dict(schema))
    _add_choices(copied, options, [data])
    return copied


def _add_choices(node: dict[str, Any], options: list[dict[str, str]], instances: list[Any]) -> None:
    """Walk objects and array items; ``instances`` are the values found at ``node`` in the data."""
    for name, prop in (node.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        values = [i.get(name) for i in instances if isinstance(i, Mapping)]
        if prop.get("format") == CUSTOMER_FORMAT:
            known = {o["const"] for o in options}
            unknown = dict.fromkeys(v for v in values if isinstance(v, str) and v and v not in known)
            prop["oneOf"] = options + [
                {"const": v, "title": _("%(value)s (not in the Customer List)", value=v)} for v in unknown]
        elif isinstance(prop.get("items"), dict):
            rows = [row for v in values if isinstance(v, list) for row in v]
            _add_choices(prop["items"], options, rows)
        else:
            _add_choices(prop, options, values)
