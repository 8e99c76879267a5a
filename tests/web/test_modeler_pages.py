"""The modeler page of a draft and the save of one of its files: who may, on which versions, and
what a save stores and answers (the model's problems at their elements)."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html

from engine.context import EngineContext
from engine.services import models
from engine.services.users import find_actor

BPMN = "workflows/capa.bpmn"
FORM = 'name="formJsonSchemaFilename" value="capa-problem.schema.json"'
MISSING_FORM = 'name="formJsonSchemaFilename" value="no-such-form.schema.json"'


def login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302
    return client


def draft(ctx: EngineContext) -> models.ModelView:
    return models.new_draft(ctx, find_actor(ctx, "owner1"), "capa")


def published(ctx: EngineContext) -> int:
    """The version of capa in force (imported by setup), as a new draft's revision record names it."""
    return next(entry.version_id for entry in draft(ctx).revision_record if entry.status == models.PUBLISHED)


def stored(ctx: EngineContext, model_id: int) -> str:
    return models.get_model(ctx, find_actor(ctx, "owner1"), model_id).files[BPMN]


def test_the_owner_opens_a_drafts_diagram_in_the_modeler(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    response = login(app, "owner1").get(f"/models/{model.id}/edit")
    assert response.status_code == 200
    page = html.fromstring(response.data)
    [root] = page.xpath("//*[@id='modeler']")
    assert root.get("data-path") == BPMN
    assert root.get("data-save-url") == f"/models/{model.id}/files"
    assert page.xpath("//textarea[@id='modeler-source']")[0].text == model.files[BPMN]
    departments = page.xpath("//select[@id='prop-department']/option/@value")
    assert {"sales", "qc", "management"} <= set(departments)
    assert "capa-problem.schema.json" in page.xpath("//datalist[@id='model-forms']/option/@value")
    assert page.xpath("//meta[@name='csrf-token']/@content")
    scripts = page.xpath("//script/@src")
    assert "/vendor/bpmn-js/bpmn-modeler.production.min.js" in scripts


def test_a_file_the_draft_does_not_have_is_not_found(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    client = login(app, "owner1")
    assert client.get(f"/models/{model.id}/edit?file=workflows/other.bpmn").status_code == 404
    assert client.get(f"/models/{model.id}/edit?file=forms/capa-problem.schema.json").status_code == 404
    assert client.get("/models/999999/edit").status_code == 404


@pytest.mark.parametrize("username", ["sales1", "gm1", "auditor1", "admin1"])
def test_only_a_process_owner_may_open_the_modeler(app: Flask, ctx: EngineContext, username: str) -> None:
    model = draft(ctx)
    assert login(app, username).get(f"/models/{model.id}/edit").status_code == 403


def test_a_published_version_is_not_opened_for_editing(app: Flask, ctx: EngineContext) -> None:
    response = login(app, "owner1").get(f"/models/{published(ctx)}/edit")
    assert response.status_code == 409


def test_saving_stores_the_file_and_answers_its_problems_at_the_element(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    changed = model.files[BPMN].replace(FORM, MISSING_FORM, 1)
    assert changed != model.files[BPMN]
    response = login(app, "owner1").post(f"/models/{model.id}/files", json={"path": BPMN, "content": changed})
    assert response.status_code == 200
    problems = response.get_json()["problems"]
    assert any(p["element_id"] == "Task_DescribeCapaProblem" and p["severity"] == "error"
               and "no-such-form" in p["message"] for p in problems), problems
    assert set(problems[0]) == {"element_id", "file", "severity", "message"}
    assert stored(ctx, model.id) == changed
    fixed = login(app, "owner1").post(f"/models/{model.id}/files", json={"path": BPMN, "content": model.files[BPMN]})
    assert not any("no-such-form" in p["message"] for p in fixed.get_json()["problems"])
    assert stored(ctx, model.id) == model.files[BPMN]


@pytest.mark.parametrize("username", ["sales1", "qc1", "gm1", "admin1"])
def test_saving_without_the_process_owner_role_is_forbidden_and_changes_nothing(
        app: Flask, ctx: EngineContext, username: str) -> None:
    model = draft(ctx)
    changed = model.files[BPMN].replace(FORM, MISSING_FORM, 1)
    response = login(app, username).post(f"/models/{model.id}/files", json={"path": BPMN, "content": changed})
    assert response.status_code == 403
    assert response.get_json()["error"]
    assert stored(ctx, model.id) == model.files[BPMN]


def test_saving_into_a_published_version_is_a_conflict_and_changes_nothing(app: Flask, ctx: EngineContext) -> None:
    version = published(ctx)
    before = stored(ctx, version)
    response = login(app, "owner1").post(f"/models/{version}/files",
                                         json={"path": BPMN, "content": before.replace(FORM, MISSING_FORM, 1)})
    assert response.status_code == 409
    assert "draft" in response.get_json()["error"]
    assert stored(ctx, version) == before


def test_saving_without_signing_in_changes_nothing(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    response = app.test_client().post(f"/models/{model.id}/files", json={"path": BPMN, "content": "<x/>"})
    assert response.status_code in (302, 401)
    assert stored(ctx, model.id) == model.files[BPMN]


@pytest.mark.parametrize(("body", "field"), [
    ({"content": "<x/>"}, "path"),
    ({"path": BPMN}, "content"),
    ({"path": BPMN, "content": 7}, "content"),
    ({"path": ["a"], "content": "<x/>"}, "path"),
    ({"path": "../../etc/passwd.bpmn", "content": "<x/>"}, "../../etc/passwd.bpmn"),
    ({"path": "workflows/x.exe", "content": "<x/>"}, "x.exe"),
    ({"path": BPMN, "content": "a\u0000b"}, "content"),
])
def test_hostile_bodies_get_a_4xx_naming_the_field(app: Flask, ctx: EngineContext, body: dict, field: str) -> None:
    model = draft(ctx)
    response = login(app, "owner1").post(f"/models/{model.id}/files", json=body)
    assert 400 <= response.status_code < 500
    assert field in response.get_json()["error"]
    assert stored(ctx, model.id) == model.files[BPMN]


def test_a_body_that_is_not_json_gets_a_json_400(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    client = login(app, "owner1")
    response = client.post(f"/models/{model.id}/files", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]
    not_json = client.post(f"/models/{model.id}/files", data="path=x", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 422
    assert stored(ctx, model.id) == model.files[BPMN]


@pytest.mark.parametrize("username", ["owner1", "reviewer1", "gm1", "auditor1"])
def test_readers_of_models_see_a_versions_diagram_with_its_problems(
        app: Flask, ctx: EngineContext, username: str) -> None:
    model = draft(ctx)
    models.save_file(ctx, find_actor(ctx, "owner1"), model.id, BPMN, model.files[BPMN].replace(FORM, MISSING_FORM, 1))
    response = login(app, username).get(f"/models/{model.id}/diagram?file={BPMN}")
    assert response.status_code == 200
    page = html.fromstring(response.data)
    [section] = page.xpath("//section[@data-diagram]")
    assert section.get("data-path") == BPMN
    assert "no-such-form.schema.json" in section.xpath(".//textarea[@class='diagram-source']")[0].text
    problems = json.loads(section.get("data-problems"))
    assert any(p["element_id"] == "Task_DescribeCapaProblem" and "no-such-form" in p["message"] for p in problems)
    assert "/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in page.xpath("//script/@src")
    assert not page.xpath("//*[@id='modeler-save']")


def test_a_published_versions_diagram_is_shown_too(app: Flask, ctx: EngineContext) -> None:
    response = login(app, "gm1").get(f"/models/{published(ctx)}/diagram")
    assert response.status_code == 200
    assert html.fromstring(response.data).xpath("//section[@data-diagram]/@data-path") == [BPMN]


def test_staff_who_do_not_read_models_get_no_diagram(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    assert login(app, "sales1").get(f"/models/{model.id}/diagram").status_code == 403
    assert login(app, "owner1").get(f"/models/{model.id}/diagram?file=../x.bpmn").status_code == 404
