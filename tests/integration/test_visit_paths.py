"""Customer visits (PROCEDURE 5.3) walked through the JSON API on SQLite and PostgreSQL: the Liaison
Form approval on its own and inside a visit, reception by Administration, the Customer Visit
Record and the follow-up of every question by the department named on it until Sales files it."""

from __future__ import annotations

import pytest

from tests.integration.walks import Case, bracketed, completed_by

LIAISON = {"kind": "visit", "subject": "Huayu quality audit visit", "customer": "C002",
           "purpose": "Audit of the SV-200 line", "planned_date": "2026-12-01", "visit_end_date": "2026-12-02",
           "visitor_count": 3, "reception_needs": "Hotel for two nights, airport pickup",
           "participants": ["sales", "qc"]}
SERVICE = {"subject": "Calibrate KT-50 rig at Sunrise", "customer": "C005", "purpose": "Yearly calibration",
           "planned_date": "2026-12-05", "service_type": "calibration", "participants": ["tech"]}
RECEPTION = {"hotel": "Harbour Hotel", "nights": 2, "transport": "Airport pickup by company car"}
RECORD = {"customer": "C002", "visit_date": "2026-12-01", "visitors": [{"name": "Chen Jing", "title": "QE"}],
          "topics": ["profile", "production", "quality"]}
QC_QUESTION = {"question": "Can we see the SV-200 test records?", "department": "qc", "due_date": "2026-12-10"}
TECH_QUESTION = {"question": "Drawing of the new coil?", "department": "tech", "due_date": "2026-12-12"}
GM_QUESTION = {"question": "Price for 2027?", "department": "management", "due_date": "2026-12-20"}
FILING = {"filed_on": "2026-12-21", "record_ref": "CVR-2026-31"}
APPROVALS = {"approve": {"decision": "approve"}, "revise": {"decision": "revise", "comments": "Add the end date"},
             "reject": {"decision": "reject", "comments": "Not this quarter"}}
VISIT_APPROVAL = [("Task_WriteLiaisonForm", "sales"), ("Task_ApproveLiaisonForm", "management")]


def answer(text: str, done: bool = True) -> dict:
    return {"answer": text, "answered_on": "2026-12-08", "done": done}


def as_the_form_sends(questions: list[dict]) -> list[dict]:
    """The tracked questions as the web form sends them back: only the form's own fields."""
    fields = ("question", "department", "due_date", "answer", "answered_on", "done")
    return [{k: q[k] for k in fields if k in q} for q in questions]


def decide(case: Case, liaison: dict, decisions: tuple[str, ...]) -> None:
    """Sales writes the Liaison Form and management decides, once per decision (revisions loop)."""
    for decision in decisions:
        case.step("Write Liaison Form", "sales", liaison)
        case.step("Approve Liaison Form", "management", APPROVALS[decision])


def visit_recorded(api, questions: list[dict], decisions: tuple[str, ...] = ("approve",)) -> Case:  # type: ignore[no-untyped-def]
    """A visit approved, received by Administration and recorded with ``questions``."""
    case = Case(api, "customer_visit")
    decide(case, LIAISON, decisions)
    case.step("Arrange reception", "admin", RECEPTION)
    case.step("Record customer visit", "sales", {**RECORD, "questions": questions})
    return case


def track(case: Case, all_done: bool = True, change=None) -> list[dict]:  # type: ignore[no-untyped-def]
    """Sales tracks the follow-ups from the listed questions (``change`` may edit them)."""
    questions = as_the_form_sends(case.prefill("Track follow-ups")["questions"])
    if change is not None:
        questions = change(questions)
    case.step("Track follow-ups", "sales", {"questions": questions, "all_done": all_done})
    return questions


@pytest.mark.clause("5.3")
@pytest.mark.parametrize(("decisions", "outcome", "decision"), [
    (("approve",), "Liaison Form approved", "approved"),
    (("revise", "approve"), "Liaison Form approved", "approved"),
    (("reject",), "Liaison Form rejected", "rejected"),
    (("revise", "revise", "reject"), "Liaison Form rejected", "rejected"),
])
def test_a_liaison_form_on_its_own_is_written_by_sales_and_decided_by_management(api, decisions, outcome, decision):
    case = Case(api, "liaison_approval")
    assert case.prefill("Write Liaison Form")["kind"] == "on_site_service"
    decide(case, SERVICE, decisions)
    data = case.ended(outcome)
    assert data["liaison_decision"] == decision
    assert data["approval_comments"] == APPROVALS[decisions[-1]].get("comments", "")
    assert data["liaison"] == {**SERVICE, "kind": "on_site_service"}
    assert (case.case["title"], case.case["customer"]) == (SERVICE["subject"], "Sunrise Medical Devices")
    events = case.events()
    assert case.routed() == VISIT_APPROVAL * len(decisions)
    assert [a for _, a in completed_by(events)] == ["sales1", "gm1"] * len(decisions)
    bracketed(events, outcome)


@pytest.mark.clause("5.3")
def test_a_rejected_visit_ends_without_reception(api):
    case = Case(api, "customer_visit")
    assert case.prefill("Write Liaison Form")["kind"] == "visit"
    decide(case, LIAISON, ("reject",))
    data = case.ended("Visit not approved")
    assert (data["liaison_decision"], data["approval_comments"]) == ("rejected", "Not this quarter")
    assert data["liaison"] == LIAISON
    # liaison_approval gives back only liaison, liaison_decision and approval_comments
    assert not {"decision", "comments", "kind", "purpose", "planned_date"} & set(data)
    assert (case.case["title"], case.case["customer"]) == (LIAISON["subject"], "Huayu Auto Parts")
    assert case.routed() == VISIT_APPROVAL
    bracketed(case.events(), "Visit not approved")


@pytest.mark.clause("5.3")
def test_a_revised_then_approved_visit_is_received_recorded_followed_up_and_filed(api):
    case = Case(api, "customer_visit")
    decide(case, {**LIAISON, "visit_end_date": "2026-12-01"}, ("revise",))
    revision = case.prefill("Write Liaison Form")
    assert (revision["subject"], revision["visit_end_date"]) == (LIAISON["subject"], "2026-12-01")
    decide(case, LIAISON, ("approve",))
    assert case.data["liaison"] == LIAISON
    case.step("Arrange reception", "admin", RECEPTION)
    case.step("Record customer visit", "sales", {**RECORD, "questions": [QC_QUESTION, TECH_QUESTION]})
    assert [t["element_id"] for t in case.case["open_tasks"]] == ["Task_FollowUpQuestion [child]"] * 2
    answers = {"qc": answer("Test records sent"), "tech": answer("Drawing D-118 sent")}
    assert sorted(case.each("Follow up customer question", lambda t: answers[t["department"]])) == ["qc", "tech"]
    tracked = track(case)
    assert [(q["department"], q["answer"], q["done"]) for q in tracked] == [
        ("qc", "Test records sent", True), ("tech", "Drawing D-118 sent", True)]
    case.step("File Customer Visit Record", "sales", FILING, user="sales2")
    data = case.ended("Visit filed")
    assert data["record_ref"] == "CVR-2026-31" and data["transport"] == RECEPTION["transport"]
    assert [(q["question"], q["answer"], q["done"]) for q in data["questions"]] == [
        (QC_QUESTION["question"], "Test records sent", True), (TECH_QUESTION["question"], "Drawing D-118 sent", True)]
    events = case.events()
    ready = case.routed()
    assert ready[:6] == VISIT_APPROVAL * 2 + [("Task_ArrangeReception", "admin"), ("Task_RecordVisit", "sales")]
    assert sorted(ready[6:8]) == [("Task_FollowUpQuestion [child]", "qc"), ("Task_FollowUpQuestion [child]", "tech")]
    assert ready[8:] == [("Task_TrackFollowUps", "sales"), ("Task_FileVisitRecord", "sales")]
    assert ("Task_ArrangeReception", "admin1") in completed_by(events)
    bracketed(events, "Visit filed")


@pytest.mark.clause("5.3")
def test_questions_not_done_go_back_to_their_department_until_sales_confirms_all(api):
    case = visit_recorded(api, [QC_QUESTION, TECH_QUESTION])
    first = {"qc": answer("Test records sent"), "tech": answer("Drawing being revised", done=False)}
    case.each("Follow up customer question", lambda t: first[t["department"]])
    track(case, all_done=True)  # Sales confirms, but the tech question is still not done
    assert [t["department"] for t in case.case["open_tasks"]] == ["tech"]
    case.step("Follow up customer question", "tech", answer("Drawing D-118 rev B sent"))

    def send_back_and_add(questions: list[dict]) -> list[dict]:
        questions[0]["done"] = False
        return [*questions, GM_QUESTION]

    track(case, all_done=False, change=send_back_and_add)
    again = {"qc": answer("Full test report sent"), "management": answer("Quoted 2027 prices")}
    assert sorted(case.each("Follow up customer question", lambda t: again[t["department"]])) == ["management", "qc"]
    track(case)
    case.step("File Customer Visit Record", "sales", FILING)
    data = case.ended("Visit filed")
    assert [(q["department"], q["answer"], q["done"]) for q in data["questions"]] == [
        ("qc", "Full test report sent", True), ("tech", "Drawing D-118 rev B sent", True),
        ("management", "Quoted 2027 prices", True)]
    follow_ups = [d for e, d in case.routed() if e == "Task_FollowUpQuestion [child]"]
    assert sorted(follow_ups[:2]) == ["qc", "tech"] and follow_ups[2] == "tech"
    assert sorted(follow_ups[3:]) == ["management", "qc"]
    assert ("Task_FollowUpQuestion [child]", "gm1") in completed_by(case.events())


@pytest.mark.clause("5.3")
def test_a_visit_without_questions_goes_straight_to_tracking_and_is_filed(api):
    case = visit_recorded(api, [], decisions=("revise", "approve"))
    assert case.titles() == ["Track follow-ups"]
    assert case.prefill("Track follow-ups") == {"questions": []}
    case.step("Track follow-ups", "sales", {"all_done": True})
    case.step("File Customer Visit Record", "sales", FILING)
    data = case.ended("Visit filed")
    assert (data["questions"], data["open_questions"]) == ([], [])
    assert [e for e, _ in case.routed()][-2:] == ["Task_TrackFollowUps", "Task_FileVisitRecord"]
    assert "Task_FollowUpQuestion [child]" not in [e for e, _ in case.routed()]


@pytest.mark.clause("5.3")
def test_the_track_follow_ups_prefill_is_valid_for_its_own_form(api):
    case = visit_recorded(api, [QC_QUESTION])
    case.step("Follow up customer question", "qc", answer("Test records sent"))
    prefill = case.prefill("Track follow-ups")
    response = case.submit(case.case["open_tasks"][0], {**prefill, "all_done": True})
    assert response.status_code == 200, response.json
    assert [t["title"] for t in response.json["open_tasks"]] == ["File Customer Visit Record"]
    assert response.json["data"]["questions"] == prefill["questions"]


@pytest.mark.clause("5.3")
def test_the_liaison_form_revision_prefill_is_valid_for_its_own_form(api):
    case = Case(api, "customer_visit")
    decide(case, {k: v for k, v in LIAISON.items() if k != "visit_end_date"}, ("revise",))
    prefill = case.prefill("Write Liaison Form")
    response = case.submit(case.case["open_tasks"][0], prefill)
    assert response.status_code == 200, response.json
    assert [(t["title"], t["department"]) for t in response.json["open_tasks"]] == [
        ("Approve Liaison Form", "management")]
    events = case.api.get(f"/cases/{response.json['id']}/events", as_="sales1").json["events"]
    assert [e["data"] for e in events if e["type"] == "task_completed"][-1] == prefill


@pytest.mark.clause("5.3")
def test_parallel_follow_ups_say_which_question_they_are_for_in_the_inbox_and_the_api(api):
    case = visit_recorded(api, [QC_QUESTION, TECH_QUESTION])
    tasks = {t["department"]: t for t in case.case["open_tasks"]}
    assert QC_QUESTION["question"] in tasks["qc"]["detail"]
    assert TECH_QUESTION["question"] in tasks["tech"]["detail"]
    inbox = {t["id"]: t for t in api.get("/inbox", as_="qc1").json}
    assert QC_QUESTION["question"] in inbox[tasks["qc"]["id"]]["detail"]
