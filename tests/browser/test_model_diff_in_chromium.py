"""The diff of two versions in Chromium: from a version's page, "Compare with…" the version in force
opens both diagrams side by side; the renamed task is marked changed (amber) on both, under the
Content-Security-Policy, and listed below; no request leaves the server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.context import EngineContext
from engine.services import models
from engine.services.users import find_actor
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser
BPMN_PATH = "workflows/liaison_approval.bpmn"
FORM_PATH = "forms/liaison-form.schema.json"
AMBER = "rgb(154, 103, 0)"


def test_the_owner_compares_a_draft_with_the_version_in_force_and_sees_the_renamed_task_marked(
        page: Page, ctx: EngineContext, live_server: LiveServer, shots: Path) -> None:
    owner = find_actor(ctx, "owner1")
    current = models.process_versions(ctx, owner, "liaison_approval").versions[0]
    draft = models.new_draft(ctx, owner, "liaison_approval")
    models.save_file(ctx, owner, draft.id, BPMN_PATH, draft.files[BPMN_PATH].replace(
        'name="Write Liaison Form"', 'name="Write the Liaison Form"'))
    schema = json.loads(draft.files[FORM_PATH])
    schema["properties"]["subject"]["title"] = "Subject of the visit"
    models.save_file(ctx, owner, draft.id, FORM_PATH, json.dumps(schema))
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((live_server.url, "data:", "blob:"))
            else outside.append(r.url))
    page.on("console", lambda m: outside.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto("/login")
    page.get_by_label("Username").fill("owner1")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    page.goto(f"/models/{draft.id}")
    expect(page.get_by_label("Compare with…")).to_have_value(str(current.id))  # the version in force
    page.get_by_role("button", name="Show the changes").click()
    expect(page).to_have_url(re.compile(rf"/models/{draft.id}/diff\?against={current.id}$"))

    for side in ("before", "after"):
        diagram = page.locator(f"[data-diff-diagram][data-side='{side}']")
        expect(diagram).to_have_attribute("data-ready", "true")
        task = diagram.locator("g.djs-element[data-element-id='Task_WriteLiaisonForm']")
        expect(task).to_have_class(re.compile(r"\bdiff-changed\b"))
        stroke = task.locator(".djs-visual > :first-child").evaluate("e => getComputedStyle(e).stroke")
        assert stroke == AMBER
        unchanged = diagram.locator("g.djs-element[data-element-id='Task_ApproveLiaisonForm']")
        expect(unchanged).not_to_have_class(re.compile(r"\bdiff-"))
    before_label = page.locator("[data-side='before'] g.djs-element[data-element-id='Task_WriteLiaisonForm']")
    after_label = page.locator("[data-side='after'] g.djs-element[data-element-id='Task_WriteLiaisonForm']")
    expect(before_label).to_contain_text("Write Liaison")
    expect(after_label).to_contain_text("Write the")

    row = page.locator("tr[data-element-id='Task_WriteLiaisonForm']")
    expect(row).to_have_attribute("data-kind", "changed")
    expect(row).to_contain_text("Write Liaison Form")
    expect(row).to_contain_text("Write the Liaison Form")
    expect(page.locator(f"tr[data-element-id='subject'][data-file='{FORM_PATH}']")).to_contain_text(
        "Subject of the visit")
    # its id in the list selects it on both diagrams
    row.get_by_role("button", name="Task_WriteLiaisonForm").click()
    for side in ("before", "after"):
        expect(page.locator(f"[data-side='{side}'] g.djs-element[data-element-id='Task_WriteLiaisonForm']")
               ).to_have_class(re.compile(r"\bselected\b"))
    page.screenshot(path=str(shots / "model-diff.png"), full_page=True)
    assert outside == []
