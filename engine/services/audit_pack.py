"""Packing one case for an auditor (engine.audit.pack): read in one transaction, so the events,
the checkpoint and the version files in a pack belong to the same moment."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from engine.audit.pack import (
    CASE,
    CHECKPOINT,
    CHECKPOINT_TIMESTAMP,
    EVENTS,
    PROCESS_DIR,
    VERSION,
    event_record,
    json_bytes,
    write_pack,
)
from engine.context import EngineContext
from engine.persistence.models import Case, CaseEvent, ProcessVersion
from engine.services import visibility
from engine.services.actors import Actor
from engine.services.checkpoints import case_inclusion
from engine.time.clock import utcnow


def _when(value) -> str | None:  # type: ignore[no-untyped-def]
    return value.isoformat(timespec="microseconds") if value is not None else None


def _case_summary(case: Case) -> dict:
    return {"id": case.id, "process_id": case.process_id, "title": case.title, "customer": case.customer,
            "status": case.status, "outcome": case.outcome, "version": case.version.version,
            "version_hash": case.version.content_hash, "event_count": case.event_count,
            "last_event_hash": case.last_event_hash, "created_at": _when(case.created_at),
            "completed_at": _when(case.completed_at)}


def _version_summary(version: ProcessVersion) -> dict:
    """The pinned version under document control, with who prepared, reviewed and approved it."""
    return {"process_id": version.process_id, "name": version.name, "name_zh": version.name_zh,
            "version": version.version, "label": version.label, "content_hash": version.content_hash,
            "status": version.status, "published_at": _when(version.published_at),
            "change_note": version.change_note,
            "signoffs": [{"step": s.step, "actor": s.actor, "display_name": s.display_name, "at": _when(s.at),
                          "comment": s.comment} for s in version.signoffs]}


def build_pack(ctx: EngineContext, actor: Actor, case_id: int, printable: Mapping[str, bytes]) -> bytes:
    """The audit pack of a case ``actor`` may read (NotFound otherwise); ``printable`` holds the
    printable records as files (name → content), rendered by the caller (the web layer owns
    templates)."""
    with ctx.unit_of_work(readonly=True) as uow:
        session = uow.session
        case = visibility.readable_case(session, actor, case_id)
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))
        files = {
            CASE: json_bytes(_case_summary(case)),
            EVENTS: json_bytes([event_record(e) for e in events]),
            VERSION: json_bytes(_version_summary(case.version)),
            **printable,
            **{PROCESS_DIR + f.path: f.content.encode() for f in case.version.files},
        }
        inclusion = case_inclusion(session, case_id)
        if inclusion is not None:
            files[CHECKPOINT] = json_bytes({
                "statement": inclusion.statement, "signature": inclusion.signature,
                "public_key": inclusion.public_key, "leaf_index": inclusion.leaf_index, "proof": inclusion.proof,
                "leaf": {"case_id": inclusion.leaf.case_id, "event_count": inclusion.leaf.event_count,
                         "last_event_hash": inclusion.leaf.last_event_hash}})
            if inclusion.timestamp is not None:
                files[CHECKPOINT_TIMESTAMP] = inclusion.timestamp
    return write_pack(files, case_id, utcnow().isoformat(timespec="seconds"))
