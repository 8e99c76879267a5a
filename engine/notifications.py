"""Notification mail, composed: what a message about a task says. Pure functions, no database.

Each message has a ``kind``; task arrival and assignment are sent now, the near-due and
escalation notices (``task_due_soon``, ``task_escalated``) are composed the same way once tasks
have deadlines that warn. Mail is in English whatever the interface language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TASK_ARRIVED = "task_arrived"
TASK_ASSIGNED = "task_assigned"
TASK_DUE_SOON = "task_due_soon"
TASK_ESCALATED = "task_escalated"

HEADLINES = {
    TASK_ARRIVED: "New task",
    TASK_ASSIGNED: "Task assigned to you",
    TASK_DUE_SOON: "Task due soon",
    TASK_ESCALATED: "Task escalated",
}

OPENINGS = {
    TASK_ARRIVED: "A new task has arrived in the inbox of {department}.",
    TASK_ASSIGNED: "{actor} assigned this task to you.",
    TASK_DUE_SOON: "This task is due soon.",
    TASK_ESCALATED: "This task has been escalated.",
}

SUBJECT_LIMIT = 300


@dataclass(frozen=True)
class TaskNotice:
    """Everything a message about one task may mention."""

    kind: str
    task_id: str
    task_title: str
    case_id: int
    case_title: str
    customer: str = ""
    department: str = ""
    due_at: datetime | None = None
    actor: str = ""


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def task_url(base_url: str, task_id: str) -> str:
    """The task page, as people open it from their mail."""
    return f"{base_url.rstrip('/')}/tasks/{task_id}"


def subject(notice: TaskNotice) -> str:
    """``[ServiceFlow] New task: Record customer feedback — After-sales feedback #12``."""
    text = f"[ServiceFlow] {HEADLINES[notice.kind]}: {notice.task_title} — {notice.case_title}"
    return " ".join(text.split())[:SUBJECT_LIMIT]


def body(notice: TaskNotice, base_url: str) -> str:
    """A short plain-text body: why you get it, the case, and the link to the task page."""
    opening = OPENINGS[notice.kind].format(department=notice.department or "your department",
                                           actor=notice.actor or "Someone")
    facts = [
        ("Task", notice.task_title),
        ("Case", f"{notice.case_title} (#{notice.case_id})"),
        ("Customer", notice.customer),
        ("Department", notice.department),
        ("Due", notice.due_at.strftime("%Y-%m-%d %H:%M UTC") if notice.due_at else ""),
    ]
    lines = [opening, ""] + [f"{label}: {value}" for label, value in facts if value]
    lines += ["", f"Open the task: {task_url(base_url, notice.task_id)}", "",
              "You receive this mail because notification mail is on in your ServiceFlow settings."]
    return "\n".join(lines) + "\n"


def compose(notice: TaskNotice, base_url: str) -> Message:
    return Message(subject=subject(notice), body=body(notice, base_url))
