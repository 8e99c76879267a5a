"""The Customer List through the API (by role), and the API's task forms offering it: a
``format: customer`` field carries the Customer List as ``oneOf`` choices, as the web form does,
so that a client can fill it from the schema alone. SQLite and PostgreSQL."""

from __future__ import annotations

from engine.services import customers
from tests.integration.test_after_sales_paths import FEEDBACK


def _codes(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    return [code for code, _ in customers.customer_choices(ctx)]


def test_department_staff_admins_and_auditors_read_the_customer_list(api, ctx):
    for user in ("sales1", "tech1", "gm1", "admin1", "auditor1"):
        response = api.get("/customers", as_=user)
        assert response.status_code == 200, user
        assert sorted(c["code"] for c in response.json) == sorted(_codes(ctx))
    acme = next(c for c in api.get("/customers", as_="sales1").json if c["code"] == "C001")
    assert acme["name"] == "Acme Motors Co., Ltd." and acme["priority"] is True


def test_a_process_owner_without_a_department_may_not_read_it(api):
    response = api.get("/customers", as_="owner1")
    assert response.status_code == 403
    assert "Customer List" in response.json["error"]


def test_the_list_filters_by_code_or_name(api):
    found = api.get("/customers?q=acme", as_="sales1").json
    assert [c["code"] for c in found] == ["C001"]
    assert api.get("/customers?q=nobody-like-this", as_="sales1").json == []


def test_a_customer_field_of_an_api_task_form_offers_the_customer_list(api, ctx):
    case = api.post("/cases", {"process": "after_sales_feedback"}, as_="sales1").json
    task = case["open_tasks"][0]
    field = task["form"]["schema"]["properties"]["customer"]
    expected = [{"const": code, "title": f"{code} — {name}"} for code, name in customers.customer_choices(ctx)]
    assert field["format"] == "customer" and field["oneOf"] == expected
    page = api.get(f"/tasks/{task['id']}", as_="sales1").json
    assert page["form"]["schema"]["properties"]["customer"]["oneOf"] == expected
    code = field["oneOf"][-1]["const"]  # a client fills the field from the schema alone
    done = api.post(f"/tasks/{task['id']}/complete", {"data": {**FEEDBACK, "customer": code, "category": "complaint"}},
                    as_="sales1")
    assert done.status_code == 200 and done.json["data"]["customer"] == code


def test_a_caller_who_may_not_read_the_list_gets_the_form_without_it(api):
    case = api.post("/cases", {"process": "after_sales_feedback"}, as_="sales1").json
    page = api.get(f"/tasks/{case['open_tasks'][0]['id']}", as_="owner1").json
    field = page["form"]["schema"]["properties"]["customer"]
    assert field["format"] == "customer" and "oneOf" not in field
