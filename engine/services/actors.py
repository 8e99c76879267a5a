"""Who is acting: the caller of every use case, independent of how they logged in."""

from __future__ import annotations

from dataclasses import dataclass

from engine.persistence.models import User


@dataclass(frozen=True)
class Actor:
    id: int
    username: str
    display_name: str
    departments: frozenset[str]
    is_admin: bool = False
    is_process_owner: bool = False
    is_auditor: bool = False
    locale: str = "en"
    is_service_account: bool = False
    integration: str | None = None

    @property
    def reads_only(self) -> bool:
        """An auditor with no other role: reads every case, version and event and changes none of
        them (an auditor who also works in a department or administers keeps that work)."""
        return self.is_auditor and not (self.departments or self.is_admin or self.is_process_owner)

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            departments=frozenset(d.id for d in user.departments),
            is_admin=user.is_admin,
            is_process_owner=user.is_process_owner,
            is_auditor=user.is_auditor,
            locale=user.locale,
            is_service_account=user.is_service_account,
            integration=user.integration,
        )
