"""The main pages work under the Content-Security-Policy in a real browser: Chromium reports every
blocked script, style or frame on the console, and none is reported."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from engine.context import EngineContext
from engine.services import cases
from engine.services.users import find_actor

pytestmark = pytest.mark.browser
VIOLATION = re.compile(r"Content Security Policy|Refused to (execute|apply|load|frame)", re.I)


def watch_console(page: Page) -> list[str]:
    """Every console message that reports a CSP violation, as it arrives."""
    seen: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if VIOLATION.search(message.text):
            seen.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return seen


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/(inbox|cases)$"))  # auditors land on the case list


def test_the_main_pages_load_under_the_policy_without_a_violation(page: Page, ctx: EngineContext) -> None:
    violations = watch_console(page)
    case = cases.start_case(ctx, find_actor(ctx, "sales1"), "after_sales_feedback", {})
    [task] = case.open_tasks
    login = page.goto("/login")
    assert login is not None and "script-src 'self'" in login.headers["content-security-policy"]
    sign_in(page, "admin1")
    paths = ["/inbox", "/cases", f"/cases/{case.id}", f"/cases/{case.id}/records", f"/tasks/{task.id}",
             "/customers", "/customers/C001", "/customers/C001/edit", "/customers/new", "/start", "/procedure",
             "/settings", "/admin/outbox", "/admin/security"]
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        expect(page.locator("main h1").first).to_be_visible()
    page.goto("/settings")
    page.get_by_label("Name").fill("browser check")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_contain_text("sf_")
    assert violations == []


def test_an_injected_inline_script_is_blocked_and_reported(page: Page) -> None:
    """The control for the test above: the console does report what the policy blocks."""
    page.goto("/login")
    with page.expect_console_message(lambda m: bool(VIOLATION.search(m.text))) as reported:
        page.evaluate("""() => {
            const s = document.createElement('script');
            s.textContent = 'document.body.dataset.injected = "ran"';
            document.body.appendChild(s);
        }""")
    assert "inline script" in reported.value.text and "script-src 'self'" in reported.value.text
    expect(page.locator("body")).not_to_have_attribute("data-injected", "ran")
