"""An event-based gateway racing a 15-minute timer against the customer's answer (spiff-arena's
sample a24; test-only diagrams, the race at the top of the case and inside an embedded
subprocess), walked both ways on SQLite and PostgreSQL through the services,
the clock moved, never slept: while the case waits at the gateway its timer is scheduled
(``next_due_at``) and its message indexed; the message first takes its path and cancels the
timer; the timer first is fired by the worker once the clock passes it and takes its own path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.definitions.catalog import ProcessBundle
from engine.errors import Forbidden, InvalidDefinition
from engine.persistence.models import MessageWait, UnmatchedMessage
from engine.services import cases, messages
from engine.services.messages import MessageNotMatched
from engine.services.processes import publish_bundle
from engine.services.scheduler import fire_due_timers
from tests.factories import MovableClock, actor, clock_at, complete
from tests.integration.case_reads import fired_timers, next_due, open_tasks

DIAGRAMS = Path(__file__).resolve().parents[1] / "data" / "timers"
T0 = datetime(2026, 12, 7, 8, 0)
DUE = T0 + timedelta(minutes=15)
SECOND = timedelta(seconds=1)
ANSWER = {"answer": "accepted"}


@dataclass(frozen=True)
class Race:
    """A test diagram with the race, and the end event each way of it ends the case at."""

    process: str
    answered: str
    chased: str

    def __str__(self) -> str:
        return self.process


RACES = [Race("event_gateway_race", "Answered", "Chased"), Race("event_gateway_in_subprocess", "Done", "Done")]


@pytest.fixture
def at() -> Iterator[MovableClock]:
    with clock_at(T0) as movable:
        yield movable


@pytest.fixture(params=RACES, ids=str)
def race(request: pytest.FixtureRequest) -> Race:
    return request.param


def _published(ctx, process: str, text: str | None = None) -> None:  # type: ignore[no-untyped-def]
    text = text if text is not None else (DIAGRAMS / f"{process}.bpmn").read_text()
    publish_bundle(ctx, ProcessBundle(process, process, {f"workflows/{process}.bpmn": text}))


def _waiting(ctx, race: Race) -> int:  # type: ignore[no-untyped-def]
    """A case that sent its quote and now waits at the gateway for the answer or the timer."""
    _published(ctx, race.process)
    case = cases.start_case(ctx, actor(ctx, "sales1"), race.process, {"quote_ref": "Q-1"})
    complete(ctx, "sales1", case.id, "Send quote", {})
    return case.id


def _waits(ctx, case_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(select(MessageWait.name, MessageWait.element_id)
                                   .where(MessageWait.case_id == case_id))
        return [tuple(row) for row in rows]


def _answer(ctx, username: str = "sales1") -> messages.Delivery:  # type: ignore[no-untyped-def]
    return messages.deliver_message(ctx, actor(ctx, username), "quote_answer", ANSWER, {"quote_ref": "Q-1"})


def _outcome(ctx, case_id: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    view = cases.get_case(ctx, actor(ctx, "auditor1"), case_id)
    return view.status, view.outcome


def test_a_case_waiting_at_an_event_based_gateway_has_its_timer_scheduled_and_its_message_indexed(ctx, at, race):
    case_id = _waiting(ctx, race)
    assert open_tasks(ctx, case_id) == []
    assert next_due(ctx, case_id) == DUE
    assert _waits(ctx, case_id) == [("quote_answer", "answer_received")]


def test_the_message_first_takes_its_path_and_cancels_the_timer(ctx, at, race):
    case_id = _waiting(ctx, race)
    at.now = T0 + timedelta(minutes=5)
    delivered = _answer(ctx)
    assert (delivered.case.id, delivered.started) == (case_id, False)
    assert open_tasks(ctx, case_id) == [("Process answer", "sales")]
    assert next_due(ctx, case_id) is None
    assert _waits(ctx, case_id) == []

    at.now = DUE + timedelta(hours=1)  # the timer's time passes: nothing is left to fire
    assert fire_due_timers(ctx) == 0
    assert fired_timers(ctx, case_id) == []
    complete(ctx, "sales1", case_id, "Process answer", {})
    assert _outcome(ctx, case_id) == ("completed", race.answered)
    assert cases.get_case(ctx, actor(ctx, "auditor1"), case_id).data["answer"] == "accepted"  # the payload
    history, _ = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    assert [(e.type, e.element_id) for e in history if e.type == "message_received"] == [
        ("message_received", "answer_received")]


def test_the_timer_first_is_fired_by_the_worker_when_the_clock_passes_it(ctx, at, race):
    case_id = _waiting(ctx, race)
    at.now = DUE
    assert fire_due_timers(ctx) == 0  # due once its time is strictly past, as SpiffWorkflow has it
    assert open_tasks(ctx, case_id) == []

    at.now = DUE + SECOND
    assert fire_due_timers(ctx) == 1
    assert fired_timers(ctx, case_id) == ["fifteen_minutes"]
    assert open_tasks(ctx, case_id) == [("Chase customer", "sales")]
    assert next_due(ctx, case_id) is None
    assert _waits(ctx, case_id) == []

    with pytest.raises(MessageNotMatched):  # the race is over: a late answer reaches no case
        _answer(ctx)
    assert open_tasks(ctx, case_id) == [("Chase customer", "sales")]
    complete(ctx, "sales1", case_id, "Chase customer", {})
    assert _outcome(ctx, case_id) == ("completed", race.chased)


def test_a_sender_the_gateways_message_event_does_not_name_is_refused_and_the_race_goes_on(ctx, at, race):
    case_id = _waiting(ctx, race)
    with pytest.raises(Forbidden) as refused:
        _answer(ctx, username="prod1")
    assert refused.value.details == {"allowed_senders": ["department:sales"]}
    assert next_due(ctx, case_id) == DUE
    assert _waits(ctx, case_id) == [("quote_answer", "answer_received")]
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(UnmatchedMessage)) == 0

    at.now = DUE + SECOND
    assert fire_due_timers(ctx) == 1
    assert open_tasks(ctx, case_id) == [("Chase customer", "sales")]


def test_a_gateway_racing_two_timers_is_refused_when_published(ctx, race):
    second_timer = (DIAGRAMS / f"{race.process}.bpmn").read_text().replace(
        '<bpmn:messageEventDefinition id="answer_message" messageRef="Message_QuoteAnswer" />',
        '<bpmn:timerEventDefinition id="other_timer"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>'
        '</bpmn:timerEventDefinition>')
    with pytest.raises(InvalidDefinition, match="'answer_or_timeout'.*races 2 timers"):
        _published(ctx, race.process, second_timer)


def test_a_case_on_a_version_that_named_no_senders_follows_the_newest_versions_senders(ctx, at, race):
    """Cases in flight when senders are first declared keep receiving from them: the old version's
    event names none, so the newest version's rule applies (not the administrators-only default)."""
    declared = '<spiffworkflow:property name="allowedSenders" value="department:sales" />'
    process = f"{race.process}_redeclared"  # its own versions: on PostgreSQL versions outlive a test
    original = (DIAGRAMS / f"{race.process}.bpmn").read_text().replace(race.process, process)
    _published(ctx, process, original.replace(declared, '<spiffworkflow:property name="note" value="v1" />'))
    case = cases.start_case(ctx, actor(ctx, "sales1"), process, {"quote_ref": "Q-1"})
    complete(ctx, "sales1", case.id, "Send quote", {})
    with pytest.raises(Forbidden) as before_declared:
        _answer(ctx, username="sales1")
    assert before_declared.value.details == {"allowed_senders": ["role:admin"]}

    _published(ctx, process, original)  # the newest version names Sales
    with pytest.raises(Forbidden) as refused:
        _answer(ctx, username="prod1")
    assert refused.value.details == {"allowed_senders": ["department:sales"]}
    assert _answer(ctx, username="sales1").case.id == case.id
    assert open_tasks(ctx, case.id) == [("Process answer", "sales")]
