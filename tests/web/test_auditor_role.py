"""The auditor role (issue 11 §8): auditors read every case, version and event and change
nothing. Every route of the app that could change something (any method but GET, HEAD and
OPTIONS) is enumerated from the URL map, so a route added later is tried too, and each refuses an
auditor with 403, through the pages and through the API, leaving the case as it was; their
navigation has no Inbox or Start."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from engine.services import cases
from tests.conftest import ApiClient
from tests.factories import actor
from tests.web.test_pages import login
from web.read_only import OWN_ACCOUNT_ENDPOINTS, SAFE_METHODS

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _value(rule: Rule, name: str, task_id: str, case_id: int) -> object:
    """A real id where the route takes one (the auditor must be refused for the role, not for a
    missing record), else a plausible placeholder."""
    converter = rule._converters[name]
    if isinstance(converter, IntegerConverter):
        return case_id
    if "|" in converter.regex or converter.regex.startswith("(?:"):
        return converter.regex.strip("()?:").split("|")[0]
    return task_id if name == "task_id" else "x"


def _mutating_routes(app: Flask) -> list[tuple[Rule, str]]:
    return sorted(((rule, method) for rule in app.url_map.iter_rules() for method in UNSAFE
                   if method in (rule.methods or set())), key=lambda pair: (pair[0].rule, pair[1]))


@pytest.fixture
def open_case(ctx):  # type: ignore[no-untyped-def]
    return cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback", {})


def _state(ctx, case_id: int) -> tuple:  # type: ignore[no-untyped-def]
    events, _ = cases.case_events(ctx, actor(ctx, "admin1"), case_id)
    view = cases.get_case(ctx, actor(ctx, "admin1"), case_id)
    return len(events), view.status, view.data, [(t.id, t.assignee) for t in view.open_tasks]


def test_the_app_has_mutating_routes_and_auditors_keep_only_their_own_account(app):
    routes = {rule.endpoint for rule, _ in _mutating_routes(app)}
    assert {"tasks.complete", "api.start_case", "api.complete", "customers.create"} <= routes
    assert OWN_ACCOUNT_ENDPOINTS <= routes
    assert SAFE_METHODS == {"GET", "HEAD", "OPTIONS"}


def test_every_mutating_page_and_endpoint_refuses_an_auditor(app, ctx, open_case):
    task_id = open_case.open_tasks[0].id
    before = _state(ctx, open_case.id)
    pages = login(app, "auditor1")
    api = ApiClient(app, ctx)
    tried = []
    for rule, method in _mutating_routes(app):
        if rule.endpoint in OWN_ACCOUNT_ENDPOINTS:
            continue
        path = rule.build({n: _value(rule, n, task_id, open_case.id) for n in rule.arguments})[1]
        if rule.endpoint.startswith("api."):
            response = api.client.open(path, method=method, json={"data": {}}, headers=api._headers("auditor1"))
            assert response.status_code == 403, (method, path, response.status_code)
            assert "Auditors" in response.json["error"]
        else:
            response = pages.open(path, method=method, data={"name": "x"})
            assert response.status_code == 403, (method, path, response.status_code)
        tried.append(rule.endpoint)
    assert "tasks.complete" in tried and "api.complete" in tried and "cases.start" in tried
    assert _state(ctx, open_case.id) == before


def test_an_auditor_still_changes_their_own_language_and_signs_out(app):
    pages = login(app, "auditor1")
    assert pages.post("/language", data={"locale": "zh", "next": "/cases"}).status_code == 302
    assert pages.post("/logout").status_code == 302


def test_an_auditors_navigation_has_no_inbox_or_start_and_those_pages_lead_to_the_cases(app, open_case):
    pages = login(app, "auditor1")
    page = pages.get("/cases").get_data(as_text=True)
    assert 'href="/inbox"' not in page and 'href="/start"' not in page
    assert f'href="/cases/{open_case.id}"' in page
    for path in ("/", "/inbox", "/start"):
        response = pages.get(path)
        assert response.status_code == 302 and response.location.endswith("/cases"), path
    staff = login(app, "sales1").get("/cases").get_data(as_text=True)
    assert 'href="/inbox"' in staff and 'href="/start"' in staff


def test_an_auditor_reads_every_case_and_its_history(api, open_case):
    assert api.get(f"/cases/{open_case.id}", as_="auditor1").status_code == 200
    events = api.get(f"/cases/{open_case.id}/events", as_="auditor1").json
    assert events["chain_intact"] is True and events["events"][0]["type"] == "case_started"
    assert open_case.id in {c["id"] for c in api.get("/cases", as_="auditor1").json["cases"]}
