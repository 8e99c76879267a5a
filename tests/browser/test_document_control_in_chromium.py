"""A new version of a process goes through document control in the browser: the process owner
changes a task in a draft and submits it, QA reviews, management approves and publishes through
the model page's buttons; the next case started on the Start page runs on the new version, Sales
completes its renamed task in the browser, and a case started before stays on its version."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.services import cases, models
from tests.browser.test_task_pages import sign_in
from tests.factories import actor

RENAMED = "Write the Liaison Form (revised)"


def _sign(page: Page, model_id: int, user: str, step: str) -> None:
    page.context.clear_cookies()
    sign_in(page, user)
    page.goto(f"/models/{model_id}")
    page.locator(f'button[data-step="{step}"]').click()
    expect(page).to_have_url(re.compile(rf"/models/{model_id}$"))


def test_a_version_signed_off_in_the_browser_starts_the_next_case(page: Page, live_server, ctx):
    draft = models.new_draft(ctx, actor(ctx, "owner1"), "liaison_approval")
    path = next(p for p in draft.files if p.endswith(".bpmn"))
    models.save_file(ctx, actor(ctx, "owner1"), draft.id, path,
                     draft.files[path].replace('name="Write Liaison Form"', f'name="{RENAMED}"'))
    before = cases.start_case(ctx, actor(ctx, "sales1"), "liaison_approval")

    _sign(page, draft.id, "owner1", "submit")
    _sign(page, draft.id, "reviewer1", "review")
    _sign(page, draft.id, "gm1", "approve")
    _sign(page, draft.id, "gm1", "publish")
    published = models.get_model(ctx, actor(ctx, "gm1"), draft.id)
    assert (published.status, published.label) == ("published", "A1")
    assert [s.step for s in published.signoffs][-4:] == ["submitted", "reviewed", "approved", "published"]

    page.context.clear_cookies()
    sign_in(page, "sales1")
    page.goto("/start")
    page.get_by_role("button", name="Start Liaison Form approval").click()
    expect(page.get_by_role("heading", name=RENAMED, level=1)).to_be_visible()  # the new version's task
    page.locator('[name="subject"]').fill("Calibrate the KT-50 rig")
    page.locator('[name="customer"]').select_option("C001")
    page.locator('[name="purpose"]').fill("Yearly calibration")
    page.locator('[name="planned_date"]').fill("2026-12-20")
    page.locator('[name="service_type"]').select_option("calibration")
    page.get_by_label("Sales Section").check()
    page.get_by_role("button", name="Complete").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    started = cases.list_cases(ctx, actor(ctx, "gm1"), cases.CaseFilter(process_id="liaison_approval"))[0]
    newest = cases.get_case(ctx, actor(ctx, "gm1"), max(c.id for c in started))
    assert [t.title for t in newest.open_tasks] == ["Approve Liaison Form"]
    old = cases.get_case(ctx, actor(ctx, "sales1"), before.id)
    assert [t.title for t in old.open_tasks] == ["Write Liaison Form"]  # the running case stays on A0
    assert newest.version == old.version + 1
