"""Models made for spiff-arena import through the API (upload, sign-offs, publish) and run to
their end, on both backends: each test drives a model of tests.spiff_arena_models through
the API as the people it routes to would."""

from __future__ import annotations

import io

from tests import spiff_arena_models as arena
from tests.model_bundles import zipped


def publish(api, files: dict[str, str]) -> dict:  # type: ignore[no-untyped-def]
    """Upload a bundle as owner1 and take it through submit, review, approve and publish."""
    created = api.client.post("/api/v1/models", data={"bundle": (io.BytesIO(zipped(files)), "bundle.zip"),
                                                      "change_note": "Imported from spiff-arena"},
                              headers=api._headers("owner1"), content_type="multipart/form-data")
    assert created.status_code == 201, created.json
    assert not [p for p in created.json["problems"] if p["severity"] == "error"], created.json["problems"]
    for step, user in [("submit", "owner1"), ("review", "reviewer1"), ("approve", "gm1"), ("publish", "gm1")]:
        response = api.post(f"/models/{created.json['id']}/{step}", {"note": f"{step} ok"}, as_=user)
        assert response.status_code == 200, response.json
    return created.json


def only_task(case: dict) -> dict:
    assert len(case["open_tasks"]) == 1, case["open_tasks"]
    return case["open_tasks"][0]


def inbox_ids(api, user: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {t["id"] for t in api.get("/inbox", as_=user).json}


def test_a_pool_without_is_executable_runs_and_lane_owners_name_who_reviews(api) -> None:  # type: ignore[no-untyped-def]
    draft = publish(api, arena.approval())
    warnings = {p["element_id"] for p in draft["problems"] if p["severity"] == "warning"}
    assert {"Activity_request", "Activity_review"} <= warnings  # lanes naming no department stay warnings
    case = api.post("/cases", {"process": arena.APPROVAL}, as_="admin1").json
    # the first task's lane names no department: it goes to the person who started the case
    request = only_task(case)
    assert (request["department"], request["owners"]) == (None, ["admin1"])
    assert request["id"] in inbox_ids(api, "admin1") and request["id"] not in inbox_ids(api, "qc1")
    assert api.post(f"/tasks/{request['id']}/complete", {"data": {}}, as_="sales1").status_code == 404
    case = api.post(f"/tasks/{request['id']}/complete", {"data": {}}, as_="admin1").json
    # the script named the reviewers in lane_owners: they see the task and the case, others do not
    review = only_task(case)
    assert (review["department"], review["owners"]) == (None, ["qc1", "tech1"])
    assert review["id"] in inbox_ids(api, "qc1") and review["id"] in inbox_ids(api, "tech1")
    assert review["id"] not in inbox_ids(api, "prod1")
    assert api.get(f"/cases/{case['id']}", as_="tech1").status_code == 200
    assert api.get(f"/cases/{case['id']}", as_="prod1").status_code == 404
    assert api.post(f"/tasks/{review['id']}/claim", {}, as_="prod1").status_code == 404
    assert api.post(f"/tasks/{review['id']}/assign", {"username": "prod1"}, as_="qc1").status_code == 422
    claimed = api.post(f"/tasks/{review['id']}/claim", {}, as_="tech1")
    assert claimed.status_code == 200 and claimed.json["assignee"] == "tech1"
    assert api.post(f"/tasks/{review['id']}/complete", {"data": {}}, as_="qc1").status_code == 403
    done = api.post(f"/tasks/{review['id']}/complete", {"data": {}}, as_="tech1").json
    assert (done["status"], done["outcome"]) == ("completed", "Reviewed")
    events = api.get(f"/cases/{case['id']}/events", as_="admin1").json["events"]
    ready = [e["data"] for e in events if e["type"] == "task_ready"]
    assert [r.get("owners") for r in ready] == [["admin1"], ["qc1", "tech1"]]


def test_scripts_use_the_globals_spiff_arena_offers_and_catch_their_own_exceptions(api) -> None:  # type: ignore[no-untyped-def]
    publish(api, arena.scripts())
    case = api.post("/cases", {"process": arena.SCRIPTS, "data": {"raw_settings": "{not json",
                                                                  "raw_price": "12.345"}}, as_="admin1").json
    assert case["status"] == "running", case["error"]
    data = case["data"]
    assert data["settings"] == {"retries": 3} and data["total"] == "37.04"
    assert data["codes"] == ["AB-12", "CD-345"] and data["pick"] in data["codes"]
    assert len(data["reference"]) == 36 and data["stamped"] is True and data["note"] == "not yet"
    check = only_task(case)
    assert check["owners"] == ["admin1"]
    done = api.post(f"/tasks/{check['id']}/complete", {"data": {}}, as_="admin1").json
    assert done["status"] == "completed"


def test_a_form_takes_its_choices_from_task_data_its_ui_schema_file_and_shows_instructions(api) -> None:  # type: ignore[no-untyped-def]
    publish(api, arena.forms())
    case = api.post("/cases", {"process": arena.FORMS}, as_="admin1").json
    task = only_task(case)
    shown = api.get(f"/tasks/{task['id']}", as_="admin1").json
    assert shown["form"]["ui_schema"] == arena.FRUIT_UI
    assert shown["form"]["schema"]["properties"]["fruit"]["anyOf"] == [
        {"const": "apples", "title": "Apples"}, {"const": "pears", "title": "Pears"}]
    # Markdown with Jinja over the task data, raw HTML shown as text, never run
    html = shown["instructions"]
    assert "<h2>Hello Lin &lt;b&gt;</h2>" in html and "<strong>2</strong> fruits Apples Pears." in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    refused = api.post(f"/tasks/{task['id']}/complete", {"data": {"fruit": "bananas"}}, as_="admin1")
    assert refused.status_code == 422 and "fruit" in refused.json["details"]
    done = api.post(f"/tasks/{task['id']}/complete", {"data": {"fruit": "pears", "note": "ripe"}}, as_="admin1")
    assert done.status_code == 200 and done.json["status"] == "completed"
    assert done.json["data"]["fruit"] == "pears"


def test_instructions_that_overrun_their_bounds_are_not_shown_and_the_case_goes_on(api) -> None:  # type: ignore[no-untyped-def]
    publish(api, arena.forms(instructions='{{ "x" * 10**8 }}'))
    task = only_task(api.post("/cases", {"process": arena.FORMS}, as_="admin1").json)
    shown = api.get(f"/tasks/{task['id']}", as_="admin1").json
    assert shown["instructions"] == ""
    assert shown["instructions_error"].startswith("Script refused: the value would have more than")
    done = api.post(f"/tasks/{task['id']}/complete", {"data": {"fruit": "apples"}}, as_="admin1")
    assert done.json["status"] == "completed"


def test_instructions_that_do_not_parse_are_refused_at_upload_naming_the_task(api) -> None:  # type: ignore[no-untyped-def]
    created = api.client.post("/api/v1/models", data={
        "bundle": (io.BytesIO(zipped(arena.forms(instructions="{% if %}"))), "bundle.zip"), "change_note": "x"},
        headers=api._headers("owner1"), content_type="multipart/form-data")
    errors = [p for p in created.json["problems"] if p["severity"] == "error"]
    assert [p["element_id"] for p in errors] == ["Activity_choose"]
    assert "Instructions refused" in errors[0]["message"]


def test_a_manual_signal_is_offered_as_a_button_and_pressing_it_is_recorded(api) -> None:  # type: ignore[no-untyped-def]
    publish(api, arena.signal())
    case = api.post("/cases", {"process": arena.SIGNAL}, as_="admin1").json
    task = only_task(case)
    shown = api.get(f"/tasks/{task['id']}", as_="admin1").json
    assert shown["signals"] == [{"name": arena.SIGNAL_NAME, "label": arena.SIGNAL_LABEL}]
    assert "<strong>cancel</strong>" in shown["instructions"] and shown["form"] is None
    assert api.post(f"/tasks/{task['id']}/signal", {"signal": arena.SIGNAL_NAME}, as_="sales1").status_code == 404
    assert api.post(f"/tasks/{task['id']}/signal", {"signal": arena.SIGNAL_NAME}, as_="gm1").status_code == 403
    assert api.post(f"/tasks/{task['id']}/signal", {"signal": "other"}, as_="admin1").status_code == 409
    assert api.post(f"/tasks/{task['id']}/signal", {}, as_="admin1").status_code == 422
    sent = api.post(f"/tasks/{task['id']}/signal", {"signal": arena.SIGNAL_NAME}, as_="admin1")
    assert sent.status_code == 200, sent.json
    assert (sent.json["status"], sent.json["outcome"], sent.json["open_tasks"]) == ("completed", "Cancelled", [])
    events = api.get(f"/cases/{case['id']}/events", as_="admin1").json["events"]
    signalled = [e for e in events if e["type"] == "signal_sent"]
    assert len(signalled) == 1 and signalled[0]["actor"] == "admin1"
    assert signalled[0]["data"] == {"signal": arena.SIGNAL_NAME, "label": arena.SIGNAL_LABEL}
    assert signalled[0]["element_id"] == "Activity_handle"


def test_the_task_page_shows_the_instructions_the_choices_and_the_signal_button(app, api) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_pages import login

    publish(api, arena.forms())
    publish(api, arena.signal())
    browser = login(app, "admin1")
    choose = only_task(api.post("/cases", {"process": arena.FORMS}, as_="admin1").json)
    page = browser.get(f"/tasks/{choose['id']}").text
    assert '<div class="task-instructions"><h2>Hello Lin &lt;b&gt;</h2>' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert 'value="apples"' in page and "Pears" in page and "<textarea" in page  # choices, and the UI schema's widget
    handle = only_task(api.post("/cases", {"process": arena.SIGNAL}, as_="admin1").json)
    page = browser.get(f"/tasks/{handle['id']}").text
    assert f'name="signal" value="{arena.SIGNAL_NAME}"' in page and arena.SIGNAL_LABEL in page
    pressed = browser.post(f"/tasks/{handle['id']}/signal", data={"signal": arena.SIGNAL_NAME})
    assert pressed.status_code == 302
    assert api.get(f"/cases/{handle['case_id']}", as_="admin1").json["outcome"] == "Cancelled"
