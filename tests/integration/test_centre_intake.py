"""A service centre's own system forwards its Customer Service Feedback Record to the factory as a
message (PROCEDURE 5.6.1), on SQLite and PostgreSQL: the message starts a case at Sales' review,
the payload is checked against the record's form as a person's submission is, and a centre that
works in ServiceFlow itself still records by hand in the same process."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.definitions.catalog import ProcessBundle
from engine.persistence.models import Case as CaseRow
from engine.persistence.models import UnmatchedMessage
from engine.services.processes import publish_bundle
from tests.integration.test_after_sales_paths import CLOSED
from tests.integration.test_agreement_and_centre_paths import CENTRE_RECORD, FORWARDED, REVIEW
from tests.integration.walks import Case, bracketed, completed_by
from tests.web.test_pages import login

INTAKE = "service_centre_feedback"
REVIEW_TITLE, RECORD_TITLE = "Review forwarded feedback", "Record feedback at the service centre"
DIAGRAMS = Path(__file__).resolve().parents[1] / "data" / "messages"


def counts(ctx) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(cases, unmatched messages) stored."""
    with ctx.unit_of_work(readonly=True) as uow:
        return (uow.session.scalar(select(func.count()).select_from(CaseRow)) or 0,
                uow.session.scalar(select(func.count()).select_from(UnmatchedMessage)) or 0)


@pytest.mark.clause("5.6.1")
def test_a_record_forwarded_by_the_centres_system_starts_a_case_at_sales_review(api):
    case = Case.by_message(api, INTAKE, CENTRE_RECORD)
    assert case.case["process_id"] == "service_centre_feedback"
    assert [(t["title"], t["department"]) for t in case.case["open_tasks"]] == [(REVIEW_TITLE, "sales")]
    assert {k: case.data[k] for k in CENTRE_RECORD} == CENTRE_RECORD
    events = case.events()
    assert [e["type"] for e in events][:2] == ["case_started", "message_received"]
    assert (events[1]["element_id"], events[1]["actor"], events[1]["data"]["payload"]) == (
        "StartEvent_RecordForwarded", "centre1", CENTRE_RECORD)

    case.step(REVIEW_TITLE, "sales", {"review_decision": "accept", "reviewed_on": "2026-11-21"})
    prefill = case.prefill("Record customer feedback")
    assert prefill == {k: CENTRE_RECORD[k] for k in FORWARDED}
    case.step("Record customer feedback", "sales", prefill)
    case.capa("qc", "qc1")
    case.step("Close feedback record", "sales", CLOSED)
    data = case.ended("Handled at the factory")
    assert (data["centre_record_ref"], data["capa"]["root_cause"]) == ("EC-118", "Mould temperature too low")
    assert case.routed()[0] == REVIEW  # the centre recorded it in its own system, not here
    bracketed(case.events(), "Handled at the factory")


@pytest.mark.clause("5.6.1")
def test_sales_can_ask_the_centre_to_complete_a_forwarded_record_in_serviceflow(api):
    case = Case.by_message(api, INTAKE, CENTRE_RECORD)
    case.step(REVIEW_TITLE, "sales",
              {"review_decision": "more_info", "reviewed_on": "2026-11-21", "review_questions": "Which lot?"})
    assert [(t["title"], t["department"]) for t in case.case["open_tasks"]] == [(RECORD_TITLE, "service_centre")]
    assert case.prefill(RECORD_TITLE) == CENTRE_RECORD
    case.step(RECORD_TITLE, "service_centre", {**CENTRE_RECORD, "batch_lot": "2611"})
    assert case.titles() == [REVIEW_TITLE]
    assert [a for e, a in completed_by(case.events()) if e == "Task_RecordAtCentre"] == ["centre1"]


@pytest.mark.clause("5.6.1")
def test_a_forwarded_record_that_is_incomplete_is_refused_with_its_errors_and_starts_nothing(api, ctx):
    before = counts(ctx)
    incomplete = {k: v for k, v in CENTRE_RECORD.items() if k != "description"}
    response = api.post(f"/messages/{INTAKE}", {"payload": {**incomplete, "surprise": 1}}, as_="centre1")
    assert response.status_code == 422, response.json
    assert response.json["error"] == "The message payload has errors"
    assert set(response.json["details"]) == {"description", ""}
    assert "surprise" in response.json["details"][""][0]
    response = api.post(f"/messages/{INTAKE}", {"payload": {**CENTRE_RECORD, "customer": "C999"}}, as_="centre1")
    assert (response.status_code, set(response.json["details"])) == (422, {"customer"})
    assert counts(ctx) == before


def test_the_centre_still_records_by_hand_in_the_same_process(api):
    case = Case(api, INTAKE, as_="centre1")
    assert [(t["title"], t["department"]) for t in case.case["open_tasks"]] == [(RECORD_TITLE, "service_centre")]
    events = case.events()
    assert "message_received" not in [e["type"] for e in events]


def test_processes_say_how_their_cases_begin(api):
    listed = {p["id"]: p for p in api.get("/processes", as_="sales1").json}
    assert (listed[INTAKE]["starts_by_hand"], listed[INTAKE]["start_messages"]) == (True, [INTAKE])
    assert (listed["capa"]["starts_by_hand"], listed["capa"]["start_messages"]) == (True, [])


def test_a_process_that_begins_only_with_a_message_is_not_started_by_hand(api, ctx):
    bpmn = (DIAGRAMS / "message_intake.bpmn").read_text()
    publish_bundle(ctx, ProcessBundle("message_intake", "Message intake", {"workflows/message_intake.bpmn": bpmn}))
    listed = {p["id"]: p for p in api.get("/processes", as_="sales1").json}
    assert (listed["message_intake"]["starts_by_hand"], listed["message_intake"]["start_messages"]) == (
        False, ["intake_received"])
    before = counts(ctx)
    response = api.post("/cases", {"process": "message_intake", "data": {}}, as_="sales1")
    assert response.status_code == 422, response.json
    assert "intake_received" in response.json["error"]
    assert counts(ctx) == before


def test_the_start_page_offers_a_start_button_only_where_a_person_can_start(app, ctx):
    bpmn = (DIAGRAMS / "message_intake.bpmn").read_text()
    publish_bundle(ctx, ProcessBundle("message_intake", "Message intake", {"workflows/message_intake.bpmn": bpmn}))
    client = login(app, "centre1")  # the service centre starts its feedback by hand too
    page = client.get("/start").get_data(as_text=True)
    assert 'action="/start/service_centre_feedback"' in page and 'action="/start/message_intake"' not in page
    assert "Begins when another system sends the message" in page and "<code>intake_received</code>" in page
    assert "Also begins when another system sends the message" in page


@pytest.mark.clause("5.6.1")
def test_a_forwarded_record_sent_again_starts_no_second_case(api, ctx):
    body = {"payload": CENTRE_RECORD, "correlation": {"centre_record_ref": "EC-118"}}
    first = api.post(f"/messages/{INTAKE}", body, as_="centre1")
    assert first.status_code == 201, first.json
    before = counts(ctx)
    again = api.post(f"/messages/{INTAKE}", body, as_="centre1")
    assert (again.status_code, again.json["id"]) == (200, first.json["id"])
    assert counts(ctx) == before
    changed = api.post(f"/messages/{INTAKE}", {**body, "payload": {**CENTRE_RECORD, "description": "Other"}},
                       as_="centre1")
    assert (changed.status_code, changed.json["details"]) == (409, {"case_id": first.json["id"]})
    other = api.post(f"/messages/{INTAKE}", {**body, "correlation": {"centre_record_ref": "EC-119"}}, as_="centre1")
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    assert counts(ctx) == (before[0] + 1, before[1])
