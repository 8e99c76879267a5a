"""The history on the case page reads as a record (issue 11 §1): event, task and department names
in the reader's language, long values folded into <details>, a data change as a before → after
table, comments from the people of the case, and administrators' retry and cancel, on SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses

from flask import Flask

from engine.context import EngineContext
from engine.services import cases
from engine.services.history import Change
from tests.factories import actor
from tests.web.test_pages import FEEDBACK, first_task_id, login, start

LONG = "The housing cracked along the weld seam after two weeks of use; " * 3


def _moved(app: Flask, ctx: EngineContext) -> cases.CaseView:
    case = start(ctx)
    login(app, "sales1").post(f"/tasks/{first_task_id(case)}", data={**FEEDBACK, "description": LONG})
    return case


def test_the_history_names_events_tasks_and_departments_in_the_readers_language(app, ctx):
    case = _moved(app, ctx)
    reader = login(app, "auditor1")
    english = reader.get(f"/cases/{case.id}").text
    assert "<td>Task ready</td>" in english and "<td>Quality Inspection Section</td>" in english
    assert "<dt>department</dt><dd>qc</dd>" not in english  # the department by its name, not its id
    assert '<details class="value-folded"><summary>The housing cracked' in english
    assert LONG.strip() in english  # the whole value, once opened
    reader.post("/language", data={"locale": "zh", "next": "/cases"})
    chinese = reader.get(f"/cases/{case.id}").text
    assert "<td>任务就绪</td>" in chinese and "<td>质检科</td>" in chinese
    assert "<td>记录顾客服务反馈</td>" in chinese  # the task's Chinese title (name:zh)


def test_a_data_change_is_shown_as_a_before_and_after_table(app, ctx, monkeypatch):
    """The chain records ``changes`` on each event (variable → before/after); the page shows them."""
    case = _moved(app, ctx)
    from web import cases as case_pages

    real = case_pages.case_history

    def with_changes(ctx_, who, case_id):  # type: ignore[no-untyped-def]
        entries, broken = real(ctx_, who, case_id)
        changed = [dataclasses.replace(entries[-1], changes=[Change("category", None, "quality"),
                                                             Change("notes", "short", LONG)])]
        return entries[:-1] + changed, broken

    monkeypatch.setattr(case_pages, "case_history", with_changes)
    page = login(app, "auditor1").get(f"/cases/{case.id}").text
    assert '<table class="table data-change">' in page
    assert '<th scope="row">category</th><td class="change-before">—</td><td class="change-after">quality</td>' in page
    assert '<td class="change-before">short</td><td class="change-after"><details class="value-folded">' in page


def test_people_of_the_case_comment_from_its_page_and_auditors_see_no_form(app, ctx):
    case = _moved(app, ctx)
    qc = login(app, "qc1")
    assert 'name="text"' in qc.get(f"/cases/{case.id}").text
    response = qc.post(f"/cases/{case.id}/comments", data={"text": "Lot 2611 is on hold."})
    assert response.status_code == 302
    page = login(app, "auditor1").get(f"/cases/{case.id}").text
    assert 'data-event-type="comment_added"' in page and "Lot 2611 is on hold." in page
    assert f'action="/cases/{case.id}/comments"' not in page
    assert qc.post(f"/cases/{case.id}/comments", data={"text": ""}).status_code == 422


def test_an_administrator_cancels_from_the_case_page_giving_a_reason(app, ctx):
    case = _moved(app, ctx)
    assert f'action="/cases/{case.id}/cancel"' not in login(app, "sales1").get(f"/cases/{case.id}").text
    assert login(app, "sales1").post(f"/cases/{case.id}/cancel", data={"reason": "x"}).status_code == 403
    admin = login(app, "admin1")
    assert f'action="/cases/{case.id}/cancel"' in admin.get(f"/cases/{case.id}").text
    assert admin.post(f"/cases/{case.id}/cancel", data={"reason": "Entered twice"}).status_code == 302
    after = cases.get_case(ctx, actor(ctx, "admin1"), case.id)
    assert (after.status, after.open_tasks) == ("cancelled", [])
    page = admin.get(f"/cases/{case.id}").text
    assert "Entered twice" in page and f'action="/cases/{case.id}/cancel"' not in page


def test_the_api_takes_comments_and_administrators_interventions(api, ctx):
    case = start(ctx)
    made = api.post(f"/cases/{case.id}/comments", {"text": "Called the customer"}, as_="sales1")
    assert made.status_code == 201 and made.json["type"] == "comment_added"
    assert api.post(f"/cases/{case.id}/comments", {"text": "x"}, as_="auditor1").status_code == 403
    assert api.post(f"/cases/{case.id}/retry", as_="admin1").status_code == 409  # it is not in error
    assert api.post(f"/cases/{case.id}/cancel", {"reason": "Test"}, as_="sales1").status_code == 403
    cancelled = api.post(f"/cases/{case.id}/cancel", {"reason": "Test order"}, as_="admin1")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
