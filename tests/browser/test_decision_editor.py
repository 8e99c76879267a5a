"""The decision table editor in Chromium: a process owner changes a rule of a draft's
feedback_routing table so that a test the procedure states fails, saves, sees the failing test,
cannot submit the draft, then fixes the rule and adds a test case in the table beside it; no
request leaves the server (dmn-js and its fonts are the app's own /vendor files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.context import EngineContext
from engine.errors import Conflict
from engine.services import models
from engine.services.users import find_actor
from tests.browser.test_modeler import local_only, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("local_only")]
DMN = "workflows/feedback_routing.dmn"
TESTS = "workflows/feedback_routing.tests.json"
__all__ = ["local_only"]  # no request leaves the server and the CSP blocks nothing, dmn-js included


def output_cell(page: Page, rule_entry: str) -> Locator:
    """The editable text of one output entry of the table, by the entry's id."""
    return page.locator(f"td[data-element-id='{rule_entry}'] .content-editable")


def set_cell(page: Page, rule_entry: str, text: str) -> None:
    cell = output_cell(page, rule_entry)
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Escape")
    expect(cell).to_have_text(text)


def save(page: Page, state: str) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#decision-status")).to_have_attribute("data-state", state)


def stored(ctx: EngineContext, model_id: int) -> models.ModelView:
    return models.get_model(ctx, find_actor(ctx, "owner1"), model_id)


def test_a_routing_change_that_breaks_a_decision_test_is_reported_and_blocks_submission(
        page: Page, ctx: EngineContext, shots: Path) -> None:
    owner = find_actor(ctx, "owner1")
    draft = models.new_draft(ctx, owner, "after_sales_feedback")
    sign_in(page, "owner1")
    page.goto(f"/models/{draft.id}")
    page.get_by_role("link", name="Edit the decision table").click()
    editor = page.locator("#decision-editor")
    expect(editor).to_have_attribute("data-ready", "true")
    expect(editor).to_have_attribute("data-path", DMN)
    expect(editor).to_have_attribute("data-view", "feedback_routing")
    expect(page.locator("#decision-tests tr")).to_have_count(len(json.loads(draft.files[TESTS])))
    expect(page.locator("#decision-problems li")).to_have_count(0)

    # quality problems routed to the Technical Section: PROCEDURE 5.5.1's test fails
    set_cell(page, "Rule_quality_department", '"tech"')
    save(page, "problems")
    failing = page.locator("#decision-problems li[data-element-id='feedback_routing']")
    expect(failing).to_have_count(1)
    expect(failing).to_contain_text(TESTS)
    expect(failing).to_contain_text("routed_department='tech', expected routed_department='qc'")
    page.screenshot(path=str(shots / "decision-editor-failing-test.png"), full_page=True)
    assert '<text>"tech"</text>' in stored(ctx, draft.id).files[DMN].split('id="Rule_quality_department"')[1][:80]
    with pytest.raises(Conflict) as refused:
        models.submit(ctx, owner, draft.id)
    assert any("Decision test failed" in p["message"] for p in refused.value.details["problems"])

    # the rule put back, and a new case added beside the table
    set_cell(page, "Rule_quality_department", '"qc"')
    page.get_by_role("button", name="Add a test").click()
    row = page.locator("#decision-tests tr").last
    expect(row.get_by_label("Decision")).to_have_value("feedback_routing")
    row.get_by_label("Description").fill("cleaning is done on site")
    row.get_by_label("Inputs").fill('{"category": "cleaning"}')
    row.get_by_label("Expected outputs").fill('{"routed_department": "tech"}')
    save(page, "saved")
    expect(page.locator("#decision-problems li")).to_have_count(0)
    after = stored(ctx, draft.id)
    assert not [p for p in after.problems if p.file in (DMN, TESTS)]
    tests = json.loads(after.files[TESTS])
    assert tests[:-1] == json.loads(draft.files[TESTS])
    assert tests[-1] == {"decision": "feedback_routing", "description": "cleaning is done on site",
                         "inputs": {"category": "cleaning"}, "expected": {"routed_department": "tech"}}
    assert models.submit(ctx, owner, draft.id).status == models.SUBMITTED


def test_a_test_case_that_is_not_json_is_refused_before_anything_is_saved(
        page: Page, ctx: EngineContext) -> None:
    draft = models.new_draft(ctx, find_actor(ctx, "owner1"), "after_sales_feedback")
    sign_in(page, "owner1")
    page.goto(f"/models/{draft.id}/decisions?file={DMN}")
    expect(page.locator("#decision-editor")).to_have_attribute("data-ready", "true")
    page.locator("#decision-tests tr").first.get_by_label("Inputs").fill("{not json")
    save(page, "failed")
    expect(page.locator("#decision-status")).to_contain_text("Test 1: inputs must be a JSON object.")
    assert stored(ctx, draft.id).files[TESTS] == draft.files[TESTS]


def test_a_reader_opens_the_decision_table_read_only_from_the_model_page(page: Page, ctx: EngineContext) -> None:
    draft = models.new_draft(ctx, find_actor(ctx, "owner1"), "after_sales_feedback")
    sign_in(page, "gm1")
    page.goto(f"/models/{draft.id}")
    expect(page.get_by_role("link", name="Edit the decision table")).to_have_count(0)
    page.get_by_role("link", name="View the decision table").click()
    viewer = page.locator("#decision-viewer")
    expect(viewer).to_have_attribute("data-ready", "true")
    expect(viewer).to_have_attribute("data-view", "feedback_routing")
    expect(page.locator("td[data-element-id='Rule_quality_department']")).to_have_text('"qc"')
    expect(page.locator("td[data-element-id='Rule_quality_department'] [contenteditable='true']")).to_have_count(0)
    expect(page.locator("#decision-tests tr")).to_have_count(len(json.loads(draft.files[TESTS])))


def test_dmn_js_markup_is_styled_under_the_policy_without_any_violation(page: Page, ctx: EngineContext) -> None:
    """The bpmn.io logo dmn-js adds sits in its corner, and its notice opens as an overlay: their
    style attributes are allowed by hash on this page alone (local_only fails on any violation)."""
    draft = models.new_draft(ctx, find_actor(ctx, "owner1"), "after_sales_feedback")
    sign_in(page, "owner1")
    page.goto(f"/models/{draft.id}/decisions?file={DMN}")
    expect(page.locator("#decision-editor")).to_have_attribute("data-ready", "true")
    logo = page.locator("#decision-editor .bjs-powered-by").first
    expect(logo).to_have_css("position", "absolute")
    logo.click()
    lightbox = page.locator(".bjs-powered-by-lightbox")
    expect(lightbox).to_have_css("position", "fixed")
    expect(lightbox.locator(".notice")).to_have_css("width", "260px")
