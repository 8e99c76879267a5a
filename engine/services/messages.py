"""Messages from other systems: ``deliver_message`` hands a named message with its payload and
correlation values to the case waiting for it, or starts a case of a process that begins with it,
or keeps it as unmatched. Never is a message dropped silently.

Why it is shaped this way (the timer worker, ``engine.services.scheduler``, is the model):

- The waiting case is found through the ``message_waits`` index alone (``save_runtime`` rewrites
  a case's rows on every save), so a message never reads or deserializes a case that does not
  wait for it.
- One transaction per message: the case row is locked first (as every writer of a case does),
  the index is read again under that lock (another message may have just moved the case on),
  the ``message_received`` event is recorded before the engine step (a replay catches the same
  payload at the same point), and the state, events and index are committed together.
- An engine failure after the catch puts the case in error, as a failed task completion does:
  the message is recorded and visible on the case, not lost.
- A message that matches nothing is stored in ``unmatched_messages`` and committed before the
  caller hears 404, with the kept message's id in the error's details.
- Only the senders the receiving event names (``allowedSenders``, ``engine.definitions.senders``) may send
  it: the event a waiting case was found at (as its version declares them, else as the newest
  version does), the start event a case would begin at, or, for a message that reaches neither,
  any published event of that name (none: administrators only).
  Anyone else is refused with 403 before anything is written, not even an unmatched message:
  whoever may not send a message may not fill the admins' list of kept ones either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import chain as audit
from engine.context import EngineContext
from engine.data_limits import DataLimits, check_data, text_problem
from engine.definitions import senders
from engine.definitions.catalog import MessageCatchInfo, ParsedProcess
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.persistence.models import Case, MessageStart, ProcessVersion, UnmatchedMessage
from engine.persistence.uow import UnitOfWork
from engine.services import visibility
from engine.services.actors import Actor
from engine.services.case_store import load_runtime, run_step
from engine.services.cases import CaseView, case_view, commit_step
from engine.services.form_input import validated
from engine.services.message_index import find_waits
from engine.services.processes import latest_versions_query
from engine.spiff.runtime import CaseRuntime

MAX_NAME = 200
ATTEMPTS = 3


class MessageNotMatched(NotFound):
    """No case waits for the message and no process starts with it; ``details`` names the id
    under which it was kept."""


@dataclass(frozen=True)
class Delivery:
    """What became of a message: the case it moved or started (``started`` tells which)."""

    case: CaseView
    started: bool
    repeated: bool = False


@dataclass(frozen=True)
class UnmatchedView:
    id: int
    name: str
    payload: dict
    correlation: dict
    received_at: datetime
    actor: str


def _checked(actor: Actor, name: str, payload: Any, correlation: Any,
             limits: DataLimits) -> tuple[str, dict, dict]:
    if actor.is_auditor and not actor.departments:
        raise Forbidden("Auditors read case histories; they do not send messages")
    errors = {}
    if not name or len(name) > MAX_NAME:
        errors["name"] = [f"Must be 1 to {MAX_NAME} characters."]
    elif (problem := text_problem(name)) is not None:
        errors["name"] = [problem]
    if payload is not None and not isinstance(payload, dict):
        errors["payload"] = ["Must be an object."]
    if correlation is not None and not isinstance(correlation, dict):
        errors["correlation"] = ["Must be an object."]
    if errors:
        raise InvalidInput("The message is invalid", errors)
    check_data(payload or {}, limits, "payload", "The message payload")
    check_data(correlation or {}, limits, "correlation", "The message correlation")
    return name, audit.jsonable(payload or {}), audit.jsonable(correlation or {})


def _check_sender(actor: Actor, name: str, receivers: list[MessageCatchInfo]) -> None:
    """Forbidden unless one of the receiving events admits ``actor`` (none known: the default)."""
    allowed = [catch.senders for catch in receivers] or [senders.DEFAULT]
    if any(rules.admits(actor) for rules in allowed):
        return
    names = sorted({str(rule) for rules in allowed for rule in rules.rules})
    raise Forbidden(f"{actor.username} may not send message {name!r}; it is accepted from {', '.join(names)}",
                    {"allowed_senders": names})


def _receivers(ctx: EngineContext, uow: UnitOfWork, name: str) -> list[MessageCatchInfo]:
    """Every event of the newest published versions that receives message ``name``."""
    return [catch for version in uow.session.scalars(latest_versions_query())
            for catch in ctx.process(version).message_catches.values() if catch.message == name]


def _senders_in_force(ctx: EngineContext, uow: UnitOfWork, case: Case, element_id: str) -> list[MessageCatchInfo]:
    """The waiting event as the case's version declares its senders. A version whose event names
    none (published before senders were declared) follows the newest published version of the
    process, the owners' current rule, so that cases in flight are not cut off from their senders."""
    catch = ctx.process(case.version).message_catches.get(element_id)
    if catch is None or not catch.senders.declared:
        newest = uow.session.scalar(latest_versions_query().where(ProcessVersion.process_id == case.process_id))
        current = ctx.process(newest).message_catches.get(element_id) if newest is not None else None
        catch = current if current is not None and current.senders.declared else catch
    return [catch] if catch is not None else []


def _locked_case(session: Session, case_id: int) -> Case:
    """The case row, locked before any other row of the case (see ``tasks.locked_case``)."""
    return session.scalars(select(Case).where(Case.id == case_id).with_for_update(of=Case)).one()


def _record(case: Case, actor: Actor, name: str, payload: dict, correlation: dict, task_id: str | None,
            element_id: str | None) -> Any:
    return audit.record(case, "message_received", actor,
                        {"name": name, "payload": payload, "correlation": correlation},
                        task_id=task_id, element_id=element_id)


def _deliver_to_waiting(ctx: EngineContext, actor: Actor, name: str, payload: dict,
                        correlation: dict) -> Delivery | None:
    """Deliver to the longest-waiting matching case; None when no case waits for it. A case that
    moved on between the index read and the lock is looked up again (a bounded number of times)."""
    for _ in range(ATTEMPTS):
        with ctx.unit_of_work() as uow:
            found = find_waits(uow, name, correlation)
            if not found:
                return None
            case = _locked_case(uow.session, found[0][0])
            current = find_waits(uow, name, correlation, case_id=case.id)
            if not current or case.status != "running":
                continue  # moved on meanwhile; the next look sees the committed index
            _, task_id, element_id = current[0]
            _check_sender(actor, name, _senders_in_force(ctx, uow, case, element_id))
            payload = _payload(uow, ctx.process(case.version), element_id, payload)
            runtime = load_runtime(ctx, uow, case)
            _record(case, actor, name, payload, correlation, task_id, element_id)
            error = run_step(uow, case, actor, partial(runtime.catch_message, task_id, name, payload, correlation))
            view = commit_step(ctx, uow, case, runtime, actor, error,
                               "The case changed while the message was delivered; send it again")
        return Delivery(view, started=False)
    raise Conflict("The cases waiting for this message kept changing; send it again")


def _message_start(ctx: EngineContext, uow: UnitOfWork,
                   name: str) -> tuple[ProcessVersion, ParsedProcess, MessageCatchInfo] | None:
    """The newest published process whose top-level start event catches message ``name``.
    There are a few dozen processes and their parsed specs are cached, so this reads no case."""
    for version in uow.session.scalars(latest_versions_query().order_by(ProcessVersion.process_id)):
        process = ctx.process(version)
        start = process.message_start(name)
        if start is not None:
            return version, process, start
    return None


def _payload(uow: UnitOfWork, process: ParsedProcess, element_id: str, payload: dict) -> dict:
    """The payload checked against the form its catch event names, as a person's form is; a
    payload that fails is refused (422) before anything is written, so the sender can correct
    and send it again."""
    catch = process.message_catches.get(element_id)
    form = process.forms[catch.form] if catch is not None and catch.form else None
    return validated(uow.session, form, payload, "The message payload")


def _digest(value: dict) -> str:
    return hashlib.sha256(audit.canonical_json(value).encode()).hexdigest()


def _started_before(uow: UnitOfWork, name: str, correlation: dict, payload: dict) -> Delivery | None:
    """The case this same message started before, when it carries correlation values (they name
    the sender's record: a repeat is a retry, not a new record). The same keys with another
    payload are refused: taking either silently would lose the other."""
    if not correlation:
        return None
    row = uow.session.scalar(select(MessageStart).where(MessageStart.name == name,
                                                        MessageStart.correlation_key == _digest(correlation)))
    if row is None:
        return None
    if row.payload_hash != _digest(payload):
        raise Conflict(f"Message {name!r} with these correlation values already started case {row.case_id} "
                       "with other data; send a change to that case instead", {"case_id": row.case_id})
    return Delivery(case_view(uow, uow.session.get(Case, row.case_id)), started=False, repeated=True)


def _start_case(ctx: EngineContext, actor: Actor, name: str, payload: dict,
                correlation: dict) -> Delivery | None:
    """Start a case of the process that begins with this message, its payload the start data;
    the case it started before when the same message comes again."""
    with ctx.unit_of_work() as uow:
        found = _message_start(ctx, uow, name)
        if found is None:
            return None
        version, process, start_event = found
        _check_sender(actor, name, [start_event])
        payload = _payload(uow, process, start_event.element_id, payload)
        repeat = _started_before(uow, name, correlation, payload)
        if repeat is not None:
            return repeat
        case = Case(process_version_id=version.id, process_id=version.process_id, version=version,
                    created_by_id=actor.id, status="running", data=payload)
        uow.session.add(case)
        uow.session.flush()
        visibility.add_participants(uow.session, case.id, people=[actor])
        if correlation:
            uow.session.add(MessageStart(name=name, correlation_key=_digest(correlation),
                                         payload_hash=_digest(payload), case_id=case.id))
        audit.record(case, "case_started", actor, {"data": {}, "version": version.version, "message": name})
        runtime = None

        def start() -> None:
            nonlocal runtime
            runtime, task_id = CaseRuntime.open_at_message(process, ctx.script_engine, name)
            _record(case, actor, name, payload, correlation, task_id, start_event.element_id)
            runtime.catch_message(task_id, name, payload, correlation)

        error = run_step(uow, case, actor, start)
        if runtime is None:
            case.status, case.error = "error", error or ""
            _record(case, actor, name, payload, correlation, None, None)
            audit.record(case, "case_failed", actor, {"error": case.error})
        # a conflict here is the same message starting a case in another transaction (PostgreSQL)
        view = commit_step(ctx, uow, case, runtime, actor, error,
                           "The same message is being delivered at this moment; send it again")
    return Delivery(view, started=True)


def _keep(ctx: EngineContext, actor: Actor, name: str, payload: dict, correlation: dict) -> int:
    with ctx.unit_of_work() as uow:
        _check_sender(actor, name, _receivers(ctx, uow, name))
        kept = UnmatchedMessage(name=name, payload=payload, correlation=correlation,
                                actor_id=actor.id, actor=actor.username)
        uow.session.add(kept)
        uow.session.flush()
        kept_id = kept.id
        uow.commit()
    return kept_id


def deliver_message(ctx: EngineContext, actor: Actor, name: str, payload: Any = None,
                    correlation: Any = None) -> Delivery:
    """Deliver message ``name`` to the case waiting for it whose correlation values include all
    the given ones; else start a case of a process beginning with it; else keep it and raise
    ``MessageNotMatched`` (404) naming the kept message's id."""
    name, payload, correlation = _checked(actor, name, payload, correlation, ctx.settings.data_limits)
    delivered = _deliver_to_waiting(ctx, actor, name, payload, correlation)
    if delivered is None:
        delivered = _start_case(ctx, actor, name, payload, correlation)
    if delivered is not None:
        return delivered
    kept_id = _keep(ctx, actor, name, payload, correlation)
    raise MessageNotMatched(
        f"No case waits for message {name!r} with these correlation values and no process starts with it;"
        f" it was kept as unmatched message {kept_id}",
        {"unmatched_id": kept_id},
    )


def list_unmatched(ctx: EngineContext, actor: Actor, limit: int = 100, offset: int = 0) -> list[UnmatchedView]:
    """Kept messages, newest first: for admins, who find out why a message reached no case."""
    if not actor.is_admin:
        raise Forbidden("Only administrators read unmatched messages")
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(select(UnmatchedMessage).order_by(UnmatchedMessage.id.desc())
                                   .limit(limit).offset(offset))
        return [UnmatchedView(r.id, r.name, r.payload or {}, r.correlation or {}, r.received_at, r.actor)
                for r in rows]
