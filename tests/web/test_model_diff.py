"""The diff of two versions of one process through the API and the page, on both backends: a draft
made from the version in force with a renamed task, a changed condition and a changed form field;
who may read it; bad and foreign ids refused with the field named; the "Compare with…" choice."""

from __future__ import annotations

import json

import pytest

from engine.context import EngineContext
from engine.services import models
from tests.factories import actor

BPMN_PATH = "workflows/liaison_approval.bpmn"
FORM_PATH = "forms/liaison-form.schema.json"


@pytest.fixture
def versions(ctx: EngineContext) -> tuple[int, int]:
    """(the version in force of liaison_approval, a draft of it with three changes)."""
    owner = actor(ctx, "owner1")
    current = models.process_versions(ctx, owner, "liaison_approval").versions[0]
    draft = models.new_draft(ctx, owner, "liaison_approval")
    models.save_file(ctx, owner, draft.id, BPMN_PATH, draft.files[BPMN_PATH]
                     .replace('name="Write Liaison Form"', 'name="Write the Liaison Form"')
                     .replace('decision == "revise"', 'decision in ("revise", "redo")'))
    schema = json.loads(draft.files[FORM_PATH])
    schema["properties"]["subject"]["title"] = "Subject of the visit"
    models.save_file(ctx, owner, draft.id, FORM_PATH, json.dumps(schema))
    return current.id, draft.id


def test_the_api_lists_each_change_with_its_element_type_name_and_before_and_after(api, versions) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    response = api.get(f"/models/{draft}/diff?against={current}", as_="reviewer1")
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["before"]["id"], body["after"]["id"]) == (current, draft)
    assert (body["before"]["status"], body["after"]["status"]) == ("published", "draft")
    by_id = {(e["file"], e["element_id"]): e for e in body["entries"]}
    assert set(by_id) == {(BPMN_PATH, "Task_WriteLiaisonForm"), (BPMN_PATH, "Flow_DecisionRevise"),
                          (FORM_PATH, "subject")}
    task = by_id[(BPMN_PATH, "Task_WriteLiaisonForm")]
    assert (task["element_type"], task["name"], task["kind"]) == ("userTask", "Write the Liaison Form", "changed")
    assert task["changes"] == [{"attribute": "name", "before": "Write Liaison Form",
                                "after": "Write the Liaison Form"}]
    flow = by_id[(BPMN_PATH, "Flow_DecisionRevise")]
    assert (flow["element_type"], flow["name"]) == ("sequenceFlow", "Returned for revision")
    assert flow["changes"] == [{"attribute": "condition", "before": 'decision == "revise"',
                                "after": 'decision in ("revise", "redo")'}]
    field = by_id[(FORM_PATH, "subject")]
    assert (field["element_type"], field["changes"][0]["after"]) == ("form field", "Subject of the visit")


def test_the_reverse_comparison_and_a_version_with_itself(api, versions) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    reverse = api.get(f"/models/{current}/diff?against={draft}", as_="owner1").json
    task = next(e for e in reverse["entries"] if e["element_id"] == "Task_WriteLiaisonForm")
    assert (task["changes"][0]["before"], task["changes"][0]["after"]) == ("Write the Liaison Form",
                                                                           "Write Liaison Form")
    assert api.get(f"/models/{draft}/diff?against={draft}", as_="owner1").json["entries"] == []


@pytest.mark.parametrize("username", ["owner1", "reviewer1", "gm1", "admin1", "auditor1"])
def test_whoever_may_read_models_may_read_the_diff(api, versions, username: str) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    assert api.get(f"/models/{draft}/diff?against={current}", as_=username).status_code == 200


@pytest.mark.parametrize("username", ["sales1", "qc1", "centre-system"])
def test_staff_and_service_accounts_may_not_read_the_diff(api, versions, username: str) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    response = api.get(f"/models/{draft}/diff?against={current}", as_=username)
    assert response.status_code == 403 and "may not read process models" in response.json["error"]


def test_the_diff_needs_a_token(api, versions) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    assert api.get(f"/models/{draft}/diff?against={current}").status_code == 401


@pytest.mark.parametrize("query", ["", "?against=", "?against=abc", "?against=0", "?against=-3",
                                   "?against=99999999999", "?against=1.5"])
def test_a_missing_or_malformed_against_is_refused_naming_it(api, versions, query: str) -> None:  # type: ignore[no-untyped-def]
    _, draft = versions
    response = api.get(f"/models/{draft}/diff{query}", as_="owner1")
    assert response.status_code == 422 and "against" in response.json["details"]


def test_unknown_versions_are_not_found(api, versions) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    unknown = api.get(f"/models/{draft}/diff?against=987654", as_="owner1")
    assert unknown.status_code == 404 and unknown.json["details"] == {"against": "no model 987654"}
    assert api.get(f"/models/987654/diff?against={current}", as_="owner1").status_code == 404
    assert api.get(f"/models/99999999999/diff?against={current}", as_="owner1").status_code == 404


def test_versions_of_two_different_processes_are_refused(api, ctx, versions) -> None:  # type: ignore[no-untyped-def]
    _, draft = versions
    capa = models.process_versions(ctx, actor(ctx, "owner1"), "capa").versions[0].id
    response = api.get(f"/models/{draft}/diff?against={capa}", as_="owner1")
    assert response.status_code == 409
    assert "capa" in response.json["details"]["against"] and "liaison_approval" in response.json["error"]


def sign_in(client, username: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data={"username": username, "password": "demo"})
    assert response.status_code == 302


def test_the_page_shows_both_diagrams_with_their_marks_and_the_list(app, versions) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    client = app.test_client()
    sign_in(client, "reviewer1")
    page = client.get(f"/models/{draft}/diff?against={current}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("data-diff-diagram") == 2
    assert 'data-side="before"' in html and 'data-side="after"' in html
    assert html.count('"Task_WriteLiaisonForm": "changed"') == 2  # marked on both diagrams
    assert 'data-element-id="Task_WriteLiaisonForm"' in html and 'data-kind="changed"' in html
    assert "Write the Liaison Form" in html and "style=" not in html


def test_the_page_refuses_foreign_versions_and_other_readers(app, ctx, versions) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    capa = models.process_versions(ctx, actor(ctx, "owner1"), "capa").versions[0].id
    client = app.test_client()
    sign_in(client, "owner1")
    assert client.get(f"/models/{draft}/diff?against={capa}").status_code == 409
    assert client.get(f"/models/{draft}/diff").status_code == 422
    other = app.test_client()
    sign_in(other, "sales1")
    assert other.get(f"/models/{draft}/diff?against={current}").status_code == 403


def test_a_version_page_offers_to_compare_with_the_other_versions_of_its_process(app, versions) -> None:  # type: ignore[no-untyped-def]
    current, draft = versions
    client = app.test_client()
    sign_in(client, "owner1")
    html = client.get(f"/models/{draft}").get_data(as_text=True)
    assert f'action="/models/{draft}/diff"' in html and 'name="against"' in html
    assert f'<option value="{current}" selected>' in html  # the version in force is offered first
    assert f'<option value="{draft}"' not in html
