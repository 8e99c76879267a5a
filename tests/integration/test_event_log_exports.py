"""The event log for process mining (issue 11 §5): XES (IEEE 1849) and OCEL 2.0 JSON, through the
API and the command line, of real cases walked through the API, on SQLite and PostgreSQL. XES is
checked against the standard's structure with lxml (pm4py is not a dependency of the project)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from lxml import etree

from engine.services import cases
from engine.services.comments import add_comment
from tests.factories import actor, clock_at
from tests.integration.test_after_sales_paths import FEEDBACK, LIAISON, Walk

NS = {"x": "http://www.xes-standard.org/"}
HOSTILE = "Cracks <b>&amp;</b> \x01 ]]> \"quoted\""


@pytest.fixture
def walked(api):  # type: ignore[no-untyped-def]
    """A CAPA case closed through root cause and actions, and a case whose on-site service waits
    for its approved Liaison Form; the first carries text that XML cannot hold as it is."""
    capa = Walk(api)
    capa.do("Record customer feedback", "sales1", "sales", {**FEEDBACK, "category": "quality",
                                                            "description": HOSTILE})
    capa.capa("qc", "qc1", analysis={
        "analysis_method": "5why", "root_cause": "Mould temperature too low", "needs_document_update": False,
        "corrective_actions": [{"action": "Raise mould temperature", "owner_department": "production",
                                "due_date": "2026-12-01"}],
        "preventive_actions": [{"action": "Add a mould check to the start-up list", "owner_department": "qc",
                                "due_date": "2026-12-05"}]})
    liaison = Walk(api)
    liaison.do("Record customer feedback", "sales1", "sales", {**FEEDBACK, "category": "repair"})
    liaison.do("Write Liaison Form", "sales1", "sales", LIAISON)
    liaison.do("Approve Liaison Form", "gm1", "management", {"decision": "approve", "comments": "Go"})
    return capa.case["id"], liaison.case["id"]


def _traces(document: bytes) -> dict[str, etree._Element]:
    root = etree.fromstring(document)
    assert root.tag == "{http://www.xes-standard.org/}log" and root.get("xes.version") == "1849-2016"
    prefixes = {e.get("prefix") for e in root.findall("x:extension", NS)}
    assert prefixes == {"concept", "time", "lifecycle", "org"}
    return {t.find("x:string[@key='concept:name']", NS).get("value"): t for t in root.findall("x:trace", NS)}


def _attrs(event: etree._Element) -> dict[str, str]:
    return {a.get("key"): a.get("value") for a in event}


def test_the_xes_log_has_a_trace_per_case_with_standard_keys_and_opens_as_xml(api, walked):
    capa_id, liaison_id = walked
    response = api.get("/audit/xes", as_="auditor1")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    traces = _traces(response.data)
    assert {str(capa_id), str(liaison_id)} <= set(traces)
    trace = traces[str(capa_id)]
    case_attrs = {a.get("key"): a.get("value") for a in trace if a.tag != "{http://www.xes-standard.org/}event"}
    assert case_attrs["process"] == "after_sales_feedback" and case_attrs["customer"] == "Acme Motors Co., Ltd."
    events = [_attrs(e) for e in trace.findall("x:event", NS)]
    assert events[0]["concept:name"] == "Case started"
    for event in events:
        assert {"concept:name", "time:timestamp", "lifecycle:transition", "org:resource"} <= set(event)
        assert event["time:timestamp"].endswith("+00:00")
    analysis = [e for e in events if e["concept:name"] == "Analyse root cause and propose actions"]
    assert [e["lifecycle:transition"] for e in analysis] == ["schedule", "complete"]
    assert analysis[1]["org:resource"] == "qc1" and analysis[1]["org:group"] == "Quality Inspection Section"
    seqs = [int(e["seq"]) for e in events]
    assert seqs == sorted(seqs) and seqs[0] == 1


def test_the_xes_log_filters_by_process_and_date(api, walked):
    capa_id, _ = walked
    assert _traces(api.get("/audit/xes?process=capa", as_="auditor1").data) == {}
    assert str(capa_id) in _traces(api.get("/audit/xes?process=after_sales_feedback&since=2000-01-01",
                                           as_="admin1").data)
    future = _traces(api.get("/audit/xes?since=2999-01-01", as_="owner1").data)
    assert future == {}
    bad = api.get("/audit/xes?since=yesterday", as_="auditor1")
    assert bad.status_code == 422 and "since" in bad.json["details"]


def test_the_ocel_log_names_case_customer_capa_actions_and_liaison_form_objects(api, walked):
    capa_id, liaison_id = walked
    response = api.get("/audit/ocel", as_="auditor1")
    assert response.status_code == 200
    log = json.loads(response.data)
    objects = {o["id"]: o for o in log["objects"]}
    assert objects[f"case:{capa_id}"]["type"] == "Case"
    assert objects["customer:C001"]["type"] == "Customer"
    corrective = objects[f"capa-action:{capa_id}:corrective:1"]
    assert corrective["type"] == "CAPA action"
    assert {a["name"]: a["value"] for a in corrective["attributes"]}["action"] == "Raise mould temperature"
    assert objects[f"capa-action:{capa_id}:preventive:1"]["type"] == "CAPA action"
    assert objects[f"liaison-form:{liaison_id}"]["type"] == "Liaison Form"
    case_links = {r["objectId"] for r in objects[f"case:{capa_id}"]["relationships"]}
    assert {"customer:C001", f"capa-action:{capa_id}:corrective:1"} <= case_links
    events = [e for e in log["events"] if e["id"].startswith(f"{capa_id}:")]
    analysis = [e for e in events if e["type"] == "Analyse root cause and propose actions"
                and {"name": "lifecycle", "value": "complete"} in e["attributes"]]
    assert len(analysis) == 1
    related = {r["objectId"] for r in analysis[0]["relationships"]}
    assert related == {f"case:{capa_id}", f"capa-action:{capa_id}:corrective:1",
                       f"capa-action:{capa_id}:preventive:1"}
    liaison_written = [e for e in log["events"] if e["id"].startswith(f"{liaison_id}:")
                       and e["type"] == "Write Liaison Form" and {"name": "lifecycle", "value": "complete"}
                       in e["attributes"]]
    assert {r["objectId"] for r in liaison_written[0]["relationships"]} >= {f"liaison-form:{liaison_id}",
                                                                             "customer:C001"}
    types = {t["name"] for t in log["objectTypes"]}
    assert {"Case", "Customer", "CAPA action", "Liaison Form"} <= types
    assert {e["type"] for e in log["events"]} <= {t["name"] for t in log["eventTypes"]}
    every_object = set(objects)
    assert all(r["objectId"] in every_object for e in log["events"] for r in e["relationships"])


@pytest.mark.parametrize("path", ["/audit/xes", "/audit/ocel"])
def test_exports_are_refused_to_staff_who_do_not_read_every_case(api, walked, path):
    response = api.get(path, as_="sales1")
    assert response.status_code == 403 and "auditors" in response.json["error"]


def test_the_command_writes_both_logs(ctx, walked, tmp_path, monkeypatch):
    from web import cli

    monkeypatch.setattr(cli, "build_context", lambda: ctx)
    xes, ocel = tmp_path / "log.xes", tmp_path / "log.json"
    assert cli.main(["audit", "export", "--xes", str(xes), "--process", "after_sales_feedback"]) == 0
    assert cli.main(["audit", "export", "--ocel", str(ocel), "--since", "2000-01-01"]) == 0
    assert str(walked[0]) in _traces(xes.read_bytes())
    assert f"case:{walked[1]}" in {o["id"] for o in json.loads(ocel.read_text())["objects"]}
    assert cli.main(["audit", "export", "--xes", str(xes), "--since", "31/12/2026"]) == 2


def test_since_keeps_an_old_case_that_has_a_newer_event_with_only_its_newer_events(api, ctx):
    with clock_at(datetime(2025, 1, 10, 9, 0)) as clock:
        case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
        clock.now = datetime(2025, 3, 1, 9, 0)
        add_comment(ctx, actor(ctx, "sales1"), case.id, "Still waiting for the customer's photos")
    traces = _traces(api.get("/audit/xes?since=2025-02-01", as_="auditor1").data)
    events = [_attrs(e) for e in traces[str(case.id)].findall("x:event", NS)]
    assert [(e["event_type"], e["org:resource"]) for e in events] == [("comment_added", "sales1")]
    assert events[0]["time:timestamp"] == "2025-03-01T09:00:00.000+00:00"
    assert str(case.id) not in _traces(api.get("/audit/xes?since=2025-03-02", as_="auditor1").data)
