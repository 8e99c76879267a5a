"""Customer pages (PROCEDURE 5.2): the Customer List, the Customer Data Card with its cases and
change history, editing and adding cards, and customer fields of task forms offered as a select.

Cards made by a test get a code of their own: on PostgreSQL the customers table outlives a test
(only case tables are emptied), so no test changes a demo customer.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask
from flask.testing import FlaskClient

from engine.context import EngineContext
from engine.services import cases, customers
from engine.services.customers import CustomerView
from tests.factories import actor, open_task
from tests.web.bundles import RECORD_TASK, start_visit

DEMO = ("C001", "C002", "C003", "C004", "C005")
PRIORITY = ("C001", "C004")
CARD = {
    "name": "Test Pumps Ltd.", "address": "1 Test Road, Ningbo", "priority": False,
    "contacts": [{"name": "Ma Lin", "role": "Buyer", "phone": "0574-1111 2222", "email": "ma.lin@test.example"}],
    "products": ["TP-10 pump"],
    "agreements": [{"title": "Service 2027", "scope": "Repair within 72 h", "valid_until": "2027-12-31"}],
    "notes": "",
}


def login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": "demo"})
    assert response.status_code == 302, response.text
    return client


def new_code() -> str:
    return "T" + uuid.uuid4().hex[:8].upper()


def make_customer(ctx: EngineContext, **values: object) -> CustomerView:
    return customers.create_customer(ctx, actor(ctx, "sales1"), new_code(), {**CARD, **values})


def row_of(page: str, code: str) -> str:
    match = re.search(rf'<tr data-customer="{code}">(.*?)</tr>', page, re.S)
    assert match, f"{code} is not listed"
    return match.group(1)


def edit_form(customer: CustomerView, **changes: str) -> dict[str, str]:
    """The edit form as a browser posts it for ``customer``, with ``changes`` typed in."""
    form = {
        "name": customer.name, "address": customer.address, "products": "\n".join(customer.products),
        "notes": customer.notes, "version": str(customer.version),
    }
    if customer.priority:
        form["priority"] = "on"
    for i, contact in enumerate(customer.contacts):
        form.update({f"contacts[{i}][{k}]": v for k, v in contact.items()})
    for i, agreement in enumerate(customer.agreements):
        form.update({f"agreements[{i}][{k}]": v for k, v in agreement.items()})
    form.update(changes)
    return form


# --- the Customer List -----------------------------------------------------------------------


def test_the_list_shows_the_demo_customers_priority_first_with_products_and_open_cases(
    app: Flask, ctx: EngineContext
) -> None:
    cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback", {"customer": "C003"})
    response = login(app, "gm1").get("/customers")
    assert response.status_code == 200
    page = response.text
    assert 'aria-current="page">Customers</a>' in page
    where = {code: page.index(f'data-customer="{code}"') for code in DEMO}
    assert max(where[c] for c in PRIORITY) < min(where[c] for c in DEMO if c not in PRIORITY)
    assert "Priority" in row_of(page, "C001") and "badge-priority" in row_of(page, "C004")
    assert "badge-priority" not in row_of(page, "C002")
    assert "Acme Motors Co., Ltd." in row_of(page, "C001")
    assert "PX-200 pump housing, SV-200 solenoid valve" in row_of(page, "C001")
    assert re.search(r">1</a></td>\s*$", row_of(page, "C003")), row_of(page, "C003")
    assert re.search(r"<td>0</td>\s*$", row_of(page, "C005"))
    assert "New customer" not in page  # management may read the list, not add to it


def test_the_list_searches_by_code_or_name(app: Flask) -> None:
    client = login(app, "sales1")
    page = client.get("/customers?q=orient").text
    assert 'data-customer="C004"' in page and 'data-customer="C001"' not in page
    assert 'value="orient"' in page
    page = client.get("/customers?q=C002").text
    assert 'data-customer="C002"' in page and 'data-customer="C003"' not in page
    assert "No customers match." in client.get("/customers?q=no-such-customer-anywhere").text
    assert "New customer" in page


# --- the Customer Data Card ------------------------------------------------------------------


def test_a_demo_card_shows_address_contacts_products_and_agreements(app: Flask) -> None:
    response = login(app, "gm1").get("/customers/C001")
    assert response.status_code == 200
    page = response.text
    for text in ("C001 — Acme Motors Co., Ltd.", "88 Harbour Road, Ningbo", "Li Wei", "Purchasing manager",
                 "0574-8888 1234", 'href="mailto:li.wei@acme.example"', "PX-200 pump housing",
                 "After-sales service 2026", "On-site repair within 48 h", "2026-12-31", "badge-priority"):
        assert text in page, text
    assert "/customers/C001/edit" not in page  # management reads the card but does not keep it


def test_an_unknown_card_is_404(app: Flask) -> None:
    assert login(app, "sales1").get("/customers/NOPE").status_code == 404


def test_the_card_lists_its_cases_and_its_history_with_the_case_of_a_change(app: Flask, ctx: EngineContext) -> None:
    customer = make_customer(ctx)
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback", {"customer": customer.code})
    with ctx.unit_of_work() as uow:  # what a service task of the case does (customer.update_card)
        customers.apply_card_changes(uow.session, customer.code, {"address": "2 New Road, Ningbo"},
                                     actor(ctx, "qc1"), case_id=case.id)
        uow.commit()
    page = login(app, "sales1").get(f"/customers/{customer.code}").text
    cases_part = page[page.index('id="card-cases"'):page.index('id="card-history"')]
    assert f'href="/cases/{case.id}"' in cases_part and "After-sales feedback" in cases_part
    history = page[page.index('id="card-history"'):]
    rows = re.findall(r'<tr class="change-row">(.*?)</tr>', history, re.S)
    assert len(rows) == 2  # the change through the case, newest first, then the creation
    assert "qc1" in rows[0] and f'href="/cases/{case.id}">#{case.id}</a>' in rows[0]
    assert re.search(r'<strong>Address</strong>:\s*<span class="change-before">1 Test Road, Ningbo</span> → '
                     r'<span class="change-after">2 New Road, Ningbo</span>', rows[0])
    assert "Card created" in rows[1] and "sales1" in rows[1] and "Edited on the card" in rows[1]
    assert "Ma Lin, Buyer, 0574-1111 2222, ma.lin@test.example" in rows[1]


# --- editing a card --------------------------------------------------------------------------


def test_sales_edits_a_card_and_the_change_is_recorded_with_before_and_after(app: Flask, ctx: EngineContext) -> None:
    customer = make_customer(ctx)
    client = login(app, "sales1")
    assert f'href="/customers/{customer.code}/edit"' in client.get(f"/customers/{customer.code}").text
    form_page = client.get(f"/customers/{customer.code}/edit")
    assert form_page.status_code == 200
    assert f'type="hidden" id="f-version" name="version" value="{customer.version}"' in form_page.text
    assert 'name="contacts[0][name]"' in form_page.text and 'value="Ma Lin"' in form_page.text
    assert 'name="agreements[0][valid_until]"' in form_page.text
    assert re.search(r'<textarea id="f-products" name="products"[^>]*>TP-10 pump</textarea>', form_page.text)

    response = client.post(f"/customers/{customer.code}/edit", data=edit_form(
        customer, address="9 Port Road, Ningbo", priority="on", products="TP-10 pump\r\nTP-20 pump\r\n",
        **{"contacts[1][name]": "Sun Yi", "contacts[1][phone]": "0574-3333 4444"},
    ))
    assert response.status_code == 302
    assert response.location.endswith(f"/customers/{customer.code}")

    card = customers.customer_card(ctx, actor(ctx, "sales1"), customer.code)
    assert card.customer.address == "9 Port Road, Ningbo" and card.customer.priority is True
    assert card.customer.products == ["TP-10 pump", "TP-20 pump"]
    assert card.customer.contacts[1] == {"name": "Sun Yi", "phone": "0574-3333 4444"}
    assert card.customer.agreements == CARD["agreements"]
    change = card.changes[0]
    assert change.actor == "sales1" and change.case_id is None
    assert set(change.before) == {"address", "priority", "products", "contacts"}  # only what changed
    assert change.before["address"] == "1 Test Road, Ningbo" and change.after["priority"] is True

    page = client.get(response.location).text
    assert "was saved" in page
    assert re.search(r'<span class="change-before">1 Test Road, Ningbo</span> → '
                     r'<span class="change-after">9 Port Road, Ningbo</span>', page)
    assert re.search(r'<strong>Priority customer</strong>:\s*<span class="change-before">No</span> → '
                     r'<span class="change-after">Yes</span>', page)
    assert "TP-10 pump; TP-20 pump" in page


def test_clearing_a_field_is_a_change_and_rows_can_be_removed(app: Flask, ctx: EngineContext) -> None:
    customer = make_customer(ctx, notes="Call before visiting")
    form = edit_form(customer, notes="")
    form = {k: v for k, v in form.items() if not k.startswith("agreements[")}
    assert login(app, "sales1").post(f"/customers/{customer.code}/edit", data=form).status_code == 302
    after = customers.customer_card(ctx, actor(ctx, "sales1"), customer.code)
    assert after.customer.notes == "" and after.customer.agreements == []
    assert set(after.changes[0].after) == {"notes", "agreements"}


def test_an_invalid_edit_is_422_with_messages_and_the_typed_values_kept(app: Flask, ctx: EngineContext) -> None:
    customer = make_customer(ctx)
    response = login(app, "sales1").post(f"/customers/{customer.code}/edit", data=edit_form(
        customer, name="", address="Typed address", **{"contacts[0][email]": "not-an-email"}))
    assert response.status_code == 422
    page = response.text
    assert "The form has errors" in page
    assert '<a href="#f-name">Name</a>: This field is required.' in page
    assert '<a href="#f-contacts-0-email">E-mail (row 1)</a>: Must be an email address.' in page
    assert 'value="Typed address"' in page and 'value="not-an-email"' in page
    assert customers.customer_card(ctx, actor(ctx, "sales1"), customer.code).customer.address == CARD["address"]


def test_technical_cannot_edit_or_add_cards(app: Flask, ctx: EngineContext) -> None:
    customer = make_customer(ctx)
    tech = login(app, "tech1")
    assert tech.get(f"/customers/{customer.code}/edit").status_code == 403
    response = tech.post(f"/customers/{customer.code}/edit", data=edit_form(customer, address="Hacked"))
    assert response.status_code == 403
    assert "Sales Section" in response.text
    assert tech.get("/customers/new").status_code == 403
    assert tech.post("/customers/new", data={"code": new_code(), "name": "X"}).status_code == 403
    card = customers.customer_card(ctx, actor(ctx, "sales1"), customer.code)
    assert card.customer.address == CARD["address"] and len(card.changes) == 1


def test_an_administrator_may_edit_a_card(app: Flask, ctx: EngineContext) -> None:
    customer = make_customer(ctx)
    admin = login(app, "admin1")
    assert admin.get(f"/customers/{customer.code}/edit").status_code == 200
    assert admin.post(f"/customers/{customer.code}/edit", data=edit_form(customer, notes="Checked")).status_code == 302
    assert customers.customer_card(ctx, actor(ctx, "sales1"), customer.code).changes[0].actor == "admin1"


def test_a_stale_version_is_409_and_changes_nothing(app: Flask, ctx: EngineContext) -> None:
    customer = make_customer(ctx)
    client = login(app, "sales1")
    assert client.get(f"/customers/{customer.code}/edit").status_code == 200
    # Meanwhile sales2 saves the card.
    customers.update_customer(ctx, actor(ctx, "sales2"), customer.code, {"notes": "Changed by sales2"},
                              customer.version)
    before = customers.customer_card(ctx, actor(ctx, "sales1"), customer.code)

    response = client.post(f"/customers/{customer.code}/edit", data=edit_form(customer, address="Too late"))
    assert response.status_code == 409
    assert "changed the card of Test Pumps Ltd. while you were editing it" in response.text
    assert "your changes were not saved" in response.text
    assert f'href="/customers/{customer.code}/edit"' in response.text
    after = customers.customer_card(ctx, actor(ctx, "sales1"), customer.code)
    assert after.customer == before.customer and len(after.changes) == len(before.changes)


# --- adding a customer -----------------------------------------------------------------------


def test_sales_adds_a_customer_and_lands_on_its_card(app: Flask, ctx: EngineContext) -> None:
    client = login(app, "sales1")
    page = client.get("/customers/new").text
    assert 'id="f-code" name="code"' in page and 'name="version"' not in page
    code = new_code()
    response = client.post("/customers/new", data={
        "code": code.lower(), "name": "New Valves Co.", "address": "3 Valve Street", "priority": "on",
        "products": "NV-1 valve\nNV-2 valve", "contacts[0][name]": "Qian Hao", "contacts[0][role]": "Owner",
    })
    assert response.status_code == 302
    assert response.location.endswith(f"/customers/{code}")  # codes are kept upper-case
    card = customers.customer_card(ctx, actor(ctx, "sales1"), code)
    assert card.customer.name == "New Valves Co." and card.customer.priority is True
    assert card.customer.products == ["NV-1 valve", "NV-2 valve"]
    assert card.customer.contacts == [{"name": "Qian Hao", "role": "Owner"}]
    assert card.changes[0].actor == "sales1" and card.changes[0].before == {}
    page = client.get(response.location).text
    assert "was added" in page and "Card created" in page and "Qian Hao" in page
    assert f'data-customer="{code}"' in client.get("/customers").text


def test_adding_a_customer_reports_a_taken_code_and_missing_fields(app: Flask) -> None:
    client = login(app, "sales1")
    response = client.post("/customers/new", data={"code": "C001", "name": "Another Acme"})
    assert response.status_code == 422
    assert '<a href="#f-code">Customer code</a>: Already in use.' in response.text
    assert 'value="Another Acme"' in response.text
    response = client.post("/customers/new", data={"code": "bad code!", "address": "Somewhere"})
    assert response.status_code == 422
    assert '<a href="#f-name">Name</a>: This field is required.' in response.text
    assert '<a href="#f-code">Customer code</a>: Is not in the expected format.' in response.text


# --- customer fields of task forms -----------------------------------------------------------


def customer_select(page: str) -> str:
    match = re.search(r'<select id="f-customer" name="customer"[^>]*>(.*?)</select>', page, re.S)
    assert match, "the customer field is not a select"
    return match.group(1)


def test_the_after_sales_feedback_task_offers_the_customer_list(app: Flask, ctx: EngineContext) -> None:
    """The "Record customer feedback" form's customer field is ``format: customer``."""
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback", {})
    task = open_task(ctx, case.id, "Record customer feedback")
    client = login(app, "sales1")
    options = customer_select(client.get(f"/tasks/{task.id}").text)
    for code in DEMO:
        name = next(c.name for c in customers.list_customers(ctx, actor(ctx, "sales1")) if c.code == code)
        assert f'<option value="{code}">{code} — {name}</option>' in options
    assert '<option value="">Choose…</option>' in options

    # A failed submission shows the chosen customer again.
    response = client.post(f"/tasks/{task.id}", data={"customer": "C004", "description": "Noise"})
    assert response.status_code == 422
    assert '<option value="C004" selected>C004 — Orient Rail Systems</option>' in customer_select(response.text)


def test_a_chosen_customer_links_the_case_to_its_card(app: Flask, ctx: EngineContext) -> None:
    case = start_visit(ctx)
    task = open_task(ctx, case.id, RECORD_TASK)
    client = login(app, "sales1")
    options = customer_select(client.get(f"/tasks/{task.id}").text)
    assert '<option value="C002">C002 — Huayu Auto Parts</option>' in options
    filled = {"visited_on": "2026-11-20", "outcome": "none"}

    # A code not on the list (an old bookmark, a hand-made post) is reported by the engine and kept,
    # marked, for the user to change.
    response = client.post(f"/tasks/{task.id}", data={**filled, "customer": "X999"})
    assert response.status_code == 422
    assert "Unknown customer: choose one from the Customer List." in response.text
    assert '<option value="X999" selected>X999 (not in the Customer List)</option>' in customer_select(response.text)

    response = client.post(f"/tasks/{task.id}", data={**filled, "customer": "C002"})
    assert response.status_code == 302
    assert cases.get_case(ctx, actor(ctx, "sales1"), case.id).customer == "Huayu Auto Parts"
    assert f'href="/cases/{case.id}"' in client.get("/customers/C002").text


def test_a_customer_the_case_already_holds_is_selected(app: Flask, ctx: EngineContext) -> None:
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback", {"customer": "C003"})
    task = open_task(ctx, case.id, "Record customer feedback")
    page = login(app, "sales1").get(f"/tasks/{task.id}").text
    assert '<option value="C003" selected>C003 — Northwind Appliances</option>' in customer_select(page)
