"""Messages through the JSON API on SQLite and PostgreSQL: the customer's consent to a late delivery
(PROCEDURE 5.4.2) reaches the case whose order reference it names, a message that matches nothing is
answered 404 and kept, and a process beginning with a message is started by it (a test-only diagram)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.definitions.catalog import ProcessBundle
from engine.persistence.models import MessageWait
from engine.services.processes import publish_bundle
from tests.integration.test_delivery_paths import DELIVERED, LATE, ORDER, PRODUCED, notice
from tests.integration.walks import Case

DIAGRAMS = Path(__file__).resolve().parents[1] / "data" / "messages"


def awaiting(api, order_ref: str) -> Case:  # type: ignore[no-untyped-def]
    """A late order whose customer answers through their own system: the case waits for the message."""
    case = Case(api, "order_delivery")
    case.step("Register order", "sales", {**ORDER, "order_ref": order_ref})
    case.step("Plan production", "production", LATE)
    case.step("Inform customer of late delivery", "sales", notice("awaited"))
    assert case.titles() == []
    return case


def consent(api, order_ref: str, answer: str, as_: str = "sales1"):  # type: ignore[no-untyped-def]
    return api.post("/messages/delivery_consent", {
        "payload": {"customer_consent": answer, "consent_notes": "via EDI"},
        "correlation": {"order_ref": order_ref}}, as_=as_)


def waits(ctx, case_id: int) -> int:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).where(MessageWait.case_id == case_id)) or 0


@pytest.mark.clause("5.4.2")
def test_the_consent_message_moves_the_case_whose_order_reference_it_names(api, ctx):
    first, second = awaiting(api, "PO-1"), awaiting(api, "PO-2")
    assert (waits(ctx, first.id), waits(ctx, second.id)) == (1, 1)

    response = consent(api, "PO-2", "agreed")
    assert response.status_code == 200, response.json
    assert response.json["id"] == second.id
    assert [t["title"] for t in response.json["open_tasks"]] == ["Produce order"]
    assert response.json["data"]["customer_consent"] == "agreed"
    assert response.json["data"]["consent_notes"] == "via EDI"
    assert waits(ctx, second.id) == 0  # the index is emptied once the case moves on
    assert waits(ctx, first.id) == 1

    second.case = response.json
    second.step("Produce order", "production", PRODUCED)
    second.step("Confirm delivery", "sales", DELIVERED)
    second.ended("Delivered")
    received = [e for e in second.events() if e["type"] == "message_received"]
    assert len(received) == 1
    assert received[0]["element_id"] == "Event_ConsentReceived"
    assert received[0]["actor"] == "sales1"
    assert received[0]["data"] == {"name": "delivery_consent", "correlation": {"order_ref": "PO-2"},
                                   "payload": {"customer_consent": "agreed", "consent_notes": "via EDI"}}
    assert api.get(f"/cases/{second.id}/events", as_="auditor1").json["chain_intact"] is True

    refused = consent(api, "PO-1", "refused")
    assert refused.status_code == 200
    assert [t["title"] for t in refused.json["open_tasks"]] == ["Decide on refused delivery date"]


@pytest.mark.clause("5.4.2")
def test_a_consent_naming_no_waiting_order_is_answered_404_and_kept(api, ctx):
    case = awaiting(api, "PO-7")
    response = consent(api, "PO-404", "agreed")
    assert response.status_code == 404
    kept_id = response.json["details"]["unmatched_id"]
    assert str(kept_id) in response.json["error"]
    assert waits(ctx, case.id) == 1
    assert api.get(f"/cases/{case.id}", as_="sales1").json["open_tasks"] == []

    kept = api.get("/messages/unmatched", as_="admin1")
    assert kept.status_code == 200
    [message] = [m for m in kept.json if m["id"] == kept_id]
    assert (message["name"], message["correlation"], message["actor"]) == (
        "delivery_consent", {"order_ref": "PO-404"}, "sales1")
    assert message["payload"]["customer_consent"] == "agreed"
    assert api.get("/messages/unmatched", as_="sales1").status_code == 403

    # a second consent for an order already answered reaches nothing either
    assert consent(api, "PO-7", "agreed").status_code == 200
    assert consent(api, "PO-7", "agreed").status_code == 404


@pytest.mark.clause("5.4.2")
def test_sales_still_record_the_answer_by_hand(api, ctx):
    case = Case(api, "order_delivery")
    case.step("Register order", "sales", ORDER)
    case.step("Plan production", "production", LATE)
    case.step("Inform customer of late delivery", "sales", notice("agreed"))
    assert case.titles() == ["Produce order"]
    assert waits(ctx, case.id) == 0


def test_a_message_starts_a_case_of_the_process_that_begins_with_it(api, ctx):
    bpmn = (DIAGRAMS / "message_intake.bpmn").read_text()
    publish_bundle(ctx, ProcessBundle("message_intake", "Message intake", {"workflows/message_intake.bpmn": bpmn}))
    response = api.post("/messages/intake_received", {"payload": {"title": "Pump noise", "serial": "SV-9"}},
                        as_="centre1")
    assert response.status_code == 201, response.json
    assert response.json["process_id"] == "message_intake"
    assert (response.json["title"], response.json["data"]["serial"]) == ("Pump noise", "SV-9")
    assert [t["title"] for t in response.json["open_tasks"]] == ["Review intake"]
    events = api.get(f"/cases/{response.json['id']}/events", as_="auditor1").json["events"]
    assert [e["type"] for e in events][:2] == ["case_started", "message_received"]
    assert events[1]["data"]["payload"] == {"title": "Pump noise", "serial": "SV-9"}


def test_a_message_must_be_an_object_with_object_payload_and_correlation(api):
    response = api.post("/messages/delivery_consent", {"payload": [1], "correlation": "PO-1"}, as_="sales1")
    assert response.status_code == 422
    assert set(response.json["details"]) == {"payload", "correlation"}
