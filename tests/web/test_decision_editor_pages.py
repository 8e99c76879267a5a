"""The decision table editor page of a draft: who may open it, on which versions and files, what
it carries (the DMN, its tests, their problems), and the model page's link to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html

from engine.context import EngineContext
from engine.services import models
from engine.services.users import find_actor
from web.modeler.decisions import CODEMIRROR_STYLE_HASHES, DMN_JS_STYLE_ATTRIBUTES
from web.security_headers import CONTENT_SECURITY_POLICY

PROCESS = "after_sales_feedback"
DMN = "workflows/feedback_routing.dmn"
TESTS = "workflows/feedback_routing.tests.json"
QUALITY_TO_QC = '<outputEntry id="Rule_quality_department"><text>"qc"</text></outputEntry>'
QUALITY_TO_TECH = '<outputEntry id="Rule_quality_department"><text>"tech"</text></outputEntry>'


def login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302
    return client


def draft(ctx: EngineContext) -> models.ModelView:
    return models.new_draft(ctx, find_actor(ctx, "owner1"), PROCESS)


def editor(client: FlaskClient, model_id: int, path: str = DMN) -> html.HtmlElement:
    response = client.get(f"/models/{model_id}/decisions?file={path}")
    assert response.status_code == 200
    return html.fromstring(response.data)


def test_the_owner_opens_a_drafts_decision_table_with_its_tests(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    page = editor(login(app, "owner1"), model.id)
    [root] = page.xpath("//*[@id='decision-editor']")
    assert root.get("data-path") == DMN
    assert root.get("data-tests-path") == TESTS
    assert root.get("data-save-url") == f"/models/{model.id}/files"
    assert page.xpath("//textarea[@id='decision-source']")[0].text == model.files[DMN]
    tests = json.loads(page.xpath("//textarea[@id='decision-tests-source']")[0].text)
    assert tests == json.loads(model.files[TESTS])
    assert json.loads(root.get("data-problems")) == []
    assert "/vendor/dmn-js/dmn-modeler.production.min.js" in page.xpath("//script/@src")
    assert "/static/js/decision-editor.js" in page.xpath("//script/@src")
    assert page.xpath("//meta[@name='csrf-token']/@content")


def test_the_page_lists_the_failing_tests_of_its_file(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    owner = find_actor(ctx, "owner1")
    models.save_file(ctx, owner, model.id, DMN, model.files[DMN].replace(QUALITY_TO_QC, QUALITY_TO_TECH, 1))
    page = editor(login(app, "owner1"), model.id)
    problems = json.loads(page.xpath("//*[@id='decision-editor']/@data-problems")[0])
    assert problems and {p["file"] for p in problems} == {TESTS}
    assert all(p["element_id"] == "feedback_routing" and "Decision test failed" in p["message"] for p in problems)
    assert any("routed_department='tech'" in p["message"] for p in problems)


def test_a_dmn_without_tests_starts_with_an_empty_list(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    owner = find_actor(ctx, "owner1")
    other = "workflows/extra_routing.dmn"
    models.save_file(ctx, owner, model.id, other, model.files[DMN].replace('"feedback_routing"', '"extra_routing"'))
    page = editor(login(app, "owner1"), model.id, other)
    assert page.xpath("//*[@id='decision-editor']/@data-tests-path") == ["workflows/extra_routing.tests.json"]
    assert page.xpath("//textarea[@id='decision-tests-source']")[0].text == "[]"
    assert set(page.xpath("//nav[contains(@class, 'modeler-files')]/a/text()")) == {DMN, other}


@pytest.mark.parametrize("path", ["workflows/other.dmn", "workflows/after_sales_feedback.bpmn", TESTS, ""])
def test_a_file_that_is_not_one_of_the_drafts_decision_tables_is_not_found(
        app: Flask, ctx: EngineContext, path: str) -> None:
    model = draft(ctx)
    assert login(app, "owner1").get(f"/models/{model.id}/decisions?file={path}").status_code == 404


def test_an_unknown_model_is_not_found(app: Flask) -> None:
    assert login(app, "owner1").get(f"/models/999999/decisions?file={DMN}").status_code == 404


@pytest.mark.parametrize("username", ["sales1", "gm1", "auditor1", "admin1", "qc1"])
def test_only_a_process_owner_may_open_the_decision_editor(app: Flask, ctx: EngineContext, username: str) -> None:
    model = draft(ctx)
    assert login(app, username).get(f"/models/{model.id}/decisions?file={DMN}").status_code == 403


def test_a_version_that_is_not_a_draft_is_not_opened_for_editing(app: Flask, ctx: EngineContext) -> None:
    published = next(entry.version_id for entry in draft(ctx).revision_record if entry.status == models.PUBLISHED)
    assert login(app, "owner1").get(f"/models/{published}/decisions?file={DMN}").status_code == 409


def test_the_model_page_links_each_decision_table_to_the_editor_for_the_owner_of_a_draft(
        app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    link = f"/models/{model.id}/decisions?file={DMN}"
    owner_page = html.fromstring(login(app, "owner1").get(f"/models/{model.id}").data)
    assert owner_page.xpath("//ul[@class='model-files']//a/@href").count(link) == 1
    reader_page = html.fromstring(login(app, "gm1").get(f"/models/{model.id}").data)
    assert [href for href in reader_page.xpath("//a/@href") if "/decisions" in href] == [
        f"/models/{model.id}/decisions/view?file={DMN}"]


@pytest.mark.parametrize("username", ["gm1", "auditor1", "owner1"])
def test_a_reader_sees_a_decision_table_with_its_tests_and_failing_tests_read_only(
        app: Flask, ctx: EngineContext, username: str) -> None:
    model = draft(ctx)
    models.save_file(ctx, find_actor(ctx, "owner1"), model.id, DMN,
                     model.files[DMN].replace(QUALITY_TO_QC, QUALITY_TO_TECH, 1))
    response = login(app, username).get(f"/models/{model.id}/decisions/view?file={DMN}")
    assert response.status_code == 200
    page = html.fromstring(response.data)
    assert page.xpath("//textarea[@id='decision-source']")[0].text == model.files[DMN].replace(
        QUALITY_TO_QC, QUALITY_TO_TECH, 1)
    assert "/vendor/dmn-js/dmn-viewer.production.min.js" in page.xpath("//script/@src")
    assert not page.xpath("//*[@id='decision-viewer' or @id='decision-tests']//*[self::input or self::button]")
    assert not page.xpath("//*[@id='decision-save']")
    rows = page.xpath("//tbody[@id='decision-tests']/tr")
    expected = json.loads(model.files[TESTS])
    assert len(rows) == len(expected)
    assert [json.loads(code) for code in rows[0].xpath("td/code/text()")] == [
        expected[0]["inputs"], expected[0]["expected"]]
    [failing] = page.xpath("//ul[@id='decision-problems']/li")
    assert "routed_department='tech'" in failing.text_content()


def test_the_read_only_view_shows_a_published_version_and_refuses_other_files(
        app: Flask, ctx: EngineContext) -> None:
    published = next(entry.version_id for entry in draft(ctx).revision_record if entry.status == models.PUBLISHED)
    client = login(app, "gm1")
    page = html.fromstring(client.get(f"/models/{published}/decisions/view?file={DMN}").data)
    assert page.xpath("//*[@id='decision-viewer']/@data-path") == [DMN]
    assert client.get(f"/models/{published}/decisions/view?file=workflows/after_sales_feedback.bpmn").status_code == 404
    assert client.get(f"/models/{published}/decisions/view").status_code == 404


def test_who_may_not_read_models_does_not_see_a_decision_table(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    assert login(app, "sales1").get(f"/models/{model.id}/decisions/view?file={DMN}").status_code == 403


def test_an_unreadable_tests_file_shows_no_rows_and_its_problem(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    models.save_file(ctx, find_actor(ctx, "owner1"), model.id, TESTS, '{"not": "a list"}')
    page = html.fromstring(login(app, "gm1").get(f"/models/{model.id}/decisions/view?file={DMN}").data)
    assert not page.xpath("//tbody[@id='decision-tests']/tr")
    assert "must be a JSON list" in page.xpath("//ul[@id='decision-problems']")[0].text_content()


def directives(policy: str) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in policy.split("; ")}


def test_the_dmn_js_pages_allow_exactly_its_style_attributes_and_nothing_else_inline(
        app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    client = login(app, "owner1")
    for page in (f"/models/{model.id}/decisions?file={DMN}", f"/models/{model.id}/decisions/view?file={DMN}"):
        policy = directives(client.get(page).headers["Content-Security-Policy"])
        assert policy["script-src"] == "'self'"
        sources = policy["style-src"].split(" ")
        assert sources[:2] == ["'self'", "'unsafe-hashes'"]
        assert len(sources) == 2 + len(DMN_JS_STYLE_ATTRIBUTES) + len(CODEMIRROR_STYLE_HASHES)
        assert {k: v for k, v in policy.items() if k != "style-src"} == {
            k: v for k, v in directives(CONTENT_SECURITY_POLICY).items() if k != "style-src"}
    assert client.get(f"/models/{model.id}").headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    # each allowed attribute is one dmn-js's bundle builds (css() joins its parts with ';')
    dist = Path(__file__).resolve().parents[2] / "node_modules/dmn-js/dist"
    bundle = (dist / "dmn-modeler.production.min.js").read_text()
    for value in DMN_JS_STYLE_ATTRIBUTES:
        assert value.replace("\n", "\\n") in bundle or '","'.join(value.split(";")) in bundle, value
