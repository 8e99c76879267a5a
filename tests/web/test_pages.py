"""The pages people use: sign-in, inbox, task page with its form, case list and case page.

Every test drives the real app (``app`` and ``ctx`` from tests/conftest.py: a migrated database
with the demo users and the published after-sales feedback process) through Flask's test client.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.context import EngineContext
from engine.services import cases
from engine.services.users import find_actor
from web import create_app

PROCESS = "after_sales_feedback"
FIRST_TASK = "Record customer feedback"
FEEDBACK = {
    "customer": "C001", "contact": "Li Wei", "received_on": "2026-11-20", "channel": "phone",
    "product_model": "PX-200", "category": "quality", "description": "Housing cracks after two weeks",
    "responsible_department": "qc",
}


def login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": "demo"})
    assert response.status_code == 302, response.text
    return client


def start(ctx: EngineContext, username: str = "sales1") -> cases.CaseView:
    return cases.start_case(ctx, find_actor(ctx, username), PROCESS, {})


def first_task_id(case: cases.CaseView) -> str:
    [task] = case.open_tasks
    assert task.title == FIRST_TASK
    return task.id


def event_count(ctx: EngineContext, case_id: int) -> int:
    events, _ = cases.case_events(ctx, find_actor(ctx, "auditor1"), case_id)
    return len(events)


def field_block(html: str, path: str) -> str:
    """The rendered block of one form field (its label, control and messages)."""
    match = re.search(rf'<div class="field[^"]*" data-field="{re.escape(path)}">(.*?)</div>', html, re.S)
    assert match, f"no field {path!r} on the page"
    return match.group(1)


# --- the icon ----------------------------------------------------------------------------------


def test_every_page_links_the_apps_icon_and_favicon_ico_answers_with_it(app: Flask) -> None:
    client = app.test_client()
    [href] = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', client.get("/login").text)
    icon = client.get(href)
    assert (icon.status_code, icon.mimetype) == (200, "image/svg+xml") and icon.data.startswith(b"<svg")
    guessed = client.get("/favicon.ico")  # what browsers ask for on their own, signed in or not
    assert (guessed.status_code, guessed.mimetype, guessed.data) == (200, "image/svg+xml", icon.data)
    assert "max-age" in guessed.headers["Cache-Control"]
    signed_in = login(app, "sales1")
    assert f'<link rel="icon" href="{href}"' in signed_in.get("/inbox").text
    assert signed_in.get("/no-such-page").status_code == 404
    assert f'<link rel="icon" href="{href}"' in signed_in.get("/no-such-page").text, "error pages too"


# --- sign-in ---------------------------------------------------------------------------------


def test_wrong_password_is_401_and_a_good_one_redirects_to_the_inbox(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "sales1", "password": "wrong"})
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert 'value="sales1"' in response.text
    response = client.post("/login", data={"username": "sales1", "password": "demo"})
    assert response.status_code == 302
    assert response.location.endswith("/inbox")
    page = client.get("/inbox").text
    assert "Sales One" in page and "sales" in page and "Sign out" in page


def test_pages_require_sign_in_and_sign_out_is_a_post(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/").location.endswith("/inbox")
    assert "/login" in client.get("/inbox").location
    assert "/login" in client.get("/cases").location
    signed_in = login(app, "sales1")
    assert signed_in.get("/logout").status_code == 405
    assert signed_in.post("/logout").status_code == 302
    assert "/login" in signed_in.get("/inbox").location


# --- inbox, claim, release, assign ----------------------------------------------------------


def test_the_inbox_lists_a_new_cases_first_task_for_sales_but_not_for_tech(app: Flask, ctx: EngineContext) -> None:
    task_id = first_task_id(start(ctx))
    sales = login(app, "sales2").get("/inbox")
    assert sales.status_code == 200
    assert f"/tasks/{task_id}" in sales.text
    assert FIRST_TASK in sales.text
    tech = login(app, "tech1").get("/inbox")
    assert f"/tasks/{task_id}" not in tech.text


def test_claim_and_release_through_post_forms(app: Flask, ctx: EngineContext) -> None:
    task_id = first_task_id(start(ctx))
    client = login(app, "sales1")
    assert f"/tasks/{task_id}/claim" in client.get("/inbox").text
    assert client.get(f"/tasks/{task_id}/claim").status_code == 405
    assert login(app, "tech1").post(f"/tasks/{task_id}/claim").status_code == 404  # may not read the case
    assert login(app, "gm1").post(f"/tasks/{task_id}/claim").status_code == 403  # reads it, may not work it

    response = client.post(f"/tasks/{task_id}/claim", data={"next": "/inbox"})
    assert response.status_code == 302 and response.location.endswith("/inbox")
    inbox = client.get("/inbox").text
    assert 'class="row-mine"' in inbox
    assert f"/tasks/{task_id}/release" in inbox
    assert f"/tasks/{task_id}/claim" not in inbox
    # A colleague sees it claimed and cannot take it.
    other = login(app, "sales2")
    assert f"/tasks/{task_id}/claim" not in other.get("/inbox").text
    assert other.post(f"/tasks/{task_id}/claim").status_code == 409

    response = client.post(f"/tasks/{task_id}/release")
    assert response.status_code == 302 and response.location.endswith(f"/tasks/{task_id}")
    inbox = client.get("/inbox").text
    assert 'class="row-mine"' not in inbox
    assert f"/tasks/{task_id}/claim" in inbox


def test_assign_hands_the_task_to_a_colleague(app: Flask, ctx: EngineContext) -> None:
    task_id = first_task_id(start(ctx))
    client = login(app, "sales1")
    page = client.get(f"/tasks/{task_id}").text
    assert 'name="assignee"' in page and 'value="sales2"' in page and 'value="tech1"' not in page
    assert client.post(f"/tasks/{task_id}/assign", data={"assignee": "sales2"}).status_code == 302
    assert 'class="row-mine"' in login(app, "sales2").get("/inbox").text
    assert client.post(f"/tasks/{task_id}/assign", data={"assignee": "tech1"}).status_code == 403


# --- the task page ---------------------------------------------------------------------------


def test_the_task_page_renders_the_form_and_the_case_summary(app: Flask, ctx: EngineContext) -> None:
    case = start(ctx)
    task_id = first_task_id(case)
    response = login(app, "sales1").get(f"/tasks/{task_id}")
    assert response.status_code == 200
    page = response.text
    assert f'action="/tasks/{task_id}"' in page
    for name in ("customer", "received_on", "channel", "category", "description", "responsible_department"):
        assert f'name="{name}"' in page
    assert '<label for="f-customer"' in page
    assert ">Complete<" in page
    assert "After-sales feedback" in page and "version 1" in page
    assert 'badge-running' in page
    assert "/static/css/app.css" in page and "/static/js/form-arrays.js" in page


def test_an_invalid_submission_is_422_with_messages_beside_fields_and_changes_nothing(
    app: Flask, ctx: EngineContext
) -> None:
    case = start(ctx)
    task_id = first_task_id(case)
    before = event_count(ctx, case.id)
    bad = {**FEEDBACK, "customer": "", "received_on": "yesterday", "description": "Rattles at speed"}
    response = login(app, "sales1").post(f"/tasks/{task_id}", data=bad)
    assert response.status_code == 422
    page = response.text
    assert "The form has errors" in page
    assert '<a href="#f-customer">Customer</a>' in page
    assert "This field is required." in field_block(page, "customer")
    received = field_block(page, "received_on")
    assert "Must be a date" in received and 'value="yesterday"' in received
    assert "Rattles at speed" in field_block(page, "description")
    assert "has-error" not in re.search(r'<div class="field[^"]*" data-field="description">', page).group(0)
    assert event_count(ctx, case.id) == before
    assert first_task_id(cases.get_case(ctx, find_actor(ctx, "sales1"), case.id)) == task_id


def test_a_valid_submission_moves_the_case_on(app: Flask, ctx: EngineContext) -> None:
    case = start(ctx)
    task_id = first_task_id(case)
    client = login(app, "sales1")
    response = client.post(f"/tasks/{task_id}", data={**FEEDBACK, "csrf_token": "ignored"})
    assert response.status_code == 302 and response.location.endswith("/inbox")
    assert "completed" in client.get("/inbox").text
    after = cases.get_case(ctx, find_actor(ctx, "sales1"), case.id)
    assert after.customer == "Acme Motors Co., Ltd."  # the code C001 links the case to the card
    assert after.data["received_on"] == "2026-11-20"
    [next_task] = after.open_tasks
    assert next_task.department == "qc"
    # The next task's page shows the earlier record, read-only.
    page = login(app, "qc1").get(f"/tasks/{next_task.id}").text
    assert "Earlier records" in page and "Housing cracks after two weeks" in page


def test_another_department_sees_the_task_read_only_and_gets_403_on_post(app: Flask, ctx: EngineContext) -> None:
    case = start(ctx)
    task_id = first_task_id(case)
    client = login(app, "gm1")  # management reads every case, and works only on its own tasks
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200
    assert ">Complete<" not in page.text
    assert "Only members of the department sales" in page.text
    before = event_count(ctx, case.id)
    assert client.post(f"/tasks/{task_id}", data=FEEDBACK).status_code == 403
    assert event_count(ctx, case.id) == before


def test_posting_to_a_task_of_a_case_one_may_not_read_is_404_and_to_one_one_may_not_work_is_403(
    app: Flask, ctx: EngineContext
) -> None:
    case = start(ctx)
    task_id = first_task_id(case)
    outsider, overseer = login(app, "tech1"), login(app, "gm1")  # tech1 may not read Sales's case; gm1 reads all
    posts = [("", FEEDBACK), ("/claim", {}), ("/assign", {"assignee": "sales2"}), ("/signal", {"signal": "x"})]
    for suffix, form in posts:
        refused = outsider.post(f"/tasks/{task_id}{suffix}", data=form)
        assert refused.status_code == 404 and f"No task {task_id}" in refused.text, suffix
        assert overseer.post(f"/tasks/{task_id}{suffix}", data=form).status_code == 403, suffix
    assert login(app, "sales1").post(f"/tasks/{task_id}/claim").status_code == 302
    assert outsider.post(f"/tasks/{task_id}/release").status_code == 404
    assert overseer.post(f"/tasks/{task_id}/release").status_code == 403
    before = event_count(ctx, case.id)
    assert outsider.post(f"/tasks/{task_id}/claim").status_code == 404
    assert event_count(ctx, case.id) == before
    [task] = cases.get_case(ctx, find_actor(ctx, "sales1"), case.id).open_tasks
    assert task.assignee == "sales1"


def test_completing_a_task_twice_is_409_with_a_message(app: Flask, ctx: EngineContext) -> None:
    task_id = first_task_id(start(ctx))
    assert login(app, "sales1").post(f"/tasks/{task_id}", data=FEEDBACK).status_code == 302
    response = login(app, "sales2").post(f"/tasks/{task_id}", data=FEEDBACK)
    assert response.status_code == 409
    assert "already completed" in response.text
    assert "Someone else has already completed this task" in response.text


def test_an_unknown_task_is_404(app: Flask) -> None:
    response = login(app, "sales1").get("/tasks/no-such-task")
    assert response.status_code == 404
    assert "No task no-such-task" in response.text


# --- cases -----------------------------------------------------------------------------------


def test_the_case_list_filters_by_status_and_text(app: Flask, ctx: EngineContext) -> None:
    done = start(ctx)
    login(app, "sales1").post(f"/tasks/{first_task_id(done)}", data=FEEDBACK)
    other = start(ctx)
    client = login(app, "sales2")  # reads both: the Sales Section had a task in each

    def listed(query: str) -> set[int]:
        response = client.get(f"/cases{query}")
        assert response.status_code == 200
        return {int(i) for i in re.findall(r'data-case-id="(\d+)"', response.text)}

    assert listed("") == {done.id, other.id}
    assert listed("?q=Acme") == {done.id}
    assert listed("?customer=acme") == {done.id}
    assert listed(f"?q={other.id}") == {other.id}
    assert listed("?status=running") == {done.id, other.id}
    assert listed("?status=completed") == set()
    assert listed(f"?process={PROCESS}&limit=1") == {other.id}
    assert listed(f"?process={PROCESS}&limit=1&offset=1") == {done.id}
    assert listed("?process=nope") == set()


def test_the_case_page_shows_data_open_tasks_and_a_verified_history(app: Flask, ctx: EngineContext) -> None:
    case = start(ctx)
    login(app, "sales1").post(f"/tasks/{first_task_id(case)}", data=FEEDBACK)
    response = login(app, "auditor1").get(f"/cases/{case.id}")
    assert response.status_code == 200
    page = response.text
    assert "Integrity: verified" in page
    for event_type in ("case_started", "task_ready", "task_completed"):
        assert f'data-event-type="{event_type}"' in page
    assert "<td>Task completed</td>" in page and "<td>Record customer feedback</td>" in page
    assert "<td>Sales Section</td>" in page  # the department by name, not its id
    assert "Acme Motors" in page
    assert "&#34;responsible&#34;: &#34;qc&#34;" in page  # nested data as JSON
    after = cases.get_case(ctx, find_actor(ctx, "auditor1"), case.id)
    assert f"/tasks/{after.open_tasks[0].id}" in page
    assert after.version_hash[:12] in page


def test_starting_a_case_goes_to_the_first_task_or_to_the_case_page(app: Flask) -> None:
    sales = login(app, "sales1")
    page = sales.get("/start").text
    assert f'action="/start/{PROCESS}"' in page and "After-sales feedback" in page
    response = sales.post(f"/start/{PROCESS}")
    assert response.status_code == 302 and "/tasks/" in response.location
    assert FIRST_TASK in sales.get(response.location).text
    response = login(app, "tech1").post("/start/sample_trial")  # its first task is Sales's, not Technical's
    assert response.status_code == 302 and "/cases/" in response.location
    assert sales.post("/start/nope").status_code == 404


# --- CSRF ------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(ctx: EngineContext) -> Flask:
    return create_app({"TESTING": True}, context=ctx)


def test_posts_without_a_csrf_token_are_rejected(csrf_app: Flask, ctx: EngineContext) -> None:
    client = csrf_app.test_client()
    assert client.post("/login", data={"username": "sales1", "password": "demo"}).status_code == 400
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/login", data={"username": "sales1", "password": "demo", "csrf_token": token})
    assert response.status_code == 302
    task_id = first_task_id(start(ctx))
    assert client.post(f"/tasks/{task_id}/claim").status_code == 400
    assert client.post(f"/tasks/{task_id}", data=FEEDBACK).status_code == 400
    assert client.post("/logout").status_code == 400
    assert f"/tasks/{task_id}/claim" in client.get("/inbox").text  # nothing changed
    page = client.get(f"/tasks/{task_id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/tasks/{task_id}/claim", data={"csrf_token": token}).status_code == 302
