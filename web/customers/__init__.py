"""Customer pages (PROCEDURE 5.2): the Customer List, the Customer Data Card with its cases and
change history, and editing or adding a card (Sales and administrators)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from engine.definitions.forms import FormDefinition, coerce_form_post, validate_submission
from engine.errors import Conflict, InvalidInput
from engine.services import customers
from engine.services.customers import CARD_FIELDS, ChangeView, CustomerView
from web.context import actor, engine
from web.forms import error_links

bp = Blueprint("customers", __name__)

# Contacts and agreements have the columns of forms/customer-card.schema.json (the card as a case
# changes it), so a card edited here and one changed by a case hold the same keys.
_CONTACT = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": "Name", "maxLength": 200},
        "role": {"type": "string", "title": "Role", "maxLength": 200},
        "phone": {"type": "string", "title": "Phone", "maxLength": 50},
        "email": {"type": "string", "title": "E-mail", "format": "email", "maxLength": 200},
    },
}
_AGREEMENT = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "title": "Agreement", "maxLength": 200},
        "scope": {"type": "string", "title": "Scope", "maxLength": 2000},
        "valid_until": {"type": "string", "title": "Valid until", "format": "date"},
    },
}
_CARD_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "title": "Name", "minLength": 1, "maxLength": 200},
    "address": {"type": "string", "title": "Address", "maxLength": 300},  # the customers.address column
    "priority": {"type": "boolean", "title": "Priority customer",
                 "description": "Problems concerning a priority customer are handled first."},
    "products": {"type": "string", "title": "Products", "description": "One product per line."},
    "contacts": {"type": "array", "title": "Contacts", "items": _CONTACT},
    "agreements": {"type": "array", "title": "After-sales service agreements", "items": _AGREEMENT},
    "notes": {"type": "string", "title": "Notes", "maxLength": 4000},
}
_CARD_UI: dict[str, Any] = {
    "ui:order": ["code", "name", "address", "priority", "products", "contacts", "agreements", "notes", "*"],
    "products": {"ui:widget": "textarea", "ui:options": {"rows": 4}},
    "notes": {"ui:widget": "textarea", "ui:options": {"rows": 4}},
    "version": {"ui:widget": "hidden"},
    "ui:translations": {"zh": {
        "": "顾客资料卡", "code": "顾客编码", "code.help": "简短且唯一的编码，如 C006：表单按此编码选择顾客。",
        "name": "名称", "address": "地址", "priority": "重点顾客", "priority.help": "重点顾客的问题优先处理。",
        "products": "产品", "products.help": "每行一个产品。",
        "contacts": "联系人", "contacts.*.name": "姓名", "contacts.*.role": "职务", "contacts.*.phone": "电话",
        "contacts.*.email": "电子邮件",
        "agreements": "售后服务协议", "agreements.*.title": "协议", "agreements.*.scope": "范围",
        "agreements.*.valid_until": "有效期至",
        "notes": "备注", "version": "资料卡版本",
    }},
}
EDIT_FORM = FormDefinition(
    name="customer-card",
    schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Customer Data Card",
        "type": "object",
        "required": ["name", "version"],
        "properties": {**_CARD_PROPERTIES, "version": {"type": "integer", "title": "Card version"}},
    },
    ui_schema=_CARD_UI,
)
NEW_FORM = FormDefinition(
    name="customer-card-new",
    schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Customer Data Card",
        "type": "object",
        "required": ["code", "name"],
        "properties": {
            "code": {"type": "string", "title": "Customer code", "maxLength": 20, "pattern": "^[A-Za-z0-9_-]+$",
                     "description": "A short unique code such as C006: forms pick the customer by it."},
            **_CARD_PROPERTIES,
        },
    },
    ui_schema=_CARD_UI,
)


@dataclass(frozen=True)
class FieldChange:
    """One card field of a change: its label and its value before and after, as text."""

    label: str
    before: str
    after: str


@dataclass(frozen=True)
class ChangeRow:
    """One entry of the card's change history."""

    change: ChangeView
    created: bool
    fields: list[FieldChange]


def _field_labels() -> dict[str, str]:
    return {
        "name": _("Name"), "address": _("Address"), "contacts": _("Contacts"), "products": _("Products"),
        "agreements": _("After-sales service agreements"), "priority": _("Priority customer"), "notes": _("Notes"),
    }


def _text(value: Any) -> str:
    """A card value as one line of text for the change history."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, Mapping):
        return ", ".join(_text(v) for v in value.values() if v not in (None, ""))
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    return str(value)


def _change_rows(changes: list[ChangeView]) -> list[ChangeRow]:
    labels = _field_labels()
    rows = []
    for change in changes:
        names = [n for n in CARD_FIELDS if n in change.before or n in change.after]
        fields = [FieldChange(labels.get(n, n), _text(change.before.get(n)), _text(change.after.get(n)))
                  for n in names]
        rows.append(ChangeRow(change, created=not change.before and bool(change.after), fields=fields))
    return rows


def _require_editor() -> None:
    """Forbidden (403) before a form is shown or read, by the card use cases' own rule."""
    customers.check_may_edit_customers(actor())


def _form_values(customer: CustomerView) -> dict[str, Any]:
    """A card as the edit form's values; products are one per line."""
    return {
        "name": customer.name, "address": customer.address, "priority": customer.priority,
        "products": "\n".join(str(p) for p in customer.products), "contacts": customer.contacts,
        "agreements": customer.agreements, "notes": customer.notes, "version": customer.version,
    }


def _card_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values as card fields: an emptied field is sent empty, so clearing it is a change."""
    products = [line.strip() for line in str(data.get("products", "")).splitlines() if line.strip()]
    return {
        "name": data.get("name", ""), "address": data.get("address", ""), "priority": bool(data.get("priority")),
        "products": products, "contacts": list(data.get("contacts", [])),
        "agreements": list(data.get("agreements", [])), "notes": data.get("notes", ""),
    }


def _posted(form: FormDefinition) -> dict[str, Any]:
    return coerce_form_post(form, [(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"])


def _details(exc: InvalidInput) -> Mapping[str, list[str]]:
    return exc.details if isinstance(exc.details, Mapping) else {"": [exc.message]}


def _render_form(template: str, form: FormDefinition, data: Mapping[str, Any],
                 errors: Mapping[str, list[str]], status: int = 200, **context: Any) -> ResponseReturnValue:
    return render_template(template, form=form, data=data, errors=errors,
                           error_links=error_links(form, errors), **context), status


@bp.get("/customers")
@login_required
def index() -> ResponseReturnValue:
    """The Customer List: priority customers first, searchable by code or name."""
    text = request.args.get("q", "").strip()
    return render_template("customers/list.html", customers=customers.list_customers(engine(), actor(), text or None),
                           q=text, may_edit=customers.may_edit_customers(actor()))


@bp.get("/customers/<code>")
@login_required
def card(code: str) -> ResponseReturnValue:
    """The Customer Data Card with its cases and its change history."""
    found = customers.customer_card(engine(), actor(), code)
    return render_template("customers/card.html", card=found, customer=found.customer,
                           changes=_change_rows(found.changes), may_edit=customers.may_edit_customers(actor()))


@bp.get("/customers/<code>/edit")
@login_required
def edit(code: str) -> ResponseReturnValue:
    """The card's edit form, holding the card version it was read at."""
    _require_editor()
    customer = customers.customer_card(engine(), actor(), code).customer
    return _render_form("customers/edit.html", EDIT_FORM, _form_values(customer), {}, customer=customer)


@bp.post("/customers/<code>/edit")
@login_required
def save(code: str) -> ResponseReturnValue:
    """Save the card: 422 with messages, 409 when someone changed it since the form was read."""
    _require_editor()
    customer = customers.customer_card(engine(), actor(), code).customer
    data = _posted(EDIT_FORM)
    errors = validate_submission(EDIT_FORM, data)
    if errors:
        return _render_form("customers/edit.html", EDIT_FORM, data, errors, 422, customer=customer)
    try:
        customers.update_customer(engine(), actor(), code, _card_values(data), data["version"])
    except InvalidInput as exc:
        return _render_form("customers/edit.html", EDIT_FORM, data, _details(exc), 422, customer=customer)
    except Conflict:
        return render_template("customers/conflict.html", customer=customer), 409
    flash(_("The card of %(name)s was saved.", name=data["name"]), "success")
    return redirect(url_for("customers.card", code=code))


@bp.get("/customers/new")
@login_required
def new() -> ResponseReturnValue:
    """The form that adds a customer to the Customer List."""
    _require_editor()
    return _render_form("customers/new.html", NEW_FORM, {}, {})


@bp.post("/customers/new")
@login_required
def create() -> ResponseReturnValue:
    """Add a customer: 422 with messages (a code already in use among them), else its new card."""
    _require_editor()
    data = _posted(NEW_FORM)
    errors = validate_submission(NEW_FORM, data)
    if errors:
        return _render_form("customers/new.html", NEW_FORM, data, errors, 422)
    try:
        created = customers.create_customer(engine(), actor(), data["code"], _card_values(data))
    except InvalidInput as exc:
        return _render_form("customers/new.html", NEW_FORM, data, _details(exc), 422)
    flash(_("Customer %(code)s was added.", code=created.code), "success")
    return redirect(url_for("customers.card", code=created.code))
