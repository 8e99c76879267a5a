"""The form workbench in Chromium: a process owner edits a form's schema and sees the preview
follow in both languages, and a broken schema named as publishing would name it."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.browser.test_task_pages import sign_in


def test_an_owner_edits_a_form_and_the_preview_follows_in_both_languages(page: Page, live_server):
    sign_in(page, "owner1")
    page.goto("/forms/workbench?form=feedback-record.schema.json")
    english, chinese = page.locator('[data-preview="en"]'), page.locator('[data-preview="zh"]')
    expect(english.locator('[name="customer"]')).to_be_visible()
    expect(chinese.locator('[name="customer"]')).to_be_visible()

    page.locator("[data-schema]").fill("{not json")
    problems = page.locator("[data-problems]")
    expect(problems).to_contain_text("not valid JSON")

    schema = {"type": "object", "required": ["serial"],
              "properties": {"serial": {"type": "string", "title": "Serial number"}}}
    page.locator("[data-schema]").fill(json.dumps(schema))
    page.locator("[data-ui-schema]").fill(json.dumps({"ui:translations": {"zh": {"serial": "序列号"}}}))
    expect(english.get_by_label("Serial number")).to_be_visible()
    expect(chinese.get_by_label("序列号")).to_be_visible()
    expect(problems).to_be_hidden()


def test_an_owner_saves_a_form_into_a_draft_from_the_workbench(page: Page, live_server, ctx):
    from engine.services import models
    from tests.factories import actor

    draft = models.new_draft(ctx, actor(ctx, "owner1"), "liaison_approval")
    path = next(p for p in draft.files if p.endswith(".schema.json"))
    schema = json.loads(draft.files[path])
    schema["title"] = "Liaison Form, revised in the workbench"
    sign_in(page, "owner1")
    page.goto(f"/forms/workbench?model={draft.id}&form={path.removeprefix('forms/')}")
    page.locator("[data-schema]").fill(json.dumps(schema))
    page.get_by_role("button", name="Save into the draft").click()
    expect(page.locator("[data-save-status]")).to_have_text("Saved.")
    saved = models.get_model(ctx, actor(ctx, "owner1"), draft.id).files[path]
    assert json.loads(saved)["title"] == "Liaison Form, revised in the workbench"
