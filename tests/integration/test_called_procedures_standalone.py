"""The procedures the seed calls (CAPA, customer complaint handling) started on their own through
the JSON API on SQLite and PostgreSQL: with nothing passed in they first ask Sales to describe the
problem or register the complaint, then run as they do when called (PROCEDURE 5.5.1, 5.5.1.1, 5.5.2)."""

from __future__ import annotations

import pytest

from tests.integration.test_after_sales_paths import ANALYSIS, CONTAIN, DOCUMENTS, TRACKING, VERIFIED
from tests.integration.walks import Case, bracketed, completed_by

PROBLEM = {"problem": {"summary": "Housing cracks", "customer": "C001", "product_model": "PX-200",
                       "description": "Cracks near the inlet after two weeks"}}
COMPLAINT = {"complaint_ref": "CC-2026-40", "registered_on": "2026-11-21", "complaint": {
    "customer": "C003", "summary": "Wrong labels", "description": "KT-50 labelled as KT-60",
    "product_model": "KT-50", "returned_goods": True, "quantity": 40}}
INVESTIGATED = {"investigated_on": "2026-11-22", "findings": "Labels swapped at packing", "disposition": "rework",
                "capa_needed": False}
ACCEPTED = {"reply": "Relabelled and returned", "replied_on": "2026-11-25", "customer_accepted": True}
REFUSED = {"reply": "Relabelled", "replied_on": "2026-11-25", "customer_accepted": False,
           "customer_response": "Wants new parts"}
CAPA_OWN = ("problem", "responsible_department", "containment", "root_cause", "effective", "capa_result")


def started_alone(api, process: str, first: str) -> Case:  # type: ignore[no-untyped-def]
    case = Case(api, process)
    assert case.titles() == [first]
    assert case.case["open_tasks"][0]["department"] == "sales"
    assert case.prefill(first) == {}
    return case


@pytest.mark.clause("5.5.1", "5.5.1.1")
def test_capa_on_its_own_goes_through_documents_partial_tracking_and_a_second_analysis(api):
    case = started_alone(api, "capa", "Describe the problem")
    case.step("Describe the problem", "sales", {**PROBLEM, "responsible_department": "production"})
    case.step("Contain the problem", "production", CONTAIN)
    case.step("Analyse root cause and propose actions", "production", {**ANALYSIS, "needs_document_update": True})
    case.step("Update DFMEA, PFMEA, control plan and work instructions", "tech", DOCUMENTS)
    case.step("Track implementation of actions", "sales", {**TRACKING, "implementation_status": "partially_done"})
    case.step("Track implementation of actions", "sales", TRACKING, user="sales2")
    case.step("Verify effectiveness", "sales", {**VERIFIED, "effective": False})
    second = {**ANALYSIS, "analysis_method": "fishbone", "root_cause": "Resin lot contaminated",
              "preventive_actions": [{"action": "Incoming resin check", "owner_department": "qc",
                                      "due_date": "2026-12-12"}]}
    case.step("Analyse root cause and propose actions", "production", second)
    case.step("Track implementation of actions", "sales", TRACKING)
    case.step("Verify effectiveness", "sales", VERIFIED)
    data = case.ended("CAPA closed")
    result = data["capa_result"]
    assert (result["responsible_department"], result["root_cause"], result["analysis_method"]) == (
        "production", "Resin lot contaminated", "fishbone")
    assert (result["documents_updated"], result["effective"], result["containment"]) == (
        True, True, CONTAIN["containment"])
    assert result["preventive_actions"] == second["preventive_actions"]
    assert (data["capa_rounds"], data["problem"]) == (2, PROBLEM["problem"])
    events = case.events()
    responsible = [("Task_Contain", "production"), ("Task_AnalyseRootCause", "production")]
    track, verify = ("Task_TrackImplementation", "sales"), ("Task_VerifyEffectiveness", "sales")
    assert case.routed() == [
        ("Task_DescribeCapaProblem", "sales"), *responsible, ("Task_UpdateDocuments", "tech"), track, track, verify,
        ("Task_AnalyseRootCause", "production"), track, verify]
    assert ("Task_UpdateDocuments", "tech1") in completed_by(events)
    bracketed(events, "CAPA closed")


@pytest.mark.clause("5.5.1")
def test_capa_on_its_own_for_administration_closes_after_one_round(api):
    case = started_alone(api, "capa", "Describe the problem")
    case.step("Describe the problem", "sales", {"problem": {"summary": "Visitors not picked up",
                                                            "description": "No car at the airport"},
                                                "responsible_department": "admin"})
    case.step("Contain the problem", "admin", CONTAIN)
    case.step("Analyse root cause and propose actions", "admin", ANALYSIS)
    case.step("Track implementation of actions", "sales", TRACKING)
    case.step("Verify effectiveness", "sales", VERIFIED)
    data = case.ended("CAPA closed")
    assert (data["capa_rounds"], data["capa_result"]["documents_updated"], data["lane_owners"]) == (
        1, False, {"responsible": "admin"})
    assert [d for _, d in case.routed()] == ["sales", "admin", "admin", "sales", "sales"]


@pytest.mark.clause("5.5.2")
def test_a_complaint_on_its_own_is_registered_investigated_and_replied_to(api):
    case = started_alone(api, "complaint_handling", "Register complaint")
    case.step("Register complaint", "sales", COMPLAINT)
    case.step("Investigate complaint", "qc", INVESTIGATED)
    case.step("Reply to the customer", "sales", ACCEPTED)
    data = case.ended("Complaint closed")
    assert data["complaint_outcome"] == {"complaint_ref": "CC-2026-40", "disposition": "rework",
                                         "reply": "Relabelled and returned", "replied_on": "2026-11-25",
                                         "capa_needed": False, "customer_accepted": True}
    assert data["capa"] is None
    assert case.routed() == [("Task_RegisterComplaint", "sales"), ("Task_Investigate", "qc"),
                             ("Task_ReplyToCustomer", "sales")]
    bracketed(case.events(), "Complaint closed")


@pytest.mark.clause("5.5.2", "5.5.1")
def test_a_reply_the_customer_refuses_is_investigated_again_and_capa_runs_inside(api):
    case = started_alone(api, "complaint_handling", "Register complaint")
    case.step("Register complaint", "sales", COMPLAINT)
    case.step("Investigate complaint", "qc", INVESTIGATED)
    case.step("Reply to the customer", "sales", REFUSED)
    assert case.prefill("Investigate complaint") == INVESTIGATED
    case.step("Investigate complaint", "qc", {**INVESTIGATED, "disposition": "replace", "capa_needed": True,
                                              "responsible_department": "production"})
    assert case.titles() == ["Contain the problem"]  # the problem went in: no "Describe the problem"
    case.capa("production", "prod1")
    case.step("Reply to the customer", "sales", ACCEPTED)
    data = case.ended("Complaint closed")
    assert (data["complaint_outcome"]["disposition"], data["complaint_outcome"]["capa_needed"]) == ("replace", True)
    assert (data["capa"]["responsible_department"], data["capa"]["root_cause"], data["capa_rounds"]) == (
        "production", ANALYSIS["root_cause"], 1)
    # capa takes problem and responsible_department and gives back only capa_result and capa_rounds
    assert data["problem"]["description"].endswith("Investigation: Labels swapped at packing")
    assert not {"containment", "root_cause", "effective", "capa_result", "lane_owners"} & set(data)
    assert case.routed() == [
        ("Task_RegisterComplaint", "sales"), ("Task_Investigate", "qc"), ("Task_ReplyToCustomer", "sales"),
        ("Task_Investigate", "qc"), ("Task_Contain", "production"), ("Task_AnalyseRootCause", "production"),
        ("Task_TrackImplementation", "sales"), ("Task_VerifyEffectiveness", "sales"),
        ("Task_ReplyToCustomer", "sales")]
    bracketed(case.events(), "Complaint closed")


@pytest.mark.clause("5.2", "5.5.2", "5.5.1")
@pytest.mark.parametrize(("process", "first", "data", "next_department"), [
    ("complaint_handling", "Register complaint",
     {**COMPLAINT, "complaint": {**COMPLAINT["complaint"], "customer": "C001"}}, "qc"),
    ("capa", "Describe the problem", {**PROBLEM, "responsible_department": "qc"}, "qc"),
], ids=["complaint", "capa"])
def test_a_procedure_started_on_its_own_for_a_priority_customer_is_linked_and_prioritised(
        api, process, first, data, next_department):
    case = started_alone(api, process, first)
    case.step(first, "sales", data)
    assert case.case["open_tasks"][0]["department"] == next_department
    assert case.case["customer"] == "Acme Motors Co., Ltd."
    assert [t["priority"] for t in case.case["open_tasks"]] == [1]
