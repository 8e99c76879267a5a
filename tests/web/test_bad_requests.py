"""Hostile and malformed requests get a 4xx with a JSON error naming what is wrong, never a 500,
and nothing is stored on refusal: bodies beyond the size limit (413), JSON nested beyond what can
be read or stored, lone surrogates and NUL characters, ids and paging parameters beyond their
bounds, and methods a path does not have (405 with ``Allow``). The engine's services refuse the
same data for any caller (the CLI, the worker), not only for the API. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select

from engine.data_limits import DataLimits
from engine.errors import InvalidInput
from engine.persistence.models import Case, CaseEvent, UnmatchedMessage
from engine.services import cases, messages, tasks
from engine.services.users import find_actor
from tests.integration.test_after_sales_paths import FEEDBACK
from web import create_app

PROCESS = "after_sales_feedback"


def count(ctx, model) -> int:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def post_raw(api, path: str, raw: bytes | str, as_: str = "sales1"):  # type: ignore[no-untyped-def]
    api._headers(as_)
    return api.client.post(f"/api/v1{path}", data=raw, content_type="application/json",
                           headers={"Authorization": f"Bearer {api.tokens[as_]}"})


def open_task(ctx) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, find_actor(ctx, "sales1"), PROCESS, {})
    return case.id, case.open_tasks[0].id


def events_of(ctx, case_id: int) -> int:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).where(CaseEvent.case_id == case_id)) or 0


# --- body size ---------------------------------------------------------------------------------


def test_fifty_megabytes_of_start_data_is_413_and_starts_no_case(api, ctx):
    body = json.dumps({"process": PROCESS, "data": {"notes": "x" * (50 * 1024 * 1024)}})
    response = post_raw(api, "/cases", body)
    assert response.status_code == 413
    assert response.json["details"] == {"max_bytes": ctx.settings.max_body_bytes}
    assert "bytes" in response.json["error"]
    assert count(ctx, Case) == 0 and count(ctx, CaseEvent) == 0


def test_a_body_beyond_the_limit_is_413_even_where_the_view_reads_no_body(api, ctx):
    _, task_id = open_task(ctx)
    api._headers("sales1")
    response = api.client.post(f"/api/v1/tasks/{task_id}/claim", data=b"x" * (ctx.settings.max_body_bytes + 1),
                               headers={"Authorization": f"Bearer {api.tokens['sales1']}"})
    assert response.status_code == 413 and response.is_json
    assert api.get(f"/tasks/{task_id}", as_="sales1").json["task"]["assignee"] is None


def test_the_body_limit_is_a_setting_and_web_pages_answer_413_with_a_page(ctx):
    ctx.settings = dataclasses.replace(ctx.settings, max_body_bytes=4096)
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, context=ctx)
    client = app.test_client()
    assert client.post("/login", data={"username": "sales1", "password": "demo"}).status_code == 302
    _, task_id = open_task(ctx)
    response = client.post(f"/tasks/{task_id}", data={**FEEDBACK, "description": "x" * 5000})
    assert response.status_code == 413
    assert "text/html" in response.content_type and "4096 bytes" in response.text
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(func.count()).where(CaseEvent.type == "task_completed")) == 0


# --- nesting, surrogates, NUL ------------------------------------------------------------------


def test_json_nested_100000_deep_is_400_and_stores_nothing(api, ctx):
    body = '{"process": "after_sales_feedback", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = post_raw(api, "/cases", body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json["error"]
    assert count(ctx, Case) == 0


def test_start_data_900_deep_is_422_naming_the_field_and_starts_no_case(api, ctx):
    response = api.post("/cases", {"process": PROCESS, "data": nested(900)}, as_="sales1")
    assert response.status_code == 422
    [(path, [message])] = response.json["details"].items()
    limit = DataLimits().max_depth
    assert path == "data" + ".a" * limit and message == f"Nested more than {limit} levels deep."
    assert count(ctx, Case) == 0


def test_a_correlation_500_deep_is_422_and_keeps_no_message(api, ctx):
    response = api.post("/messages/delivery_consent", {"payload": {}, "correlation": nested(500)}, as_="sales1")
    assert response.status_code == 422
    assert all(path.startswith("correlation.a") for path in response.json["details"])
    assert count(ctx, UnmatchedMessage) == 0 and count(ctx, CaseEvent) == 0


def test_a_lone_surrogate_in_start_data_is_422_naming_the_field(api, ctx):
    raw = '{"process": "after_sales_feedback", "data": {"note": "bad \\ud800 text"}}'
    response = post_raw(api, "/cases", raw)
    assert response.status_code == 422
    assert list(response.json["details"]) == ["data.note"]
    assert "surrogate" in response.json["details"]["data.note"][0]
    assert count(ctx, Case) == 0


def test_nul_characters_and_non_finite_numbers_are_422_naming_the_field(api, ctx):
    case_id, task_id = open_task(ctx)
    before = events_of(ctx, case_id)
    response = api.post(f"/tasks/{task_id}/complete", {"data": {**FEEDBACK, "contact": "Li\x00Wei"}}, as_="sales1")
    assert response.status_code == 422 and list(response.json["details"]) == ["data.contact"]
    response = post_raw(api, f"/tasks/{task_id}/complete", '{"data": {"count": 1e400}}')
    assert response.status_code == 422 and response.json["details"] == {"data.count": ["Must be a finite number."]}
    response = post_raw(api, "/cases", '{"process": "after_sales_feedback", "data": {"n": NaN}}')
    assert response.status_code == 400 and "NaN" in response.json["error"]
    assert events_of(ctx, case_id) == before and count(ctx, Case) == 1


def test_malformed_json_is_400_and_a_body_that_is_not_an_object_is_422(api, ctx):
    response = post_raw(api, "/cases", '{"process": ')
    assert response.status_code == 400 and response.json["error"].startswith("The request body is not valid JSON")
    response = post_raw(api, "/cases", "[1, 2]")
    assert response.status_code == 422 and response.json["details"] == {"": ["Must be a JSON object."]}
    assert count(ctx, Case) == 0


# --- the engine refuses the same data for every caller ---------------------------------------------


def test_the_services_refuse_data_too_deep_too_large_or_unstorable_for_any_caller(ctx):
    sales = find_actor(ctx, "sales1")
    with pytest.raises(InvalidInput) as deep:
        cases.start_case(ctx, sales, PROCESS, nested(900))
    assert list(deep.value.details) == ["data" + ".a" * DataLimits().max_depth]
    ctx.settings = dataclasses.replace(ctx.settings, data_limits=DataLimits(max_bytes=1000))
    with pytest.raises(InvalidInput) as large:
        cases.start_case(ctx, sales, PROCESS, {"notes": "x" * 2000})
    assert list(large.value.details) == ["data"] and "at most 1000 bytes" in large.value.details["data"][0]
    with pytest.raises(InvalidInput) as bad_name:
        messages.deliver_message(ctx, sales, "delivery_consent", {"x\x00": 1}, {})
    assert list(bad_name.value.details) == ["payload.x\x00"]
    with pytest.raises(InvalidInput) as surrogate:
        messages.deliver_message(ctx, sales, "delivery_consent", {}, {"order_ref": "\udc80"})
    assert list(surrogate.value.details) == ["correlation.order_ref"]
    assert count(ctx, Case) == 0 and count(ctx, UnmatchedMessage) == 0
    ctx.settings = dataclasses.replace(ctx.settings, data_limits=DataLimits())
    case_id, task_id = open_task(ctx)
    before = events_of(ctx, case_id)
    with pytest.raises(InvalidInput) as in_form:
        tasks.complete_task(ctx, sales, task_id, {**FEEDBACK, "items": [nested(40)]})
    assert next(iter(in_form.value.details)).startswith("items.0.a")
    assert events_of(ctx, case_id) == before


def test_a_task_form_post_nested_beyond_the_limit_or_holding_nul_is_422_and_changes_nothing(app, ctx):
    client = app.test_client()
    assert client.post("/login", data={"username": "sales1", "password": "demo"}).status_code == 302
    case_id, task_id = open_task(ctx)
    before = events_of(ctx, case_id)
    deep = client.post(f"/tasks/{task_id}", data={**FEEDBACK, "category": "quality",
                                                   "contact" + "[a]" * 5000: "x"})
    assert deep.status_code == 422 and "Nested more than" in deep.text
    with_nul = client.post(f"/tasks/{task_id}", data={**FEEDBACK, "category": "quality", "contact": "Li\x00"})
    assert with_nul.status_code == 422 and "NUL character" in with_nul.text
    assert events_of(ctx, case_id) == before


# --- ids, paging, query parameters, methods ------------------------------------------------------


def test_case_ids_beyond_64_bits_are_404(api):
    for path in ("/cases/9223372036854775808", "/cases/9223372036854775808/events", "/cases/0",
                 "/cases/99999999999999999999999999"):
        response = api.get(path, as_="sales1")
        assert response.status_code == 404, path
        assert response.json["error"]


def test_case_pages_with_ids_beyond_64_bits_are_404_pages(app):
    client = app.test_client()
    assert client.post("/login", data={"username": "sales1", "password": "demo"}).status_code == 302
    assert client.get("/cases/9223372036854775808").status_code == 404
    assert client.get("/inbox?offset=99999999999999999999").status_code == 200


@pytest.mark.parametrize("path", ["/cases", "/inbox", "/messages/unmatched"])
@pytest.mark.parametrize("query, name", [("offset=99999999999999999999", "offset"), ("offset=null", "offset"),
                                         ("offset=-1", "offset"), ("limit=501", "limit"), ("limit=", "limit"),
                                         ("limit=1.5", "limit")])
def test_paging_parameters_out_of_bounds_are_422_naming_the_parameter(api, path, query, name):
    response = api.get(f"{path}?{query}", as_="admin1")
    assert response.status_code == 422
    assert list(response.json["details"]) == [name]
    assert "whole number from 0 to" in response.json["details"][name][0]


def test_paging_parameters_in_bounds_page_through_the_list(api, ctx):
    for _ in range(3):
        open_task(ctx)
    all_ids = [c["id"] for c in api.get("/cases?limit=500", as_="sales1").json["cases"]]
    page = api.get("/cases?limit=2&offset=1", as_="sales1").json
    assert page["total"] == 3 and [c["id"] for c in page["cases"]] == all_ids[1:3]


def test_nul_in_a_query_parameter_is_422_and_in_a_path_404(api):
    response = api.get("/cases?q=a%00b", as_="sales1")
    assert response.status_code == 422 and list(response.json["details"]) == ["q"]
    response = api.post("/tasks/a%00b/claim", as_="sales1")
    assert response.status_code == 404 and response.is_json


def test_a_method_a_path_does_not_have_is_405_with_allow(api):
    api._headers("sales1")
    response = api.client.delete("/api/v1/cases", headers={"Authorization": f"Bearer {api.tokens['sales1']}"})
    assert response.status_code == 405 and response.is_json
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
