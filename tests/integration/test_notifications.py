"""Notification mail on SQLite and PostgreSQL: a task that arrives or is assigned queues mail to
the people concerned in the same transaction as the step; the worker's sender sends each queued
message once and records failures without stopping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from engine import notifications as compose
from engine.persistence.models import OutboxMessage, User
from engine.persistence.uow import UnitOfWork
from engine.services import cases, work_items
from engine.services.notifications import list_outbox, send_queued_mail
from engine.services.users import set_locale, set_notify_email
from tests.factories import actor, complete, open_task
from tests.integration.test_after_sales_paths import FEEDBACK

PROCESS = "after_sales_feedback"


@pytest.fixture(autouse=True)
def restored_users(ctx) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Users are shared by the PostgreSQL tests: put their mail settings and language back afterwards."""
    with ctx.unit_of_work() as uow:
        saved = list(uow.session.execute(select(User.id, User.email, User.notify_email, User.locale)))
    yield
    with ctx.unit_of_work() as uow:
        for user_id, email, notify, locale in saved:
            uow.session.execute(update(User).where(User.id == user_id)
                                .values(email=email, notify_email=notify, locale=locale))
        uow.commit()


def outbox(ctx) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        rows = list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        uow.session.expunge_all()
        return rows


def start(ctx) -> cases.CaseView:  # type: ignore[no-untyped-def]
    return cases.start_case(ctx, actor(ctx, "sales1"), PROCESS)


def test_a_new_task_queues_one_mail_per_member_of_its_department(ctx):
    case = start(ctx)
    task = open_task(ctx, case.id)
    messages = outbox(ctx)
    assert sorted(m.to_address for m in messages) == ["sales1@example.com", "sales2@example.com"]
    expected = ("task_arrived", "queued", case.id, task.id)
    assert {(m.kind, m.status, m.case_id, m.task_id) for m in messages} == {expected}
    subject = f"[ServiceFlow] New task: {task.title} — {case.title}"
    assert {m.subject for m in messages} == {subject}
    body = messages[0].body
    assert f"http://127.0.0.1:5000/tasks/{task.id}" in body and "Sales Section" in body and case.title in body


def test_each_person_gets_the_mail_in_the_language_they_chose(ctx):
    set_locale(ctx, actor(ctx, "sales1"), "zh")
    case = start(ctx)
    task = open_task(ctx, case.id)
    mail = {m.to_address: m for m in outbox(ctx)}
    assert mail["sales1@example.com"].subject == f"[ServiceFlow] 新任务: {task.title_zh} — {case.title}"
    assert "经营科的收件箱有一项新任务。" in mail["sales1@example.com"].body
    assert "打开任务: http://127.0.0.1:5000/tasks/" in mail["sales1@example.com"].body
    assert mail["sales2@example.com"].subject == f"[ServiceFlow] New task: {task.title} — {case.title}"
    assert "Open the task: " in mail["sales2@example.com"].body


def test_no_mail_for_users_who_turned_it_off_or_have_no_address(ctx):
    set_notify_email(ctx, actor(ctx, "sales2"), False)
    start(ctx)
    assert [m.to_address for m in outbox(ctx)] == ["sales1@example.com"]
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(User).where(User.username == "sales1").values(email=""))
        uow.commit()
    start(ctx)
    assert [m.to_address for m in outbox(ctx)] == ["sales1@example.com"]


def test_assigning_a_task_mails_the_new_assignee(ctx):
    case = start(ctx)
    task = open_task(ctx, case.id)
    before = len(outbox(ctx))
    work_items.assign(ctx, actor(ctx, "sales1"), task.id, "sales2")
    [message] = outbox(ctx)[before:]
    assert (message.kind, message.to_address, message.task_id) == ("task_assigned", "sales2@example.com", task.id)
    assert message.subject.startswith("[ServiceFlow] Task assigned to you: ")
    assert "Sales One assigned this task to you." in message.body


def test_mail_is_queued_in_the_steps_transaction_and_a_crash_before_commit_leaves_none(ctx, monkeypatch):
    case = start(ctx)
    before = len(outbox(ctx))
    pending: list[int] = []

    def crash(self: UnitOfWork) -> None:
        self.session.flush()
        pending.append(self.session.scalar(select(func.count()).select_from(OutboxMessage)))
        raise OSError("power cut")

    monkeypatch.setattr(UnitOfWork, "commit", crash)
    with pytest.raises(OSError):
        complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    monkeypatch.undo()
    assert pending and pending[0] > before  # the next task's mail was queued in that transaction ...
    assert len(outbox(ctx)) == before  # ... and rolled back with it


class FakeSender:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.failing = failing or set()

    def send(self, to_address: str, subject: str, body: str) -> None:
        if to_address in self.failing:
            raise ConnectionRefusedError("mail server said no")
        self.sent.append((to_address, subject, body))


def test_without_smtp_nothing_is_sent_and_admins_read_the_outbox(ctx):
    assert not ctx.settings.mail.smtp_configured
    start(ctx)
    assert {m.status for m in outbox(ctx)} == {"queued"}
    views = list_outbox(ctx, actor(ctx, "admin1"))
    assert sorted(v.recipient for v in views) == ["sales1", "sales2"]
    with pytest.raises(Exception, match="administrators"):
        list_outbox(ctx, actor(ctx, "sales1"))


def test_the_sender_sends_each_queued_message_once_and_marks_it_sent(ctx):
    start(ctx)
    start(ctx)
    sender = FakeSender()
    assert send_queued_mail(ctx, limit=50, sender=sender) == 4
    assert sorted(to for to, _, _ in sender.sent) == ["sales1@example.com"] * 2 + ["sales2@example.com"] * 2
    assert all(m.status == "sent" and m.sent_at is not None for m in outbox(ctx))
    assert send_queued_mail(ctx, limit=50, sender=sender) == 0
    assert len(sender.sent) == 4


def test_a_failing_send_is_marked_failed_and_the_others_still_go(ctx):
    start(ctx)
    sender = FakeSender(failing={"sales1@example.com"})
    assert send_queued_mail(ctx, limit=50, sender=sender) == 1
    assert [to for to, _, _ in sender.sent] == ["sales2@example.com"]
    status = {m.to_address: (m.status, m.error) for m in outbox(ctx)}
    assert status["sales2@example.com"] == ("sent", "")
    assert status["sales1@example.com"] == ("failed", "ConnectionRefusedError: mail server said no")
    assert send_queued_mail(ctx, limit=50, sender=sender) == 0  # failed mail is not retried on its own


def test_the_limit_bounds_one_round(ctx):
    start(ctx)
    sender = FakeSender()
    assert send_queued_mail(ctx, limit=1, sender=sender) == 1
    assert sorted(m.status for m in outbox(ctx)) == ["queued", "sent"]


def test_messages_are_composed_for_every_kind():
    notice = compose.TaskNotice(kind=compose.TASK_ARRIVED, task_id="t-1", task_title="Record customer feedback",
                                case_id=12, case_title="After-sales feedback #12", customer="Acme",
                                department="Sales Section")
    message = compose.compose(notice, "https://sf.example/")
    assert message.subject == "[ServiceFlow] New task: Record customer feedback — After-sales feedback #12"
    assert "Customer: Acme" in message.body and "https://sf.example/tasks/t-1" in message.body
    assert "Due:" not in message.body
    for kind in compose.HEADLINES:
        assert compose.subject(notice.__class__(**{**notice.__dict__, "kind": kind})).startswith("[ServiceFlow] ")


def test_a_message_left_sending_by_a_dead_worker_is_sent_again_after_a_while(ctx):
    from datetime import timedelta

    from engine.persistence.models import OutboxMessage
    from engine.services.notifications import STALE_SENDING, send_queued_mail
    from engine.time.clock import utcnow

    with ctx.unit_of_work() as uow:
        uow.session.add(OutboxMessage(kind="task_arrived", to_address="x@example.com", subject="s", body="b",
                                      status="sending", sent_at=utcnow() - STALE_SENDING - timedelta(seconds=1)))
        uow.session.add(OutboxMessage(kind="task_arrived", to_address="y@example.com", subject="s", body="b",
                                      status="sending", sent_at=utcnow()))
        uow.commit()

    class Collect:
        def __init__(self) -> None:
            self.to: list[str] = []

        def send(self, to_address: str, subject: str, body: str) -> None:
            self.to.append(to_address)

    sender = Collect()
    send_queued_mail(ctx, sender=sender)
    assert "x@example.com" in sender.to and "y@example.com" not in sender.to
