"""Customer master data (PROCEDURE 5.2) walked through the JSON API on SQLite and PostgreSQL: a
change updates the Customer Data Card at once, the yearly review of the Customer List updates
every card it lists, and problems of priority customers come first in every inbox."""

from __future__ import annotations

import pytest

from engine.services.customers import customer_card, list_customers
from tests.factories import actor
from tests.integration.walks import (
    Case,
    bracketed,
    completed_by,
    demo_cards,  # noqa: F401 - fixture, used through pytestmark
)

pytestmark = pytest.mark.usefixtures("demo_cards")

CHANGE = {"request_type": "change", "customer": "C001", "requested_by": "Li Wei", "reason": "Moved to a new plant"}
NEW_CONTACT = {"name": "Zhou Yan", "role": "Purchasing manager", "phone": "0574-8888 9999"}
REVIEW = {"reviewed_on": "2027-01-08", "customers_reviewed": 5}
ORDER = {"order_ref": "PO-77", "product_model": "PX-200", "quantity": 50, "promised_date": "2026-12-20"}


def cards() -> tuple[str, ...]:
    return ("C001", "C002", "C003", "C004", "C005")


def change_card(api, customer: str, card: dict) -> Case:  # type: ignore[no-untyped-def]
    """The change path to its end: one customer's card changed at once."""
    case = Case(api, "customer_data")
    case.step("Customer data request", "sales", {**CHANGE, "customer": customer})
    case.step("Enter change on Customer Data Card", "sales", {"card": card})
    case.ended("Card updated")
    return case


def yearly_review(api, changes_needed: list[dict]) -> Case:  # type: ignore[no-untyped-def]
    case = Case(api, "customer_data")
    case.step("Customer data request", "sales", {"request_type": "yearly_review"})
    case.step("Review Customer List", "sales", {**REVIEW, "changes_needed": changes_needed})
    return case


def open_order(api, customer: str) -> Case:  # type: ignore[no-untyped-def]
    """An order case of ``customer`` waiting for Production to plan it."""
    case = Case(api, "order_delivery")
    case.step("Register order", "sales", {**ORDER, "customer": customer})
    assert case.titles() == ["Plan production"]
    return case


def inbox_priorities(api, username: str) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(case id, priority) of the user's inbox rows, in inbox order."""
    response = api.get("/inbox", as_=username)
    assert response.status_code == 200, response.json
    return [(row["case_id"], row["priority"]) for row in response.json]


@pytest.mark.clause("5.2")
def test_a_change_updates_the_customer_data_card_at_once_and_records_who_changed_what(api, ctx):
    before = customer_card(ctx, actor(ctx, "auditor1"), "C001").customer
    case = Case(api, "customer_data")
    case.step("Customer data request", "sales", CHANGE)
    assert case.case["customer"] == "Acme Motors Co., Ltd."
    case.step("Enter change on Customer Data Card", "sales", {"card": {
        "address": "1 Port Road, Ningbo", "contacts": [NEW_CONTACT], "notes": "", "products": []}})
    data = case.ended("Card updated")
    assert data["card_changes"] == {"address": "1 Port Road, Ningbo", "contacts": [NEW_CONTACT]}

    card = customer_card(ctx, actor(ctx, "auditor1"), "C001")
    assert (card.customer.address, card.customer.contacts) == ("1 Port Road, Ningbo", [NEW_CONTACT])
    assert (card.customer.products, card.customer.notes, card.customer.priority) == (
        before.products, before.notes, before.priority)
    assert len(card.changes) == 1
    change = card.changes[0]
    assert (change.actor, change.case_id) == ("sales1", case.id)
    assert change.before == {"address": before.address, "contacts": before.contacts}
    assert change.after == {"address": "1 Port Road, Ningbo", "contacts": [NEW_CONTACT]}
    assert case.id in [c.id for c in card.cases]

    events = case.events()
    assert case.routed() == [("Task_CustomerDataRequest", "sales"), ("Task_EnterCardChange", "sales")]
    assert completed_by(events) == [("Task_CustomerDataRequest", "sales1"), ("Task_EnterCardChange", "sales1")]
    effects = [e["data"] for e in events if e["type"] == "effect_applied"]
    assert effects == [{"operation": "customer.update_card",
                        "params": {"customer": "C001", "changes": data["card_changes"]}}]
    bracketed(events, "Card updated")


@pytest.mark.clause("5.2")
def test_the_yearly_review_updates_every_card_it_lists(api, ctx):
    case = yearly_review(api, [{"customer": "C002", "change_summary": "New quality engineer"},
                               {"customer": "C005", "change_summary": "Buys SV-200 now"}])
    answers = [{"card": {"notes": "Reviewed 2027: new quality engineer"}},
               {"card": {"products": ["KT-50 thermostat", "SV-200 solenoid valve"]}}]
    departments = case.each("Update card for customer", lambda task: answers.pop(0))
    assert departments == ["sales", "sales"]
    data = case.ended("Yearly review done")

    updates = {u["customer"]: u for u in data["card_updates"]}
    assert sorted(updates) == ["C002", "C005"]
    assert sorted(u["change_summary"] for u in updates.values()) == ["Buys SV-200 now", "New quality engineer"]
    for code, update in updates.items():
        card = customer_card(ctx, actor(ctx, "auditor1"), code)
        for name, value in update["changes"].items():
            assert getattr(card.customer, name) == value
        assert [(c.actor, c.case_id, c.after) for c in card.changes] == [("sales1", case.id, update["changes"])]
    assert sorted(tuple(u["changes"]) for u in updates.values()) == [("notes",), ("products",)]
    assert all(customer_card(ctx, actor(ctx, "auditor1"), code).changes == [] for code in ("C001", "C003", "C004"))

    events = case.events()
    assert case.routed() == [("Task_CustomerDataRequest", "sales"), ("Task_ReviewCustomerList", "sales"),
                             ("Task_UpdateCardForCustomer", "sales"), ("Task_UpdateCardForCustomer", "sales")]
    assert len([e for e in events if e["type"] == "effect_applied"]) == 2
    bracketed(events, "Yearly review done")


@pytest.mark.clause("5.2")
def test_a_yearly_review_without_changes_ends_at_once_and_changes_no_card(api, ctx):
    case = yearly_review(api, [])
    data = case.ended("Yearly review done")
    assert (data["changes_needed"], data["card_updates"]) == ([], [])
    assert all(customer_card(ctx, actor(ctx, "auditor1"), code).changes == [] for code in cards())
    events = case.events()
    assert case.routed() == [("Task_CustomerDataRequest", "sales"), ("Task_ReviewCustomerList", "sales")]
    assert not [e for e in events if e["type"] == "effect_applied"]
    bracketed(events, "Yearly review done")


@pytest.mark.clause("5.2")
def test_an_unknown_customer_code_is_refused_and_nothing_changes(api, ctx):
    before = list_customers(ctx, actor(ctx, "auditor1"))
    case = Case(api, "customer_data")
    task = case.case["open_tasks"][0]
    response = case.submit(task, {**CHANGE, "customer": "C999"})
    assert response.status_code == 422
    assert list(response.json["details"]) == ["customer"]
    after = api.get(f"/cases/{case.id}", as_="sales1").json
    assert (after["status"], [t["id"] for t in after["open_tasks"]], after["customer"]) == ("running", [task["id"]], "")
    assert list_customers(ctx, actor(ctx, "auditor1")) == before
    assert all(customer_card(ctx, actor(ctx, "auditor1"), code).changes == [] for code in cards())
    # the start and its task's mail to the two Sales users; the refused submission recorded nothing
    assert [e["type"] for e in case.events()] == ["case_started", "task_ready", "notification_queued"]


@pytest.mark.clause("5.2")
def test_a_yearly_review_listing_an_unknown_customer_is_refused(api):
    case = Case(api, "customer_data")
    case.step("Customer data request", "sales", {"request_type": "yearly_review"})
    task = case.case["open_tasks"][0]
    response = case.submit(task, {**REVIEW, "changes_needed": [{"customer": "C999", "change_summary": "?"}]})
    assert response.status_code == 422, response.json["status"]
    assert any(name.endswith("customer") for name in response.json["details"])


@pytest.mark.clause("5.2")
def test_tasks_of_priority_customers_come_first_in_every_inbox(api):
    ordinary = open_order(api, "C003")
    priority = open_order(api, "C004")
    assert [t["priority"] for t in ordinary.case["open_tasks"]] == [0]
    assert [t["priority"] for t in priority.case["open_tasks"]] == [1]
    assert inbox_priorities(api, "prod1") == [(priority.id, 1), (ordinary.id, 0)]
    assert inbox_priorities(api, "qc1") == []


@pytest.mark.clause("5.2")
@pytest.mark.parametrize(("customer", "priority", "expected"), [("C003", True, 1), ("C004", False, 0)])
def test_a_priority_change_moves_the_customers_open_tasks_in_other_cases(api, ctx, customer, priority, expected):
    other = open_order(api, "C002")
    order = open_order(api, customer)
    assert order.case["open_tasks"][0]["priority"] == 1 - expected
    change = change_card(api, customer, {"priority": priority})
    assert customer_card(ctx, actor(ctx, "auditor1"), customer).customer.priority is priority
    assert customer_card(ctx, actor(ctx, "auditor1"), customer).changes[0].after == {"priority": priority}
    assert customer_card(ctx, actor(ctx, "auditor1"), customer).changes[0].case_id == change.id
    inbox = dict(inbox_priorities(api, "prod1"))
    assert inbox == {order.id: expected, other.id: 0}
    reread = api.get(f"/cases/{order.id}", as_="prod1").json
    assert [t["priority"] for t in reread["open_tasks"]] == [expected]
