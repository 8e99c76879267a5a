"""Signed checkpoints: a Merkle tree over the head (event count, last hash) of every case's chain,
its root signed with a key the database does not hold.

A chain alone proves only that its events agree with each other: whoever can write the database
can rewrite a history end to end and recompute every hash, or drop its newest events. A
checkpoint fixes each chain's head at a moment under a signature; copied off the machine (one
file per checkpoint, each chaining to the one before), it lets an auditor prove a record existed
as it is now, and an inclusion proof shows one case's head is in the signed tree without the rest.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit import merkle
from engine.audit.chain import canonical_json
from engine.audit.signing import fingerprint, signature_valid, signing_key
from engine.config import AuditSettings
from engine.errors import ServiceFlowError
from engine.persistence.models import AuditCheckpoint, AuditCheckpointLeaf

FORMAT = "serviceflow-checkpoint/1"
GENESIS = "0" * 64


class CheckpointInvalid(ServiceFlowError):
    """A stored checkpoint does not verify: its signature, its key or its leaves were changed.
    ``checkpoint`` is its number, so that a case's verdict can name it."""

    def __init__(self, checkpoint: int, problem: str) -> None:
        super().__init__(f"checkpoint {checkpoint}: {problem}")
        self.checkpoint = checkpoint


@dataclass(frozen=True)
class Head:
    """A case's chain as a checkpoint fixes it."""

    case_id: int
    event_count: int
    last_event_hash: str


def leaf_data(head: Head) -> bytes:
    return canonical_json({"case_id": head.case_id, "event_count": head.event_count,
                           "last_event_hash": head.last_event_hash}).encode()


def leaf_hashes(heads: Sequence[Head]) -> list[bytes]:
    return [merkle.leaf_hash(leaf_data(h)) for h in heads]


def statement(number: int, created_at: str, heads: Sequence[Head], prev_hash: str,
              public_key: Ed25519PublicKey) -> str:
    """What is signed, as canonical JSON text: stored and shipped as this exact text so that no
    later re-serialisation can change a byte of it."""
    return canonical_json({
        "format": FORMAT,
        "checkpoint": number,
        "created_at": created_at,
        "tree_size": len(heads),
        "root_hash": merkle.root(leaf_hashes(heads)).hex(),
        "prev_checkpoint_hash": prev_hash,
        "key_id": fingerprint(public_key),
    })


def checkpoint_hash(statement_text: str, signature: str) -> str:
    """What the next checkpoint chains to: the statement together with its signature."""
    return hashlib.sha256(canonical_json({"statement": statement_text, "signature": signature}).encode()).hexdigest()


def signature_problem(statement_text: str, signature: str, public_key: Ed25519PublicKey) -> str | None:
    """Why a signed statement does not verify under ``public_key``, or None when it does."""
    try:
        signed = json.loads(statement_text)
    except ValueError:
        return "the checkpoint statement is not JSON"
    if not isinstance(signed, dict) or signed.get("format") != FORMAT:
        return f"the checkpoint statement is not a {FORMAT} statement"
    if signed.get("key_id") != fingerprint(public_key):
        return (f"the checkpoint was signed by key {signed.get('key_id')}, not by the public key "
                f"{fingerprint(public_key)}")
    if not signature_valid(public_key, statement_text.encode(), signature):
        return "the checkpoint signature does not verify with the public key"
    return None


def _write_new(path: Path, data: bytes) -> Path:
    """Created exclusively (O_EXCL) and read-only: an existing file is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def write_file(directory: Path, number: int, document: dict) -> Path:
    """One file per checkpoint, never overwritten."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return _write_new(directory / f"checkpoint-{number:08d}.json", text.encode())


def write_timestamp_file(directory: Path, number: int, response: bytes) -> Path:
    """The checkpoint's RFC 3161 timestamp (the TSA's DER TimeStampResp) beside its file, under
    the name RFC 3161 tools expect (``openssl ts -verify -in checkpoint-….tsr``)."""
    return _write_new(directory / f"checkpoint-{number:08d}.tsr", response)


def stored_leaves(session: Session, checkpoint_id: int) -> list[Head]:
    rows = session.execute(
        select(AuditCheckpointLeaf.case_id, AuditCheckpointLeaf.event_count, AuditCheckpointLeaf.last_event_hash)
        .where(AuditCheckpointLeaf.checkpoint_id == checkpoint_id).order_by(AuditCheckpointLeaf.position))
    return [Head(*row) for row in rows]


def verified_leaves(session: Session, checkpoint: AuditCheckpoint, public_key: Ed25519PublicKey) -> list[Head]:
    """The checkpoint's leaves once its signature verifies and they rebuild the signed root;
    CheckpointInvalid naming what does not."""
    problem = signature_problem(checkpoint.statement, checkpoint.signature, public_key)
    if problem:
        raise CheckpointInvalid(checkpoint.id, problem)
    signed = json.loads(checkpoint.statement)
    heads = stored_leaves(session, checkpoint.id)
    if len(heads) != signed["tree_size"] or merkle.root(leaf_hashes(heads)).hex() != signed["root_hash"]:
        raise CheckpointInvalid(checkpoint.id, "its stored leaves do not make the signed root")
    return heads


def latest(session: Session) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1))


def checkpointed_heads(session: Session, public_key: Ed25519PublicKey | None = None) -> dict[int, tuple[int, str]]:
    """``{case_id: (event_count, last_event_hash)}`` of the latest checkpoint, after verifying it
    (signature and leaves); empty when none was made yet. ``public_key`` defaults to the configured
    signing key's."""
    checkpoint = latest(session)
    if checkpoint is None:
        return {}
    key = public_key or signing_key(AuditSettings.from_environment()).public_key()
    return {h.case_id: (h.event_count, h.last_event_hash) for h in verified_leaves(session, checkpoint, key)}


@dataclass(frozen=True)
class SignedHead:
    """One case's chain head as the latest checkpoint covering the case signed it: what a single
    case is checked against. ``created_at`` is the time the statement signs (not the row's column,
    which nothing vouches for)."""

    checkpoint: int
    created_at: datetime
    event_count: int
    last_event_hash: str


@functools.lru_cache(maxsize=256)
def _signed_time(number: int, statement_text: str, signature: str, public_key_raw: bytes) -> datetime:
    """The signed time of checkpoint ``number`` once its statement verifies (CheckpointInvalid
    otherwise). Cached in-process by checkpoint and content: a signature never changes, so each
    checkpoint is verified once; a row that is later edited no longer matches its cache entry and
    is verified again, and a failure is never cached."""
    problem = signature_problem(statement_text, signature, Ed25519PublicKey.from_public_bytes(public_key_raw))
    if problem:
        raise CheckpointInvalid(number, problem)
    signed = json.loads(statement_text)
    if signed.get("checkpoint") != number:
        raise CheckpointInvalid(number, f"its statement is that of checkpoint {signed.get('checkpoint')}")
    return datetime.fromisoformat(signed["created_at"])


def case_head(session: Session, case_id: int, public_key: Ed25519PublicKey) -> SignedHead | None:
    """The case's head in the latest checkpoint that covers it, that checkpoint's signature
    verified; None when no checkpoint covers the case yet (it started after the latest one).

    One indexed query (``ix_audit_checkpoint_leaves_case``) reads the leaf, its checkpoint's signed
    statement and the latest checkpoint's number, so that a case page stays fast at any number of
    cases: the other leaves are not read, which is why the leaf itself is not proven against the
    signed root here (a leaf edited together with its chain is caught by the full verification,
    ``checkpointed_heads``). Every checkpoint signs every case there is and cases are never
    deleted, so a case covered by an older checkpoint but missing from the latest one means the
    latest one's leaves were changed: CheckpointInvalid, as for a signature that does not verify."""
    newest = select(func.max(AuditCheckpoint.id)).scalar_subquery()
    row = session.execute(
        select(AuditCheckpointLeaf.checkpoint_id, AuditCheckpointLeaf.event_count,
               AuditCheckpointLeaf.last_event_hash, AuditCheckpoint.statement, AuditCheckpoint.signature, newest)
        .join(AuditCheckpoint, AuditCheckpoint.id == AuditCheckpointLeaf.checkpoint_id)
        .where(AuditCheckpointLeaf.case_id == case_id)
        .order_by(AuditCheckpointLeaf.checkpoint_id.desc()).limit(1)).first()
    if row is None:
        return None
    number, event_count, last_hash, statement_text, signature, latest_number = row
    if number != latest_number:
        raise CheckpointInvalid(latest_number, f"its stored leaves lack case {case_id}, which checkpoint "
                                               f"{number} signed")
    created_at = _signed_time(number, statement_text, signature, public_key.public_bytes_raw())
    return SignedHead(number, created_at, event_count, last_hash)
