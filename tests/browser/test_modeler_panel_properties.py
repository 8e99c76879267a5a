"""The modeler's properties panel in Chromium for what the loop, due date and process name fields
write: a process owner sets them on a draft, saves, and the stored BPMN holds them in the form
SpiffWorkflow and ServiceFlow execute (tests/web/test_modeler_saved_properties.py runs cases on
such XML)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from engine.context import EngineContext
from engine.services import models
from engine.services.users import find_actor
from tests.browser.test_modeler import (
    BPMN_NS,
    FOREIGN,
    REVIEW,
    SPIFF_NS,
    local_only,
    open_modeler,
    save,
    shape,
    sign_in,
    stored,
    with_foreign_extensions,
)
from tests.model_bundles import zipped
from tests.web.test_modeler_saved_properties import BPMN, PATH, SCHEMA

pytestmark = pytest.mark.browser
__all__ = ["local_only"]


def draft_id(ctx: EngineContext) -> int:
    bundle = {PATH: BPMN, "forms/sample-check.schema.json": json.dumps(SCHEMA)}
    return models.import_bundle(ctx, find_actor(ctx, "owner1"), zipped(bundle), "Sample checks").id


def fill(page: Page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Tab")


def test_the_owner_makes_a_user_task_multi_instance_in_the_panel(
        page: Page, ctx: EngineContext, local_only: list[str]) -> None:
    model_id = draft_id(ctx)
    sign_in(page, "owner1")
    open_modeler(page, model_id, PATH)
    shape(page, "Task_CheckSample").click()
    expect(page.get_by_label("Collection (variable holding the items)")).to_be_hidden()
    page.get_by_label("Repeat", exact=True).select_option("sequential")
    fill(page, "Collection (variable holding the items)", "samples")
    fill(page, "Item variable (each instance's item)", "sample")
    fill(page, "Output collection (variable)", "results")
    fill(page, "Output item variable (each instance's result)", "result")
    fill(page, "Completion condition (Python expression: stop early when true)", "result == 'stop'")
    page.get_by_label("Pre- and post-scripts run on each instance").check()
    save(page, "saved")

    [task] = stored(ctx, model_id, PATH).iter(f"{{{BPMN_NS}}}userTask")
    loop = task.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
    assert loop is not None
    assert loop.get("isSequential") == "true" and loop.get(f"{{{SPIFF_NS}}}scriptsOnInstances") == "true"
    assert loop.findtext(f"{{{BPMN_NS}}}loopDataInputRef") == "samples"
    assert loop.findtext(f"{{{BPMN_NS}}}loopDataOutputRef") == "results"
    assert loop.find(f"{{{BPMN_NS}}}inputDataItem").get("name") == "sample"  # type: ignore[union-attr]
    assert loop.find(f"{{{BPMN_NS}}}outputDataItem").get("name") == "result"  # type: ignore[union-attr]
    assert loop.findtext(f"{{{BPMN_NS}}}completionCondition") == "result == 'stop'"
    assert models.get_model(ctx, find_actor(ctx, "owner1"), model_id).problems == []

    # reopened, the panel shows what was saved; a bad expression is reported at the element
    open_modeler(page, model_id, PATH)
    shape(page, "Task_CheckSample").click()
    expect(page.get_by_label("Repeat", exact=True)).to_have_value("sequential")
    expect(page.get_by_label("Collection (variable holding the items)")).to_have_value("samples")
    expect(page.get_by_label("Pre- and post-scripts run on each instance")).to_be_checked()
    fill(page, "Completion condition (Python expression: stop early when true)", "result ==")
    save(page, "problems")
    listed = page.locator("#modeler-problems li[data-element-id='Task_CheckSample']")
    expect(listed.first).to_contain_text("SyntaxError")

    # a standard loop instead, then none at all
    page.get_by_label("Repeat", exact=True).select_option("standard")
    expect(page.get_by_label("Collection (variable holding the items)")).to_be_hidden()
    fill(page, "Loop condition (Python expression: repeat while true)", "result != 'done'")
    fill(page, "Maximum repetitions", "5")
    save(page, "saved")
    [task] = stored(ctx, model_id, PATH).iter(f"{{{BPMN_NS}}}userTask")
    assert task.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics") is None
    standard = task.find(f"{{{BPMN_NS}}}standardLoopCharacteristics")
    assert standard is not None and standard.get("loopMaximum") == "5"
    assert standard.findtext(f"{{{BPMN_NS}}}loopCondition") == "result != 'done'"
    page.get_by_label("Repeat", exact=True).select_option("")
    save(page, "saved")
    [task] = stored(ctx, model_id, PATH).iter(f"{{{BPMN_NS}}}userTask")
    assert task.find(f"{{{BPMN_NS}}}standardLoopCharacteristics") is None


def properties(task) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {p.get("name"): p.get("value") for p in task.iter(f"{{{SPIFF_NS}}}property")}


def test_the_owner_gives_a_user_task_a_due_date_in_the_panel(
        page: Page, ctx: EngineContext, local_only: list[str]) -> None:
    model_id = draft_id(ctx)
    sign_in(page, "owner1")
    open_modeler(page, model_id, PATH)
    shape(page, "Task_CheckSample").click()
    fill(page, "Due date", "P2X")
    save(page, "problems")
    listed = page.locator("#modeler-problems li[data-element-id='Task_CheckSample']")
    expect(listed.first).to_contain_text("not an ISO 8601 duration")
    fill(page, "Due date", "P2D")
    save(page, "saved")
    [task] = stored(ctx, model_id, PATH).iter(f"{{{BPMN_NS}}}userTask")
    assert properties(task) == {"formJsonSchemaFilename": "sample-check.schema.json", "dueDate": "P2D"}
    open_modeler(page, model_id, PATH)
    shape(page, "Task_CheckSample").click()
    expect(page.get_by_label("Due date", exact=True)).to_have_value("P2D")


def test_the_owner_names_the_process_in_chinese_in_the_panel(
        page: Page, ctx: EngineContext, local_only: list[str]) -> None:
    model_id = draft_id(ctx)
    sign_in(page, "owner1")
    open_modeler(page, model_id, PATH)
    # nothing selected: the panel shows the process itself
    expect(page.locator("#modeler-panel [data-show='type']")).to_have_text("Process")
    expect(page.get_by_label("Process name", exact=True)).to_have_value("Sample checks")
    fill(page, "Process name in Chinese", "样品检验")
    save(page, "saved")
    [process] = stored(ctx, model_id, PATH).iter(f"{{{BPMN_NS}}}process")
    own = process.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property")
    assert [(p.get("name"), p.get("value")) for p in own] == [("name:zh", "样品检验")]
    assert models.get_model(ctx, find_actor(ctx, "owner1"), model_id).name_zh == "样品检验"

    # a diagram with a pool: the pool stands for its process
    review = "workflows/customer_review_yearly.bpmn"
    draft = models.new_draft(ctx, find_actor(ctx, "owner1"), "customer_review_yearly")
    open_modeler(page, draft.id, review)
    shape(page, "Participant_customer_review_yearly").click(position={"x": 10, "y": 40})
    fill(page, "Process name in Chinese", "年度顾客评审（新）")
    page.get_by_role("button", name="Save", exact=True).click()  # the imported diagram has warnings
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", re.compile("^(saved|problems)$"))
    assert models.get_model(ctx, find_actor(ctx, "owner1"), draft.id).name_zh == "年度顾客评审（新）"


def test_unknown_extension_elements_and_loops_survive_a_save_byte_for_byte(
        page: Page, ctx: EngineContext, local_only: list[str]) -> None:
    owner = find_actor(ctx, "owner1")
    files = dict(models.new_draft(ctx, owner, "customer_review_yearly").files)
    files[REVIEW] = with_foreign_extensions(files[REVIEW])
    model_id = models.import_bundle(ctx, owner, zipped(files), "With Camunda and spiff-arena extensions").id
    originals = [re.search(pattern, FOREIGN, re.S).group(0) for pattern in (  # type: ignore[union-attr]
        r"<camunda:properties>.*?</camunda:properties>", r"<camunda:executionListener [^>]*/>",
        r"<spiffworkflow:unitTests>.*?</spiffworkflow:unitTests>")]
    assert '"year"' in originals[2]

    sign_in(page, "owner1")
    open_modeler(page, model_id, REVIEW)
    shape(page, "EndEvent_YearlyReviewDone").click()
    fill(page, "Name", "Yearly review finished")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", re.compile("^(saved|problems)$"))
    saved = models.get_model(ctx, owner, model_id).files[REVIEW]
    assert 'name="Yearly review finished"' in saved
    for original in originals:
        assert original in saved

    # a multi-instance the modeler did not touch keeps its isSequential="false" and its layout
    path = "workflows/customer_data.bpmn"
    loop = re.search(r"<bpmn:multiInstanceLoopCharacteristics .*?</bpmn:multiInstanceLoopCharacteristics>",
                     files[path], re.S).group(0)  # type: ignore[union-attr]
    assert 'isSequential="false"' in loop
    open_modeler(page, model_id, path)
    shape(page, "Task_UpdateCardForCustomer").click()
    fill(page, "Name", "Update the customer's card")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", re.compile("^(saved|problems)$"))
    saved = models.get_model(ctx, owner, model_id).files[path]
    assert "Update the customer&#39;s card" in saved or "Update the customer's card" in saved
    assert loop in saved
