"""Notification mail, composed: what a message about a task says. Pure functions, no database.

Each message has a ``kind``: a task arrived, was assigned, is due soon or was escalated. Mail is
written in the recipient's language: its text is marked for the interface's gettext catalog
(``babel.cfg`` extracts this module with the web layer) and ``compose`` takes the recipient's
``gettext``; task and case names are the process owners' data and stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


def N_(text: str) -> str:
    """Marks text for the catalog; it is translated when a message is composed for someone."""
    return text


def _english(text: str) -> str:
    return text


TASK_ARRIVED = "task_arrived"
TASK_ASSIGNED = "task_assigned"
TASK_DUE_SOON = "task_due_soon"
TASK_ESCALATED = "task_escalated"

HEADLINES = {
    TASK_ARRIVED: N_("New task"),
    TASK_ASSIGNED: N_("Task assigned to you"),
    TASK_DUE_SOON: N_("Task due soon"),
    TASK_ESCALATED: N_("Task escalated"),
}

OPENINGS = {
    TASK_ARRIVED: N_("A new task has arrived in the inbox of {department}."),
    TASK_ASSIGNED: N_("{actor} assigned this task to you."),
    TASK_DUE_SOON: N_("This task is due soon."),
    TASK_ESCALATED: N_("This task has been escalated."),
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


def subject(notice: TaskNotice, gettext: Callable[[str], str] = _english) -> str:
    """``[ServiceFlow] New task: Record customer feedback — After-sales feedback #12``."""
    text = f"[ServiceFlow] {gettext(HEADLINES[notice.kind])}: {notice.task_title} — {notice.case_title}"
    return " ".join(text.split())[:SUBJECT_LIMIT]


def body(notice: TaskNotice, base_url: str, gettext: Callable[[str], str] = _english) -> str:
    """A short plain-text body: why you get it, the case, and the link to the task page."""
    opening = gettext(OPENINGS[notice.kind]).format(department=notice.department or gettext("your department"),
                                                    actor=notice.actor or gettext("Someone"))
    facts = [
        (gettext("Task"), notice.task_title),
        (gettext("Case"), f"{notice.case_title} (#{notice.case_id})"),
        (gettext("Customer"), notice.customer),
        (gettext("Department"), notice.department),
        (gettext("Due"), notice.due_at.strftime("%Y-%m-%d %H:%M UTC") if notice.due_at else ""),
    ]
    lines = [opening, ""] + [f"{label}: {value}" for label, value in facts if value]
    open_task = gettext("Open the task")
    lines += ["", f"{open_task}: {task_url(base_url, notice.task_id)}", "",
              gettext("You receive this mail because notification mail is on in your ServiceFlow settings.")]
    return "\n".join(lines) + "\n"


def compose(notice: TaskNotice, base_url: str, gettext: Callable[[str], str] = _english) -> Message:
    """The message as one recipient reads it, in the language ``gettext`` translates to."""
    return Message(subject=subject(notice, gettext), body=body(notice, base_url, gettext))


def integrity_failure_mail(failures: list[tuple[int, int | None, str, str]], base_url: str,
                           gettext: Callable[[str], str] = _english) -> Message:
    """To admins and auditors: the cases whose history stopped verifying, each with its first
    broken event and why (``failures``: case id, event, code, the reason in the reader's words)."""
    headline = gettext("Case history does not verify")
    subject_text = f"[ServiceFlow] {headline}: " + ", ".join(f"#{case_id}" for case_id, *_ in failures[:10])
    lines = [gettext("The scheduled verification found case histories that do not verify. Someone may have "
                     "altered the database; the Records of these cases cannot be relied on until this is "
                     "explained."), ""]
    for case_id, seq, _code, reason in failures:
        at = gettext("first broken event: {seq}").format(seq=seq) if seq is not None else ""
        lines.append(f"#{case_id} ({at}): {reason} — {base_url.rstrip('/')}/cases/{case_id}")
    lines += ["", gettext("You receive this mail as an administrator or auditor of ServiceFlow.")]
    return Message(subject=" ".join(subject_text.split())[:SUBJECT_LIMIT], body="\n".join(lines) + "\n")
