"""The BPMN modeler in Chromium: a process owner adds a user task to a draft, gives it a form,
saves, sees the validation problem at the element, fixes it and saves again; what the modeler does
not edit (Camunda's and spiff-arena's extension elements) is still in the file after a save; and
no request leaves the server (bpmn-js and its fonts are the app's own /vendor files)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from playwright.sync_api import ConsoleMessage, Page, Request, expect

from engine.context import EngineContext
from engine.services import models
from engine.services.users import find_actor
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
REVIEW = "workflows/customer_review_yearly.bpmn"
VIOLATION = re.compile(r"Content Security Policy|Refused to (execute|apply|load|frame)", re.I)


@pytest.fixture
def local_only(page: Page, live_server: LiveServer) -> Iterator[list[str]]:
    """Every request the page makes to anywhere but the app, and every script or style the
    Content-Security-Policy blocked (bpmn-js must work under it); the test fails on either."""
    outside: list[str] = []

    def on_request(request: Request) -> None:
        if not request.url.startswith((live_server.url, "data:", "blob:", "about:")):
            outside.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if VIOLATION.search(message.text):
            outside.append(f"CSP: {message.text}")

    page.on("request", on_request)
    page.on("console", on_console)
    yield outside
    assert outside == []


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))


def open_modeler(page: Page, model_id: int, path: str) -> None:
    page.goto(f"/models/{model_id}/edit?file={path}")
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "true")


def stored(ctx: EngineContext, model_id: int, path: str) -> etree._Element:
    content = models.get_model(ctx, find_actor(ctx, "owner1"), model_id).files[path]
    return etree.fromstring(content.encode())


def shape(page: Page, element_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f"g.djs-element[data-element-id='{element_id}']")


def save(page: Page, state: str) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", state)


def test_the_owner_adds_a_user_task_sees_its_form_problem_at_the_element_and_fixes_it(
        page: Page, ctx: EngineContext, local_only: list[str], shots: Path) -> None:
    draft = models.new_draft(ctx, find_actor(ctx, "owner1"), "customer_review_yearly")
    sign_in(page, "owner1")
    open_modeler(page, draft.id, REVIEW)

    # a task from the palette, dropped on the flow into the end event, made a user task
    flow = page.locator("g.djs-connection[data-element-id='Flow_ReviewToEnd']").bounding_box()
    assert flow is not None
    page.locator(".djs-palette .entry.bpmn-icon-task").click()
    page.mouse.move(flow["x"] + flow["width"] / 2, flow["y"] + flow["height"] / 2 - 20)
    page.mouse.move(flow["x"] + flow["width"] / 2, flow["y"] + flow["height"] / 2)
    page.mouse.click(flow["x"] + flow["width"] / 2, flow["y"] + flow["height"] / 2)
    page.keyboard.press("Escape")
    page.locator(".djs-context-pad .entry[data-action='replace']").click()
    page.locator(".djs-popup [data-id='replace-with-user-task']").click()
    task_id = page.locator("#modeler-panel code[data-show='id']").inner_text()
    expect(page.locator("#modeler-panel [data-show='type']")).to_have_text("UserTask")
    page.get_by_label("Name", exact=True).fill("Confirm the review")
    page.get_by_label("Form (JSON Schema file)").fill("no-such-form.schema.json")
    page.get_by_label("Instructions").fill("Check the card.")
    page.get_by_label("Instructions").press("Tab")
    save(page, "problems")

    badge = page.locator(f".diagram-problem[data-element-id='{task_id}']")
    expect(badge).to_be_visible()
    expect(badge).to_have_class(re.compile("diagram-problem-error"))
    listed = page.locator(f"#modeler-problems li[data-element-id='{task_id}']")
    expect(listed.first).to_contain_text("no-such-form")
    page.screenshot(path=str(shots / "modeler-problem.png"))

    root = stored(ctx, draft.id, REVIEW)
    [task] = root.iter(f"{{{BPMN_NS}}}userTask")
    assert task.get("id") == task_id and task.get("name") == "Confirm the review"
    properties = {p.get("name"): p.get("value") for p in task.iter(f"{{{SPIFF_NS}}}property")}
    assert properties == {"formJsonSchemaFilename": "no-such-form.schema.json"}
    assert task.findtext(f".//{{{SPIFF_NS}}}instructionsForEndUser") == "Check the card."
    flows = {f.get("id"): (f.get("sourceRef"), f.get("targetRef")) for f in root.iter(f"{{{BPMN_NS}}}sequenceFlow")}
    assert ("CallActivity_CustomerData", task_id) in flows.values()
    assert (task_id, "EndEvent_YearlyReviewDone") in flows.values()

    # the fix: a form the bundle has, and its layout, chosen in the panel
    listed.locator("button").first.click()
    expect(page.locator("#modeler-panel code[data-show='id']")).to_have_text(task_id)
    form = models.get_model(ctx, find_actor(ctx, "owner1"), draft.id).files
    schema = next(p for p in sorted(form) if p.endswith(".schema.json")).removeprefix("forms/")
    page.get_by_label("Form (JSON Schema file)").fill(schema)
    page.get_by_label("Form (JSON Schema file)").press("Tab")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#modeler-status")).not_to_have_attribute("data-state", "saving")
    expect(page.locator(f"#modeler-problems li[data-element-id='{task_id}']")).to_have_count(0)
    expect(badge).to_have_count(0)
    problems = models.get_model(ctx, find_actor(ctx, "owner1"), draft.id).problems
    assert not [p for p in problems if p.element_id == task_id]
    [task] = stored(ctx, draft.id, REVIEW).iter(f"{{{BPMN_NS}}}userTask")
    assert {p.get("name"): p.get("value") for p in task.iter(f"{{{SPIFF_NS}}}property")} == {
        "formJsonSchemaFilename": schema}


FOREIGN = """<bpmn:extensionElements>
        <camunda:properties><camunda:property name="owner" value="quality" /></camunda:properties>
        <camunda:executionListener class="org.example.Audit" event="start" />
        <spiffworkflow:unitTests>
          <spiffworkflow:unitTest id="yearly_request">
            <spiffworkflow:inputJson>{"year": 2026}</spiffworkflow:inputJson>
            <spiffworkflow:expectedOutputJson>{"request_type": "yearly_review"}</spiffworkflow:expectedOutputJson>
          </spiffworkflow:unitTest>
        </spiffworkflow:unitTests>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_DueToRequest</bpmn:incoming>"""


def with_foreign_extensions(content: str) -> str:
    """The yearly review with Camunda's and spiff-arena's extension elements on its script task."""
    assert f'xmlns:spiffworkflow="{SPIFF_NS}"' in content
    namespaces = f'xmlns:camunda="{CAMUNDA_NS}" id="Definitions_customer_review_yearly"'
    changed = content.replace('id="Definitions_customer_review_yearly"', namespaces, 1)
    changed = changed.replace("<bpmn:incoming>Flow_DueToRequest</bpmn:incoming>", FOREIGN, 1)
    assert changed.count("camunda:") > 3
    return changed


def test_extension_elements_the_modeler_does_not_know_survive_an_edit_and_save(
        page: Page, ctx: EngineContext, local_only: list[str]) -> None:
    owner = find_actor(ctx, "owner1")
    draft = models.new_draft(ctx, owner, "customer_review_yearly")
    models.save_file(ctx, owner, draft.id, REVIEW, with_foreign_extensions(draft.files[REVIEW]))
    sign_in(page, "owner1")
    open_modeler(page, draft.id, REVIEW)
    shape(page, "Script_YearlyReviewRequest").click()
    page.get_by_label("Name", exact=True).fill("Yearly review request (edited)")
    page.get_by_label("Pre-script (Python)").fill("year = 2026")
    page.get_by_label("Pre-script (Python)").press("Tab")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", re.compile("^(saved|problems)$"))

    [task] = [t for t in stored(ctx, draft.id, REVIEW).iter(f"{{{BPMN_NS}}}scriptTask")]
    assert task.get("name") == "Yearly review request (edited)"
    [extensions] = task.findall(f"{{{BPMN_NS}}}extensionElements")
    property_ = extensions.find(f"{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property")
    assert property_ is not None and dict(property_.attrib) == {"name": "owner", "value": "quality"}
    listener = extensions.find(f"{{{CAMUNDA_NS}}}executionListener")
    assert listener is not None and dict(listener.attrib) == {"class": "org.example.Audit", "event": "start"}
    unit_test = extensions.find(f"{{{SPIFF_NS}}}unitTests/{{{SPIFF_NS}}}unitTest")
    assert unit_test is not None and unit_test.get("id") == "yearly_request"
    assert unit_test.findtext(f"{{{SPIFF_NS}}}inputJson") == '{"year": 2026}'
    assert unit_test.findtext(f"{{{SPIFF_NS}}}expectedOutputJson") == '{"request_type": "yearly_review"}'
    assert extensions.findtext(f"{{{SPIFF_NS}}}preScript") == "year = 2026"
    assert task.findtext(f"{{{BPMN_NS}}}script") == 'request_type = "yearly_review"\ntitle = "Yearly customer review"'


def test_spiffworkflows_own_constructs_survive_an_edit_and_save(
        page: Page, ctx: EngineContext, local_only: list[str]) -> None:
    """customer_data names its multi-instance collections by variable and calls a service operator
    with parameters: a save from the modeler keeps both as they were."""
    path = "workflows/customer_data.bpmn"
    draft = models.new_draft(ctx, find_actor(ctx, "owner1"), "customer_review_yearly")
    before = etree.fromstring(draft.files[path].encode())
    sign_in(page, "owner1")
    open_modeler(page, draft.id, path)
    first_task = before.find(f".//{{{BPMN_NS}}}userTask")
    assert first_task is not None
    shape(page, first_task.get("id")).click()
    page.get_by_label("Name", exact=True).fill("Renamed in the modeler")
    page.get_by_label("Name", exact=True).press("Tab")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", re.compile("^(saved|problems)$"))

    after = stored(ctx, draft.id, path)
    for tag in ("loopDataInputRef", "loopDataOutputRef"):
        kept = [e.text for e in after.iter(f"{{{BPMN_NS}}}{tag}")]
        assert kept and kept == [e.text for e in before.iter(f"{{{BPMN_NS}}}{tag}")]
    for tag in ("parameter", "property", "postScript", "serviceTaskOperator"):
        assert ([dict(e.attrib) for e in after.iter(f"{{{SPIFF_NS}}}{tag}")]
                == [dict(e.attrib) for e in before.iter(f"{{{SPIFF_NS}}}{tag}")]), tag
    renamed = after.find(f".//{{{BPMN_NS}}}userTask[@id='{first_task.get('id')}']")
    assert renamed is not None and renamed.get("name") == "Renamed in the modeler"
    errors = {(p.element_id, p.message) for p in draft.problems if p.severity == "error"}
    now = models.get_model(ctx, find_actor(ctx, "owner1"), draft.id).problems
    after_errors = {(p.element_id, p.message) for p in now if p.severity == "error"}
    assert after_errors <= errors


def test_the_model_page_shows_the_diagram_with_its_problems_and_opens_the_modeler(
        page: Page, ctx: EngineContext, local_only: list[str], shots: Path) -> None:
    owner = find_actor(ctx, "owner1")
    draft = models.new_draft(ctx, owner, "capa")
    path = "workflows/capa.bpmn"
    form = 'name="formJsonSchemaFilename" value="capa-problem.schema.json"'
    missing = draft.files[path].replace(form, 'name="formJsonSchemaFilename" value="no-such-form.schema.json"', 1)
    models.save_file(ctx, owner, draft.id, path, missing)

    sign_in(page, "gm1")
    page.goto(f"/models/{draft.id}")
    diagram = page.locator(f"[data-diagram][data-path='{path}']")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(shape(page, "Task_DescribeCapaProblem")).to_be_visible()
    badge = diagram.locator(".diagram-problem[data-element-id='Task_DescribeCapaProblem']")
    expect(badge).to_be_visible()
    expect(badge).to_have_class(re.compile("diagram-problem-error"))
    assert "no-such-form" in (badge.get_attribute("title") or "")
    expect(page.locator(".djs-palette")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit in the modeler")).to_have_count(0)
    page.screenshot(path=str(shots / "model-page-diagram.png"), full_page=True)

    page.context.clear_cookies()
    sign_in(page, "owner1")
    page.goto(f"/models/{draft.id}")
    page.get_by_role("link", name="Edit in the modeler").and_(page.locator("a[href*='capa.bpmn']")).click()
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "true")
    expect(page.locator("#modeler")).to_have_attribute("data-path", path)
    expect(page.locator(".diagram-problem[data-element-id='Task_DescribeCapaProblem']")).to_be_visible()


def test_the_owner_names_a_user_task_in_chinese_in_the_panel(
        page: Page, ctx: EngineContext, local_only: list[str]) -> None:
    """The Chinese name staff read (``name:zh``) is set in the properties panel and saved with the
    task's other properties."""
    path = "workflows/customer_data.bpmn"
    draft = models.new_draft(ctx, find_actor(ctx, "owner1"), "customer_data")
    task = etree.fromstring(draft.files[path].encode()).find(f".//{{{BPMN_NS}}}userTask")
    assert task is not None
    sign_in(page, "owner1")
    open_modeler(page, draft.id, path)
    shape(page, task.get("id")).click()
    field = page.get_by_label("Name in Chinese", exact=True)
    expect(field).not_to_have_value("")  # the diagram's own name:zh is shown
    field.fill("新的中文名称")
    field.press("Tab")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", re.compile("^(saved|problems)$"))
    saved = stored(ctx, draft.id, path).find(f".//{{{BPMN_NS}}}userTask[@id='{task.get('id')}']")
    assert saved is not None
    names = [p.get("value") for p in saved.iter(f"{{{SPIFF_NS}}}property") if p.get("name") == "name:zh"]
    assert names == ["新的中文名称"]
