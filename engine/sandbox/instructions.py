"""A user task's ``instructionsForEndUser`` (spiff-arena's Markdown with Jinja over the task data)
turned into HTML, inside a sandbox process (engine.sandbox.runner calls this; the server never does).

Why here: the template comes from an uploaded diagram. Jinja's SandboxedEnvironment refuses
unsafe attributes, the size guards refuse a ``*``, ``**``, ``+`` or ``%`` that would build a
huge value, the output is cut off at ``MAX_OUTPUT`` characters while it is produced, and the
process's CPU and memory bounds stop the rest. Markdown is rendered with raw HTML disabled and
markdown-it's link check (no ``javascript:`` links), so the HTML is safe to show as it is.
"""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt

from engine.errors import ScriptError
from engine.sandbox.guards import BINOP_CHECKS

MAX_OUTPUT = 100_000  # characters of Markdown a template may produce


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset(BINOP_CHECKS)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        BINOP_CHECKS[operator](left, right)
        return super().call_binop(context, operator, left, right)


_JINJA = _Environment(autoescape=False)
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def check(source: str) -> None:
    """ScriptError when the template cannot be parsed (so publishing refuses it)."""
    try:
        _JINJA.parse(source)
    except TemplateError as exc:
        raise ScriptError(f"Instructions refused: {exc}") from None


def render(source: str, data: dict[str, Any]) -> str:
    """The instructions as HTML over ``data``."""
    try:
        parts, size = [], 0
        for chunk in _JINJA.from_string(source).generate(data):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise ScriptError(f"Instructions refused: they are longer than {MAX_OUTPUT:,} characters")
            parts.append(chunk)
    except TemplateError as exc:
        raise ScriptError(f"Instructions refused: {exc}") from None
    return _MARKDOWN.render("".join(parts))
