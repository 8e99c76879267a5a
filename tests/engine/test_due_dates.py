"""A user task's own due date property: durations from when it arrives, expression results of
every kind a date can come as, and what validation refuses before any case runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.time import due_dates

READY = datetime(2026, 1, 31, 9, 30)


def never(expression: str) -> object:
    raise AssertionError(f"a duration is not evaluated: {expression}")


@pytest.mark.parametrize(("value", "due"), [
    ("P2D", datetime(2026, 2, 2, 9, 30)),
    ("PT4H", datetime(2026, 1, 31, 13, 30)),
    ("p1w", datetime(2026, 2, 7, 9, 30)),
    ("P1DT2H", datetime(2026, 2, 1, 11, 30)),
])
def test_a_duration_counts_from_when_the_task_arrives(value: str, due: datetime) -> None:
    assert due_dates.is_duration(value)
    assert due_dates.due_at(value, READY, never) == due


@pytest.mark.parametrize(("result", "due"), [
    (datetime(2026, 3, 1, 8, 0, tzinfo=UTC), datetime(2026, 3, 1, 8, 0)),
    (datetime(2026, 3, 1, 16, 0, tzinfo=UTC).astimezone(), datetime(2026, 3, 1, 16, 0)),
    (timedelta(hours=2), datetime(2026, 1, 31, 11, 30)),
    ("2026-03-01", datetime(2026, 3, 1, 23, 59, 59)),  # a day: late only after it
    ("2026-03-01T08:00:00+08:00", datetime(2026, 3, 1, 0, 0)),
    ("P3D", datetime(2026, 2, 3, 9, 30)),
    (None, None), ("", None), ("soon", None), (42, None), ([], None),
])
def test_an_expression_gives_a_date_a_duration_or_iso_text(result: object, due: datetime | None) -> None:
    assert due_dates.due_at("promised_on", READY, lambda expression: result) == due


def test_what_validation_refuses_and_what_it_leaves_to_the_sandbox_checks() -> None:
    assert due_dates.problem("P2D") is None
    assert due_dates.problem("promised_on") is None
    assert due_dates.problem("Promised") is None  # a variable, not a duration
    assert "not an ISO 8601 duration" in (due_dates.problem("P2X") or "")
    assert "not an ISO 8601 duration" in (due_dates.problem("P2DT") or "")
    assert due_dates.problem("  ") == "the due date is empty"
    assert not due_dates.is_duration("P") and not due_dates.is_duration("P2DT")
