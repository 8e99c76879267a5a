"""The Customer List and Customer Data Cards (PROCEDURE 5.2): every change kept with who and when.

Cards change in two ways: a person edits the card, or a case's service task asks for it
(``customer.update_card``) and the change commits with that case step. Either way the change is
recorded with its before and after values.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.context import EngineContext
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.persistence.models import Case, Customer, CustomerChange, WorkItem
from engine.services import visibility
from engine.services.actors import Actor
from engine.time.clock import utcnow

CARD_FIELDS = ("name", "address", "contacts", "products", "agreements", "priority", "notes")
LIST_FIELDS = {"contacts", "products", "agreements"}
APPEND_AGREEMENTS = "add_agreements"
EDITING_DEPARTMENTS = frozenset({"sales"})


@dataclass(frozen=True)
class CustomerView:
    code: str
    name: str
    address: str
    priority: bool
    contacts: list
    products: list
    agreements: list
    notes: str
    updated_at: datetime
    version: int
    open_cases: int = 0
    personal_data: bool = True  # False: contacts, address and notes are withheld from this reader


@dataclass(frozen=True)
class ChangeView:
    at: datetime
    actor: str
    case_id: int | None
    before: dict
    after: dict


@dataclass(frozen=True)
class CaseLink:
    id: int
    title: str
    process_name: str
    status: str
    created_at: datetime
    process_name_zh: str = ""


@dataclass(frozen=True)
class CustomerCard:
    customer: CustomerView
    changes: list[ChangeView] = field(default_factory=list)
    cases: list[CaseLink] = field(default_factory=list)


def _view(row: Customer, open_cases: int = 0) -> CustomerView:
    return CustomerView(
        code=row.code, name=row.name, address=row.address, priority=row.priority,
        contacts=list(row.contacts or []), products=list(row.products or []),
        agreements=list(row.agreements or []), notes=row.notes, updated_at=row.updated_at,
        version=row.lock_version, open_cases=open_cases,
    )


def _for_reader(view: CustomerView, actor: Actor) -> CustomerView:
    """The card as ``actor`` may read it: without the contacts' personal data, the address and
    the notes for those who do not deal with customers (engine.services.visibility)."""
    if visibility.may_read_personal_data(actor):
        return view
    return dataclasses.replace(view, address="", contacts=[], notes="", personal_data=False)


def _card_values(row: Customer) -> dict[str, Any]:
    return {name: copy.deepcopy(getattr(row, name)) for name in CARD_FIELDS}


def _checked_changes(changes: Any) -> dict[str, Any]:
    """Only card fields, each of the right shape; anything else is a mistake worth reporting."""
    if not isinstance(changes, dict):
        raise InvalidInput("Card changes must be an object", {"": ["Must be an object."]})
    unknown = set(changes) - set(CARD_FIELDS) - {APPEND_AGREEMENTS}
    if unknown:
        raise InvalidInput(f"Not fields of a Customer Data Card: {', '.join(sorted(unknown))}",
                           {name: ["Not a card field."] for name in unknown})
    errors = {name: ["Must be a list."] for name in LIST_FIELDS | {APPEND_AGREEMENTS}
              if name in changes and not isinstance(changes[name], list)}
    if "priority" in changes and not isinstance(changes["priority"], bool):
        errors["priority"] = ["Must be true or false."]
    if "name" in changes and not (isinstance(changes["name"], str) and changes["name"].strip()):
        errors["name"] = ["This field is required."]
    if errors:
        raise InvalidInput("The card changes have errors", errors)
    return changes


def apply_card_changes(session: Session, code: str, changes: Any, actor: Actor | None,
                       case_id: int | None = None) -> Customer:
    """Change a card inside the caller's transaction and record the change."""
    row = session.scalar(select(Customer).where(Customer.code == code))
    if row is None:
        raise NotFound(f"No customer {code!r}")
    changes = _checked_changes(changes)
    before = _card_values(row)
    for name in CARD_FIELDS:
        if name in changes:
            setattr(row, name, copy.deepcopy(changes[name]))
    if changes.get(APPEND_AGREEMENTS):
        row.agreements = [*(row.agreements or []), *copy.deepcopy(changes[APPEND_AGREEMENTS])]
    row.updated_at = utcnow()
    after = _card_values(row)
    changed = {k for k in CARD_FIELDS if before[k] != after[k]}
    if "priority" in changed:
        _reprioritise(session, row)
    session.add(CustomerChange(
        customer_id=row.id, at=row.updated_at, actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "username", "") or "", case_id=case_id,
        before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
    ))
    return row


def _reprioritise(session: Session, row: Customer) -> None:
    """Open tasks of a customer who became (or stopped being) a priority customer move at once."""
    cases = select(Case.id).where(Case.customer_id == row.id).scalar_subquery()
    session.execute(
        update(WorkItem).where(WorkItem.case_id.in_(cases)).values(priority=priority_of(row))
        .execution_options(synchronize_session=False)
    )


def priority_of(row: Customer | None) -> int:
    """Inbox priority of a customer's tasks (PROCEDURE 5.2: customer problems come first)."""
    return 1 if row is not None and row.priority else 0


def may_edit_customers(actor: Actor) -> bool:
    """Customer Data Cards are kept by the Sales Section (PROCEDURE 5.2); admins may correct them."""
    return bool(actor.departments & EDITING_DEPARTMENTS) or actor.is_admin


def check_may_edit_customers(actor: Actor) -> None:
    if not may_edit_customers(actor):
        raise Forbidden("Customer Data Cards are kept by the Sales Section")


def update_customer(ctx: EngineContext, actor: Actor, code: str, changes: dict, version: int) -> CustomerView:
    """A person edits a card; ``version`` is the card version they saw, so no edit is lost."""
    check_may_edit_customers(actor)
    with ctx.unit_of_work() as uow:
        row = uow.session.scalar(select(Customer).where(Customer.code == code))
        if row is None:
            raise NotFound(f"No customer {code!r}")
        if row.lock_version != version:
            raise Conflict("Someone changed this card while you were editing it; reload and try again")
        apply_card_changes(uow.session, code, changes, actor)
        try:
            uow.session.flush()
        except StaleDataError as exc:
            raise Conflict("Someone changed this card while you were editing it; reload and try again") from exc
        view = _view(row)
        uow.commit()
        return view


def create_customer(ctx: EngineContext, actor: Actor, code: str, values: dict) -> CustomerView:
    """Add a customer to the Customer List."""
    check_may_edit_customers(actor)
    code = code.strip().upper()
    if not code:
        raise InvalidInput("A customer needs a code", {"code": ["This field is required."]})
    values = _checked_changes({"name": values.get("name", ""), **values})
    with ctx.unit_of_work() as uow:
        if uow.session.scalar(select(Customer.id).where(Customer.code == code)) is not None:
            raise InvalidInput(f"Customer {code} exists already", {"code": ["Already in use."]})
        row = Customer(code=code, **{k: values[k] for k in CARD_FIELDS if k in values})
        uow.session.add(row)
        uow.session.flush()
        uow.session.add(CustomerChange(customer_id=row.id, actor_id=actor.id, actor=actor.username,
                                       before={}, after=_card_values(row)))
        view = _view(row)
        uow.commit()
        return view


def list_customers(ctx: EngineContext, actor: Actor, text: str | None = None) -> list[CustomerView]:
    """The Customer List: priority customers first, then by name, with the open cases ``actor``
    may read counted; personal data only for those who may read it."""
    open_cases = (
        visibility.restrict(select(Case.customer_id, func.count().label("n")), actor)
        .where(Case.status == "running").group_by(Case.customer_id).subquery()
    )
    query = select(Customer, func.coalesce(open_cases.c.n, 0)).outerjoin(
        open_cases, open_cases.c.customer_id == Customer.id
    )
    if text:
        query = query.where(or_(Customer.name.ilike(f"%{text}%"), Customer.code.ilike(f"%{text}%")))
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(query.order_by(Customer.priority.desc(), Customer.name))
        return [_for_reader(_view(row, count), actor) for row, count in rows]


def may_read_customer_list(actor: Actor) -> bool:
    """Who reads the Customer List outside the web pages (the API, and the choices of a form's
    customer fields): staff of every department, who fill in forms naming customers;
    administrators, who keep the list with Sales; auditors, who read case histories that name
    customers. A process owner without a department does neither."""
    return bool(actor.departments) or actor.is_admin or actor.is_auditor


def customer_list(ctx: EngineContext, actor: Actor, text: str | None = None) -> list[CustomerView]:
    """The Customer List as ``actor`` may read it; the one place that decides who reads it."""
    if not may_read_customer_list(actor):
        raise Forbidden("The Customer List is read by department staff, administrators and auditors")
    return list_customers(ctx, actor, text)


def customer_card(ctx: EngineContext, actor: Actor, code: str) -> CustomerCard:
    """One card with the cases ``actor`` may read; its personal data and change history (which
    holds earlier contacts) only for those who may read personal data."""
    with ctx.unit_of_work(readonly=True) as uow:
        row = uow.session.scalar(select(Customer).where(Customer.code == code))
        if row is None:
            raise NotFound(f"No customer {code!r}")
        changes = uow.session.scalars(
            select(CustomerChange).where(CustomerChange.customer_id == row.id).order_by(CustomerChange.id.desc())
        ) if visibility.may_read_personal_data(actor) else []
        cases = uow.session.scalars(
            visibility.restrict(select(Case), actor).where(Case.customer_id == row.id)
            .order_by(Case.created_at.desc()).limit(200)
        )
        return CustomerCard(
            customer=_for_reader(_view(row), actor),
            changes=[ChangeView(c.at, c.actor, c.case_id, c.before, c.after) for c in changes],
            cases=[CaseLink(c.id, c.title, c.version.name, c.status, c.created_at, c.version.name_zh or "")
                   for c in cases],
        )


def customer_choices(ctx: EngineContext) -> list[tuple[str, str]]:
    """(code, name) of every customer, for the forms' customer fields."""
    with ctx.unit_of_work(readonly=True) as uow:
        return [tuple(r) for r in uow.session.execute(select(Customer.code, Customer.name).order_by(Customer.name))]


def find_by_code(session: Session, code: Any) -> Customer | None:
    if not isinstance(code, str) or not code:
        return None
    return session.scalar(select(Customer).where(Customer.code == code))


def _customer_values(schema: dict, data: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every ``format: customer`` field, at any depth of objects and arrays."""
    if schema.get("format") == "customer":
        yield path, data
    elif schema.get("type") == "object" and isinstance(data, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if name in data:
                yield from _customer_values(prop, data[name], f"{path}.{name}" if path else name)
    elif schema.get("type") == "array" and isinstance(data, list):
        for index, item in enumerate(data):
            yield from _customer_values(schema.get("items") or {}, item, f"{path}.{index}")


def unknown_customer_fields(session: Session, schema: dict, data: dict) -> dict[str, list[str]]:
    """Errors for the form's customer fields (``format: customer``) that name no customer."""
    return {
        path: ["Unknown customer: choose one from the Customer List."]
        for path, value in _customer_values(schema, data, "")
        if value not in (None, "") and find_by_code(session, value) is None
    }
