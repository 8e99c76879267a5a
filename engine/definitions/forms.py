"""User-task forms: JSON Schema plus a react-jsonschema-form style UI schema.

The engine owns form semantics (what a valid submission is, how flat HTML fields become typed
JSON) so that the web layer, the API and the tests agree on them; rendering lives in Jinja
macros (``web/templates/forms/_macros.html``). No web framework is imported here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from engine.data_limits import first_problem
from engine.errors import InvalidDefinition, InvalidInput

__all__ = ["FormDefinition", "validate_submission", "coerce_form_post", "field_labels"]

REQUIRED = "This field is required."
_TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
_NAME_PART = re.compile(r"\[([^\]]*)\]")
_ROW_INDEX = re.compile(r"[0-9]{1,9}")  # a row number a browser posts (not "²", not 5,000 digits)
MAX_NAME_DEPTH = 32  # brackets in a posted field name, as data may nest (engine.data_limits)


@dataclass(frozen=True)
class FormDefinition:
    """A validated form: ``name`` is the schema file name, used in messages and as a label.

    ``template`` is the schema as written when it takes choices from the task's data
    (``"anyOf": ["options_from_task_data_var:NAME"]``, spiff-arena's way): ``schema`` then offers
    no choice until ``with_options`` fills them from a task's data."""

    name: str
    schema: dict[str, Any]
    ui_schema: dict[str, Any] = field(default_factory=dict)
    template: dict[str, Any] | None = None

    def __hash__(self) -> int:  # dicts are unhashable; the content digest identifies the form
        return hash(self.digest)

    @classmethod
    def from_json(cls, name: str, schema_text: str | bytes, ui_schema_text: str | bytes | None = None,
                  ) -> FormDefinition:
        """Parse and check a form's files, so a broken form fails at publish time, not mid-case."""
        written = _load_object(name, schema_text)
        ui_schema = _load_object(f"{name} (UI schema)", ui_schema_text) if ui_schema_text else {}
        template = written if option_variables(written) else None
        schema = _fill_options(written, {}) if template is not None else written
        try:
            validator_for(schema).check_schema(_fill_options(written, {}, checking=True) if template else schema)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise InvalidDefinition(f"Form {name}: invalid JSON Schema at {where}: {exc.message}") from exc
        return cls(name=name, schema=schema, ui_schema=ui_schema, template=template)

    def with_ui_schema(self, name: str, text: str | bytes) -> FormDefinition:
        """This form laid out by another UI schema file (a task's ``formUiSchemaFilename``)."""
        return replace(self, ui_schema=_load_object(f"{name} (UI schema)", text))

    @cached_property
    def option_variables(self) -> frozenset[str]:
        """The task data variables this form takes choices from."""
        return frozenset(option_variables(self.template)) if self.template is not None else frozenset()

    def options_in(self, data: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """The choices ``data`` holds for this form, as the inbox keeps them with a task."""
        return {name: _options(data.get(name)) for name in sorted(self.option_variables)}

    def with_options(self, options: Mapping[str, Any]) -> FormDefinition:
        """The form with its choices filled from a task's data (``options_in``); unchanged when it
        takes none."""
        if self.template is None:
            return self
        return replace(self, schema=_fill_options(self.template, options))

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the canonical schema: equal schemas share one compiled validator."""
        canonical = json.dumps(self.schema, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


MAX_FORM_DEPTH = 32  # objects and arrays inside each other: far more than any form, far less than recursion


def _load_object(name: str, text: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidDefinition(f"Form {name}: not valid JSON: {exc}") from exc
    except RecursionError:
        raise InvalidDefinition(f"Form {name}: nested too deeply to read") from None
    if not isinstance(value, dict):
        raise InvalidDefinition(f"Form {name}: must be a JSON object, not {type(value).__name__}")
    problem = first_problem(value, MAX_FORM_DEPTH)
    if problem is not None:
        raise InvalidDefinition(f"Form {name}: at {problem[0] or '(root)'}: {problem[1]}")
    return value


OPTIONS_FROM = "options_from_task_data_var:"
MAX_OPTIONS = 1000  # choices one field takes from task data


def _option_source(node: Any) -> str | None:
    """NAME when ``node`` is spiff-arena's ``["options_from_task_data_var:NAME"]``."""
    if isinstance(node, list) and len(node) == 1 and isinstance(node[0], str) and node[0].startswith(OPTIONS_FROM):
        return node[0].removeprefix(OPTIONS_FROM).strip()
    return None


def option_variables(schema: Any) -> set[str]:
    """Every task data variable a schema takes choices from, at any depth."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            source = _option_source(node.get("anyOf"))
            if source:
                found.add(source)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _options(value: Any) -> list[dict[str, Any]]:
    """Choices as spiff-arena's task data holds them (``[{"value": …, "label": …}]``, or plain
    values), each ``{"value", "label"}``; anything else in the list is left out."""
    if not isinstance(value, list):
        return []
    options = []
    for entry in value[:MAX_OPTIONS]:
        chosen = entry.get("value") if isinstance(entry, dict) else entry
        finite = not isinstance(chosen, float) or math.isfinite(chosen)
        if isinstance(chosen, str | int | float | bool) and finite:
            label = entry.get("label", chosen) if isinstance(entry, dict) else chosen
            options.append({"value": chosen, "label": str(label)})
    return options


def _fill_options(node: Any, options: Mapping[str, Any], checking: bool = False) -> Any:
    """A copy of ``node`` whose ``anyOf`` placeholders hold ``options[NAME]`` as ``const`` choices
    (no choice at all, ``"enum": []``, when there are none; a stand-in choice when ``checking``
    the schema, as JSON Schema wants one)."""
    if isinstance(node, list):
        return [_fill_options(item, options, checking) for item in node]
    if not isinstance(node, dict):
        return node
    filled = {key: _fill_options(value, options, checking) for key, value in node.items() if key != "anyOf"}
    source = _option_source(node.get("anyOf"))
    if source is None and "anyOf" in node:
        filled["anyOf"] = _fill_options(node["anyOf"], options, checking)
    elif source is not None:
        choices = [{"const": o["value"], "title": o["label"]} for o in _options(options.get(source))]
        if checking:
            filled["anyOf"] = [{"const": ""}]
        elif choices:
            filled["anyOf"] = choices
        else:
            filled["enum"] = []
    return filled


_VALIDATORS: dict[str, Validator] = {}


def _validator(form: FormDefinition) -> Validator:
    """Build a form's validator once: building one (with its format checker) dominates a check.
    A form whose choices come from task data is built per use: each task's choices differ, and
    caching them would let case data grow the cache without end."""
    compiled = _VALIDATORS.get(form.digest)
    if compiled is None:
        cls = validator_for(form.schema)
        compiled = cls(form.schema, format_checker=cls.FORMAT_CHECKER)
        if form.template is None:
            _VALIDATORS[form.digest] = compiled
    return compiled


def validate_submission(form: FormDefinition, data: Any) -> dict[str, list[str]]:
    """Return staff-readable messages keyed by dotted field path (``""`` = the whole form)."""
    errors: dict[str, list[str]] = {}
    for error in _validator(form).iter_errors(data):
        for path, message in _describe(error):
            messages = errors.setdefault(path, [])
            if message not in messages:
                messages.append(message)
    return errors


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    """Map one jsonschema error to (path, message) pairs; ``required`` is moved onto the child."""
    path = ".".join(str(part) for part in error.absolute_path)
    kind, expected = error.validator, error.validator_value
    if kind in ("oneOf", "anyOf") and error.context and not _choices(error.schema):
        return _describe(best_match(error.context))  # "matches no branch" says nothing useful
    if kind in ("required", "dependentRequired") or (kind == "dependencies" and isinstance(expected, dict)):
        instance = error.instance if isinstance(error.instance, dict) else {}
        names = expected if kind == "required" else [
            name for trigger, needed in expected.items() if trigger in instance and isinstance(needed, list)
            for name in needed]
        prefix = f"{path}." if path else ""
        return [(prefix + name, REQUIRED) for name in names if name not in instance]
    return [(path, _message(error))]


_FORMATS = {
    "date": "Must be a date (YYYY-MM-DD).", "date-time": "Must be a date and time.",
    "time": "Must be a time (HH:MM).", "email": "Must be an email address.", "uri": "Must be a web address.",
}
_OTHER = {
    "pattern": "Is not in the expected format.", "uniqueItems": "Each entry must be different.",
    "additionalProperties": "Contains fields this form does not have.",
    "unevaluatedProperties": "Contains fields this form does not have.",
}
_TYPES = {
    "integer": "a whole number", "number": "a number", "string": "text", "boolean": "yes or no",
    "array": "a list", "object": "a group of fields", "null": "empty",
}


def _message(error: ValidationError) -> str:
    """Turn a jsonschema error into a sentence a member of staff can act on."""
    kind, expected, schema = error.validator, error.validator_value, error.schema
    simple = {
        "minimum": "Must be at least {}.", "maximum": "Must be at most {}.",
        "exclusiveMinimum": "Must be more than {}.", "exclusiveMaximum": "Must be less than {}.",
        "multipleOf": "Must be a multiple of {}.", "minLength": "Must be at least {} characters.",
        "maxLength": "Must be at most {} characters.", "const": "Must be {}.",
    }
    if kind in ("minItems", "maxItems"):
        noun = "entry" if expected == 1 else "entries"
        return f"Must have at {'least' if kind == 'minItems' else 'most'} {expected} {noun}."
    if kind in simple:
        return simple[kind].format(_show(expected))
    if kind == "type":
        wanted = [expected] if isinstance(expected, str) else list(expected)
        return "Must be " + " or ".join(_TYPES.get(t, t) for t in wanted) + "."
    if kind == "enum" or (kind in ("oneOf", "anyOf") and _choices(schema)):
        labels = [label for _, label in _choices(schema)]
        return "Must be one of: " + ", ".join(labels) + "."
    if kind == "format":
        return _FORMATS.get(expected, f"Must be a valid {expected}.")
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
        unknown = sorted(str(k) for k in error.instance if k not in schema.get("properties", {}))
        if unknown:  # an API sender needs the names; a web form never posts fields it lacks
            return f"Contains fields this form does not have: {', '.join(unknown)}."
    return _OTHER.get(kind, "This value is not valid.")


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _choices(schema: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """(value, label) pairs from ``enum`` or from ``oneOf``/``anyOf`` entries holding a ``const``."""
    if "enum" in schema:
        return [(value, _show(value)) for value in schema["enum"]]
    for key in ("oneOf", "anyOf"):
        options = schema.get(key) or []
        if options and all(isinstance(o, dict) and "const" in o for o in options):
            return [(o["const"], str(o.get("title", _show(o["const"])))) for o in options]
    return []


def _resolve(node: Any, root: Mapping[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s (``#/$defs/x``, ``#/definitions/x``); remote refs are not used."""
    for _hop in range(20):  # bounded: a ref cycle must not hang a form post
        if not (isinstance(node, dict) and str(node.get("$ref", "")).startswith("#")):
            break
        target: Any = root
        for part in node["$ref"][1:].split("/")[1:]:
            key = part.replace("~1", "/").replace("~0", "~")
            target = target.get(key, {}) if isinstance(target, dict) else {}
        node = target
    return node if isinstance(node, dict) else {}


def _properties(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every property an object may have, including those under conditionals and combinators."""
    props = {name: _resolve(sub, root) for name, sub in (schema.get("properties") or {}).items()}
    branches: list[Any] = [schema.get("then"), schema.get("else")]
    for key in ("allOf", "anyOf", "oneOf"):
        branches.extend(schema.get(key) or [])
    branches.extend((schema.get("dependentSchemas") or {}).values())
    branches.extend(v for v in (schema.get("dependencies") or {}).values() if isinstance(v, dict))
    for branch in branches:
        if not isinstance(branch, dict):
            continue
        for name, sub in _properties(_resolve(branch, root), root).items():
            props.setdefault(name, sub)
    return props


def _kind(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), "null")
    if isinstance(declared, str):
        return declared
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    values = [value for value, _ in _choices(schema)]
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def field_labels(form: FormDefinition) -> dict[str, str]:
    """Titles by dotted path; array items appear as ``*`` (``actions.*.owner``) for any index."""
    labels: dict[str, str] = {}
    _collect_labels(form.schema, form.ui_schema, "", form.schema, labels)
    return labels


def _collect_labels(schema: Mapping[str, Any], ui: Mapping[str, Any], path: str,
                    root: Mapping[str, Any], out: dict[str, str]) -> None:
    if path.count(".") > 16:  # a recursive $ref (a tree of parts) would otherwise never end
        return
    for name, sub in _properties(schema, root).items():
        sub_ui = ui.get(name) if isinstance(ui.get(name), dict) else {}
        sub_path = f"{path}.{name}" if path else name
        out[sub_path] = str(sub_ui.get("ui:title") or sub.get("title") or name)
        if _kind(sub) == "object":
            _collect_labels(sub, sub_ui, sub_path, root, out)
        elif _kind(sub) == "array":
            items = _resolve(sub.get("items"), root)
            item_ui = sub_ui.get("items") if isinstance(sub_ui.get("items"), dict) else {}
            _collect_labels(items, item_ui, f"{sub_path}.*", root, out)


@dataclass
class _Raw:
    """Posted values at one name, and the bracketed names beneath it."""

    values: list[str] = field(default_factory=list)
    children: dict[str, _Raw] = field(default_factory=dict)

    def blank(self) -> bool:
        return not any(v.strip() for v in self.values) and all(c.blank() for c in self.children.values())


def _tree(items: Iterable[tuple[str, str]]) -> _Raw:
    """``actions[0][owner]=qc`` becomes root.children["actions"].children["0"].children["owner"].
    A name nested deeper than any form goes is refused: the tree is walked recursively."""
    root = _Raw()
    for name, value in items:
        head, _, rest = name.partition("[")
        parts = _NAME_PART.findall("[" + rest) if rest else []
        if len(parts) > MAX_NAME_DEPTH:
            message = f"Nested more than {MAX_NAME_DEPTH} levels deep."
            raise InvalidInput(f"Form field {head!r}: {message}", {head: [message]})
        node = root.children.setdefault(head, _Raw())
        for part in parts:
            node = node.children.setdefault(part, _Raw())
        node.values.append(value)
    return root


def coerce_form_post(form: FormDefinition, items: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn flat HTML fields into typed JSON per the schema; see the module tests for the rules.

    Empty strings are dropped (so ``required`` reports them), unparsable numbers are kept as
    typed (so validation reports them and the form re-renders them), absent checkboxes are
    false, array rows are re-indexed in order and fully blank rows dropped, unknown names ignored.
    """
    return _coerce_object(form.schema, _tree(items), form.schema, form.ui_schema)


def _is_checkbox(schema: Mapping[str, Any], ui: Mapping[str, Any]) -> bool:
    """A boolean shown as a checkbox sends nothing when unticked; as Yes/No radios or a select,
    sending nothing means unanswered, which ``required`` must be able to report."""
    widget = ui.get("ui:widget", "checkbox") if isinstance(ui, Mapping) else "checkbox"
    return _kind(schema) == "boolean" and not _choices(schema) and widget == "checkbox"


def _coerce_object(
    schema: Mapping[str, Any], raw: _Raw, root: Mapping[str, Any], ui: Mapping[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sub in _properties(schema, root).items():
        node = raw.children.get(name)
        sub_ui = ui.get(name, {}) if isinstance(ui, Mapping) else {}
        if _is_checkbox(sub, sub_ui):
            out[name] = node is not None and any(v.strip().lower() in _TRUE_WORDS for v in node.values)
        elif node is not None:
            value = _coerce_value(sub, node, root, sub_ui)
            if value is not None:
                out[name] = value
    return out


def _coerce_value(schema: Mapping[str, Any], raw: _Raw, root: Mapping[str, Any], ui: Mapping[str, Any]) -> Any:
    kind = _kind(schema)
    if kind == "object":
        return _coerce_object(schema, raw, root, ui)
    if kind == "array":
        items_ui = ui.get("items", {}) if isinstance(ui, Mapping) else {}
        return _coerce_array(_resolve(schema.get("items"), root), raw, root, items_ui)
    filled = [v for v in raw.values if v.strip()]
    return _coerce_scalar(schema, filled[-1]) if filled else None


def _coerce_array(
    items: Mapping[str, Any], raw: _Raw, root: Mapping[str, Any], ui: Mapping[str, Any]
) -> list[Any]:
    """Rows come from ``name[i]...`` (sorted by index, gaps closed); scalars also from repeats."""
    rows = sorted(((int(k), node) for k, node in raw.children.items() if _ROW_INDEX.fullmatch(k)),
                  key=lambda r: r[0])
    if _kind(items) in ("object", "array"):
        return [_coerce_value(items, node, root, ui) for _, node in rows if not node.blank()]
    unindexed = raw.children[""].values if "" in raw.children else []  # from ``tags[]=a&tags[]=b``
    values = raw.values + unindexed + [v for _, node in rows for v in node.values]
    return [_coerce_scalar(items, v) for v in values if v.strip()]


def _coerce_scalar(schema: Mapping[str, Any], text: str) -> Any:
    """Parse per the schema's type; anything unparsable is returned as typed for validation."""
    kind = _kind(schema)
    for value, _ in _choices(schema):
        if _show(value) == text.strip() or str(value) == text:
            return value
    if kind in ("integer", "number"):
        return _parse_number(text.strip(), integer=kind == "integer")
    if kind == "boolean":
        return text.strip().lower() in _TRUE_WORDS
    return text


def _parse_number(text: str, integer: bool) -> int | float | str:
    """``"3.0"`` is 3 for an integer field; ``"1_000"``, ``"nan"``, ``"two"`` stay text to be reported."""
    if "_" in text:
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if integer and number.is_integer() else number


def conform(form: FormDefinition, data: dict[str, Any]) -> dict[str, Any]:
    """The part of ``data`` a form can show and send back unchanged: its declared fields only
    (at every depth), without nulls. Used to prefill a form from a case's data, which holds more
    than any one form and may hold nulls a script put there."""
    return _conform_object(form.schema, data, form.schema)


def _conform_object(schema: Mapping[str, Any], data: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    properties = _properties(schema, root)
    return {
        name: _conform_value(properties[name], value, root)
        for name, value in data.items()
        if name in properties and value is not None
    }


def _conform_value(schema: Mapping[str, Any], value: Any, root: Mapping[str, Any]) -> Any:
    kind = _kind(schema)
    if kind == "object" and isinstance(value, Mapping):
        return _conform_object(schema, value, root)
    if kind == "array" and isinstance(value, list):
        items = _resolve(schema.get("items"), root)
        return [_conform_value(items, item, root) for item in value if item is not None]
    return value
