"""Who reads what (README "Who sees what", engine/services/visibility.py), role × endpoint, on
SQLite and PostgreSQL: a real Sales case started by sales1 for customer C001 (whose contact has a
phone number) that has reached a QC task is read, through the JSON API and the web pages, by
every demo user; each gets the case (200, listed, found by search) or a 404 that cannot be told
from a case that does not exist, and the customer's personal data or not, as the rule says."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from engine.context import EngineContext
from engine.persistence.models import Case
from engine.services import cases, customers, tasks, visibility
from tests.conftest import ApiClient
from tests.factories import actor
from tests.integration.test_after_sales_paths import CLOSED, FEEDBACK, Walk
from tests.web.test_pages import login

USERS = ("sales1", "sales2", "admin1", "qc1", "tech1", "prod1", "gm1", "centre1", "owner1", "auditor1")
# sales1 started the case, Sales and QC had a task in it; administrators, management, process
# owners and auditors read every case.
READERS = frozenset({"sales1", "sales2", "qc1", "admin1", "gm1", "owner1", "auditor1"})
# Contacts, address, notes and card history: the Sales Section and those who read every case.
PERSONAL_DATA_READERS = frozenset({"sales1", "sales2", "admin1", "gm1", "owner1", "auditor1"})
CUSTOMER = "C001"
PHONE = "0574-8888 1234"  # the C001 contact's phone (engine/services/directory.py)
ADDRESS = "88 Harbour Road, Ningbo"
QC_TASK = "Contain the problem"


@dataclass(frozen=True)
class SalesCase:
    """The case every reader is tried against: its QC task is open, its first record made."""

    id: int
    qc_task: str
    record_seq: int


@pytest.fixture
def sales_case(ctx: EngineContext) -> SalesCase:
    sales1 = actor(ctx, "sales1")
    started = cases.start_case(ctx, sales1, "after_sales_feedback", {})
    [record] = started.open_tasks
    moved = tasks.complete_task(ctx, sales1, record.id, {**FEEDBACK, "category": "quality"})
    [qc_task] = moved.open_tasks
    assert (qc_task.title, qc_task.department, moved.customer) == (QC_TASK, "qc", "Acme Motors Co., Ltd.")
    events, _ = cases.case_events(ctx, actor(ctx, "auditor1"), moved.id)
    [seq] = [e.seq for e in events if e.type == "task_completed"]
    return SalesCase(moved.id, qc_task.id, seq)


def _listed(body: dict) -> set[int]:
    return {c["id"] for c in body["cases"]}


@pytest.mark.parametrize("user", USERS)
def test_the_api_answers_each_role_by_the_rule(api: ApiClient, sales_case: SalesCase, user: str) -> None:
    sees = user in READERS
    case_id = sales_case.id
    listed = api.get("/cases", as_=user).json
    assert (case_id in _listed(listed)) is sees
    assert listed["total"] == (1 if sees else 0)  # the total counts only what the reader may read
    for query in ("q=Acme", f"q={case_id}", "customer=acme", "status=running&process=after_sales_feedback"):
        assert (case_id in _listed(api.get(f"/cases?{query}", as_=user).json)) is sees, query

    one = api.get(f"/cases/{case_id}", as_=user)
    history = api.get(f"/cases/{case_id}/events", as_=user)
    task = api.get(f"/tasks/{sales_case.qc_task}", as_=user)
    if sees:
        assert (one.status_code, one.json["id"], one.json["customer_code"]) == (200, case_id, CUSTOMER)
        records = [e for e in history.json["events"] if e["type"] == "task_completed"]
        assert (history.status_code, records[0]["actor"], records[0]["data"]["contact"]) == (200, "sales1", "Li Wei")
        assert (task.status_code, task.json["case_id"], task.json["task"]["title"]) == (200, case_id, QC_TASK)
        assert task.json["may_complete"] is (user == "qc1")
    else:  # the very answer a case that does not exist gets
        for response in (one, history):
            assert (response.status_code, response.json["error"]) == (404, f"No case {case_id}")
        assert (task.status_code, task.json["error"]) == (404, f"No task {sales_case.qc_task}")
        assert api.get(f"/cases/{case_id + 1000}", as_=user).json["error"] == f"No case {case_id + 1000}"


@pytest.mark.parametrize("user", USERS)
def test_the_web_pages_answer_each_role_by_the_rule(app: Flask, sales_case: SalesCase, user: str) -> None:
    sees = user in READERS
    case_id = sales_case.id
    client = login(app, user)
    row = f'data-case-id="{case_id}"'
    for query in ("", "?q=Acme", f"?q={case_id}", "?customer=acme"):
        page = client.get(f"/cases{query}")
        assert page.status_code == 200
        assert (row in page.text) is sees, query

    expected = 200 if sees else 404
    for path in (f"/cases/{case_id}", f"/tasks/{sales_case.qc_task}", f"/cases/{case_id}/records",
                 f"/cases/{case_id}/records/{sales_case.record_seq}"):
        page = client.get(path)
        assert page.status_code == expected, path
        assert ("Housing cracks after two weeks" in page.text) is sees, path  # the record's data
    assert client.get(f"/cases/{case_id + 1000}").status_code == 404


@pytest.mark.parametrize("user", USERS)
def test_the_customer_card_shows_personal_data_and_cases_by_role(
    app: Flask, ctx: EngineContext, sales_case: SalesCase, user: str
) -> None:
    personal = user in PERSONAL_DATA_READERS
    page = login(app, user).get(f"/customers/{CUSTOMER}")
    assert page.status_code == 200
    assert "Acme Motors Co., Ltd." in page.text and "PX-200 pump housing" in page.text  # for everyone
    for text in (PHONE, "li.wei@acme.example", ADDRESS, "Change history"):
        assert (text in page.text) is personal, text
    assert ("data-personal-data-withheld" in page.text) is not personal
    assert (f'href="/cases/{sales_case.id}"' in page.text) is (user in READERS)

    who = actor(ctx, user)
    card = customers.customer_card(ctx, who, CUSTOMER)  # what the API's customer reads are built on
    assert ([c.id for c in card.cases] == [sales_case.id]) is (user in READERS)
    assert card.customer.personal_data is personal
    assert (PHONE in str(card.customer.contacts)) is personal
    listed = {c.code: c for c in customers.list_customers(ctx, who)}
    assert (PHONE in str(listed[CUSTOMER].contacts)) is personal
    assert (listed[CUSTOMER].address == ADDRESS) is personal
    assert listed[CUSTOMER].open_cases == (1 if user in READERS else 0)


def test_a_department_reads_a_case_once_a_task_reaches_it_and_keeps_reading_it(api: ApiClient) -> None:
    walk = Walk(api)
    case_id = walk.case["id"]

    def reads(user: str) -> bool:
        status = api.get(f"/cases/{case_id}", as_=user).status_code
        listed = case_id in _listed(api.get("/cases", as_=user).json)
        assert listed is (status == 200), (user, status)
        return status == 200

    assert not reads("qc1") and not reads("tech1") and reads("sales2")
    walk.do("Record customer feedback", "sales1", "sales", {**FEEDBACK, "category": "quality"})
    assert reads("qc1") and not reads("tech1")
    walk.capa("qc", "qc1")  # QC's tasks are done; the case is with Sales again
    assert {t["department"] for t in walk.case["open_tasks"]} == {"sales"}
    assert reads("qc1")
    case = walk.do("Close feedback record", "sales1", "sales", CLOSED)
    assert case["status"] == "completed"
    assert reads("qc1") and not reads("tech1") and not reads("prod1")


def test_the_person_who_started_a_case_reads_it_though_no_department_of_theirs_has_a_task(
    api: ApiClient,
) -> None:
    """tech1 starts a sample trial (the Technical Section may), whose first task is for Sales:
    the Technical Section has no task in it yet, so tech1 reads it as the person who acted, and
    prod1 (who did not) does not."""
    case = api.post("/cases", {"process": "sample_trial"}, as_="tech1").json
    assert {t["department"] for t in case["open_tasks"]} == {"sales"}
    assert api.get(f"/cases/{case['id']}", as_="tech1").status_code == 200
    assert case["id"] in _listed(api.get("/cases", as_="tech1").json)
    assert api.get(f"/cases/{case['id']}", as_="prod1").status_code == 404
    assert api.get(f"/cases/{case['id']}", as_="sales2").status_code == 200


@pytest.mark.parametrize("user", USERS)
def test_both_forms_of_the_case_list_condition_select_the_same_cases(
    ctx: EngineContext, sales_case: SalesCase, user: str
) -> None:
    """The case list reads a page through the party index for readers of few cases and walks the
    list for readers of many (visibility.FEW_CASES): either way, the same cases in the same order."""
    cases.start_case(ctx, actor(ctx, "tech1"), "sample_trial", {})  # first task: Sales's
    cases.start_case(ctx, actor(ctx, "qc1"), "capa", {})  # first task: Sales's
    who = actor(ctx, user)
    ordered = select(Case.id).order_by(Case.created_at.desc(), Case.id.desc())
    with ctx.unit_of_work(readonly=True) as uow:
        few = list(uow.session.scalars(visibility.restrict(ordered, who)))
        many = list(uow.session.scalars(visibility.restrict(ordered, who, readable=visibility.FEW_CASES + 1)))
    assert few == many
    assert (sales_case.id in few) is (user in READERS)
    assert len(few) == (3 if user in READERS - {"qc1"} else {"qc1": 2, "tech1": 1}.get(user, 0))
