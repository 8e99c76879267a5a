"""A case's history as rows of the case page: each event's data and data change as short text,
with a long or nested value folded into a ``<details>`` the reader opens (no script needed)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from engine.audit.verify import Verdict
from engine.services.history import HistoryEntry

SHORT = 80
SUMMARY = 60


@dataclass(frozen=True)
class Value:
    """A value as text; ``folded`` ones show ``summary`` until opened."""

    text: str
    folded: bool
    summary: str


@dataclass(frozen=True)
class Item:
    key: str
    value: Value


@dataclass(frozen=True)
class ChangeRow:
    variable: str
    before: Value
    after: Value


@dataclass(frozen=True)
class HistoryRow:
    entry: HistoryEntry
    label: str
    items: list[Item]
    changes: list[ChangeRow]
    broken: bool = False  # the event fails its own hash, or is the first that does not verify


def value(raw: Any) -> Value:
    if raw is None or raw == "":
        return Value("—", False, "")
    if isinstance(raw, bool):
        return Value(_("Yes") if raw else _("No"), False, "")
    nested = isinstance(raw, dict | list)
    text = json.dumps(raw, indent=2, ensure_ascii=False) if nested else str(raw)
    folded = nested or len(text) > SHORT or "\n" in text
    flat = " ".join(text.split())
    return Value(text, folded, flat if len(flat) <= SUMMARY else flat[: SUMMARY - 1] + "…")


def event_label(event_type: str) -> str:
    """An event type in the reader's language (an unknown one as it was recorded)."""
    labels = {
        "case_started": _("Case started"), "scheduled_start": _("Started on schedule"),
        "task_ready": _("Task ready"), "task_claimed": _("Task claimed"), "task_released": _("Task released"),
        "task_assigned": _("Task assigned"), "task_completed": _("Task completed"),
        "timer_fired": _("Timer fired"), "message_received": _("Message received"),
        "effect_applied": _("Service task applied"), "case_completed": _("Case completed"),
        "case_failed": _("Case failed"), "notification_queued": _("Notification queued"),
        "escalation": _("Escalation"), "reminder": _("Reminder"), "comment_added": _("Comment"),
        "case_retried": _("Case retried"), "case_cancelled": _("Case cancelled"), "signal_sent": _("Signal sent"),
        "case_migrated": _("Case migrated"), "migration_reverted": _("Migration reverted"),
    }
    return labels.get(event_type, event_type)


ROUTING_KEYS = ("department", "lane")


def _items(entry: HistoryEntry) -> list[Item]:
    """The event's data; where the task's department is known, its id and lane are left to the
    Department column, which names it."""
    hidden = ROUTING_KEYS if entry.department and entry.event.type == "task_ready" else ()
    return [Item(str(key), value(raw)) for key, raw in entry.event.data.items() if key not in hidden]


def history_rows(entries: Iterable[HistoryEntry], verdict: Verdict) -> list[HistoryRow]:
    return [HistoryRow(entry=e, label=event_label(e.event.type), items=_items(e),
                       changes=[ChangeRow(c.variable, value(c.before), value(c.after)) for c in e.changes],
                       broken=verdict.untrusted(e.event.seq) or (verdict.broken_seq is not None
                                                                 and e.event.seq >= verdict.broken_seq))
            for e in entries]
