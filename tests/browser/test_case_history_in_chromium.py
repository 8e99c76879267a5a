"""The step-through of a case's history in Chromium: the path taken marked on the diagram, loop
iterations counted, the called process in its own diagram, and stepping back and forth (buttons
and keyboard) changing the open tasks and the data shown."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from engine.context import EngineContext
from engine.services import cases
from tests.browser.test_task_pages import sign_in
from tests.factories import actor, complete
from tests.integration.test_visit_paths import APPROVALS, LIAISON

pytestmark = pytest.mark.browser


def _visit_revised_then_rejected(ctx: EngineContext) -> int:
    """A customer visit whose Liaison Form (the called liaison_approval process) is written twice."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), "customer_visit")
    for decision in ("revise", "reject"):
        complete(ctx, "sales1", case.id, "Write Liaison Form", LIAISON)
        complete(ctx, "gm1", case.id, "Approve Liaison Form", APPROVALS[decision])
    assert cases.get_case(ctx, actor(ctx, "auditor1"), case.id).status == "completed"
    return case.id


def test_a_completed_case_is_stepped_through_on_its_diagrams(page: Page, ctx: EngineContext, shots) -> None:
    case_id = _visit_revised_then_rejected(ctx)
    sign_in(page, "auditor1", lands_on="cases")
    page.goto(f"/cases/{case_id}")
    page.get_by_role("link", name="Step through on the diagram").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}/history$"))
    steps = page.locator("[data-case-steps]")
    main = page.locator('.case-steps-diagram[data-file="workflows/customer_visit.bpmn"]')
    expect(main).to_have_attribute("data-ready", "true")
    expect(steps).to_have_attribute("data-current-step", "5")
    expect(page.locator("[data-step-status]")).to_have_text("Completed")
    expect(page.locator("[data-step-open] li")).to_have_text(["None"])
    assert main.locator(".djs-element.step-done").count() >= 4  # start, call activity, gateway, end
    assert main.locator(".djs-connection.step-done").count() >= 3
    page.screenshot(path=str(shots / "case-history-last-step.png"), full_page=True)

    page.keyboard.press("Home")
    expect(steps).to_have_attribute("data-current-step", "1")
    expect(page.locator("[data-step-open] li")).to_have_text([re.compile("^Write Liaison Form")])
    expect(page.locator("[data-step-submitted]")).to_have_text("{}")
    page.get_by_role("button", name="Next step").click()
    expect(steps).to_have_attribute("data-current-step", "2")
    expect(page.locator("[data-step-open] li")).to_have_text([re.compile("^Approve Liaison Form")])
    expect(page.locator("[data-step-submitted]")).to_contain_text(LIAISON["subject"])
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-step-open] li")).to_have_text([re.compile("^Write Liaison Form")])
    page.get_by_role("button", name="Previous step").click()
    expect(steps).to_have_attribute("data-current-step", "2")
    expect(page.locator("[data-step-open] li")).to_have_text([re.compile("^Approve Liaison Form")])

    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    expect(steps).to_have_attribute("data-current-step", "4")
    expect(page.locator("[data-step-data]")).not_to_contain_text("rejected")
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-step-data]")).to_contain_text('"liaison_decision": "rejected"')
    page.get_by_role("tab", name="liaison_approval.bpmn").click()
    called = page.locator('.case-steps-diagram[data-file="workflows/liaison_approval.bpmn"]')
    expect(called).to_be_visible()
    expect(called).to_have_attribute("data-ready", "true")
    expect(main).to_be_hidden()
    for element in ("Task_WriteLiaisonForm", "Task_ApproveLiaisonForm"):  # each done twice: one loop
        expect(called.locator(f'.case-steps-count[data-element-id="{element}"]')).to_have_text("× 2")
    page.screenshot(path=str(shots / "case-history-called-process.png"), full_page=True)
    page.get_by_role("button", name=re.compile(r"^\d+\. ")).first.click()
    expect(steps).to_have_attribute("data-current-step", "1")
    expect(called.locator(".djs-element.step-open")).to_have_count(1)


def test_a_migrated_case_shows_each_step_on_the_diagrams_of_the_version_it_was_on(
        page: Page, ctx: EngineContext, shots) -> None:
    from engine.services import migrations
    from tests.migration_bundles import CHECK, PROCESS_ID, WRITE, publish_version, start

    publish_version(ctx, 1, with_layout=True)
    case = start(ctx)
    complete(ctx, "sales1", case.id, WRITE, {})
    publish_version(ctx, 2, with_layout=True)
    migrations.migrate_cases(ctx, actor(ctx, "owner1"), migrations.read_request(
        {"process": PROCESS_ID, "to_version": 2, "cases": [case.id], "dry_run": False}))
    complete(ctx, "sales1", case.id, CHECK, {})

    sign_in(page, "sales1")
    page.goto(f"/cases/{case.id}/history")
    steps = page.locator("[data-case-steps]")
    old, new = (page.locator(f'.case-steps-version[data-version="{n}"]') for n in (1, 2))
    expect(steps).to_have_attribute("data-current-step", "4")
    expect(new).to_be_visible()
    expect(old).to_be_hidden()
    expect(new.locator(".case-steps-diagram")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("button", name="Version 2 (A1)", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(new.locator('.djs-element.step-open[data-element-id="Task_Confirm"]')).to_have_count(1)
    page.screenshot(path=str(shots / "case-history-migrated-new-version.png"), full_page=True)

    page.keyboard.press("Home")  # the start: on version 1, waiting at its "Write"
    expect(steps).to_have_attribute("data-current-step", "1")
    expect(old).to_be_visible()
    expect(new).to_be_hidden()
    expect(old.locator(".case-steps-diagram")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("button", name="Version 1 (A0)", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(old.locator('.djs-element.step-open[data-element-id="Task_Write"]')).to_have_count(1)
    assert old.locator('[data-element-id="Task_Confirm"]').count() == 0  # version 1 has no such task
    page.screenshot(path=str(shots / "case-history-migrated-old-version.png"), full_page=True)

    page.get_by_role("button", name="Version 2 (A1)", exact=True).click()  # looked at, not the step's version: unmarked
    expect(new).to_be_visible()
    expect(new.locator(".djs-element.step-open")).to_have_count(0)
    page.get_by_role("button", name="Next step").click()
    page.get_by_role("button", name="Next step").click()  # the migration: the step is on version 2
    expect(steps).to_have_attribute("data-current-step", "3")
    expect(new.locator('.djs-element.step-open[data-element-id="Task_Check"]')).to_have_count(1)
    page.keyboard.press("ArrowLeft")  # back on version 1, where "Check" is open too
    expect(old).to_be_visible()
    expect(old.locator('.djs-element.step-open[data-element-id="Task_Check"]')).to_have_count(1)
