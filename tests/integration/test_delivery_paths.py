"""Order production and delivery (PROCEDURE 5.4.2) walked through the JSON API on SQLite and
PostgreSQL: on time, late with the customer's consent, a refused date decided by management
(expedite, renegotiate, cancel), and an order failing final inspection planned again."""

from __future__ import annotations

import pytest

from tests.integration.walks import Case, bracketed, completed_by

ORDER = {"customer": "C002", "order_ref": "PO-2026-412", "product_model": "SV-200", "quantity": 800,
         "promised_date": "2026-12-15", "requirements": "Deliver to Wuxi warehouse"}
ON_TIME = {"planned_start": "2026-12-01", "planned_finish": "2026-12-12", "can_meet_date": True}
LATE = {"planned_start": "2026-12-05", "planned_finish": "2026-12-22", "can_meet_date": False,
        "planning_notes": "Coil wire arrives late"}
PRODUCED = {"produced_on": "2026-12-12", "quantity_produced": 800, "qc_passed": True}
FAILED = {"produced_on": "2026-12-10", "quantity_produced": 800, "qc_passed": False,
          "production_notes": "Leak test failed"}
DELIVERED = {"delivered_on": "2026-12-14", "delivery_note": "DN-5521"}
REGISTER, PLAN = ("Task_RegisterOrder", "sales"), ("Task_PlanProduction", "production")
INFORM, DECIDE = ("Task_InformCustomer", "sales"), ("Task_DecideDelay", "management")
PRODUCE, CONFIRM = ("Task_Produce", "production"), ("Task_ConfirmDelivery", "sales")


def notice(consent: str, new_date: str = "2026-12-22") -> dict:
    return {"informed_on": "2026-12-02", "new_date": new_date, "customer_consent": consent}


def ordered(api, plan: dict) -> Case:  # type: ignore[no-untyped-def]
    case = Case(api, "order_delivery")
    case.step("Register order", "sales", ORDER)
    case.step("Plan production", "production", plan)
    return case


def produce_and_deliver(case: Case) -> dict:
    case.step("Produce order", "production", PRODUCED)
    case.step("Confirm delivery", "sales", DELIVERED, user="sales2")
    data = case.ended("Delivered")
    assert (data["qc_passed"], data["delivery_note"], data["order_ref"]) == (True, "DN-5521", "PO-2026-412")
    bracketed(case.events(), "Delivered")
    return data


@pytest.mark.clause("5.4.2")
def test_an_order_planned_on_time_is_produced_and_delivered(api):
    case = ordered(api, ON_TIME)
    assert case.case["customer"] == "Huayu Auto Parts"
    data = produce_and_deliver(case)
    assert data["can_meet_date"] is True and "customer_consent" not in data
    assert case.routed() == [REGISTER, PLAN, PRODUCE, CONFIRM]
    assert completed_by(case.events()) == [("Task_RegisterOrder", "sales1"), ("Task_PlanProduction", "prod1"),
                                           ("Task_Produce", "prod1"), ("Task_ConfirmDelivery", "sales2")]


@pytest.mark.clause("5.4.2")
def test_a_late_order_is_told_to_the_customer_at_once_and_produced_when_they_agree(api):
    case = ordered(api, LATE)
    assert case.titles() == ["Inform customer of late delivery"]
    case.step("Inform customer of late delivery", "sales", notice("agreed"))
    data = produce_and_deliver(case)
    assert (data["can_meet_date"], data["customer_consent"], data["new_date"]) == (False, "agreed", "2026-12-22")
    assert "delay_decision" not in data
    assert case.routed() == [REGISTER, PLAN, INFORM, PRODUCE, CONFIRM]


@pytest.mark.clause("5.4.2")
@pytest.mark.parametrize("decision", ["expedite", "renegotiate", "cancel"])
def test_a_refused_date_goes_to_management_who_expedite_renegotiate_or_cancel(api, decision):
    case = ordered(api, LATE)
    case.step("Inform customer of late delivery", "sales", notice("refused"))
    comments = {"decision_comments": "Customer went elsewhere"} if decision == "cancel" else {}
    case.step("Decide on refused delivery date", "management", {"delay_decision": decision, **comments})
    if decision == "cancel":
        data = case.ended("Order cancelled")
        assert (data["customer_consent"], data["delay_decision"]) == ("refused", "cancel")
        assert "delivered_on" not in data
        assert case.routed() == [REGISTER, PLAN, INFORM, DECIDE]
        bracketed(case.events(), "Order cancelled")
        return
    if decision == "expedite":
        assert case.prefill("Plan production") == LATE  # planned again from the last plan
        case.step("Plan production", "production", ON_TIME)
        again = [PLAN]
    else:
        assert case.prefill("Inform customer of late delivery") == notice("refused")
        case.step("Inform customer of late delivery", "sales", notice("agreed", "2026-12-19"))
        again = [INFORM]
    data = produce_and_deliver(case)
    assert data["delay_decision"] == decision
    assert case.routed() == [REGISTER, PLAN, INFORM, DECIDE, *again, PRODUCE, CONFIRM]


@pytest.mark.clause("5.4.2")
def test_an_order_failing_final_inspection_is_planned_again(api):
    case = ordered(api, ON_TIME)
    case.step("Produce order", "production", FAILED)
    assert case.titles() == ["Plan production"]
    case.step("Plan production", "production", LATE)
    case.step("Inform customer of late delivery", "sales", notice("agreed"))
    data = produce_and_deliver(case)
    assert (data["produced_on"], data["customer_consent"]) == ("2026-12-12", "agreed")
    assert case.routed() == [REGISTER, PLAN, PRODUCE, PLAN, INFORM, PRODUCE, CONFIRM]
