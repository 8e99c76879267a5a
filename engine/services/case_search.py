"""The case search auditors sample cases with: by customer, process, version, period, department,
outcome and integrity, on top of the case list's own filters (``engine.services.cases``), and the
whole result as CSV for a spreadsheet.

Integrity is the result of the case's last verification, which ``serviceflow audit verify`` and
the worker keep (a ``CaseIntegrityFailure`` row per case that failed): ``failed`` selects those
cases, ``verified`` the others.

CSV cells are what people typed: a cell beginning with ``=``, ``+``, ``-``, ``@`` or a control
character would run as a formula in a spreadsheet (CSV injection, OWASP), so it is prefixed with
an apostrophe, which spreadsheets show as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select

from engine.errors import Forbidden, InvalidInput
from engine.persistence.models import Case, CaseIntegrityFailure, CaseParticipant, ProcessVersion
from engine.services.actors import Actor
from engine.services.visibility import department_party

INTEGRITY_VALUES = ("verified", "failed")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_BATCH = 500
CSV_COLUMNS = ("id", "process", "process_name", "version", "title", "customer", "customer_code", "status",
               "outcome", "started", "updated", "completed")


def parse_integrity(text: str | None) -> str | None:
    if text is None:
        return None
    if text not in INTEGRITY_VALUES:
        raise InvalidInput(f"integrity: {text!r} is not one of {', '.join(INTEGRITY_VALUES)}",
                           {"integrity": [f"Must be one of: {', '.join(INTEGRITY_VALUES)}."]})
    return text


def conditions(version: int | None, started_from: date | None, started_to: date | None, department: str | None,
               outcome: str | None, integrity: str | None) -> list[ColumnElement[bool]]:
    """The search's conditions on ``Case``; each filter narrows, none given selects every case."""
    found: list[ColumnElement[bool]] = []
    if version is not None:
        found.append(Case.process_version_id.in_(select(ProcessVersion.id).where(ProcessVersion.version == version)))
    if started_from is not None:
        found.append(Case.created_at >= datetime.combine(started_from, time()))
    if started_to is not None:
        found.append(Case.created_at < datetime.combine(started_to + timedelta(days=1), time()))
    if department:
        found.append(Case.id.in_(select(CaseParticipant.case_id).where(
            CaseParticipant.party == department_party(department))))
    if outcome:
        found.append(Case.outcome.ilike(f"%{outcome}%"))
    if integrity is not None:
        failures = select(CaseIntegrityFailure.case_id)
        found.append(Case.id.in_(failures) if integrity == "failed" else Case.id.not_in(failures))
    return found


def may_export_cases(actor: Actor) -> bool:
    return actor.is_auditor or actor.is_admin or actor.is_process_owner


def safe_cell(value: Any) -> str:
    """A value as CSV text that no spreadsheet runs as a formula."""
    text = "" if value is None else value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_lines(rows: Iterator[list[Any]]) -> Iterator[str]:
    """A header and the rows as CSV text, a line at a time (streamed, any number of cases)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[Any]) -> str:
        writer.writerow([safe_cell(c) for c in cells])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(list(CSV_COLUMNS))
    for row in rows:
        yield line(row)


def check_may_export(actor: Actor) -> None:
    if not may_export_cases(actor):
        raise Forbidden("The case list as CSV is for auditors, administrators and process owners")
