"""Making signed checkpoints (on demand and from the worker) and reading one case's proof."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.audit import merkle
from engine.audit.checkpoints import (
    GENESIS,
    Head,
    checkpoint_hash,
    checkpointed_heads,
    latest,
    leaf_hashes,
    statement,
    stored_leaves,
    write_file,
)
from engine.audit.signing import public_pem, sign, signing_key
from engine.config import ConfigError
from engine.context import EngineContext
from engine.errors import Conflict
from engine.persistence.models import AuditCheckpoint, AuditCheckpointLeaf, Case
from engine.time.clock import utcnow

log = logging.getLogger("serviceflow.audit")


@dataclass(frozen=True)
class CheckpointView:
    number: int
    created_at: str
    tree_size: int
    root_hash: str
    hash: str
    file: Path | None


@dataclass(frozen=True)
class Inclusion:
    """What proves one case's head is in a signed checkpoint, shipped in its audit pack."""

    statement: str
    signature: str
    public_key: str
    leaf: Head
    leaf_index: int
    proof: list[str]


def public_key_pem(ctx: EngineContext) -> str:
    """The public half of the signing key: what auditors keep (creating the development key)."""
    return public_pem(signing_key(ctx.settings.audit).public_key())


def make_checkpoint(ctx: EngineContext) -> CheckpointView:
    """Sign the heads of every case's chain now; stored in the database and as a new file in the
    checkpoint directory (when one is configured), both or neither."""
    key = signing_key(ctx.settings.audit)
    directory = ctx.settings.audit.checkpoint_dir
    with ctx.unit_of_work() as uow:
        session = uow.session
        previous = latest(session)
        number = previous.id + 1 if previous else 1
        heads = [Head(*row) for row in session.execute(
            select(Case.id, Case.event_count, Case.last_event_hash).order_by(Case.id))]
        now = utcnow()
        created_at = now.isoformat(timespec="microseconds")
        text = statement(number, created_at, heads, previous.hash if previous else GENESIS, key.public_key())
        signed = json.loads(text)
        signature = sign(key, text.encode())
        digest = checkpoint_hash(text, signature)
        session.add(AuditCheckpoint(
            id=number, created_at=now, tree_size=len(heads), root_hash=signed["root_hash"],
            prev_hash=signed["prev_checkpoint_hash"], key_id=signed["key_id"], statement=text,
            signature=signature, hash=digest, public_key=public_pem(key.public_key())))
        session.flush()
        if heads:
            session.execute(insert(AuditCheckpointLeaf), [
                {"checkpoint_id": number, "position": i, "case_id": h.case_id, "event_count": h.event_count,
                 "last_event_hash": h.last_event_hash} for i, h in enumerate(heads)])
        path = None
        if directory is not None:
            try:
                path = write_file(directory, number, {"statement": text, "signature": signature, "hash": digest,
                                                      "public_key": public_pem(key.public_key())})
            except FileExistsError as exc:
                raise Conflict(f"{exc.filename} already exists: the checkpoint directory holds a checkpoint "
                               f"{number} that the database does not (was the database restored or replaced?); "
                               "nothing was signed") from exc
        try:
            uow.commit()
        except Exception:
            if path is not None:
                path.chmod(0o600)
                path.unlink()  # never committed: the file must not claim a checkpoint that is not there
            raise
    return CheckpointView(number, created_at, len(heads), signed["root_hash"], digest, path)


def checkpoints_enabled(ctx: EngineContext) -> bool:
    """Whether the worker should make periodic checkpoints, decided once at its start: a missing or
    unreadable key is logged there instead of failing (and being recorded) every round."""
    settings = ctx.settings.audit
    if settings.checkpoint_minutes == 0:
        return False
    if not settings.has_key:
        log.warning("no checkpoint signing key is configured (SERVICEFLOW_AUDIT_KEY_FILE): "
                    "the worker makes no signed checkpoints")
        return False
    try:
        signing_key(settings)
    except ConfigError as exc:
        log.error("the worker makes no signed checkpoints: %s", exc.message)
        return False
    return True


def checkpoint_if_due(ctx: EngineContext) -> CheckpointView | None:
    """The worker's periodic checkpoint: made when the last is older than the configured interval
    (never when it is 0, or when no key is configured: production must name one)."""
    settings = ctx.settings.audit
    if settings.checkpoint_minutes == 0 or not settings.has_key:
        return None
    with ctx.unit_of_work(readonly=True) as uow:
        previous = latest(uow.session)
        if previous is not None and utcnow() - previous.created_at < timedelta(minutes=settings.checkpoint_minutes):
            return None
    return make_checkpoint(ctx)


def case_inclusion(session: Session, case_id: int) -> Inclusion | None:
    """The latest checkpoint holding ``case_id``, with the inclusion proof of its leaf; None when
    no checkpoint holds the case yet."""
    found = session.execute(
        select(AuditCheckpointLeaf.checkpoint_id, AuditCheckpointLeaf.position)
        .where(AuditCheckpointLeaf.case_id == case_id)
        .order_by(AuditCheckpointLeaf.checkpoint_id.desc()).limit(1)).first()
    if found is None:
        return None
    checkpoint = session.get(AuditCheckpoint, found.checkpoint_id)
    heads = stored_leaves(session, checkpoint.id)
    proof = merkle.inclusion_proof(leaf_hashes(heads), found.position)
    return Inclusion(statement=checkpoint.statement, signature=checkpoint.signature,
                     public_key=checkpoint.public_key, leaf=heads[found.position], leaf_index=found.position,
                     proof=[p.hex() for p in proof])


def signed_heads(ctx: EngineContext, session: Session) -> dict[int, tuple[int, str]]:
    """The chain heads the latest checkpoint vouches for, its signature checked with the configured
    key (``CheckpointInvalid`` when it does not verify: that is itself tampering); empty before
    the first checkpoint or where no key is configured to check one with."""
    if latest(session) is None or not ctx.settings.audit.has_key:
        return {}
    return checkpointed_heads(session, signing_key(ctx.settings.audit).public_key())
