"""Who may read what: the one statement of the visibility rule, used by every read service.

A case is read by the people it concerns, not by everyone who can sign in (a manufacturer's
customer contacts, complaints and costs are need-to-know). The rule:

- everyone who oversees the business reads every case: administrators, auditors, process owners
  and management (``OVERSIGHT_DEPARTMENTS``);
- anyone else reads a case when they are one of its *participants*: a department that has or had a
  task in it (it keeps reading the case after its task is done), or a person who acted in it
  (started it, completed, claimed or was assigned one of its tasks, sent it a message).

Participants are kept in the indexed ``case_participants`` table as "parties" (``department:qc``,
``user:12``), written where work items are created and where people act, so that the case list
filters in SQL with one index probe and pages and counts stay right at any number of cases.

A case one may not read is answered as if it did not exist (NotFound), so that its existence
does not leak. Customers' personal data (contacts, address, notes and the card's change history)
is read by the departments that deal with customers and by oversight (``PERSONAL_DATA_DEPARTMENTS``);
everyone else sees a customer's code, name, priority, products and agreements only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.persistence.models import Case, CaseParticipant
from engine.services.actors import Actor

OVERSIGHT_DEPARTMENTS = frozenset({"management"})
PERSONAL_DATA_DEPARTMENTS = frozenset({"sales"}) | OVERSIGHT_DEPARTMENTS
# Up to this many readable cases, a page is read through the party index and sorted; beyond it,
# the case list is walked in order (visible_cases). Measured at 100,000 cases on both backends.
FEW_CASES = 5_000


def department_party(department: str) -> str:
    return f"department:{department}"


def user_party(user_id: int) -> str:
    return f"user:{user_id}"


def sees_every_case(actor: Actor) -> bool:
    """Oversight reads every case: administrators, auditors, process owners and management."""
    return actor.is_admin or actor.is_auditor or actor.is_process_owner or bool(
        actor.departments & OVERSIGHT_DEPARTMENTS)


def parties_of(actor: Actor) -> list[str]:
    """The parties through which ``actor`` takes part in cases: themselves and their departments."""
    return [user_party(actor.id), *(department_party(d) for d in sorted(actor.departments))]


def visible_cases(actor: Actor, readable: int | None = None) -> ColumnElement[bool] | None:
    """A condition on ``Case`` selecting the cases ``actor`` may read (None: every case).

    One condition in two forms, because SQLite runs a query as it is written: ``IN`` a subquery
    reads the reader's cases from the party index (best for counting them, and for a page when
    they are few, as sorting them is cheap); a correlated ``EXISTS`` walks the case list in the
    page's order and probes each case (best for a page of someone who reads many cases, as it
    fills at once). ``readable``, when the caller has counted it, picks the form of a page.
    PostgreSQL plans both alike."""
    if sees_every_case(actor):
        return None
    parties = parties_of(actor)
    if readable is not None and readable > FEW_CASES:
        return exists().where(CaseParticipant.case_id == Case.id, CaseParticipant.party.in_(parties))
    return Case.id.in_(select(CaseParticipant.case_id).where(CaseParticipant.party.in_(parties)))


def restrict(query: Select, actor: Actor, readable: int | None = None) -> Select:
    """``query`` (over ``Case``) narrowed to the cases ``actor`` may read (see ``visible_cases``)."""
    condition = visible_cases(actor, readable)
    return query if condition is None else query.where(condition)


def may_read_case(session: Session, actor: Actor, case_id: int) -> bool:
    """Whether ``actor`` may read the case (it need not exist)."""
    if sees_every_case(actor):
        return True
    found = session.scalar(select(CaseParticipant.case_id).where(
        CaseParticipant.case_id == case_id, CaseParticipant.party.in_(parties_of(actor))).limit(1))
    return found is not None


MAX_ID = 2**63 - 1  # the largest id a BIGINT (and SQLite's INTEGER) holds; the database refuses larger


def readable_case(session: Session, actor: Actor, case_id: int) -> Case:
    """The case, or NotFound when it does not exist or ``actor`` may not read it: the same answer
    for both, so that a case one may not read cannot be told from one that does not exist."""
    case = session.get(Case, case_id) if 0 < case_id <= MAX_ID else None
    if case is None or not may_read_case(session, actor, case_id):
        raise NotFound(f"No case {case_id}")
    return case


def may_read_personal_data(actor: Actor) -> bool:
    """Customers' contacts, address and notes: for those who deal with customers, and oversight."""
    return sees_every_case(actor) or bool(actor.departments & PERSONAL_DATA_DEPARTMENTS)


def add_participants(session: Session, case_id: int, departments: Iterable[str | None] = (),
                     people: Iterable[Any] = ()) -> None:
    """Record departments and people as participants of a case, in the caller's transaction.

    ``people`` are actors: a person (an ``Actor``) or the system, which has no id and is nobody's
    participant. Rows already there are kept (insert-or-ignore), so two steps adding the same
    party at once cannot fail each other."""
    parties = {department_party(d) for d in departments if d}
    parties |= {user_party(p.id) for p in people if getattr(p, "id", None) is not None}
    if not parties:
        return
    rows = [{"case_id": case_id, "party": party} for party in sorted(parties)]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(CaseParticipant).values(rows).on_conflict_do_nothing())
