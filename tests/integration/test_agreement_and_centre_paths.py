"""After-sales service agreements (PROCEDURE 5.6) and remote service centres (5.6.1) walked through
the JSON API on SQLite and PostgreSQL: an approved agreement is added to the Customer Data Card by
the diagram's service task, fulfilled by the responsible department and verified by Sales; a
centre's record is reviewed at the factory and handled there as after-sales feedback."""

from __future__ import annotations

import pytest

from engine.services.customers import customer_card
from tests.factories import actor
from tests.integration.test_after_sales_paths import CLOSED
from tests.integration.walks import (
    USERS,
    Case,
    bracketed,
    completed_by,
    demo_cards,  # noqa: F401 - fixture, used through pytestmark
)

pytestmark = pytest.mark.usefixtures("demo_cards")

AGREEMENT = {"customer": "C001", "title": "PX-200 service 2027", "scope": "On-site repair within 24 h",
             "service_levels": "Response 4 h, repair 24 h", "valid_from": "2027-01-01", "valid_until": "2027-12-31"}
FIRST_HALF = {"period_from": "2027-01-01", "period_to": "2027-06-30", "services_delivered": "Four repairs",
              "issues": "One repair took 40 h"}
SECOND_HALF = {"period_from": "2027-07-01", "period_to": "2027-12-31", "services_delivered": "Three repairs"}
NOT_EFFECTIVE = {"effective": False, "verified_on": "2027-07-05", "evidence": "Repair times logged",
                 "follow_up_note": "Keep spare pumps in Ningbo"}
EFFECTIVE = {"effective": True, "verified_on": "2028-01-05", "evidence": "All repairs within 24 h"}
CENTRE_RECORD = {"service_centre": "East China centre, Ningbo", "centre_record_ref": "EC-118", "customer": "C001",
                 "contact": "Li Wei", "received_on": "2026-11-20", "channel": "service_centre",
                 "product_model": "PX-200", "category": "quality", "description": "Housing cracks after two weeks"}
FORWARDED = ("customer", "contact", "received_on", "channel", "product_model", "category", "description")
RECORD = ("Task_RecordAgreement", "sales")
APPROVE = ("Task_ApproveAgreement", "management")
AT_CENTRE, REVIEW = ("Task_RecordAtCentre", "service_centre"), ("Task_ReviewRecord", "sales")


def agreement(api, responsible: str, decision: dict) -> Case:  # type: ignore[no-untyped-def]
    case = Case(api, "service_agreement")
    case.step("Record service agreement", "sales", {**AGREEMENT, "responsible_department": responsible})
    case.step("Approve service agreement", "management", decision)
    return case


@pytest.mark.clause("5.6")
@pytest.mark.parametrize("responsible", ["tech", "service_centre"])
def test_an_approved_agreement_goes_on_the_card_and_is_fulfilled_and_verified(api, ctx, responsible):
    before = customer_card(ctx, actor(ctx, "auditor1"), "C001").customer.agreements
    case = agreement(api, responsible, {"decision": "approve"})
    added = {"title": AGREEMENT["title"], "scope": AGREEMENT["scope"], "valid_until": "2027-12-31"}
    card = customer_card(ctx, actor(ctx, "auditor1"), "C001")
    assert card.customer.agreements == [*before, added]
    assert [(c.actor, c.case_id, c.before, c.after) for c in card.changes] == [
        ("gm1", case.id, {"agreements": before}, {"agreements": [*before, added]})]
    assert case.case["customer"] == "Acme Motors Co., Ltd."
    case.step("Record agreement fulfilment", responsible, FIRST_HALF)
    case.step("Verify agreement effectiveness", "sales", EFFECTIVE)
    data = case.ended("Agreement fulfilled and verified")
    assert (data["lane_owners"], data["effective"]) == ({"responsible": responsible}, True)
    assert customer_card(ctx, actor(ctx, "auditor1"), "C001").customer.agreements == [*before, added]  # added once
    events = case.events()
    assert case.routed() == [RECORD, APPROVE, ("Task_RecordFulfilment", responsible), ("Task_VerifyAgreement", "sales")]
    assert ("Task_RecordFulfilment", USERS[responsible]) in completed_by(events)
    assert [e["data"]["params"] for e in events if e["type"] == "effect_applied"] == [
        {"customer": "C001", "changes": {"add_agreements": [added]}}]
    bracketed(events, "Agreement fulfilled and verified")


@pytest.mark.clause("5.6")
def test_an_agreement_management_rejects_ends_and_leaves_the_card_alone(api, ctx):
    case = agreement(api, "tech", {"decision": "reject", "comments": "Service levels too costly"})
    data = case.ended("Agreement not approved")
    assert (data["decision"], data["comments"]) == ("reject", "Service levels too costly")
    assert customer_card(ctx, actor(ctx, "auditor1"), "C001").changes == []
    events = case.events()
    assert case.routed() == [RECORD, APPROVE]
    assert not [e for e in events if e["type"] == "effect_applied"]
    bracketed(events, "Agreement not approved")


@pytest.mark.clause("5.6")
def test_a_fulfilment_verified_not_effective_goes_back_to_the_responsible_department(api):
    case = agreement(api, "service_centre", {"decision": "approve"})
    case.step("Record agreement fulfilment", "service_centre", FIRST_HALF)
    case.step("Verify agreement effectiveness", "sales", NOT_EFFECTIVE)
    assert case.prefill("Record agreement fulfilment") == FIRST_HALF
    case.step("Record agreement fulfilment", "service_centre", SECOND_HALF)
    case.step("Verify agreement effectiveness", "sales", EFFECTIVE, user="sales2")
    data = case.ended("Agreement fulfilled and verified")
    assert (data["services_delivered"], data["verified_on"]) == ("Three repairs", "2028-01-05")
    fulfil, verify = ("Task_RecordFulfilment", "service_centre"), ("Task_VerifyAgreement", "sales")
    assert case.routed() == [RECORD, APPROVE, fulfil, verify, fulfil, verify]
    assert [a for e, a in completed_by(case.events()) if e == "Task_RecordFulfilment"] == ["centre1", "centre1"]


def forwarded(api, record: dict) -> Case:  # type: ignore[no-untyped-def]
    """A centre record that Sales first sends back for more information, then accepts."""
    case = Case(api, "service_centre_feedback", as_="centre1")
    case.step("Record feedback at the service centre", "service_centre", {**record, "description": "Cracks"})
    case.step("Review forwarded feedback", "sales",
              {"review_decision": "more_info", "reviewed_on": "2026-11-21", "review_questions": "Which lot? How long?"})
    assert case.prefill("Record feedback at the service centre")["description"] == "Cracks"
    case.step("Record feedback at the service centre", "service_centre", {**record, "batch_lot": "2611"})
    case.step("Review forwarded feedback", "sales", {"review_decision": "accept", "reviewed_on": "2026-11-22"})
    assert case.titles() == ["Record customer feedback"]
    prefill = case.prefill("Record customer feedback")
    assert prefill == {**{k: record[k] for k in FORWARDED}, "batch_lot": "2611"}
    case.step("Record customer feedback", "sales", prefill)
    return case


@pytest.mark.clause("5.6.1", "5.5.1")
def test_a_centre_record_is_completed_on_request_then_handled_at_the_factory_with_capa(api):
    case = forwarded(api, CENTRE_RECORD)
    case.capa("qc", "qc1")
    case.step("Close feedback record", "sales", CLOSED)
    data = case.ended("Handled at the factory")
    # after_sales_feedback takes all the case data and gives all of it back, CAPA record included
    assert (data["service_centre"], data["review_decision"], data["batch_lot"]) == (
        CENTRE_RECORD["service_centre"], "accept", "2611")
    assert (data["responsible_department"], data["capa"]["root_cause"], data["capa_rounds"]) == (
        "qc", "Mould temperature too low", 1)
    assert data["problem"]["batch_lot"] == "2611" and data["closed_on"] == CLOSED["closed_on"]
    assert case.case["customer"] == "Acme Motors Co., Ltd."
    events = case.events()
    assert case.routed() == [AT_CENTRE, REVIEW, AT_CENTRE, REVIEW, ("Task_RecordFeedback", "sales"),
                             ("Task_Contain", "qc"), ("Task_AnalyseRootCause", "qc"),
                             ("Task_TrackImplementation", "sales"), ("Task_VerifyEffectiveness", "sales"),
                             ("Task_CloseRecord", "sales")]
    assert [a for e, a in completed_by(events) if e == "Task_RecordAtCentre"] == ["centre1", "centre1"]
    bracketed(events, "Handled at the factory")


@pytest.mark.clause("5.6.1", "5.5.3")
def test_a_centre_repair_request_gets_an_approved_liaison_form_and_on_site_service(api):
    case = forwarded(api, {**CENTRE_RECORD, "category": "repair", "description": "Pump bearing noisy"})
    liaison = case.prefill("Write Liaison Form")
    assert (liaison["subject"], liaison["service_type"], liaison["purpose"]) == (
        "Repair of PX-200 for C001", "repair", "Pump bearing noisy")
    written = {**{k: v for k, v in liaison.items() if v is not None}, "planned_date": "2026-12-01",
               "participants": ["tech", "sales"]}
    case.step("Write Liaison Form", "sales", written)
    case.step("Approve Liaison Form", "management", {"decision": "approve"})
    case.step("Perform on-site service and record result", "tech", {
        "service_date": "2026-12-01", "performed_by": "tech1", "work_done": "Bearing replaced",
        "result": "resolved", "customer_signoff": True})
    case.step("File service record", "sales", {"filed_on": "2026-12-02", "record_ref": "CSF-2026-130"})
    data = case.ended("Handled at the factory")
    assert (data["liaison_decision"], data["liaison"]["subject"], data["record_ref"]) == (
        "approved", "Repair of PX-200 for C001", "CSF-2026-130")
    assert not {"decision", "kind"} & set(data)  # liaison_approval gives back only what it declares
    assert [d for _, d in case.routed()][4:] == ["sales", "sales", "management", "tech", "sales"]


@pytest.mark.clause("5.6.1", "5.5.2")
def test_a_centre_complaint_runs_the_complaint_procedure_at_the_factory(api):
    case = forwarded(api, {**CENTRE_RECORD, "category": "complaint", "description": "Wrong labels on lot 2611"})
    registration = case.prefill("Register complaint")["complaint"]
    assert (registration["customer"], registration["batch_lot"]) == ("C001", "2611")
    case.step("Register complaint", "sales",
              {"complaint_ref": "CC-31", "registered_on": "2026-11-23", "complaint": registration})
    case.step("Investigate complaint", "qc", {"investigated_on": "2026-11-24", "findings": "Labels swapped",
                                              "disposition": "rework", "capa_needed": False})
    case.step("Reply to the customer", "sales",
              {"reply": "Relabelled", "replied_on": "2026-11-26", "customer_accepted": True})
    data = case.ended("Handled at the factory")
    assert data["complaint_outcome"]["complaint_ref"] == "CC-31" and data["capa"] is None
    assert [d for _, d in case.routed()][4:] == ["sales", "sales", "qc", "sales"]
