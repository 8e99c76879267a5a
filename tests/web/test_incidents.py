"""A bug in ServiceFlow surfaces as a bug: answered 500 with an incident id that admins find with
its traceback, never passed off as someone else's conflict or as a broken diagram."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.errors import Forbidden
from engine.services import cases
from engine.services.incidents import list_incidents
from engine.spiff.runtime import CaseRuntime
from tests.factories import actor
from tests.web.test_pages import FEEDBACK, first_task_id, login, start


def _boom(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise AttributeError("'NoneType' object has no attribute 'spec' (a planted bug)")


def test_a_bug_while_finding_the_task_is_an_incident_not_a_conflict(ctx, api, monkeypatch):
    case = start(ctx)
    task_id = first_task_id(case)
    ctx.runtimes.clear()
    monkeypatch.setattr(BpmnWorkflow, "get_task_from_id", _boom)
    response = api.post(f"/tasks/{task_id}/complete", {"data": FEEDBACK}, as_="sales1")
    monkeypatch.undo()

    assert response.status_code == 500
    body = response.get_json()
    incident = body["details"]["incident"]
    assert body["error"] == f"Internal error: something went wrong on our side (incident {incident})"
    [found] = list_incidents(ctx, actor(ctx, "admin1"))
    assert (found.id, found.source, found.actor, found.kind) == (
        incident, f"POST /api/v1/tasks/{task_id}/complete", "sales1", "AttributeError")
    assert "a planted bug" in found.message and "_boom" in found.trace
    after = cases.get_case(ctx, actor(ctx, "sales1"), case.id)
    assert after.status == "running" and [t.id for t in after.open_tasks] == [task_id]


def test_a_bug_inside_an_engine_step_leaves_the_case_running_instead_of_in_error(ctx, api, monkeypatch):
    case = start(ctx)
    task_id = first_task_id(case)
    events_before = len(cases.case_events(ctx, actor(ctx, "sales1"), case.id)[0])
    monkeypatch.setattr(CaseRuntime, "advance", _boom)
    response = api.post(f"/tasks/{task_id}/complete", {"data": FEEDBACK}, as_="sales1")
    monkeypatch.undo()

    assert response.status_code == 500
    after = cases.get_case(ctx, actor(ctx, "sales1"), case.id)
    assert (after.status, after.error) == ("running", "")
    assert len(cases.case_events(ctx, actor(ctx, "sales1"), case.id)[0]) == events_before
    assert [i.id for i in list_incidents(ctx, actor(ctx, "admin1"))] == [response.get_json()["details"]["incident"]]
    ctx.runtimes.clear()
    done = api.post(f"/tasks/{task_id}/complete", {"data": FEEDBACK}, as_="sales1")
    assert done.status_code == 200 and done.get_json()["status"] == "running"


def test_a_page_that_fails_shows_the_incident_id_and_admins_alone_list_incidents(app, ctx, monkeypatch):
    start(ctx)
    monkeypatch.setattr(cases, "list_cases", _boom)
    sales = login(app, "sales1")
    page = sales.get("/cases")
    monkeypatch.undo()
    assert page.status_code == 500
    [incident] = list_incidents(ctx, actor(ctx, "admin1"))
    assert f"incident {incident.id}" in page.text
    assert incident.source == "GET /cases" and incident.actor == "sales1"

    admin = login(app, "admin1")
    listing = admin.get("/admin/incidents")
    assert listing.status_code == 200 and incident.id in listing.text and "a planted bug" in listing.text
    assert 'href="/admin/incidents"' in admin.get("/inbox").text
    assert sales.get("/admin/incidents").status_code == 403
    with pytest.raises(Forbidden):
        list_incidents(ctx, actor(ctx, "sales1"))
