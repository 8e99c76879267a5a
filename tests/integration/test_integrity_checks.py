"""Verification as people use it: the command, the API, the worker's scheduled run that keeps
failures and mails admins and auditors (each in their language), and the pages that show it:
the case page's verdict, the case list's flag and the Records panel's mark on an altered record."""

from __future__ import annotations

import time

import lxml.html
from sqlalchemy import select

from engine.persistence.models import CaseIntegrityFailure, OutboxMessage
from engine.services import cases, integrity, scheduler, users
from tests.factories import actor, complete, open_task
from tests.integration import tamper
from tests.integration.test_after_sales_paths import FEEDBACK
from web.cli import main


def _case(ctx) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    return case.id


def _record_seq(ctx, case_id: int) -> int:  # type: ignore[no-untyped-def]
    events, _ = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    return next(e.seq for e in events if e.type == "task_completed")


def _alter_record(ctx, case_id: int) -> int:  # type: ignore[no-untyped-def]
    seq = _record_seq(ctx, case_id)
    tamper.edit_event(ctx, case_id, seq, actor="gm1")
    return seq


def _login(app, username: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302
    return client


def _having(cls: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')"


def _find(page, cls: str, within: str = "//") -> list:  # type: ignore[no-untyped-def]
    return page.xpath(f"{within}*[{_having(cls)}]")


def _failure_mail(ctx) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        rows = list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == integrity.INTEGRITY_FAILED)
                                        .order_by(OutboxMessage.to_address)))
        uow.session.expunge_all()
        return rows


def _stored_failures(ctx) -> dict[int, int | None]:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return {r.case_id: r.broken_seq for r in uow.session.scalars(select(CaseIntegrityFailure))}


def test_the_command_names_each_failing_case_and_exits_1(ctx, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", ctx.settings.database_url)
    good, bad = _case(ctx), _case(ctx)
    assert main(["audit", "verify"]) == 0
    assert "verified 2 case(s): none failed" in capsys.readouterr().out
    seq = _alter_record(ctx, bad)
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"case {bad}: event {seq}: event {seq} was altered" in out and f"case {good}:" not in out
    assert main(["audit", "verify", str(good)]) == 0
    assert "verified 1 case(s)" in capsys.readouterr().out
    assert main(["audit", "verify", "999999"]) == 2
    assert "No case 999999" in capsys.readouterr().err


def test_the_api_answers_the_verdict_to_readers_only(ctx, api):
    case_id = _case(ctx)
    body = api.get(f"/cases/{case_id}/verify", as_="auditor1").get_json()
    assert body["ok"] is True and body["first_broken_seq"] is None and body["code"] == ""
    seq = _alter_record(ctx, case_id)
    response = api.get(f"/cases/{case_id}/verify", as_="sales1")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["ok"], body["first_broken_seq"], body["code"]) == (False, seq, "hash")
    assert f"event {seq} was altered" in body["reason"]
    assert api.get(f"/cases/{case_id}/verify", as_="prod1").status_code == 404
    assert api.get("/cases/999999/verify", as_="auditor1").status_code == 404
    assert api.get(f"/cases/{case_id}/verify").status_code == 401


def test_a_scheduled_run_keeps_a_failure_and_mails_admins_and_auditors_once_in_their_language(ctx):
    users.set_locale(ctx, actor(ctx, "auditor1"), "zh")
    case_id = _case(ctx)
    assert integrity.verify_all(ctx).ok and _failure_mail(ctx) == []
    seq = _alter_record(ctx, case_id)
    run = integrity.verify_all(ctx)
    assert [v.case_id for v in run.newly_failed] == [case_id]
    assert _stored_failures(ctx) == {case_id: seq}
    mails = {m.to_address.split("@")[0]: m for m in _failure_mail(ctx)}
    assert {"admin1", "auditor1"} <= set(mails) and "sales1" not in mails
    assert f"#{case_id}" in mails["admin1"].subject and "was altered" in mails["admin1"].body
    assert "案件历史校验未通过" in mails["auditor1"].subject
    assert f"第 {seq} 号事件在记录之后被改动" in mails["auditor1"].body
    again = integrity.verify_all(ctx)
    assert again.failures and not again.newly_failed
    assert len(_failure_mail(ctx)) == len(mails), "a known failure is not mailed again"
    tamper.rehash_chain(ctx, case_id)
    assert integrity.verify_all(ctx).ok and _stored_failures(ctx) == {}


def test_the_worker_verifies_every_case_a_slice_at_a_time_then_waits_the_interval(ctx):
    ids = [_case(ctx) for _ in range(3)]
    _alter_record(ctx, ids[2])
    waiting = scheduler.VerifyPass(due=time.monotonic() + 1000)
    assert scheduler.verify_slice(ctx, waiting, size=2) == 0 and _stored_failures(ctx) == {}
    progress = scheduler.VerifyPass(due=time.monotonic())
    assert scheduler.verify_slice(ctx, progress, size=2) == 2
    assert progress.next_id == ids[1] + 1 and _stored_failures(ctx) == {}
    assert scheduler.verify_slice(ctx, progress, size=2) == 1
    assert ids[2] in _stored_failures(ctx)
    assert progress.next_id is None
    assert progress.due >= time.monotonic() + ctx.settings.verify_interval_seconds - 5
    assert scheduler.verify_slice(ctx, progress, size=2) == 0, "the next pass waits for the interval"


def test_the_pages_show_the_verdict_flag_the_case_and_mark_the_altered_record(ctx, app):
    case_id, other = _case(ctx), _case(ctx)
    client = _login(app, "sales1")
    page = lxml.html.fromstring(client.get(f"/cases/{case_id}").text)
    assert _find(page, "integrity-ok") and not _find(page, "record-untrusted")
    seq = _alter_record(ctx, case_id)
    page = lxml.html.fromstring(client.get(f"/cases/{case_id}").text)
    [verdict] = [e for e in _find(page, "integrity-broken") if "record-untrusted" not in e.get("class")]
    assert f"BROKEN at event {seq}" in verdict.text_content() and "was altered" in verdict.text_content()
    assert len(_find(page, "record-untrusted")) == 1
    listed = lxml.html.fromstring(client.get("/cases").text)
    assert not _find(listed, "integrity-failed", f'//tr[@data-case-id="{case_id}"]//'), "not verified yet"
    integrity.verify_all(ctx)
    listed = lxml.html.fromstring(client.get("/cases").text)
    assert _find(listed, "integrity-failed", f'//tr[@data-case-id="{case_id}"]//')
    assert not _find(listed, "integrity-failed", f'//tr[@data-case-id="{other}"]//')
    task = open_task(ctx, case_id)
    holder = {"qc": "qc1", "sales": "sales1", "technical": "tech1", "admin": "admin1", "production": "prod1",
              "management": "gm1"}.get(task.department, "admin1")
    task_page = lxml.html.fromstring(_login(app, holder).get(f"/tasks/{task.id}").text)
    assert len(_find(task_page, "record-untrusted")) == 1


def test_the_case_page_says_why_in_chinese(ctx, app):
    case_id = _case(ctx)
    users.set_locale(ctx, actor(ctx, "auditor1"), "zh")
    seq = _alter_record(ctx, case_id)
    page = _login(app, "auditor1").get(f"/cases/{case_id}").text
    assert f"第 {seq} 号事件在记录之后被改动" in page
