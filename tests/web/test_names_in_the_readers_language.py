"""Task names are the process owners' text in both languages: every user task of workflows/
names itself in Chinese (``name:zh``), and readers of Chinese see it in the inbox, on the task
and case pages, in the records and in their notification mail."""

from __future__ import annotations

from sqlalchemy import select

from engine.definitions.catalog import NAME_ZH, bundles_from_directory, parse_bundle
from engine.persistence.models import OutboxMessage, User
from engine.services.users import set_locale
from tests.conftest import ROOT
from tests.factories import actor
from tests.web.test_pages import FEEDBACK, FIRST_TASK, first_task_id, login, start

FIRST_TASK_ZH = "记录顾客服务反馈"


def test_every_user_task_of_workflows_has_a_chinese_name():
    missing = []
    for bundle in bundles_from_directory(ROOT / "workflows", ROOT / "forms"):
        for info in parse_bundle(bundle).user_tasks.values():
            if not info.title_zh.strip():
                missing.append(f"{bundle.process_id}: {info.element_id} ({info.title})")
    assert not missing, f"user tasks without a {NAME_ZH} property: {sorted(set(missing))}"


def test_a_reader_of_chinese_sees_task_names_in_chinese_and_others_in_english(app, ctx):
    case = start(ctx)
    task_id = first_task_id(case)
    sales = login(app, "sales1")
    assert FIRST_TASK in sales.get("/inbox").text and FIRST_TASK_ZH not in sales.get("/inbox").text
    sales.post("/language", data={"locale": "zh", "next": "/inbox"})
    try:
        inbox = sales.get("/inbox").text
        assert FIRST_TASK_ZH in inbox and FIRST_TASK not in inbox
        assert f"<h1>{FIRST_TASK_ZH}</h1>" in sales.get(f"/tasks/{task_id}").text
        assert FIRST_TASK_ZH in sales.get(f"/cases/{case.id}").text
        assert sales.post(f"/tasks/{task_id}", data=FEEDBACK).status_code == 302
        assert FIRST_TASK_ZH in sales.get(f"/cases/{case.id}").text  # the record of the completed task
    finally:
        set_locale(ctx, actor(ctx, "sales1"), "en")


def test_notification_mail_names_the_task_in_each_recipients_language(app, ctx):
    set_locale(ctx, actor(ctx, "sales2"), "zh")
    try:
        case = start(ctx)
        with ctx.unit_of_work(readonly=True) as uow:
            mails = {u: s for u, s in uow.session.execute(
                select(User.username, OutboxMessage.subject).join(User, User.id == OutboxMessage.recipient_id)
                .where(OutboxMessage.case_id == case.id))}
        assert FIRST_TASK_ZH in mails["sales2"] and FIRST_TASK not in mails["sales2"]
        assert FIRST_TASK in mails["sales1"] and FIRST_TASK_ZH not in mails["sales1"]
    finally:
        set_locale(ctx, actor(ctx, "sales2"), "en")


def test_the_api_serves_both_names_of_a_task(api, ctx):
    case = start(ctx)
    [task] = api.get(f"/cases/{case.id}", as_="sales1").json["open_tasks"]
    assert (task["title"], task["title_zh"]) == (FIRST_TASK, FIRST_TASK_ZH)


def test_every_process_of_workflows_has_a_chinese_name_shown_on_the_start_page_in_chinese(app, ctx):
    names = {b.process_id: parse_bundle(b).name_zh for b in bundles_from_directory(ROOT / "workflows", ROOT / "forms")}
    assert all(names.values()), [p for p, zh in names.items() if not zh]
    sales = login(app, "sales1")
    sales.post("/language", data={"locale": "zh", "next": "/start"})
    try:
        page = sales.get("/start").text
        assert names["after_sales_feedback"] in page and "After-sales feedback</h2>" not in page
        assert names["after_sales_feedback"] in sales.get("/cases").text  # the process filter
        case = start(ctx)
        listing = sales.get("/cases").text
        assert f'{names["after_sales_feedback"]} <span class="muted">v' in listing  # the case's process
        assert names["after_sales_feedback"] in sales.get(f"/cases/{case.id}").text
    finally:
        set_locale(ctx, actor(ctx, "sales1"), "en")
    assert "After-sales feedback</h2>" in sales.get("/start").text
