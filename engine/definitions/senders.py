"""Who may send a message: the ``allowedSenders`` property of the event that receives it.

A message moves a case or starts one as surely as a completed task does, so who may send it is
part of the process definition, next to who may do each task (lanes). The receiving catch or
start event names its senders, comma-separated::

    <spiffworkflow:property name="allowedSenders" value="department:sales, integration:customer_portal" />

- ``department:ID``: the people of that department (its members, not service accounts);
- ``role:admin`` / ``role:process_owner``: administrators / process owners;
- ``integration:NAME``: the service accounts of that integration (``INTEGRATIONS``), another
  system's API identity, which cannot sign in and does nothing else a person does.

An event that names no senders accepts messages from administrators only: a message added to a
diagram without thinking about who sends it must not be open to every colleague, and an
administrator can still deliver it by hand while the diagram is corrected. Auditors never send.
Names are checked when a version is published (``check_known``), so a typo is refused there, with
the element that holds it, instead of silently locking everybody out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from engine.errors import InvalidDefinition

PROPERTY = "allowedSenders"
KINDS = ("department", "role", "integration")
ROLES = ("admin", "process_owner")
INTEGRATIONS: dict[str, str] = {
    "centre_system": "A service centre's own system, forwarding its Customer Service Feedback Records",
    "customer_portal": "The customer portal, where customers answer the factory (e.g. consent to a delivery date)",
}


class Sender(Protocol):
    """What is known of whoever sends a message (``engine.services.actors.Actor``)."""

    departments: frozenset[str]
    is_admin: bool
    is_process_owner: bool
    is_service_account: bool
    integration: str | None


@dataclass(frozen=True)
class SenderRule:
    """One entry of ``allowedSenders``."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    def admits(self, sender: Sender) -> bool:
        if self.kind == "integration":
            return sender.is_service_account and sender.integration == self.name
        if sender.is_service_account:
            return False  # a service account speaks for its integration, never as a person
        if self.kind == "department":
            return self.name in sender.departments
        return sender.is_admin if self.name == "admin" else sender.is_process_owner


@dataclass(frozen=True)
class AllowedSenders:
    """The senders an event accepts; ``declared`` is False when it names none (the default)."""

    rules: tuple[SenderRule, ...]
    declared: bool = True

    def admits(self, sender: Sender) -> bool:
        return any(rule.admits(sender) for rule in self.rules)

    def __str__(self) -> str:
        return ", ".join(str(rule) for rule in self.rules)


DEFAULT = AllowedSenders((SenderRule("role", "admin"),), declared=False)


def parse(value: str | None, where: str, prop: str = PROPERTY,
          default: AllowedSenders = DEFAULT) -> AllowedSenders:
    """The rules an ``allowedSenders`` value names; ``where`` names the element for errors. A
    missing value is the default; a present one must name at least one well-formed sender.
    ``prop`` names the property in errors, since ``startableBy`` (``engine.definitions.starters``)
    speaks the same vocabulary and is read by this same parser."""
    if value is None:
        return default
    rules = []
    for entry in (part.strip() for part in value.split(",")):
        kind, _, name = entry.partition(":")
        kind, name = kind.strip(), name.strip()
        if kind not in KINDS or not name:
            raise InvalidDefinition(
                f"{where}: {prop} entry {entry!r} is not one of "
                f"{', '.join(k + ':NAME' for k in KINDS)}")
        if kind == "role" and name not in ROLES:
            raise InvalidDefinition(f"{where}: {prop} names unknown role {name!r}; known: {', '.join(ROLES)}")
        rules.append(SenderRule(kind, name))
    return AllowedSenders(tuple(dict.fromkeys(rules)))


def check_known(senders: AllowedSenders, departments: Iterable[str], where: str, prop: str = PROPERTY) -> None:
    """Refuse departments and integrations that do not exist (checked against the database's
    departments when a version is published, so that the message is not open to nobody)."""
    known = set(departments)
    for rule in senders.rules:
        if rule.kind == "department" and rule.name not in known:
            raise InvalidDefinition(f"{where}: {prop} names unknown department {rule.name!r}; "
                                    f"known: {', '.join(sorted(known))}")
        if rule.kind == "integration" and rule.name not in INTEGRATIONS:
            raise InvalidDefinition(f"{where}: {prop} names unknown integration {rule.name!r}; "
                                    f"known: {', '.join(sorted(INTEGRATIONS))}")
