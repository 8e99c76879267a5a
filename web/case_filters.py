"""The case list's filters read from a query string, alike for the page, its CSV and the API: a
value that cannot be a filter (a version that is not a number, a date that is not a date, an
unknown integrity result) is refused with 422 naming the parameter, never silently dropped
(an auditor would take an unfiltered list for a filtered one)."""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import InvalidInput
from engine.services import case_search
from engine.services.cases import CaseFilter
from engine.time.days import parse_day

STATUSES = ("running", "completed", "error", "cancelled")
MAX_VERSION = 10**6


def case_filter(args: Mapping[str, str], limit: int, offset: int, strict: bool = False) -> CaseFilter:
    """``strict`` (the API): a parameter given empty is refused like any other value that is not
    one, and an unknown status is passed on (it matches nothing). The page's form sends every
    field, empty ones too, so there empty means "any", and its select offers only known statuses."""

    def text(name: str) -> str | None:
        value = args.get(name)
        if value is None or (not strict and not value.strip()):
            return None
        return value.strip() if not strict else value

    status = text("status")
    return CaseFilter(
        status=status if strict or status in STATUSES else None,
        process_id=text("process"), customer=text("customer"), text=text("q"),
        limit=limit, offset=offset, version=_version(text("version")),
        started_from=parse_day("from", text("from")),
        started_to=parse_day("to", text("to")),
        department=text("department"), outcome=text("outcome"),
        integrity=case_search.parse_integrity(text("integrity")),
    )


def _version(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_VERSION:
        raise InvalidInput(f"version: {text!r} is not a version number",
                           {"version": [f"Must be a whole number from 1 to {MAX_VERSION}."]})
    return int(text)
