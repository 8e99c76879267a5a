"""The JSON API's contract: auth, errors as {"error", "details"}, and the OpenAPI document."""

from __future__ import annotations

import re
import threading

from tests.integration.test_after_sales_paths import FEEDBACK


def _start(api, user: str = "sales1") -> dict:  # type: ignore[no-untyped-def]
    response = api.post("/cases", {"process": "after_sales_feedback"}, as_=user)
    assert response.status_code == 201
    return response.json


def test_requests_without_a_valid_token_get_401(api):
    assert api.get("/processes").status_code == 401
    response = api.client.get("/api/v1/processes", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert "Bearer" in response.json["error"]


def test_published_processes_are_listed_with_their_version(api):
    processes = {p["id"]: p for p in api.get("/processes", as_="sales1").json}
    assert processes["after_sales_feedback"]["version"] == 1
    assert len(processes["after_sales_feedback"]["content_hash"]) == 64


def test_starting_an_unknown_process_is_404(api):
    response = api.post("/cases", {"process": "nope"}, as_="sales1")
    assert response.status_code == 404
    assert response.json["error"] == "No published process 'nope'"


def test_a_case_shows_its_open_task_with_form_and_the_caller_sees_it_in_the_inbox(api):
    case = _start(api)
    [task] = case["open_tasks"]
    assert task["department"] == "sales"
    assert task["name"] == task["title"] == "Record customer feedback"
    assert "customer" in task["form"]["schema"]["properties"]
    assert api.get(f"/cases/{case['id']}", as_="sales2").json["open_tasks"][0]["id"] == task["id"]
    assert task["id"] in [t["id"] for t in api.get("/inbox", as_="sales2").json]
    assert task["id"] not in [t["id"] for t in api.get("/inbox", as_="tech1").json]


def test_invalid_data_is_422_with_field_errors_and_changes_nothing(api):
    case = _start(api)
    task_id = case["open_tasks"][0]["id"]
    before = api.get(f"/cases/{case['id']}/events", as_="sales1").json["events"]
    bad = {**FEEDBACK, "category": "teleportation", "received_on": "yesterday"}
    del bad["customer"]
    response = api.post(f"/tasks/{task_id}/complete", {"data": bad}, as_="sales1")
    assert response.status_code == 422
    details = response.json["details"]
    assert set(details) >= {"customer", "category", "received_on"}
    after = api.get(f"/cases/{case['id']}", as_="sales1").json
    assert after["open_tasks"][0]["id"] == task_id
    assert api.get(f"/cases/{case['id']}/events", as_="sales1").json["events"] == before


def test_acting_on_a_task_of_a_case_one_may_not_read_is_404_like_reading_it_and_changes_nothing(api):
    case = _start(api)
    task_id = case["open_tasks"][0]["id"]
    events_before = api.get(f"/cases/{case['id']}/events", as_="sales1").json["events"]
    assert api.get(f"/cases/{case['id']}", as_="tech1").status_code == 404  # Sales's case: tech1 may not read it
    not_found = {"error": f"No task {task_id}", "details": None}
    data = {"data": {**FEEDBACK, "category": "complaint"}}
    for path, body in (("complete", data), ("claim", None), ("release", None), ("assign", {"username": "sales2"}),
                       ("signal", {"signal": "anything"})):
        response = api.post(f"/tasks/{task_id}/{path}", body, as_="tech1")
        assert (response.status_code, response.json) == (404, not_found), path
        assert (api.post(f"/tasks/no-such-task/{path}", body, as_="tech1").json["error"]
                == "No task no-such-task"), "told apart from a task that does not exist only by its id"
    assert api.post(f"/tasks/{task_id}/claim", as_="sales1").status_code == 200
    assert api.post(f"/tasks/{task_id}/release", as_="qc1").status_code == 404, "claimed or not"
    after = api.get(f"/cases/{case['id']}", as_="sales1").json
    assert (after["status"], after["data"]) == ("running", case["data"])
    assert [(t["id"], t["assignee"]) for t in after["open_tasks"]] == [(task_id, "sales1")]
    events = api.get(f"/cases/{case['id']}/events", as_="sales1").json["events"]
    assert [e["type"] for e in events] == [e["type"] for e in events_before] + ["task_claimed"]


def test_a_done_task_of_a_case_one_may_not_read_is_404_not_409(api):
    case = _start(api)
    task_id = case["open_tasks"][0]["id"]
    data = {"data": {**FEEDBACK, "category": "complaint"}}
    assert api.post(f"/tasks/{task_id}/complete", data, as_="sales1").status_code == 200
    assert api.post(f"/tasks/{task_id}/complete", data, as_="sales2").status_code == 409
    for path, body in (("complete", data), ("claim", None), ("release", None), ("assign", {"username": "prod1"})):
        assert api.post(f"/tasks/{task_id}/{path}", body, as_="prod1").status_code == 404, path


def test_someone_who_reads_the_case_but_may_not_work_the_task_gets_403_and_changes_nothing(api):
    case = _start(api)
    task_id = case["open_tasks"][0]["id"]
    events_before = api.get(f"/cases/{case['id']}/events", as_="sales1").json["events"]
    assert api.get(f"/cases/{case['id']}", as_="gm1").status_code == 200  # management reads every case
    data = {"data": {**FEEDBACK, "category": "complaint"}}
    for path, body in (("complete", data), ("claim", None), ("assign", {"username": "sales2"}),
                       ("signal", {"signal": "anything"})):
        response = api.post(f"/tasks/{task_id}/{path}", body, as_="gm1")
        assert response.status_code == 403, path
        assert "department" in response.json["error"], path
    assert api.post(f"/tasks/{task_id}/claim", as_="sales1").status_code == 200
    assert api.post(f"/tasks/{task_id}/release", as_="gm1").status_code == 403
    assert api.post(f"/tasks/{task_id}/release", as_="sales1").status_code == 200
    after = api.get(f"/cases/{case['id']}", as_="sales1").json
    assert (after["status"], after["data"]) == ("running", case["data"])
    assert [(t["id"], t["assignee"]) for t in after["open_tasks"]] == [(task_id, None)]
    events = api.get(f"/cases/{case['id']}/events", as_="sales1").json["events"]
    assert [e["type"] for e in events] == [e["type"] for e in events_before] + ["task_claimed", "task_released"]


def test_a_claimed_task_belongs_to_its_assignee_until_released(api):
    task_id = _start(api)["open_tasks"][0]["id"]
    assert api.post(f"/tasks/{task_id}/claim", as_="sales1").json["assignee"] == "sales1"
    assert api.post(f"/tasks/{task_id}/claim", as_="sales2").status_code == 409
    data = {"data": {**FEEDBACK, "category": "complaint"}}
    assert api.post(f"/tasks/{task_id}/complete", data, as_="sales2").status_code == 403
    assert api.post(f"/tasks/{task_id}/release", as_="sales2").status_code == 403
    assert api.post(f"/tasks/{task_id}/release", as_="sales1").json["assignee"] is None
    assigned = api.post(f"/tasks/{task_id}/assign", {"username": "sales2"}, as_="sales1")
    assert assigned.json["assignee"] == "sales2"
    assert api.post(f"/tasks/{task_id}/assign", {"username": "tech1"}, as_="sales2").status_code == 422
    assert api.post(f"/tasks/{task_id}/complete", data, as_="sales2").status_code == 200


def test_completing_a_task_twice_is_409_with_a_message(api):
    task_id = _start(api)["open_tasks"][0]["id"]
    data = {"data": {**FEEDBACK, "category": "complaint"}}
    assert api.post(f"/tasks/{task_id}/complete", data, as_="sales1").status_code == 200
    again = api.post(f"/tasks/{task_id}/complete", data, as_="sales2")
    assert again.status_code == 409
    assert "already completed" in again.json["error"]


def test_two_concurrent_completions_exactly_one_wins(api, app):
    case = _start(api)
    task_id = case["open_tasks"][0]["id"]
    for user in ("sales1", "sales2"):
        api._headers(user)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def complete(user: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/tasks/{task_id}/complete",
                               json={"data": {**FEEDBACK, "category": "complaint", "contact": user}},
                               headers={"Authorization": f"Bearer {api.tokens[user]}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=complete, args=(u,)) for u in ("sales1", "sales2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409]
    events = api.get(f"/cases/{case['id']}/events", as_="sales1").json["events"]
    assert [e["type"] for e in events].count("task_completed") == 1


def test_the_openapi_document_lists_exactly_the_routes_of_the_api(app, api):
    document = api.get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
