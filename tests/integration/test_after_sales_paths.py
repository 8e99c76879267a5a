"""Every path of the after-sales feedback procedure (PROCEDURE 5.5) walked to its end through
the JSON API, each task completed by a user of the department it is routed to, on SQLite and
on PostgreSQL: root cause and CAPA (5.5.1, 5.5.1.1), complaints and returns (5.5.2), on-site
service under an approved Liaison Form (5.5.3)."""

from __future__ import annotations

import pytest

FEEDBACK = {
    "customer": "C001", "contact": "Li Wei", "received_on": "2026-11-20", "channel": "phone",
    "product_model": "PX-200", "description": "Housing cracks after two weeks",
}
CONTAIN = {"containment": "Quarantine lot 2611", "affected_scope": "Lot 2611, 400 pcs", "contained_on": "2026-11-21"}
ANALYSIS = {
    "analysis_method": "5why", "root_cause": "Mould temperature too low",
    "corrective_actions": [{"action": "Raise mould temperature", "owner_department": "production",
                            "due_date": "2026-12-01"}],
    "needs_document_update": False,
}
DOCUMENTS = {"dfmea_updated": True, "pfmea_updated": True, "control_plan_updated": False,
             "work_instructions_updated": True, "document_refs": "PFMEA-12 rev C"}
TRACKING = {"implementation_status": "done", "implemented_on": "2026-12-02"}
VERIFIED = {"effective": True, "verified_on": "2026-12-10", "verification_evidence": "No cracks in 3 lots"}
CLOSED = {"closed_on": "2026-12-11", "customer_informed": True}
LIAISON = {"kind": "on_site_service", "subject": "Repair PX-200 at Acme", "customer": "C001",
           "purpose": "Replace a worn bearing", "service_type": "repair", "planned_date": "2026-12-03",
           "participants": ["tech", "sales"]}
ONSITE = {"service_date": "2026-12-03", "performed_by": "tech1", "work_done": "Bearing replaced",
          "result": "resolved", "customer_signoff": True}
FILING = {"filed_on": "2026-12-04", "record_ref": "CSF-2026-118"}


class Walk:
    """A case driven through the API, asserting each open task's department before completing it."""

    def __init__(self, api, process: str = "after_sales_feedback") -> None:  # type: ignore[no-untyped-def]
        self.api = api
        response = api.post("/cases", {"process": process, "data": {}}, as_="sales1")
        assert response.status_code == 201, response.json
        self.case = response.json

    def do(self, title: str, user: str, department: str, data: dict) -> dict:
        matching = [t for t in self.case["open_tasks"] if t["title"] == title]
        assert len(matching) == 1, [t["title"] for t in self.case["open_tasks"]]
        task = matching[0]
        assert task["department"] == department, (title, task["department"])
        response = self.api.post(f"/tasks/{task['id']}/complete", {"data": data}, as_=user)
        assert response.status_code == 200, response.json
        self.case = response.json
        return self.case

    def capa(self, department: str, user: str, analysis: dict | None = None, verified: dict | None = None) -> dict:
        self.do("Contain the problem", user, department, CONTAIN)
        self.do("Analyse root cause and propose actions", user, department, analysis or ANALYSIS)
        if (analysis or ANALYSIS)["needs_document_update"]:
            self.do("Update DFMEA, PFMEA, control plan and work instructions", "tech1", "tech", DOCUMENTS)
        self.do("Track implementation of actions", "sales2", "sales", TRACKING)
        return self.do("Verify effectiveness", "sales1", "sales", verified or VERIFIED)

    def events(self) -> list[dict]:
        body = self.api.get(f"/cases/{self.case['id']}/events", as_="auditor1").json
        assert body["chain_intact"] is True
        return body["events"]


def completed_by(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["element_id"], e["actor"]) for e in events if e["type"] == "task_completed"]


@pytest.mark.clause("5.5.1")
def test_a_quality_problem_is_routed_by_the_table_contained_analysed_verified_and_closed(api):
    walk = Walk(api)
    walk.do("Record customer feedback", "sales1", "sales", {**FEEDBACK, "category": "quality"})
    walk.capa("qc", "qc1")
    case = walk.do("Close feedback record", "sales1", "sales", CLOSED)
    assert (case["status"], case["outcome"], case["open_tasks"]) == ("completed", "Closed", [])
    assert case["customer"] == "Acme Motors Co., Ltd."
    assert case["data"]["responsible_department"] == "qc"
    assert case["data"]["capa"]["root_cause"] == "Mould temperature too low"
    assert case["data"]["capa"]["effective"] is True
    events = walk.events()
    assert completed_by(events)[:3] == [
        ("Task_RecordFeedback", "sales1"), ("Task_Contain", "qc1"), ("Task_AnalyseRootCause", "qc1"),
    ]
    ready = [e["data"]["department"] for e in events if e["type"] == "task_ready"]
    assert ready == ["sales", "qc", "qc", "sales", "sales", "sales"]
    assert events[0]["type"] == "case_started" and events[-1]["type"] == "case_completed"


@pytest.mark.clause("5.5.1", "5.5.1.1")
def test_documents_are_updated_by_tech_and_ineffective_actions_go_back_to_root_cause(api):
    walk = Walk(api)
    walk.do("Record customer feedback", "sales1", "sales",
            {**FEEDBACK, "category": "quality", "responsible_department": "production"})
    walk.capa("production", "prod1", analysis={**ANALYSIS, "needs_document_update": True},
              verified={**VERIFIED, "effective": False})
    walk.do("Analyse root cause and propose actions", "prod1", "production",
            {**ANALYSIS, "root_cause": "Resin lot contaminated"})
    walk.do("Track implementation of actions", "sales1", "sales", TRACKING)
    walk.do("Verify effectiveness", "sales1", "sales", VERIFIED)
    case = walk.do("Close feedback record", "sales2", "sales", CLOSED)
    assert (case["status"], case["outcome"]) == ("completed", "Closed")
    assert case["data"]["capa"]["root_cause"] == "Resin lot contaminated"
    assert case["data"]["capa_rounds"] == 2
    completions = completed_by(walk.events())
    assert [e for e, _ in completions].count("Task_AnalyseRootCause") == 2
    assert ("Task_UpdateDocuments", "tech1") in completions


@pytest.mark.clause("5.5.3")
@pytest.mark.parametrize("category", ["repair", "part_replacement", "adjustment", "calibration", "cleaning"])
def test_on_site_service_needs_an_approved_liaison_form(api, category):
    walk = Walk(api)
    walk.do("Record customer feedback", "sales1", "sales", {**FEEDBACK, "category": category})
    walk.do("Write Liaison Form", "sales1", "sales", {**LIAISON, "service_type": category})
    walk.do("Approve Liaison Form", "gm1", "management", {"decision": "approve", "comments": "Go"})
    walk.do("Perform on-site service and record result", "tech1", "tech", ONSITE)
    case = walk.do("File service record", "sales2", "sales", FILING)
    assert (case["status"], case["outcome"]) == ("completed", "Service completed")
    assert case["data"]["liaison_decision"] == "approved"
    assert case["data"]["liaison"]["service_type"] == category
    assert case["data"]["record_ref"] == "CSF-2026-118"


@pytest.mark.clause("5.5.3", "5.3")
def test_a_liaison_form_returned_for_revision_then_rejected_ends_rejected(api):
    walk = Walk(api)
    walk.do("Record customer feedback", "sales1", "sales",
            {**FEEDBACK, "category": "cleaning", "responsible_department": "production"})
    walk.do("Write Liaison Form", "sales1", "sales", LIAISON)
    walk.do("Approve Liaison Form", "gm1", "management", {"decision": "revise", "comments": "Cost?"})
    revised = walk.case["open_tasks"][0]
    assert revised["title"] == "Write Liaison Form"
    task = api.get(f"/tasks/{revised['id']}", as_="sales1").json
    assert task["prefill"]["subject"] == LIAISON["subject"]
    walk.do("Write Liaison Form", "sales1", "sales", {**LIAISON, "estimated_cost": 1200})
    case = walk.do("Approve Liaison Form", "gm1", "management", {"decision": "reject", "comments": "Too costly"})
    assert (case["status"], case["outcome"]) == ("completed", "Liaison Form rejected")
    assert case["data"]["liaison_decision"] == "rejected"
    assert [e for e, _ in completed_by(walk.events())].count("Task_WriteLiaisonForm") == 2


@pytest.mark.clause("5.5.2")
@pytest.mark.parametrize("category", ["complaint", "return"])
def test_complaints_and_returns_are_investigated_replied_to_and_handled(api, category):
    walk = Walk(api)
    walk.do("Record customer feedback", "sales1", "sales", {**FEEDBACK, "category": category})
    registration = walk.case["open_tasks"][0]
    prefill = api.get(f"/tasks/{registration['id']}", as_="sales1").json["prefill"]
    assert prefill["complaint"]["customer"] == "C001"
    walk.do("Register complaint", "sales1", "sales",
            {"complaint_ref": "CC-7", "registered_on": "2026-11-21", "complaint": prefill["complaint"]})
    walk.do("Investigate complaint", "qc1", "qc", {
        "investigated_on": "2026-11-22", "findings": "Labels swapped at packing",
        "disposition": "rework", "capa_needed": False})
    case = walk.do("Reply to the customer", "sales1", "sales",
                   {"reply": "Relabelled and returned", "replied_on": "2026-11-25", "customer_accepted": True})
    assert (case["status"], case["outcome"]) == ("completed", "Complaint handled")
    assert case["data"]["complaint_outcome"]["disposition"] == "rework"


@pytest.mark.clause("5.5.2", "5.5.1")
def test_a_complaint_needing_capa_runs_it_for_the_department_qc_names(api):
    walk = Walk(api)
    walk.do("Record customer feedback", "sales1", "sales", {**FEEDBACK, "category": "return"})
    prefill = api.get(f"/tasks/{walk.case['open_tasks'][0]['id']}", as_="sales1").json["prefill"]
    walk.do("Register complaint", "sales1", "sales",
            {"complaint_ref": "CC-8", "registered_on": "2026-11-21", "complaint": prefill["complaint"]})
    walk.do("Investigate complaint", "qc1", "qc", {
        "investigated_on": "2026-11-22", "findings": "Cracked housings", "disposition": "scrap",
        "capa_needed": True, "responsible_department": "production"})
    walk.capa("production", "prod1")
    case = walk.do("Reply to the customer", "sales1", "sales",
                   {"reply": "Replaced and fixed", "replied_on": "2026-12-12", "customer_accepted": True})
    assert (case["status"], case["outcome"]) == ("completed", "Complaint handled")
    assert case["data"]["capa"]["effective"] is True
