"""What only a browser shows about customers and records: a task form's customer field is a select
of the Customer List that survives a failed submission and links the case to the customer's card,
and a printable record leaves the navigation off the printed page.

Cases are prepared through the engine services; the rest is clicking and typing in Debian's
Chromium. Screenshots land in /tmp/sf-shots/ for people to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.context import EngineContext
from engine.services import cases, tasks
from engine.services.records import case_records
from tests.factories import actor, complete, open_task
from tests.web.bundles import CONFIRM_TASK, RECORD_TASK, start_visit

pytestmark = pytest.mark.browser


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/(inbox|cases)$"))  # auditors land on the case list


def test_the_customer_select_of_a_task_form_works_end_to_end(page: Page, ctx: EngineContext, shots: Path) -> None:
    """Choose a customer from the list, survive a failed submission with the choice kept, complete
    the task, and find the case on the Customer Data Card."""
    case = start_visit(ctx)
    task = open_task(ctx, case.id, RECORD_TASK)
    sign_in(page, "sales1")
    page.goto(f"/tasks/{task.id}")

    select = page.get_by_role("combobox", name="Customer", exact=True)
    expect(select).to_have_js_property("tagName", "SELECT")
    options = select.locator("option")
    expect(options).to_contain_text(["Choose…", "C001 — Acme Motors Co., Ltd.", "C004 — Orient Rail Systems"])
    select.select_option(label="C004 — Orient Rail Systems")
    page.get_by_role("button", name="Complete").click()  # "Visited on" and "Outcome" left empty

    expect(page.get_by_role("alert").filter(has_text="The form has errors")).to_be_visible()
    select = page.get_by_role("combobox", name="Customer", exact=True)
    expect(select).to_have_value("C004")
    expect(select.locator("option:checked")).to_have_text("C004 — Orient Rail Systems")
    page.screenshot(path=str(shots / "customer-select-after-errors.png"), full_page=True)

    page.get_by_label("Visited on").fill("2026-11-20")
    page.get_by_label("Outcome").select_option(label="Order expected")
    page.get_by_role("button", name="Complete").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    assert cases.get_case(ctx, actor(ctx, "sales1"), case.id).customer == "Orient Rail Systems"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", name="Customer List", level=1)).to_be_visible()
    page.get_by_role("link", name="Orient Rail Systems").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("C004 — Orient Rail Systems")
    page.locator(f'tr[data-case-id="{case.id}"]').get_by_role("link", name=str(case.id), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.id}$"))
    expect(page.locator("article.record").first).to_contain_text("Order expected")


def test_the_print_page_leaves_the_navigation_off_the_printed_page(
    page: Page, ctx: EngineContext, shots: Path
) -> None:
    case = start_visit(ctx)
    complete(ctx, "sales1", case.id, RECORD_TASK,
             {"customer": "C001", "visited_on": "2026-11-20", "outcome": "none"})
    [record] = case_records(ctx, actor(ctx, "sales1"), case.id)
    sign_in(page, "gm1")
    page.goto(f"/cases/{case.id}")
    page.get_by_role("link", name=f"Print {RECORD_TASK}").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.id}/records/{record.event.seq}$"))

    navigation = page.get_by_role("navigation", name="Main")
    toolbar = page.locator(".print-toolbar")
    expect(navigation).to_be_visible()
    expect(toolbar.get_by_role("button", name="Print")).to_be_visible()  # print.js shows it

    page.emulate_media(media="print")
    expect(navigation).to_be_hidden()
    expect(page.locator(".site-header")).to_be_hidden()
    expect(toolbar).to_be_hidden()
    expect(page.get_by_role("heading", name=RECORD_TASK, level=1)).to_be_visible()
    expect(page.locator('[data-doc="customer"]')).to_have_text("Acme Motors Co., Ltd.")
    expect(page.locator("footer.doc-footer")).to_have_text(f"Record hash: {record.event.hash}")
    # The record fills the sheet's width: no screen margins or sheet border left on paper.
    box = page.locator("article.print-record").bounding_box()
    assert box is not None and box["x"] < 20, box
    page.screenshot(path=str(shots / "record-print-media.png"), full_page=True)

    page.emulate_media(media="screen")
    expect(navigation).to_be_visible()


def test_printing_all_records_puts_each_record_on_its_own_a4_page(page: Page, ctx: EngineContext) -> None:
    case = start_visit(ctx)
    complete(ctx, "sales1", case.id, RECORD_TASK, {"customer": "C001", "visited_on": "2026-11-20", "outcome": "none"})
    tasks.complete_task(ctx, actor(ctx, "sales1"), open_task(ctx, case.id, CONFIRM_TASK).id, {"remark": "Done"})
    sign_in(page, "sales1")
    page.goto(f"/cases/{case.id}")
    page.get_by_role("link", name="Print all records").click()
    expect(page.locator("article.print-record")).to_have_count(2)
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pages == 2, f"{pages} pages for two short records"


def test_customer_pages_and_printable_records_fit_a_phone_screen(page: Page, ctx: EngineContext) -> None:
    """Wide tables (contacts, change history, the record's header) scroll or wrap inside the screen."""
    case = start_visit(ctx)
    complete(ctx, "sales1", case.id, RECORD_TASK, {
        "customer": "C001", "visited_on": "2026-11-20", "outcome": "order",
        "questions": [{"question": "Can the PX-200 housing take a thicker gasket?", "owner": "tech"}]})
    [record] = case_records(ctx, actor(ctx, "sales1"), case.id)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "sales1")
    for path in ("/customers", "/customers/C001", "/customers/C001/edit", "/customers/new", f"/cases/{case.id}",
                 f"/cases/{case.id}/records", f"/cases/{case.id}/records/{record.event.seq}"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1).first).to_be_visible()
        width, screen = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert width <= screen, f"{path} is {width}px wide on a {screen}px screen"
