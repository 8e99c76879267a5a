"""Making signed checkpoints (on demand and from the worker), stamping them by an RFC 3161
timestamp authority when one is configured, and reading one case's proof."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
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
    write_timestamp_file,
)
from engine.audit.signing import public_pem, sign, signing_key
from engine.audit.timestamps import Stamp, TimestampError, TimestampInvalid, load_roots, read_stamp, request_stamp
from engine.config import AuditSettings, ConfigError
from engine.context import EngineContext
from engine.errors import Conflict
from engine.persistence.models import AuditCheckpoint, AuditCheckpointLeaf, AuditCheckpointTimestamp, Case
from engine.services import visibility
from engine.services.actors import Actor
from engine.time.clock import utcnow

log = logging.getLogger("serviceflow.audit")


@dataclass(frozen=True)
class CheckpointView:
    """A checkpoint just made: ``stamp`` is its RFC 3161 timestamp, or None with ``stamp_error``
    saying why when a TSA is configured and gave none (the checkpoint is kept all the same)."""

    number: int
    created_at: str
    tree_size: int
    root_hash: str
    hash: str
    file: Path | None
    stamp: Stamp | None = None
    stamp_file: Path | None = None
    stamp_error: str = ""


@dataclass(frozen=True)
class Inclusion:
    """What proves one case's head is in a signed checkpoint, shipped in its audit pack."""

    statement: str
    signature: str
    public_key: str
    leaf: Head
    leaf_index: int
    proof: list[str]
    timestamp: bytes | None = None  # the checkpoint's RFC 3161 TimeStampResp, when it was stamped


def public_key_pem(ctx: EngineContext) -> str:
    """The public half of the signing key: what auditors keep (creating the development key)."""
    return public_pem(signing_key(ctx.settings.audit).public_key())


def make_checkpoint(ctx: EngineContext) -> CheckpointView:
    """Sign the heads of every case's chain now; stored in the database and as a new file in the
    checkpoint directory (when one is configured), both or neither; then, when a TSA is
    configured, timestamped (``_timestamp``: a TSA that fails leaves the checkpoint unstamped)."""
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
    view = CheckpointView(number, created_at, len(heads), signed["root_hash"], digest, path)
    if not ctx.settings.audit.tsa_url:
        return view
    return _timestamp(ctx, view, text)


def tsa_roots(settings: AuditSettings) -> list[x509.Certificate] | None:
    """The configured TSA CA certificates (SERVICEFLOW_TSA_CA_FILE), None when none are named."""
    if settings.tsa_ca_file is None:
        return None
    try:
        return load_roots(settings.tsa_ca_file, "SERVICEFLOW_TSA_CA_FILE")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _timestamp(ctx: EngineContext, view: CheckpointView, text: str) -> CheckpointView:
    """Stamp a committed checkpoint. The TSA is asked outside any transaction (on SQLite a write
    transaction would hold up every other writer while the TSA takes its time), and any failure
    of it is logged and returned instead of raised: the checkpoint is already kept, and the next
    one asks again. The timestamp is stored and written beside the checkpoint's file, both or
    neither."""
    settings = ctx.settings.audit
    number = view.number
    try:
        stamp = request_stamp(settings.tsa_url, text.encode(), tsa_roots(settings), settings.tsa_timeout)
    except (TimestampError, ConfigError) as exc:
        log.warning("checkpoint %d is kept without an RFC 3161 timestamp: %s", number, exc.message)
        return replace(view, stamp_error=exc.message)
    with ctx.unit_of_work() as uow:
        uow.session.add(AuditCheckpointTimestamp(checkpoint_id=number, response=stamp.response))
        uow.session.flush()
        path = None
        if settings.checkpoint_dir is not None:
            try:
                path = write_timestamp_file(settings.checkpoint_dir, number, stamp.response)
            except FileExistsError as exc:
                message = (f"{exc.filename} already exists: the checkpoint directory holds a timestamp of a "
                           f"checkpoint {number} that the database does not; this one is kept unstamped")
                log.warning("checkpoint %d is kept without an RFC 3161 timestamp: %s", number, message)
                return replace(view, stamp_error=message)
        try:
            uow.commit()
        except Exception:
            if path is not None:
                path.chmod(0o600)
                path.unlink()
            raise
    log.info("checkpoint %d timestamped at %s by the TSA %s", number, stamp.time.isoformat(), stamp.tsa)
    return replace(view, stamp=stamp, stamp_file=path)


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
    stamped = session.get(AuditCheckpointTimestamp, checkpoint.id)
    return Inclusion(statement=checkpoint.statement, signature=checkpoint.signature,
                     public_key=checkpoint.public_key, leaf=heads[found.position], leaf_index=found.position,
                     proof=[p.hex() for p in proof], timestamp=stamped.response if stamped is not None else None)


def signed_heads(ctx: EngineContext, session: Session) -> dict[int, tuple[int, str]]:
    """The chain heads the latest checkpoint vouches for, its signature checked with the configured
    key (``CheckpointInvalid`` when it does not verify: that is itself tampering); empty before
    the first checkpoint or where no key is configured to check one with."""
    if latest(session) is None or not ctx.settings.audit.has_key:
        return {}
    return checkpointed_heads(session, signing_key(ctx.settings.audit).public_key())


@dataclass(frozen=True)
class StampedCheckpoint:
    number: int
    stamp: Stamp


@dataclass
class TimestampReport:
    """What ``verify_timestamps`` found: how many checkpoints carry a timestamp that covers their
    statement, how many carry none, the latest stamped one (its time is what an auditor quotes),
    and one problem per checkpoint whose timestamp does not verify, naming it."""

    stamped: int = 0
    unstamped: int = 0
    latest: StampedCheckpoint | None = None
    trusted: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_timestamps(ctx: EngineContext, roots: Sequence[x509.Certificate] | None = None) -> TimestampReport:
    """Check every stored timestamp against its checkpoint's statement (the bytes its Ed25519
    signature covers), and its signature against ``roots`` (default: SERVICEFLOW_TSA_CA_FILE's
    certificates; without any, only what each covers is checked). A timestamp swapped in from
    another checkpoint, or edited, is named by the checkpoint it is kept with."""
    if roots is None:
        roots = tsa_roots(ctx.settings.audit)
    report = TimestampReport(trusted=bool(roots))
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(
            select(AuditCheckpoint.id, AuditCheckpoint.statement, AuditCheckpointTimestamp.response)
            .outerjoin(AuditCheckpointTimestamp, AuditCheckpointTimestamp.checkpoint_id == AuditCheckpoint.id)
            .order_by(AuditCheckpoint.id), execution_options={"yield_per": 500})
        for number, text, response in rows:
            if response is None:
                report.unstamped += 1
                continue
            try:
                stamp = read_stamp(response, text.encode(), roots)
            except TimestampInvalid as exc:
                report.problems.append(f"checkpoint {number}: its RFC 3161 timestamp does not verify: {exc.message}")
                continue
            report.stamped += 1
            report.latest = StampedCheckpoint(number, stamp)
    return report


@dataclass(frozen=True)
class CaseCheckpoint:
    """The latest signed checkpoint holding a case, as its page shows it to auditors: how many of
    the case's events it covers, and its timestamp (``stamp``) or why that does not verify."""

    number: int
    created_at: datetime
    event_count: int
    stamp: Stamp | None = None
    stamp_problem: str = ""


def case_checkpoint(ctx: EngineContext, actor: Actor, case_id: int) -> CaseCheckpoint | None:
    """The latest checkpoint holding ``case_id`` for someone who may read the case (NotFound
    otherwise), its timestamp checked against the statement it must cover and, when
    SERVICEFLOW_TSA_CA_FILE is set, against the TSA's CA; None when no checkpoint holds the case."""
    with ctx.unit_of_work(readonly=True) as uow:
        session = uow.session
        visibility.readable_case(session, actor, case_id)
        found = session.execute(
            select(AuditCheckpoint.id, AuditCheckpoint.created_at, AuditCheckpointLeaf.event_count,
                   AuditCheckpoint.statement, AuditCheckpointTimestamp.response)
            .join(AuditCheckpointLeaf, AuditCheckpointLeaf.checkpoint_id == AuditCheckpoint.id)
            .outerjoin(AuditCheckpointTimestamp, AuditCheckpointTimestamp.checkpoint_id == AuditCheckpoint.id)
            .where(AuditCheckpointLeaf.case_id == case_id)
            .order_by(AuditCheckpointLeaf.checkpoint_id.desc()).limit(1)).first()
    if found is None:
        return None
    number, created_at, event_count, text, response = found
    view = CaseCheckpoint(number, created_at, event_count)
    if response is None:
        return view
    try:
        return replace(view, stamp=read_stamp(response, text.encode(), tsa_roots(ctx.settings.audit)))
    except (TimestampInvalid, ConfigError) as exc:
        return replace(view, stamp_problem=exc.message)
