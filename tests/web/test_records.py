"""A case's records (PROCEDURE §4): the case page shows each completed task as the filled-in form
it was, with labels and option titles, and prints one record or all of them as documents with
a header (form name, case, customer, process version, who and when) and the record's hash."""

from __future__ import annotations

import random
import re

import lxml.html
from flask import Flask
from flask.testing import FlaskClient

from engine.context import EngineContext
from engine.services import cases, tasks
from engine.services.records import RecordView, case_records
from tests.factories import actor, complete, open_task, sample_object
from tests.web.bundles import CONFIRM_TASK, FORM_TITLE, PROCESS_NAME, RECORD_TASK, start_visit

VISIT = {
    "customer": "C004", "visited_on": "2026-11-20", "outcome": "order",
    "questions": [{"question": "Can the pump run at 60 Hz?", "owner": "tech"}],
}


def login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": "demo"})
    assert response.status_code == 302, response.text
    return client


def visited_case(ctx: EngineContext) -> tuple[cases.CaseView, list[RecordView]]:
    """A visit case with two records: the visit form, then a form-less confirmation with a remark."""
    case = start_visit(ctx)
    complete(ctx, "sales1", case.id, RECORD_TASK, VISIT)
    tasks.complete_task(ctx, actor(ctx, "sales2"), open_task(ctx, case.id, CONFIRM_TASK).id,
                        {"remark": "Visit confirmed by phone"})
    return cases.get_case(ctx, actor(ctx, "sales1"), case.id), case_records(ctx, actor(ctx, "sales1"), case.id)


_STEP = re.compile(r'^(?P<tag>[a-z0-9]*)(?P<classes>(?:\.[\w-]+)*)(?:\[(?P<attr>[\w-]+)="(?P<value>[^"]*)"\])?$')


def _xpath(selector: str) -> str:
    """The CSS these tests use (tags, classes, [attr="value"], descendants, commas) as XPath."""
    paths = []
    for part in selector.split(","):
        steps = []
        for step in part.split():
            m = _STEP.match(step)
            assert m, step
            tests = [f"contains(concat(' ', normalize-space(@class), ' '), ' {c} ')"
                     for c in m["classes"].split(".")[1:]]
            if m["attr"]:
                tests.append(f"@{m['attr']}='{m['value']}'")
            steps.append((m["tag"] or "*") + "".join(f"[{t}]" for t in tests))
        paths.append(".//" + "//".join(steps))
    return " | ".join(paths)


def select(element: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    return element.xpath(_xpath(selector))


def text_of(html: str, selector: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in select(lxml.html.fromstring(html), selector)]


# --- the case page ---------------------------------------------------------------------------


def test_the_case_page_shows_each_record_with_labels_option_titles_and_a_print_link(
    app: Flask, ctx: EngineContext
) -> None:
    case, records = visited_case(ctx)
    response = login(app, "sales1").get(f"/cases/{case.id}")
    assert response.status_code == 200
    page = response.text
    doc = lxml.html.fromstring(page)
    [visit, confirm] = select(doc, "section.records article.record")
    assert select(visit, "h3")[0].text_content() == RECORD_TASK
    assert "Recorded by sales1" in visit.text_content()
    values = dict(zip(text_of(page, "article.record .form-values dt"), text_of(page, "article.record .form-values dd"),
                      strict=False))
    assert values["Visited on"] == "2026-11-20"
    assert values["Outcome"] == "Order expected"  # the option's title, not its value
    assert values["Customer"] == "C004"
    assert text_of(page, ".form-values-table th") == ["Question", "Owner department"]
    assert text_of(page, ".form-values-table td") == ["Can the pump run at 60 Hz?", "tech"]
    # A task without a form: its data as plain key/values.
    assert select(confirm, "h3")[0].text_content() == CONFIRM_TASK
    assert "Recorded by sales2" in confirm.text_content()
    assert [" ".join(e.text_content().split()) for e in select(confirm, ".data-list dt, .data-list dd")] == [
        "remark", "Visit confirmed by phone"]
    links = [a.get("href") for a in select(doc, "a.record-print")]
    assert links == [f"/cases/{case.id}/records/{r.event.seq}" for r in records]
    assert f'href="/cases/{case.id}/records"' in page  # print all


def test_only_admins_and_auditors_see_the_raw_case_data(app: Flask, ctx: EngineContext) -> None:
    case, _ = visited_case(ctx)
    assert "All case data (raw)" not in login(app, "sales1").get(f"/cases/{case.id}").text
    for username in ("admin1", "auditor1"):
        doc = lxml.html.fromstring(login(app, username).get(f"/cases/{case.id}").text)
        [raw] = select(doc, "details.raw-data")
        assert raw.get("open") is None  # collapsed
        assert select(raw, "summary")[0].text_content() == "All case data (raw)"
        keys = [e.text_content() for e in select(raw, ".data-list dt")]
        assert {"customer", "outcome", "remark"} <= set(keys)


def test_a_case_without_records_says_so(app: Flask, ctx: EngineContext) -> None:
    case = start_visit(ctx)
    page = login(app, "sales1").get(f"/cases/{case.id}").text
    assert "No task of this case has been completed yet." in page
    assert f'href="/cases/{case.id}/records"' not in page


# --- printing --------------------------------------------------------------------------------


def test_the_print_page_of_one_record_has_the_document_header_and_the_record_hash(
    app: Flask, ctx: EngineContext
) -> None:
    case, records = visited_case(ctx)
    record = records[0]
    response = login(app, "gm1").get(f"/cases/{case.id}/records/{record.event.seq}")
    assert response.status_code == 200
    page = response.text
    doc = lxml.html.fromstring(page)
    assert 'href="/static/css/print.css"' in page
    [article] = select(doc, "article.print-record")
    assert select(article, "h1.doc-title")[0].text_content() == RECORD_TASK
    assert f"Form: {FORM_TITLE}" in select(article, ".doc-form")[0].text_content()

    def cell(name: str) -> str:
        return " ".join(select(article, f'[data-doc="{name}"]')[0].text_content().split())

    assert cell("case").startswith(f"#{case.id}")
    assert cell("customer") == "Orient Rail Systems"
    assert cell("process") == f"{PROCESS_NAME} · version {case.version} · {case.version_hash[:12]}"
    assert cell("actor") == "sales1"
    assert cell("at") == record.event.at.strftime("%Y-%m-%d %H:%M")
    assert cell("seq") == str(record.event.seq)
    assert len(record.event.hash) == 64
    footer = " ".join(select(article, "footer.doc-footer")[0].text_content().split())
    assert footer == f"Record hash: {record.event.hash}"
    assert "Order expected" in article.text_content() and "Visited on" in article.text_content()
    assert "Visit confirmed by phone" not in page  # only this record


def test_the_print_page_of_all_records_prints_them_one_after_another(app: Flask, ctx: EngineContext) -> None:
    case, records = visited_case(ctx)
    response = login(app, "auditor1").get(f"/cases/{case.id}/records")
    assert response.status_code == 200
    doc = lxml.html.fromstring(response.text)
    articles = select(doc, "article.print-record")
    assert [select(a, ".doc-title")[0].text_content() for a in articles] == [RECORD_TASK, CONFIRM_TASK]
    assert [" ".join(select(a, "footer")[0].text_content().split()) for a in articles] == [
        f"Record hash: {r.event.hash}" for r in records]
    assert [select(a, '[data-doc="actor"]')[0].text_content() for a in articles] == ["sales1", "sales2"]
    assert "Visit confirmed by phone" in articles[1].text_content()
    assert select(doc, "h1")[0].text_content() == f"Records of case #{case.id}"


def test_print_pages_of_unknown_records_and_cases_are_404(app: Flask, ctx: EngineContext) -> None:
    case, records = visited_case(ctx)
    client = login(app, "sales1")
    task_ready_seq = records[0].event.seq - 1  # an event that is not a record
    assert client.get(f"/cases/{case.id}/records/{task_ready_seq}").status_code == 404
    assert client.get(f"/cases/{case.id}/records/9999").status_code == 404
    assert client.get("/cases/999999/records").status_code == 404
    assert client.get("/cases/999999/records/1").status_code == 404


def test_the_after_sales_feedback_record_prints_with_its_form_labels_and_customer(
    app: Flask, ctx: EngineContext
) -> None:
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback", {})
    task = open_task(ctx, case.id, "Record customer feedback")
    form = tasks.get_task(ctx, actor(ctx, "sales1"), task.id).form
    assert form is not None
    data = {**sample_object(form.schema, random.Random(7)), "customer": "C001"}
    complete(ctx, "sales1", case.id, "Record customer feedback", data)
    [record, *_] = case_records(ctx, actor(ctx, "sales1"), case.id)
    page = login(app, "sales1").get(f"/cases/{case.id}/records/{record.event.seq}").text
    doc = lxml.html.fromstring(page)
    assert select(doc, "h1.doc-title")[0].text_content() == "Record customer feedback"
    assert select(doc, '[data-doc="customer"]')[0].text_content() == "Acme Motors Co., Ltd."
    labels = text_of(page, ".doc-body .form-values dt")
    assert "Customer" in labels and "Received on" in labels
    assert re.search(rf"Record hash: <code[^>]*>{record.event.hash}</code>", page)

