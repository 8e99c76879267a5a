"""A case's audit pack as the API and the command line serve it: the engine packs, this renders
the printable records that go into it (templates belong to the web layer)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app, render_template

from engine.audit.pack import RECORDS, RECORDS_CSS
from engine.services import cases
from engine.services.actors import Actor
from engine.services.audit_pack import build_pack
from engine.services.records import case_records
from web.cases import SHORT_HASH, record_rows
from web.context import engine

STYLE_SHEETS = ("css/app.css", "css/forms.css", "css/print.css")


def _style_sheet() -> bytes:
    """The pack is opened offline: its page's styles travel with it instead of linking to the server."""
    static = Path(current_app.static_folder or "")
    return "\n".join((static / name).read_text(encoding="utf-8") for name in STYLE_SHEETS).encode()


def printable_records(who: Actor, case_id: int) -> dict[str, bytes]:
    """The printable records page and its style sheet, as files of the pack."""
    case = cases.get_case(engine(), who, case_id)
    page = render_template("cases/pack_records.html", case=case, single=False, RECORDS_CSS=RECORDS_CSS,
                           records=record_rows(case_records(engine(), who, case_id)),
                           short_hash=case.version_hash[:SHORT_HASH])
    return {RECORDS: page.encode(), RECORDS_CSS: _style_sheet()}


def audit_pack(who: Actor, case_id: int) -> bytes:
    """The zip; NotFound when ``who`` may not read the case."""
    return build_pack(engine(), who, case_id, printable_records(who, case_id))
