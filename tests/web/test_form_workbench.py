"""The form workbench: process owners edit a form's schemas beside a live preview rendered by
the macros that render it for staff, in both languages, with the schema checked as publishing
checks it; nobody else may use it."""

from __future__ import annotations

import json

import pytest

from engine.errors import Forbidden
from engine.services import form_library
from tests.factories import actor
from tests.web.test_pages import login

FORM = "feedback-record.schema.json"


def _preview(client, schema: object, ui_schema: object = None, name: str = FORM):  # type: ignore[no-untyped-def]
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return client.post("/forms/preview", json={"name": name, "schema": text,
                                                "ui_schema": json.dumps(ui_schema or {})})


def test_the_preview_renders_a_published_form_as_staff_see_it_in_both_languages(app, ctx):
    owner = login(app, "owner1")
    form = form_library.published_forms(ctx, actor(ctx, "owner1"))[FORM]
    response = _preview(owner, form.schema, form.ui_schema)
    assert response.status_code == 200 and response.json["problems"] == []
    english, chinese = response.json["html"]["en"], response.json["html"]["zh"]
    for field in form.schema["properties"]:
        assert f'name="{field}"' in english and f'name="{field}"' in chinese
    assert "Customer" in english and "顾客" in chinese
    assert "C001 — " in english  # the Customer List offered by the customer field, as on the task page


def test_a_broken_schema_is_refused_with_the_reason_publishing_would_give(app):
    owner = login(app, "owner1")
    bad_type = _preview(owner, {"type": "object", "properties": {"x": {"type": "wibble"}}})
    assert bad_type.status_code == 422
    assert bad_type.json["problems"][0].startswith(f"Form {FORM}: invalid JSON Schema at properties/x/type")
    not_json = _preview(owner, "{not json")
    assert not_json.status_code == 422 and "not valid JSON" in not_json.json["problems"][0]
    deep = _preview(owner, "[" * 100_000 + "]" * 100_000)
    assert deep.status_code == 422 and "nested too deeply" in deep.json["problems"][0]
    nested = {"type": "object"}
    for _ in range(40):
        nested = {"type": "object", "properties": {"x": nested}}
    too_deep = _preview(owner, nested)
    assert too_deep.status_code == 422 and "Nested more than 32 levels deep" in too_deep.json["problems"][0]


def test_text_in_a_schema_is_escaped_in_the_preview(app):
    owner = login(app, "owner1")
    schema = {"type": "object", "title": "<script>alert(1)</script>",
              "properties": {"x": {"type": "string", "title": "<img src=x onerror=alert(1)>"}}}
    html = _preview(owner, schema).json["html"]["en"]
    assert "<script>" not in html and "<img" not in html and "&lt;img src=x" in html


def test_the_workbench_page_opens_a_published_form_for_owners_and_no_one_else(app, ctx):
    owner = login(app, "owner1")
    page = owner.get(f"/forms/workbench?form={FORM}")
    assert page.status_code == 200 and "&#34;customer&#34;" in page.text  # the schema, escaped in its textarea
    assert 'href="/forms/workbench"' in owner.get("/inbox").text
    sales = login(app, "sales1")
    assert sales.get("/forms/workbench").status_code == 403
    assert _preview(sales, {"type": "object"}).status_code == 403
    assert 'href="/forms/workbench"' not in sales.get("/inbox").text
    with pytest.raises(Forbidden):
        form_library.published_forms(ctx, actor(ctx, "qc1"))


def test_a_request_that_is_not_the_two_texts_is_a_422_naming_what_is_expected(app):
    owner = login(app, "owner1")
    response = owner.post("/forms/preview", json={"schema": {"type": "object"}})
    assert response.status_code == 422


def _draft(ctx, process_id: str = "liaison_approval"):  # type: ignore[no-untyped-def]
    from engine.services import models

    return models.new_draft(ctx, actor(ctx, "owner1"), process_id)


def test_a_draft_form_opens_in_the_workbench_and_is_saved_back_into_the_draft(app, ctx):
    from engine.services import models

    draft = _draft(ctx)
    name = next(p.removeprefix("forms/") for p in draft.files if p.endswith(".schema.json"))
    owner = login(app, "owner1")
    assert f"/forms/workbench?model={draft.id}&amp;form={name}" in owner.get(f"/models/{draft.id}").text
    page = owner.get(f"/forms/workbench?model={draft.id}&form={name}")
    assert page.status_code == 200 and f'data-schema-path="forms/{name}"' in page.text
    schema = json.loads(draft.files[f"forms/{name}"])
    schema["title"] = "Liaison Form, revised"
    saved = owner.post(f"/models/{draft.id}/files", json={"path": f"forms/{name}", "content": json.dumps(schema)})
    assert saved.status_code == 200
    assert json.loads(models.get_model(ctx, actor(ctx, "owner1"), draft.id).files[f"forms/{name}"])["title"] \
        == "Liaison Form, revised"


def test_a_reviewer_reads_a_draft_form_in_the_workbench_without_a_save_button(app, ctx):
    draft = _draft(ctx)
    name = next(p.removeprefix("forms/") for p in draft.files if p.endswith(".schema.json"))
    reviewer = login(app, "reviewer1")
    page = reviewer.get(f"/forms/workbench?model={draft.id}&form={name}")
    assert page.status_code == 200 and "data-save-url" not in page.text
    assert _preview(reviewer, json.loads(draft.files[f"forms/{name}"])).status_code == 200
