"""Days as people filter by them (YYYY-MM-DD), read strictly for every caller."""

from __future__ import annotations

import re
from datetime import date

from engine.errors import InvalidInput

DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(name: str, text: str | None) -> date | None:
    """The day ``text`` names, or None when it is absent; anything else is refused naming ``name``
    (a filter silently dropped would pass an unfiltered list for a filtered one)."""
    if text is None:
        return None
    try:
        if DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(f"{name}: {text!r} is not a date (YYYY-MM-DD)", {name: ["Must be a date, YYYY-MM-DD."]})
