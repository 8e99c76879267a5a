"""What only a browser shows: the sign-in form, the task form's messages beside the fields, rows of
an array added and removed by form-arrays.js, read-only tasks, and the case history, all through
Debian's Chromium against the real app served over HTTP with CSRF protection on.

The engine services (tests/factories.py) prepare cases and check what was recorded; everything
in between is done by clicking and typing. Screenshots land in /tmp/sf-shots/ for people to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.context import EngineContext
from engine.services import cases
from tests.factories import actor, complete, open_task

pytestmark = pytest.mark.browser

PROCESS = "after_sales_feedback"
RECORD = "Record customer feedback"
CONTAIN = "Contain the problem"
ANALYSE = "Analyse root cause and propose actions"
CONTAINMENT = {"containment": "Quarantine lot 2611", "contained_on": "2026-11-21"}
ERROR_RED = "rgb(177, 14, 30)"  # #b10e1e
FEEDBACK = {
    "customer": "C001", "contact": "Li Wei", "received_on": "2026-11-20", "channel": "phone",
    "product_model": "PX-200", "category": "quality", "description": "Housing cracks after two weeks",
    "responsible_department": "qc",
}


def sign_in(page: Page, username: str, lands_on: str = "inbox") -> None:
    """Sign in through the login form and land on the inbox (auditors, who have none: "cases")."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/{lands_on}$"))
    expect(page.get_by_role("heading", name=lands_on.capitalize(), level=1)).to_be_visible()


def field(page: Page, path: str) -> Locator:
    """The block of one form field: its label, control and messages."""
    return page.locator(f'[data-field="{path}"]')


def assert_error_beside(page: Page, path: str, label: str, message: str) -> None:
    """The field is marked invalid and its message is shown right under its control, not elsewhere."""
    block = field(page, path)
    control = block.get_by_label(label)
    error = block.locator(".field-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(message)
    expect(control).to_have_attribute("aria-invalid", "true")
    expect(control).to_have_attribute("aria-describedby", re.compile(rf"\bf-{path}-error\b"))
    expect(block).to_have_class(re.compile(r"\bhas-error\b"))
    # Text, date and select controls alike get the red border (forms.css).
    expect(control).to_have_css("border-top-color", ERROR_RED)
    box, under = control.bounding_box(), error.bounding_box()
    assert box is not None and under is not None
    gap = under["y"] - (box["y"] + box["height"])
    assert 0 <= gap <= 24, f"the message of {path!r} is {gap:.0f}px away from its control"
    assert abs(under["x"] - box["x"]) <= 4, f"the message of {path!r} is not aligned with its control"


def assert_side_by_side(row: Locator, labels: tuple[str, ...]) -> None:
    """The row's controls sit left to right on one line, none overlapping the next."""
    boxes = [row.get_by_label(label).bounding_box() for label in labels]
    assert all(box is not None for box in boxes)
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left is not None and right is not None
        assert left["x"] + left["width"] <= right["x"], f"controls overlap: {left} {right}"
        assert abs(left["y"] - right["y"]) <= 1, f"controls not top-aligned: {left} {right}"


def case_id_of(page: Page) -> int:
    """The case of the task page shown (from its breadcrumb)."""
    href = page.locator(".breadcrumb").get_by_role("link", name=re.compile(r"^Case #\d+$")).get_attribute("href")
    assert href is not None
    return int(href.rsplit("/", 1)[1])


def test_sales_records_feedback_with_errors_then_valid_data_and_sees_the_history(
    page: Page, ctx: EngineContext, shots: Path
) -> None:
    """Sign in, start a case, get the messages beside the empty required fields with the typed
    values kept, complete the task properly, and find the completion in the verified history."""
    sign_in(page, "sales1")
    expect(page.locator(".site-user")).to_contain_text("Sales One")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Start a case").click()
    page.get_by_role("button", name="Start After-sales feedback").click()
    expect(page).to_have_url(re.compile(r"/tasks/[^/]+$"))
    expect(page.get_by_role("heading", name=RECORD, level=1)).to_be_visible()
    case_id = case_id_of(page)

    # Required fields left empty; what was typed must survive the round trip.
    page.get_by_label("Contact (name, phone, e-mail)").fill("Li Wei")
    page.get_by_label("Description of the feedback or request").fill("Housing cracks after two weeks")
    page.get_by_role("button", name="Complete").click()

    summary = page.get_by_role("alert").filter(has_text="The form has errors")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link", name="Customer", exact=True)).to_have_attribute("href", "#f-customer")
    assert_error_beside(page, "customer", "Customer", "This field is required.")
    assert_error_beside(page, "received_on", "Received on", "This field is required.")
    assert_error_beside(page, "category", "Category", "This field is required.")
    expect(field(page, "responsible_department").locator(".field-error")).to_have_count(0)  # optional: routing decides
    expect(page.get_by_label("Contact (name, phone, e-mail)")).to_have_value("Li Wei")
    description = page.get_by_label("Description of the feedback or request")
    expect(description).to_have_value("Housing cracks after two weeks")
    expect(description).not_to_have_attribute("aria-invalid", "true")
    expect(field(page, "description").locator(".field-error")).to_have_count(0)
    page.screenshot(path=str(shots / "task-with-errors.png"), full_page=True)
    summary.get_by_role("link", name="Customer", exact=True).click()
    expect(page.get_by_label("Customer")).to_be_focused()
    assert [t.title for t in cases.get_case(ctx, actor(ctx, "sales1"), case_id).open_tasks] == [RECORD]

    page.get_by_label("Customer").select_option(label="C001 — Acme Motors Co., Ltd.")
    received = page.get_by_label("Received on")
    expect(received).to_have_attribute("type", "date")
    received.fill("2026-11-20")
    page.get_by_label("Received by").select_option("phone")
    page.get_by_label("Category").select_option("quality")
    page.get_by_label("Responsible department").select_option("qc")
    page.get_by_role("button", name="Complete").click()

    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.locator(".flash-success")).to_have_text(f"“{RECORD}” completed for case #{case_id}.")
    page.screenshot(path=str(shots / "inbox.png"), full_page=True)
    recorded = cases.get_case(ctx, actor(ctx, "sales1"), case_id)
    assert recorded.customer == "Acme Motors Co., Ltd."
    assert (recorded.data["received_on"], recorded.data["category"]) == ("2026-11-20", "quality")
    assert [(t.title, t.department) for t in recorded.open_tasks] == [(CONTAIN, "qc")]

    page.goto(f"/cases/{case_id}")
    expect(page.get_by_text("Integrity: verified")).to_be_visible()
    history = page.get_by_role("table", name="Case history")
    completed = history.locator('tr[data-event-type="task_completed"]')
    expect(completed).to_have_count(1)
    expect(completed).to_contain_text("sales1")
    expect(completed).to_contain_text("Task completed")
    expect(completed).to_contain_text(RECORD)  # the task by its name, not its element id
    for event_type in ("case_started", "task_ready"):
        expect(history.locator(f'tr[data-event-type="{event_type}"]').first).to_be_visible()
    events, broken = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert broken is None
    expect(history.locator(":scope > tbody > tr")).to_have_count(len(events))
    page.screenshot(path=str(shots / "case.png"), full_page=True)


def test_qc_adds_and_removes_corrective_action_rows_and_only_the_kept_row_is_recorded(
    page: Page, ctx: EngineContext, shots: Path
) -> None:
    """form-arrays.js adds a row, removes another and renumbers what is left; the engine records
    exactly the kept row."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), PROCESS, {})
    complete(ctx, "sales1", case.id, RECORD, FEEDBACK)
    complete(ctx, "qc1", case.id, CONTAIN, CONTAINMENT)
    task = open_task(ctx, case.id, ANALYSE)

    sign_in(page, "qc1")
    page.screenshot(path=str(shots / "inbox-with-a-task.png"), full_page=True)
    page.locator(f'tr[data-task-id="{task.id}"]').get_by_role("link", name=ANALYSE).click()
    expect(page.get_by_role("heading", name=ANALYSE, level=1)).to_be_visible()

    page.get_by_label("Analysis method").select_option("5why")
    page.get_by_label("Root cause").fill("Mould temperature too low")
    documents = page.get_by_role("radiogroup", name="DFMEA/PFMEA/control plan/work instructions must change")
    documents.get_by_label("No").check()

    actions = field(page, "corrective_actions")
    rows = actions.locator("[data-array-row]")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).get_by_role("button", name="Remove")).to_be_disabled()  # minItems 1
    actions.get_by_role("button", name="Add row").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1).get_by_label("Action")).to_be_focused()

    for row, (text, owner, due) in zip(
        (rows.nth(0), rows.nth(1)),
        (("Check the mould heater", "tech", "2026-12-05"), ("Raise mould temperature", "production", "2026-12-15")),
        strict=True,
    ):
        row.get_by_label("Action").fill(text)
        row.get_by_label("Owner department").select_option(owner)
        row.get_by_label("Due date").fill(due)
    expect(rows.nth(1).get_by_label("Action")).to_have_attribute("name", "corrective_actions[1][action]")
    assert_side_by_side(rows.nth(1), ("Action", "Owner department", "Due date"))

    rows.nth(0).get_by_role("button", name="Remove").click()
    expect(rows).to_have_count(1)
    kept = rows.nth(0)
    for key, value in (("action", "Raise mould temperature"), ("owner_department", "production"),
                       ("due_date", "2026-12-15")):
        control = kept.locator(f'[name="corrective_actions[0][{key}]"]')
        expect(control).to_have_value(value)
        expect(control).to_have_id(f"f-corrective_actions-0-{key}")
    expect(kept.locator('[name*="[1]"]')).to_have_count(0)
    expect(kept.get_by_label("Due date")).to_have_value("2026-12-15")  # labels follow the new ids
    expect(kept.get_by_role("button", name="Remove")).to_be_disabled()
    expect(actions.get_by_role("button", name="Add row")).to_be_focused()

    page.get_by_role("button", name="Complete").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.locator(".flash-success")).to_have_text(f"“{ANALYSE}” completed for case #{case.id}.")

    expected = [{"action": "Raise mould temperature", "owner_department": "production", "due_date": "2026-12-15"}]
    events, broken = cases.case_events(ctx, actor(ctx, "auditor1"), case.id)
    [analysis] = [e for e in events if e.type == "task_completed" and e.element_id == "Task_AnalyseRootCause"]
    assert analysis.actor == "qc1"
    assert analysis.data["corrective_actions"] == expected
    assert broken is None


def test_another_department_sees_a_sales_task_read_only(page: Page, ctx: EngineContext) -> None:
    """gm1 (management reads every case) can open a sales task but gets its values, not a form: no
    Complete or Claim button."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), PROCESS, {})
    task = open_task(ctx, case.id, RECORD)

    sign_in(page, "gm1")
    expect(page.locator(f'tr[data-task-id="{task.id}"]')).to_have_count(0)
    page.goto(f"/tasks/{task.id}")
    expect(page.get_by_role("heading", name=RECORD, level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Only members of the department sales")).to_be_visible()
    expect(page.get_by_role("button", name="Complete")).to_have_count(0)
    expect(page.get_by_role("button", name="Claim")).to_have_count(0)
    expect(page.locator("form.task-form")).to_have_count(0)
    expect(page.get_by_role("textbox")).to_have_count(0)
    expect(page.locator('.form-values [data-field="customer"]')).to_be_visible()


def test_pages_fit_a_phone_screen_without_sideways_scrolling(page: Page, ctx: EngineContext) -> None:
    """Wide tables scroll inside their box; the page itself never gets wider than the screen."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), PROCESS, {})
    complete(ctx, "sales1", case.id, RECORD, FEEDBACK)
    complete(ctx, "qc1", case.id, CONTAIN, CONTAINMENT)
    task = open_task(ctx, case.id, ANALYSE)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "qc1")
    for path in ("/inbox", f"/tasks/{task.id}", f"/cases/{case.id}", "/cases", "/start"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        width, screen = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert width <= screen, f"{path} is {width}px wide on a {screen}px screen"
