"""Unexpected failures: recorded with an id that the person who met one is shown, so an admin can
find the traceback from a screenshot or a support mail, and listed for admins.

Why not a log line alone: a 500 that says nothing and a log nobody reads is how a bug passes for
"the server is flaky"; a recorded incident with an id is something people can report and fix.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from engine.context import EngineContext
from engine.errors import Forbidden
from engine.persistence.models import Incident
from engine.services.actors import Actor

log = logging.getLogger("serviceflow.incidents")
MAX_TRACE = 20_000


@dataclass(frozen=True)
class IncidentView:
    id: str
    at: datetime
    source: str
    actor: str
    kind: str
    message: str
    trace: str


def new_incident_id() -> str:
    return secrets.token_hex(6)


def record_incident(ctx: EngineContext, source: str, actor: str, exc: BaseException) -> str:
    """Log ``exc`` with a new incident id and keep it for admins (in a transaction of its own: the
    failed one is gone). Returns the id even when the database cannot take the record."""
    incident_id = new_incident_id()
    trace = "".join(traceback.format_exception(exc))[-MAX_TRACE:]
    log.error("incident %s in %s (%s): %s\n%s", incident_id, source, actor or "-", type(exc).__name__, trace)
    try:
        with ctx.unit_of_work() as uow:
            uow.session.add(Incident(id=incident_id, source=source[:300], actor=actor[:80],
                                     kind=type(exc).__qualname__[:200], message=str(exc)[:2000], trace=trace))
            uow.commit()
    except SQLAlchemyError:
        log.exception("incident %s could not be stored", incident_id)
    return incident_id


def list_incidents(ctx: EngineContext, actor: Actor, limit: int = 100) -> list[IncidentView]:
    """The newest incidents first; admins only."""
    if not actor.is_admin:
        raise Forbidden("Only administrators can read incidents")
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(select(Incident).order_by(Incident.at.desc()).limit(limit))
        return [IncidentView(r.id, r.at, r.source, r.actor, r.kind, r.message, r.trace) for r in rows]
