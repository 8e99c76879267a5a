"""The controlled procedure as its process owners keep it: ``procedure/control.json`` (the paper
original's document-control header) and its text in each language (``procedure/en.md``, ``zh.md``).

The files are data beside the code, edited by people rather than programs, so the header is
checked against a JSON Schema and a mistake is reported with the file and the field it is in,
instead of surfacing as a broken page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from engine.errors import InvalidDefinition

LANGUAGES = ("en", "zh")
CONTROL_FILE = "control.json"
SIGNOFF_STEPS = ("prepared", "reviewed", "approved")

_TEXT = {"type": "string", "maxLength": 2000}
_BOTH = {"type": "object", "required": list(LANGUAGES), "additionalProperties": False,
         "properties": {lang: _TEXT for lang in LANGUAGES}}
CONTROL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["number", "title", "version", "pages", "owner", "date", "signoffs", "revisions", "distribution"],
    "additionalProperties": False,
    "properties": {
        "number": _TEXT, "title": _BOTH, "version": {"type": "string", "minLength": 1, "maxLength": 20},
        "pages": {"type": "integer", "minimum": 1}, "date": _TEXT, "note": _BOTH,
        "owner": {"type": "object", "required": ["department", *LANGUAGES], "additionalProperties": False,
                  "properties": {"department": _TEXT, **{lang: _TEXT for lang in LANGUAGES}}},
        "signoffs": {"type": "array", "minItems": 3, "maxItems": 3, "items": {
            "type": "object", "required": ["step", "name", "date"], "additionalProperties": False,
            "properties": {"step": {"enum": list(SIGNOFF_STEPS)}, "name": _TEXT, "date": _TEXT}}},
        "revisions": {"type": "array", "items": {
            "type": "object", "required": ["date", "version", "change"], "additionalProperties": False,
            "properties": {"date": _TEXT, "version": _TEXT, "change": _BOTH}}},
        "distribution": {"type": "array", "items": {
            "type": "object", "required": ["department", "copies"], "additionalProperties": False,
            "properties": {"department": _BOTH, "copies": {"type": "integer", "minimum": 0}}}},
    },
}


@dataclass(frozen=True)
class Signoff:
    step: str
    name: str
    date: str


@dataclass(frozen=True)
class Revision:
    date: str
    version: str
    change: dict[str, str]


@dataclass(frozen=True)
class Copy:
    department: dict[str, str]
    copies: int


@dataclass(frozen=True)
class DocumentControl:
    """The header of the controlled document; texts in both languages are ``{"en": …, "zh": …}``."""

    number: str
    title: dict[str, str]
    version: str
    pages: int
    owner: dict[str, str]
    date: str
    signoffs: list[Signoff]
    revisions: list[Revision]
    distribution: list[Copy]
    note: dict[str, str]

    def signoff(self, step: str) -> Signoff:
        return next(s for s in self.signoffs if s.step == step)


def _where(error: Any) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "(the document)"


def load_control(directory: Path) -> DocumentControl:
    """The header in ``directory/control.json``; a malformed one is refused naming the field."""
    path = directory / CONTROL_FILE
    name = f"procedure/{CONTROL_FILE}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidDefinition(f"{name}: unreadable: {exc}") from exc
    errors = sorted(Draft202012Validator(CONTROL_SCHEMA).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise InvalidDefinition(f"{name}: {_where(errors[0])}: {errors[0].message}")
    steps = [s["step"] for s in data["signoffs"]]
    if sorted(steps) != sorted(SIGNOFF_STEPS):
        raise InvalidDefinition(f"{name}: signoffs: need one each of {', '.join(SIGNOFF_STEPS)}, not {steps}")
    return DocumentControl(
        number=data["number"], title=data["title"], version=data["version"], pages=data["pages"],
        owner=data["owner"], date=data["date"],
        signoffs=[Signoff(**s) for s in data["signoffs"]],
        revisions=[Revision(**r) for r in data["revisions"]],
        distribution=[Copy(**c) for c in data["distribution"]],
        note=data.get("note", {lang: "" for lang in LANGUAGES}),
    )


def load_text(directory: Path, language: str) -> str:
    """The procedure's Markdown text in ``language`` (one of ``LANGUAGES``)."""
    if language not in LANGUAGES:
        raise InvalidDefinition(f"procedure: no text in language {language!r}; known: {', '.join(LANGUAGES)}")
    path = directory / f"{language}.md"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDefinition(f"procedure/{language}.md: unreadable: {exc}") from exc
