"""Notification mail: queued in the transaction of the step that caused it, sent by the worker.

- Queueing writes ``outbox`` rows in the caller's unit of work, so a step that rolls back sends
  nothing and a committed step's mail is never lost.
- Without SMTP (no ``SMTP_HOST``) the rows stay queued; admins read them on the Outbox page.
- With SMTP the worker sends them (``send_queued_mail``): one transaction per message, claimed
  with ``FOR UPDATE SKIP LOCKED`` so that several workers never send the same one. A send that
  fails marks its message failed with the error and the others go on.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any, Protocol

from babel.support import Translations
from sqlalchemy import insert, select, update

from engine import notifications
from engine.audit import chain as audit
from engine.config import MailSettings
from engine.context import EngineContext
from engine.errors import Forbidden
from engine.persistence.models import Case, Department, OutboxMessage, User, UserDepartment, WorkItem
from engine.persistence.uow import UnitOfWork
from engine.services.actors import Actor
from engine.time.clock import utcnow

log = logging.getLogger("serviceflow.mail")

ERROR_LIMIT = 2000


class MailSender(Protocol):
    def send(self, to_address: str, subject: str, body: str) -> None: ...


class SmtpSender:
    """Sends one message per connection through the configured SMTP server."""

    def __init__(self, mail: MailSettings, timeout: float = 10.0) -> None:
        self.mail = mail
        self.timeout = timeout

    def send(self, to_address: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.mail.sender, to_address, subject
        message.set_content(body)
        with smtplib.SMTP(self.mail.host, self.mail.port, timeout=self.timeout) as smtp:
            if self.mail.starttls:
                smtp.starttls()
            if self.mail.user:
                smtp.login(self.mail.user, self.mail.password)
            smtp.send_message(message)


def _wants_mail() -> Any:
    return (User.is_active.is_(True), User.notify_email.is_(True), User.email != "")


def _recipients(uow: UnitOfWork, item: WorkItem) -> list[User]:
    """The assignee if there is one, else the department's members (or the people named to work a
    task no department works); only those who want mail."""
    query = select(User).where(*_wants_mail()).order_by(User.username)
    if item.assignee_id is not None:
        query = query.where(User.id == item.assignee_id)
    elif item.department_id is not None:
        query = query.join(UserDepartment, UserDepartment.user_id == User.id).where(
            UserDepartment.department_id == item.department_id)
    elif item.owners:
        query = query.where(User.id.in_([owner.id for owner in item.owners]))
    else:
        return []
    return list(uow.session.scalars(query))


def _department_name(department: Department | None, locale: str) -> str:
    if department is None:
        return ""
    return department.name_zh if locale == "zh" and department.name_zh else department.name


def _notice(uow: UnitOfWork, kind: str, item: WorkItem, actor: Any, locale: str) -> notifications.TaskNotice:
    department = uow.session.get(Department, item.department_id) if item.department_id else None
    return notifications.TaskNotice(
        kind=kind, task_id=item.id, task_title=item.title_zh if locale == "zh" and item.title_zh else item.title,
        case_id=item.case_id, case_title=item.case_title,
        customer=item.customer, department=_department_name(department, locale) or (item.lane or ""),
        due_at=item.due_at, actor=getattr(actor, "display_name", "") or getattr(actor, "username", ""),
    )


@cache
def _gettext(catalogs: Path | None, locale: str) -> Callable[[str], str]:
    """The catalog's ``gettext`` for a language (English, the source text, when there is none)."""
    if catalogs is None:
        return NullTranslations().gettext
    return Translations.load(str(catalogs), [locale]).gettext


def _queue(uow: UnitOfWork, mail: MailSettings, kind: str, item: WorkItem, users: list[User], actor: Any) -> int:
    """One message per person, in the language they chose for the interface."""
    if not users:
        return 0
    messages = {}
    told, rows = [], []
    now = utcnow()
    for user in users:
        locale = user.locale or "en"
        if locale not in messages:
            messages[locale] = notifications.compose(_notice(uow, kind, item, actor, locale), mail.base_url,
                                                     _gettext(mail.catalogs, locale))
        message = messages[locale]
        rows.append({"kind": kind, "recipient_id": user.id, "to_address": user.email, "subject": message.subject,
                     "body": message.body, "case_id": item.case_id, "task_id": item.id, "status": "queued",
                     "created_at": now, "sent_at": None, "error": ""})
        told.append({"recipient": user.username, "subject": message.subject})
    # One executemany of plain rows: as ORM objects SQLite would insert them one statement each
    # (see engine.audit.chain); nothing needs a queued mail's id before the worker reads it.
    uow.session.execute(insert(OutboxMessage.__table__), rows)
    _record_queued(uow, kind, item, told, actor)
    return len(users)


def _record_queued(uow: UnitOfWork, kind: str, item: WorkItem, told: list[dict], actor: Any) -> None:
    """The case's history says who was told what and when: one event per mailing, with each
    recipient and the subject in their language (addresses and bodies stay in the outbox, and the
    worker's sending is the outbox's record)."""
    case = uow.session.get(Case, item.case_id)
    if case is not None:
        audit.record(case, "notification_queued", actor, {"kind": kind, "sent": told},
                     task_id=item.id, element_id=item.element_id)


def queue_task_arrived(uow: UnitOfWork, mail: MailSettings, item: WorkItem, actor: Any = None) -> int:
    """Tell the people who may take a new task that it is waiting; returns how many were queued."""
    return _queue(uow, mail, notifications.TASK_ARRIVED, item, _recipients(uow, item), actor)


def queue_task_assigned(uow: UnitOfWork, mail: MailSettings, item: WorkItem, actor: Any = None) -> int:
    """Tell the new assignee (unless they assigned it to themselves)."""
    if item.assignee_id is None or item.assignee_id == getattr(actor, "id", None):
        return 0
    return _queue(uow, mail, notifications.TASK_ASSIGNED, item, _recipients(uow, item), actor)


def open_items(uow: UnitOfWork, task_ids: list[str]) -> list[WorkItem]:
    """The inbox rows of these tasks that are open, in id order."""
    if not task_ids:
        return []
    return list(uow.session.scalars(select(WorkItem).where(WorkItem.id.in_(task_ids)).order_by(WorkItem.id)))


def queue_task_due_soon(uow: UnitOfWork, mail: MailSettings, items: list[WorkItem], actor: Any = None) -> int:
    """Tell the holders of each task (its assignee, else its department's members) that it is due
    soon: a reminder timer fired while the task is still open."""
    return sum(_queue(uow, mail, notifications.TASK_DUE_SOON, item, _recipients(uow, item), actor)
               for item in items)


def queue_task_escalated(uow: UnitOfWork, mail: MailSettings, escalations: list[WorkItem],
                         escalated: list[WorkItem], actor: Any = None) -> int:
    """An escalation timer fired: the people who receive each escalation task are told about it,
    and the holders of the tasks that were escalated about their own task; one mail per person
    and task, and nobody hears twice about the same escalation."""
    told: set[int] = set()
    queued = 0
    for item in [*escalations, *escalated]:
        users = [user for user in _recipients(uow, item) if user.id not in told]
        told.update(user.id for user in users)
        queued += _queue(uow, mail, notifications.TASK_ESCALATED, item, users, actor)
    return queued


@dataclass(frozen=True)
class OutboxView:
    id: int
    created_at: datetime
    kind: str
    recipient: str | None
    to_address: str
    subject: str
    body: str
    case_id: int | None
    task_id: str | None
    status: str
    sent_at: datetime | None
    error: str


def list_outbox(ctx: EngineContext, actor: Actor, limit: int = 200) -> list[OutboxView]:
    """The newest notification mails, queued, sent or failed (admins only)."""
    if not actor.is_admin:
        raise Forbidden("Only administrators may read the outbox")
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(
            select(OutboxMessage, User.username).outerjoin(User, User.id == OutboxMessage.recipient_id)
            .order_by(OutboxMessage.id.desc()).limit(limit)
        )
        return [
            OutboxView(id=m.id, created_at=m.created_at, kind=m.kind, recipient=username, to_address=m.to_address,
                       subject=m.subject, body=m.body, case_id=m.case_id, task_id=m.task_id, status=m.status,
                       sent_at=m.sent_at, error=m.error)
            for m, username in rows
        ]


STALE_SENDING = timedelta(minutes=10)


def _claim(ctx: EngineContext, passed: set[int]) -> tuple[int, str, str, str] | None:
    """Mark the oldest queued message ``sending`` (its ``sent_at`` holding when the attempt began)
    and commit, so that no database lock is held while the mail server is talked to."""
    with ctx.unit_of_work() as uow:
        query = (
            select(OutboxMessage).where(OutboxMessage.status == "queued").order_by(OutboxMessage.id)
            .limit(1).with_for_update(skip_locked=True)
        )
        if passed:
            query = query.where(OutboxMessage.id.not_in(passed))
        message = uow.session.scalar(query)
        if message is None:
            return None
        message.status, message.sent_at = "sending", utcnow()
        claimed = message.id, message.to_address, message.subject, message.body
        uow.commit()
    return claimed


def _finish(ctx: EngineContext, message_id: int, error: str | None) -> None:
    with ctx.unit_of_work() as uow:
        message = uow.session.get(OutboxMessage, message_id)
        if error is None:
            message.status, message.sent_at = "sent", utcnow()
        else:
            message.status, message.error = "failed", error[:ERROR_LIMIT]
        uow.commit()


def _requeue_stale(ctx: EngineContext) -> None:
    """A worker that died between claiming and finishing left its message ``sending``: after
    STALE_SENDING (far beyond the SMTP timeout) it is queued again (sent at least once)."""
    with ctx.unit_of_work() as uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.sent_at < utcnow() - STALE_SENDING)
            .values(status="queued", sent_at=None)
        )
        uow.commit()


def _send_next(ctx: EngineContext, sender: MailSender, passed: set[int]) -> tuple[int, bool] | None:
    """Claim, send and mark one queued message: (its id, whether it was sent), or None if none is left."""
    claimed = _claim(ctx, passed)
    if claimed is None:
        return None
    message_id, to_address, subject, body = claimed
    try:
        sender.send(to_address, subject, body)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the message
        error: str | None = f"{type(exc).__name__}: {exc}"
        log.warning("mail %s to %s failed: %s", message_id, to_address, error)
    else:
        error = None
    _finish(ctx, message_id, error)
    return message_id, error is None


def send_queued_mail(ctx: EngineContext, limit: int = 50, sender: MailSender | None = None) -> int:
    """Send up to ``limit`` queued messages, one transaction each; returns how many were sent."""
    sender = sender or SmtpSender(ctx.settings.mail)
    _requeue_stale(ctx)
    passed: set[int] = set()
    sent = 0
    while len(passed) < limit:
        outcome = _send_next(ctx, sender, passed)
        if outcome is None:
            break
        passed.add(outcome[0])
        sent += outcome[1]
    return sent
