"""Pre-sales requests (PROCEDURE 5.4.1 and its items 5.4.1.1 to 5.4.1.5) walked through the JSON
API on SQLite and PostgreSQL: the presales_providers table sends each requested item to the
department that provides it, in parallel; samples run the sample trial production inside the case;
the package records whether it went within the customer's deadline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from engine.time import clock
from tests.factories import MovableClock
from tests.integration.walks import USERS, Case, bracketed

REQUEST = {"customer": "C003", "contact": "Zhang Min", "received_on": "2026-11-20", "customer_deadline": "2026-11-30"}
SAMPLE = {"product_model": "KT-50", "sample_quantity": 5, "sample_specification": "KT-50 with 3 m lead"}
PROVIDER = {"quotation": "sales", "spec_and_samples": "tech", "commissioned_test_data": "qc",
            "new_product_data": "tech", "quality_records": "qc", "other_technical_data": "tech"}
MADE = {"made_on": "2026-11-24", "quantity_made": 5}
FAILED = {"inspected_on": "2026-11-25", "inspection_result": "fail", "inspection_report": "IR-1", "defects": "Burr"}
PASSED = {"inspected_on": "2026-11-27", "inspection_result": "pass", "inspection_report": "IR-2"}
RELEASED = {"released_on": "2026-11-28", "released_to": "sales1"}
PROVIDE = "Task_ProvideItem [child]"


@pytest.fixture(autouse=True)
def request_day() -> Iterator[None]:
    """These walks happen on the day the request came in: the customer's deadline (2026-11-30)
    drives boundary timers (test_presales_deadlines.py), which must not fire here whatever today is."""
    clock.set_clock(MovableClock(datetime(2026, 11, 20, 8, 0)))
    yield
    clock.set_clock(None)


def request(api, kind: str, items: list[str], **extra: object) -> Case:  # type: ignore[no-untyped-def]
    case = Case(api, "presales_request")
    case.step("Record pre-sales request", "sales", {**REQUEST, "request_kind": kind, "items": items, **extra})
    return case


def provide_all(case: Case) -> dict[str, str]:
    """Every department provides its items in parallel; item -> providing department, after checking
    that the task of each item went to that department and was completed by one of its users."""
    tasks = [t for t in case.case["open_tasks"] if t["title"] == "Provide requested item"]
    references = {t["id"]: f"{t['department']}-{n}" for n, t in enumerate(tasks)}
    case.each("Provide requested item",
              lambda t: {"item_reference": references[t["id"]], "provided_on": "2026-11-26", "item_notes": "ok"})
    actor_of = {e["data"]["item_reference"]: e["actor"] for e in case.events()
                if e["type"] == "task_completed" and e["element_id"] == PROVIDE}
    providers = {}
    for provided in case.data["provided_items"]:
        item, department, reference = provided["item"], provided["department"], provided["item_reference"]
        assert reference.startswith(f"{department}-"), provided  # the item's task was routed to its department
        assert actor_of[reference] == USERS[department]
        providers[item] = department
    return providers


def send(case: Case, sent_on: str = "2026-11-29") -> dict:
    case.step("Send package to customer", "sales", {"sent_on": sent_on, "channel": "email", "tracking": "EM-1"})
    return case.ended("Package sent")


def assert_provided_by_table(case: Case, requested: list[str]) -> None:
    departments = sorted(t["department"] for t in case.case["open_tasks"])
    assert departments == sorted(PROVIDER[i] for i in requested)
    assert {t["element_id"] for t in case.case["open_tasks"]} == {PROVIDE}
    assert provide_all(case) == {i: PROVIDER[i] for i in requested}
    assert [a["item"] for a in case.data["assignments"]] == requested


@pytest.mark.clause("5.4.1")
@pytest.mark.parametrize(("sent_on", "within"), [("2026-11-30", True), ("2026-12-01", False)])
def test_a_quotation_is_prepared_by_sales_and_the_deadline_is_checked(api, sent_on, within):
    case = request(api, "quotation", [])
    assert_provided_by_table(case, ["quotation"])
    data = send(case, sent_on)
    assert (data["within_deadline"], data["sent_on"], data["customer_deadline"]) == (within, sent_on, "2026-11-30")
    assert case.routed() == [("Task_RecordPresalesRequest", "sales"), (PROVIDE, "sales"), ("Task_SendPackage", "sales")]
    assert "sample" not in data
    bracketed(case.events(), "Package sent")


@pytest.mark.clause("5.4.1", "5.4.1.1", "5.4.1.3", "5.4.1.5")
def test_specification_development_and_other_technical_data_come_from_technical(api):
    requested = ["spec_and_samples", "new_product_data", "other_technical_data"]
    case = request(api, "data", requested)
    assert_provided_by_table(case, requested)
    assert send(case)["within_deadline"] is True
    assert [d for e, d in case.routed() if e == PROVIDE] == ["tech", "tech", "tech"]


@pytest.mark.clause("5.4.1", "5.4.1.2", "5.4.1.4")
def test_commissioned_test_data_and_quality_records_come_from_quality_inspection(api):
    requested = ["commissioned_test_data", "quality_records"]
    case = request(api, "data", requested)
    assert_provided_by_table(case, requested)
    send(case)
    assert [d for e, d in case.routed() if e == PROVIDE] == ["qc", "qc"]


@pytest.mark.clause("5.4.1", "5.4.1.1", "5.4.1.2", "5.4.1.3", "5.4.1.4", "5.4.1.5")
def test_a_quotation_with_all_five_items_goes_to_sales_technical_and_quality_in_parallel(api):
    items = ["spec_and_samples", "commissioned_test_data", "new_product_data", "quality_records",
             "other_technical_data"]
    case = request(api, "quotation", items, details="Full package for the 2027 tender")
    assert len(case.case["open_tasks"]) == 6
    assert_provided_by_table(case, ["quotation", *items])
    data = send(case, "2026-12-02")
    assert data["within_deadline"] is False
    assert sorted(p["department"] for p in data["provided_items"]) == ["qc", "qc", "sales", "tech", "tech", "tech"]
    routed = case.routed()
    assert routed[0] == ("Task_RecordPresalesRequest", "sales") and routed[-1] == ("Task_SendPackage", "sales")
    bracketed(case.events(), "Package sent")


@pytest.mark.clause("5.4.1", "5.4.1.1")
def test_samples_run_the_sample_trial_inside_the_case_failing_once_then_released(api):
    case = request(api, "sample", ["spec_and_samples"], **SAMPLE)
    assert provide_all(case) == {"spec_and_samples": "tech"}
    assert case.titles() == ["Make sample"]  # the request went in: no "Record sample request"
    case.step("Make sample", "tech", MADE)
    case.step("Inspect sample", "qc", FAILED)
    case.step("Make sample", "tech", {"made_on": "2026-11-26", "quantity_made": 6})
    case.step("Inspect sample", "qc", PASSED)
    case.step("Release sample to Sales", "qc", RELEASED)
    data = send(case)
    assert data["within_deadline"] is True
    assert data["sample_request"] == {"product_model": "KT-50", "quantity": 5,
                                      "specification": "KT-50 with 3 m lead", "needed_by": "2026-11-30"}
    assert data["sample"] == {
        "product_model": "KT-50", "made_on": "2026-11-26", "quantity_made": 6, "inspection_result": "pass",
        "inspection_report": "IR-2", "released_on": "2026-11-28", "released_to": "sales1",
        "inspections": [{"inspected_on": "2026-11-25", "result": "fail", "report": "IR-1"},
                        {"inspected_on": "2026-11-27", "result": "pass", "report": "IR-2"}],
    }
    # sample_trial gives back only `sample`: its own working data stays inside
    assert not {"made_on", "inspection_result", "sample_inspections", "request_given", "released_to"} & set(data)
    assert case.routed() == [
        ("Task_RecordPresalesRequest", "sales"), (PROVIDE, "tech"), ("Task_MakeSample", "tech"),
        ("Task_InspectSample", "qc"), ("Task_MakeSample", "tech"), ("Task_InspectSample", "qc"),
        ("Task_ReleaseSample", "qc"), ("Task_SendPackage", "sales"),
    ]
    bracketed(case.events(), "Package sent")


@pytest.mark.clause("5.4.1", "5.4.1.1")
def test_a_sample_request_without_data_items_goes_straight_to_sample_making_and_can_be_late(api):
    case = request(api, "sample", [], **SAMPLE)
    assert case.titles() == ["Make sample"]
    case.step("Make sample", "tech", MADE)
    case.step("Inspect sample", "qc", PASSED)
    case.step("Release sample to Sales", "qc", RELEASED)
    data = send(case, "2026-12-03")
    assert (data["within_deadline"], data["assignments"], data["provided_items"]) == (False, [], [])
    assert data["sample"]["inspections"] == [{"inspected_on": "2026-11-27", "result": "pass", "report": "IR-2"}]
    assert [d for _, d in case.routed()] == ["sales", "tech", "qc", "qc", "sales"]


@pytest.mark.clause("5.4.1", "5.4.1.1")
def test_a_sample_trial_on_its_own_asks_sales_for_the_request_first(api):
    case = Case(api, "sample_trial")
    assert case.titles() == ["Record sample request"]
    case.step("Record sample request", "sales",
              {"sample_request": {"product_model": "SV-200", "quantity": 2, "specification": "24 V coil"}})
    case.step("Make sample", "tech", MADE)
    case.step("Inspect sample", "qc", FAILED)
    case.step("Make sample", "tech", MADE)
    case.step("Inspect sample", "qc", PASSED)
    case.step("Release sample to Sales", "qc", RELEASED)
    data = case.ended("Sample released")
    assert data["sample"]["product_model"] == "SV-200"
    assert [i["result"] for i in data["sample"]["inspections"]] == ["fail", "pass"]
    assert case.routed() == [
        ("Task_RecordSampleRequest", "sales"), ("Task_MakeSample", "tech"), ("Task_InspectSample", "qc"),
        ("Task_MakeSample", "tech"), ("Task_InspectSample", "qc"), ("Task_ReleaseSample", "qc"),
    ]
    bracketed(case.events(), "Sample released")
