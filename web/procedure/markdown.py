"""The procedure's Markdown as safe HTML, with an anchor at each clause for the trace to link to.

markdown-it-py renders CommonMark with tables; raw HTML in the file is shown as text, not
passed through (the files are edited by people, and the page's CSP would refuse inline script
and style anyway), and links with unsafe schemes (``javascript:``) are left unlinked by the
library's own check. A paragraph or heading that starts with a clause number (``**5.4.1.1** …``
or ``5.4.1.1 …``) gets ``id="section-5.4.1.1"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markupsafe import Markup

CLAUSE_START = re.compile(r"^\**\s*(\d+(?:\.\d+)+)")
ANCHORED = ("paragraph_open", "heading_open")


def anchor(clause_id: str) -> str:
    """The id of a clause's place in the text (the trace table's rows are ``clause-ID``)."""
    return f"section-{clause_id}"


@dataclass(frozen=True)
class RenderedText:
    html: Markup
    clauses: list[str]


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def render(text: str) -> RenderedText:
    """``text`` as HTML, and the clause ids it anchors in document order."""
    parser = _parser()
    tokens = parser.parse(text)
    clauses: list[str] = []
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type not in ANCHORED or inline.type != "inline":
            continue
        match = CLAUSE_START.match(inline.content)
        if match and match.group(1) not in clauses:
            clauses.append(match.group(1))
            opening.attrSet("id", anchor(match.group(1)))
    return RenderedText(Markup(parser.renderer.render(tokens, parser.options, {})), clauses)
