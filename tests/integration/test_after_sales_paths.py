"""Every path of the after-sales feedback diagram walked to its end through the JSON API, each
task completed by a user of the department its lane names, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

FEEDBACK = {
    "customer": "Acme Motors", "contact": "Li Wei", "received_on": "2026-11-20", "channel": "phone",
    "product_model": "PX-200", "description": "Housing cracks after two weeks",
    "responsible_department": "qc",
}
ANALYSIS = {
    "analysis_method": "5why", "root_cause": "Mould temperature too low",
    "corrective_actions": [{"action": "Raise mould temperature", "owner_department": "production",
                            "due_date": "2026-12-01"}],
    "needs_document_update": False,
}
TRACKING = {"implementation_status": "done", "implemented_on": "2026-12-02"}
VERIFIED = {"effective": True, "verified_on": "2026-12-10", "verification_evidence": "No cracks in 3 lots"}
LIAISON = {"subject": "Repair PX-200 at Acme", "customer": "Acme Motors", "purpose": "Replace a worn bearing",
           "service_type": "repair", "planned_date": "2026-12-03", "participants": ["tech", "sales"]}
ONSITE = {"service_date": "2026-12-03", "performed_by": "tech1", "work_done": "Bearing replaced",
          "result": "resolved", "customer_signoff": True}
FILING = {"filed_on": "2026-12-04", "record_ref": "CSF-2026-118"}


class Walk:
    """A case driven through the API, asserting each open task's department before completing it."""

    def __init__(self, api, category: str, responsible: str = "qc") -> None:  # type: ignore[no-untyped-def]
        self.api = api
        response = api.post("/cases", {"process": "after_sales_feedback", "data": {}}, as_="sales1")
        assert response.status_code == 201, response.json
        self.case = response.json
        self.feedback = {**FEEDBACK, "category": category, "responsible_department": responsible}

    def do(self, title: str, user: str, department: str, data: dict) -> dict:
        [task] = [t for t in self.case["open_tasks"] if t["title"] == title]
        assert task["department"] == department
        assert task["form"]["schema"]["type"] == "object"
        response = self.api.post(f"/tasks/{task['id']}/complete", {"data": data}, as_=user)
        assert response.status_code == 200, response.json
        self.case = response.json
        return self.case

    def events(self) -> list[dict]:
        body = self.api.get(f"/cases/{self.case['id']}/events", as_="auditor1").json
        assert body["chain_intact"] is True
        return body["events"]


def _completed_by(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["element_id"], e["actor"]) for e in events if e["type"] == "task_completed"]


def test_quality_problem_is_analysed_tracked_verified_and_closed(api):
    walk = Walk(api, "quality", responsible="qc")
    walk.do("Record customer feedback", "sales1", "sales", walk.feedback)
    walk.do("Analyse root cause and propose actions", "qc1", "qc", ANALYSIS)
    walk.do("Track implementation of actions", "sales2", "sales", TRACKING)
    case = walk.do("Verify effectiveness", "sales1", "sales", VERIFIED)
    assert (case["status"], case["outcome"], case["open_tasks"]) == ("completed", "Closed", [])
    assert case["data"]["root_cause"] == "Mould temperature too low"
    assert case["customer"] == "Acme Motors"
    events = walk.events()
    assert _completed_by(events) == [
        ("Task_RecordFeedback", "sales1"), ("Task_AnalyseRootCause", "qc1"),
        ("Task_TrackImplementation", "sales2"), ("Task_VerifyEffectiveness", "sales1"),
    ]
    assert events[0]["type"] == "case_started" and events[-1]["type"] == "case_completed"
    [analysis] = [e for e in events if e["type"] == "task_completed" and e["element_id"] == "Task_AnalyseRootCause"]
    assert analysis["data"]["corrective_actions"][0]["owner_department"] == "production"
    ready = [(e["element_id"], e["data"]["department"]) for e in events if e["type"] == "task_ready"]
    assert ready[:2] == [("Task_RecordFeedback", "sales"), ("Task_AnalyseRootCause", "qc")]


def test_ineffective_actions_go_back_to_root_cause_and_documents_are_updated_by_tech(api):
    walk = Walk(api, "quality", responsible="production")
    walk.do("Record customer feedback", "sales1", "sales", walk.feedback)
    walk.do("Analyse root cause and propose actions", "prod1", "production",
            {**ANALYSIS, "needs_document_update": True})
    walk.do("Update DFMEA, PFMEA, control plan and work instructions", "tech1", "tech", {
        "dfmea_updated": True, "pfmea_updated": True, "control_plan_updated": False,
        "work_instructions_updated": True, "document_refs": "DFMEA-12 rev C"})
    walk.do("Track implementation of actions", "sales1", "sales", TRACKING)
    walk.do("Verify effectiveness", "sales1", "sales", {**VERIFIED, "effective": False})
    walk.do("Analyse root cause and propose actions", "prod1", "production",
            {**ANALYSIS, "root_cause": "Resin lot contaminated"})
    walk.do("Track implementation of actions", "sales1", "sales", TRACKING)
    case = walk.do("Verify effectiveness", "sales1", "sales", VERIFIED)
    assert (case["status"], case["outcome"]) == ("completed", "Closed")
    assert case["data"]["root_cause"] == "Resin lot contaminated"
    completions = _completed_by(walk.events())
    assert [e for e, _ in completions].count("Task_AnalyseRootCause") == 2
    assert ("Task_UpdateDocuments", "tech1") in completions


@pytest.mark.parametrize("category", ["repair", "part_replacement", "calibration"])
def test_on_site_service_needs_an_approved_liaison_form(api, category):
    walk = Walk(api, category, responsible="tech")
    walk.do("Record customer feedback", "sales1", "sales", walk.feedback)
    walk.do("Write Liaison Form", "sales1", "sales", LIAISON)
    walk.do("Approve Liaison Form", "gm1", "management", {"decision": "approve", "comments": "Go"})
    walk.do("Perform on-site service and record result", "tech1", "tech", ONSITE)
    case = walk.do("File service record", "sales2", "sales", FILING)
    assert (case["status"], case["outcome"]) == ("completed", "Service completed")
    assert case["data"]["decision"] == "approve" and case["data"]["record_ref"] == "CSF-2026-118"


def test_a_liaison_form_returned_for_revision_then_rejected_ends_rejected(api):
    walk = Walk(api, "cleaning", responsible="production")
    walk.do("Record customer feedback", "sales1", "sales", walk.feedback)
    walk.do("Write Liaison Form", "sales1", "sales", LIAISON)
    walk.do("Approve Liaison Form", "gm1", "management", {"decision": "revise", "comments": "Cost?"})
    walk.do("Write Liaison Form", "sales1", "sales", {**LIAISON, "estimated_cost": 1200})
    case = walk.do("Approve Liaison Form", "gm1", "management", {"decision": "reject", "comments": "Too costly"})
    assert (case["status"], case["outcome"]) == ("completed", "Liaison Form rejected")
    assert [e for e, _ in _completed_by(walk.events())].count("Task_WriteLiaisonForm") == 2


@pytest.mark.parametrize("category", ["complaint", "return"])
def test_complaints_and_returns_are_handed_to_complaint_handling(api, category):
    walk = Walk(api, category)
    walk.do("Record customer feedback", "sales1", "sales", walk.feedback)
    case = walk.do("Hand over to complaint handling", "sales1", "sales",
                   {"complaint_ref": "CC-7", "returned_goods": category == "return"})
    assert (case["status"], case["outcome"]) == ("completed", "Handed to complaint handling")
