"""Form text in the reader's language, from the UI schema's ``ui:translations``.

The forms are the process owners' data, so their translations live next to them, in the UI
schema, not in the gettext catalog::

    "ui:translations": {"zh": {
        "": "<form title>",
        "<path>": "<label>",                # dotted as engine.definitions.forms.field_labels: actions.*.owner
        "<path>.help": "<help text>",
        "<path>=<value>": "<option title>"  # an enum / oneOf choice of that field
    }}

Anything without a translation is shown as written in the schema.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_babel import get_locale


def current_locale() -> str:
    """The request's interface language ("en" or "zh")."""
    current = get_locale()
    return current.language if current is not None else "en"


def translations(ui_schema: Mapping[str, Any] | None, locale: str | None = None) -> Mapping[str, str]:
    """The ``ui:translations`` entries for ``locale`` (default: the request's language)."""
    if not isinstance(ui_schema, Mapping):
        return {}
    locale = locale or current_locale()
    table = ui_schema.get("ui:translations")
    found = table.get(locale) if isinstance(table, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def form_text(ui_schema: Mapping[str, Any] | None, path: str, default: Any) -> Any:
    """The translation of one form text (``""`` is the form title), else ``default``."""
    text = translations(ui_schema).get(path)
    return text if isinstance(text, str) and text else default


def localized_form(schema: Mapping[str, Any] | None, ui_schema: Mapping[str, Any] | None,
                   locale: str | None = None) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """Copies of (schema, UI schema) with titles, help and choice titles in ``locale``; the
    originals when there is nothing to translate. The form macros render what this returns."""
    schema = schema if isinstance(schema, Mapping) else {}
    ui_schema = ui_schema if isinstance(ui_schema, Mapping) else {}
    table = translations(ui_schema, locale)
    if not table:
        return schema, ui_schema
    schema_copy, ui_copy = copy.deepcopy(dict(schema)), copy.deepcopy(dict(ui_schema))
    if isinstance(table.get(""), str) and table[""]:
        schema_copy["title"] = table[""]
    _translate(schema_copy, ui_copy, "", table)
    return schema_copy, ui_copy


def _translate(schema: dict[str, Any], ui: dict[str, Any], path: str, table: Mapping[str, str]) -> None:
    props = schema.get("properties")
    if not isinstance(props, dict):
        return
    for name, sub in props.items():
        if not isinstance(sub, dict):
            continue
        sub_path = f"{path}.{name}" if path else name
        sub_ui = ui.get(name)
        if not isinstance(sub_ui, dict):
            sub_ui = {}
        label, help_text = table.get(sub_path), table.get(f"{sub_path}.help")
        if label:
            sub_ui["ui:title"] = label
        if help_text:
            sub_ui["ui:help"] = help_text
        _translate_choices(sub, sub_path, table)
        items = sub.get("items")
        if isinstance(items, dict):
            _translate_choices(items, sub_path, table)  # a multi-select's choices: "<path>=<value>"
            item_ui = sub_ui.get("items")
            if not isinstance(item_ui, dict):
                item_ui = {}
            _translate(items, item_ui, f"{sub_path}.*", table)
            if item_ui:
                sub_ui["items"] = item_ui
        _translate(sub, sub_ui, sub_path, table)
        if sub_ui:
            ui[name] = sub_ui


def _translate_choices(schema: dict[str, Any], path: str, table: Mapping[str, str]) -> None:
    enum = schema.get("enum")
    if isinstance(enum, list):
        names = list(schema.get("enumNames") or [])
        titles = [names[i] if i < len(names) else v for i, v in enumerate(enum)]
        schema["enumNames"] = [table.get(f"{path}={v}") or t for v, t in zip(enum, titles, strict=True)]
        return
    for key in ("oneOf", "anyOf"):
        for option in schema.get(key) or []:
            if isinstance(option, dict) and "const" in option:
                title = table.get(f"{path}={option['const']}")
                if title:
                    option["title"] = title


def named(thing: Any, field: str = "title") -> str:
    """A name a process owner wrote (a task's title, a process's name) in the reader's language:
    ``<field>_zh`` for readers of Chinese when the definition gives one, else the English."""
    if current_locale() == "zh":
        translated = getattr(thing, f"{field}_zh", "")
        if translated:
            return str(translated)
    return str(getattr(thing, field, "") or "")


def init_app(app: Flask) -> None:
    app.add_template_global(named, "named")
    app.add_template_global(localized_form, "localized_form")
    app.add_template_global(form_text, "form_text")
    app.add_template_global(current_locale, "current_locale")
