"""Shared helpers for the path tests: a case walked through the JSON API by users of the
departments its tasks are routed to, and readers for what the case recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, update

from engine.persistence.models import Customer
from tests.integration.test_after_sales_paths import Walk

# One demo user per department: whoever completes a task must belong to the department it went to.
USERS = {
    "sales": "sales1", "admin": "admin1", "qc": "qc1", "tech": "tech1", "production": "prod1",
    "management": "gm1", "service_centre": "centre1",
}


CARD_COLUMNS = ("name", "address", "contacts", "products", "agreements", "priority", "notes", "lock_version",
                "updated_at")


@pytest.fixture
def demo_cards(ctx) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Put every Customer Data Card back as it was after a test that changes cards: on PostgreSQL the
    customers table outlives a test (only case tables are emptied), and other tests read the demo cards."""
    with ctx.unit_of_work(readonly=True) as uow:
        saved = {row.code: {c: getattr(row, c) for c in CARD_COLUMNS} for row in uow.session.scalars(select(Customer))}
    yield
    with ctx.unit_of_work() as uow:
        for code, values in saved.items():
            uow.session.execute(update(Customer).where(Customer.code == code).values(**values)
                                .execution_options(synchronize_session=False))
        uow.commit()


class Case(Walk):
    """A case of ``process`` started by ``as_``; ``step`` completes a task as its department's user."""

    def __init__(self, api, process: str, as_: str = "sales1") -> None:  # type: ignore[no-untyped-def]
        self.api = api
        response = api.post("/cases", {"process": process, "data": {}}, as_=as_)
        assert response.status_code == 201, response.json
        self.case = response.json

    @classmethod
    def by_message(cls, api, name: str, payload: dict, as_: str = "centre1") -> Case:  # type: ignore[no-untyped-def]
        """A case that message ``name`` started (``POST /messages/NAME`` answered 201)."""
        response = api.post(f"/messages/{name}", {"payload": payload}, as_=as_)
        assert response.status_code == 201, response.json
        case = cls.__new__(cls)
        case.api, case.case = api, response.json
        return case

    @property
    def id(self) -> int:
        return self.case["id"]

    @property
    def data(self) -> dict:
        return self.case["data"]

    def titles(self) -> list[str]:
        return [t["title"] for t in self.case["open_tasks"]]

    def step(self, title: str, department: str, data: dict, user: str | None = None) -> dict:
        """Complete the one open task ``title``, asserting it went to ``department``."""
        return self.do(title, user or USERS[department], department, data)

    def submit(self, task: dict, data: dict, user: str | None = None):  # type: ignore[no-untyped-def]
        """Post ``data`` for an open task as a user of its department; the raw response."""
        return self.api.post(f"/tasks/{task['id']}/complete", {"data": data}, as_=user or USERS[task["department"]])

    def each(self, title: str, answer: Callable[[dict], dict]) -> list[str]:
        """Complete every open task called ``title`` (parallel instances), each by a user of its own
        department with ``answer(task)``; returns their departments in the order they were open."""
        tasks = [t for t in self.case["open_tasks"] if t["title"] == title]
        assert tasks, self.titles()
        for task in tasks:
            response = self.submit(task, answer(task))
            assert response.status_code == 200, response.json
            self.case = response.json
        return [t["department"] for t in tasks]

    def task(self, title: str, as_: str = "sales1") -> dict:
        """``GET /tasks/ID`` of the one open task called ``title``."""
        matching = [t for t in self.case["open_tasks"] if t["title"] == title]
        assert len(matching) == 1, self.titles()
        response = self.api.get(f"/tasks/{matching[0]['id']}", as_=as_)
        assert response.status_code == 200, response.json
        return response.json

    def prefill(self, title: str) -> dict:
        return self.task(title)["prefill"]

    def ended(self, outcome: str) -> dict:
        """Assert the case completed at the end event ``outcome``; its final data."""
        assert (self.case["status"], self.case["outcome"], self.case["open_tasks"]) == ("completed", outcome, [])
        return self.case["data"]

    def routed(self) -> list[tuple[str, str]]:
        """(element, department) of every task that became ready, in order (events, chain intact)."""
        return routed(self.events())


def routed(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["element_id"], e["data"]["department"]) for e in events if e["type"] == "task_ready"]


def completed_by(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["element_id"], e["actor"]) for e in events if e["type"] == "task_completed"]


def bracketed(events: list[dict], outcome: str) -> None:
    """The history starts with the case and ends with its completion at ``outcome``."""
    assert events[0]["type"] == "case_started"
    assert (events[-1]["type"], events[-1]["data"]) == ("case_completed", {"outcome": outcome})
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
