"""A case's audit pack (one zip) and its offline verification.

The pack carries what an auditor needs to trust one case's record without access to the server:
its events with every field their hash covers, the latest signed checkpoint that holds the case
with the Merkle inclusion proof of its head (and the checkpoint's RFC 3161 timestamp, when a TSA
stamped it), the pinned version's files, the printable records and a manifest of SHA-256
digests. ``verify_pack`` needs nothing but the zip and the public key the auditor keeps (and, to
trust the timestamp's time, the TSA's CA certificates): a pack edited after it was made fails on
the manifest; one rebuilt with a rewritten history (manifest recomputed) fails on the chain or on
the signed head, because the checkpoint's signature cannot be recomputed without the private key.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import DateTime

from engine.audit import merkle
from engine.audit.checkpoints import Head, leaf_data, signature_problem
from engine.audit.signing import fingerprint, load_public_key
from engine.audit.timestamps import TimestampInvalid, read_stamp
from engine.audit.verify import verify_chain
from engine.persistence.models import CaseEvent

FORMAT = "serviceflow-audit-pack/1"
MANIFEST = "manifest.json"
CASE = "case.json"
EVENTS = "events.json"
CHECKPOINT = "checkpoint.json"
CHECKPOINT_TIMESTAMP = "checkpoint.tsr"  # the TSA's DER TimeStampResp over the checkpoint's statement
VERSION = "version.json"
RECORDS = "records.html"
RECORDS_CSS = "records.css"
PROCESS_DIR = "process/"
_COLUMNS = CaseEvent.__table__.columns


def event_record(event: CaseEvent) -> dict[str, Any]:
    """Every column of an event, so the pack holds whatever its hash covers now and later."""
    record = {}
    for column in _COLUMNS:
        value = getattr(event, column.key)
        record[column.key] = value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value
    return record


def event_from_record(record: dict[str, Any]) -> CaseEvent:
    """An unsaved event rebuilt from its pack record, for ``verify_chain``."""
    values = {}
    for column in _COLUMNS:
        value = record.get(column.key)
        if isinstance(column.type, DateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[column.key] = value
    return CaseEvent(**values)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_pack(files: dict[str, bytes], case_id: int, created_at: str) -> bytes:
    """The zip: ``files`` and a manifest of their digests."""
    manifest = {"format": FORMAT, "case_id": case_id, "created_at": created_at,
                "files": {name: sha256(data) for name, data in sorted(files.items())}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
    return buffer.getvalue()


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True).encode()


@dataclass
class PackReport:
    """What failed (``problems``: the pack does not verify) and what an auditor should know."""

    case_id: int | None = None
    events: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Failed(Exception):
    """A problem after which nothing further can be checked."""


def _json(files: dict[str, bytes], name: str) -> Any:
    if name not in files:
        raise _Failed(f"{name} is missing from the pack")
    try:
        return json.loads(files[name])
    except ValueError as exc:
        raise _Failed(f"{name} is not valid JSON") from exc


def _read(pack: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(pack)) as zf:
            return {info.filename: zf.read(info) for info in zf.infolist() if not info.is_dir()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise _Failed(f"not a readable zip file: {exc}") from exc


def _check_manifest(files: dict[str, bytes], report: PackReport) -> None:
    manifest = _json(files, MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("files"), dict):
        raise _Failed(f"{MANIFEST} is not a {FORMAT} manifest")
    listed: dict[str, Any] = manifest["files"]
    for name, digest in sorted(listed.items()):
        if name not in files:
            report.problems.append(f"manifest: {name} is listed but missing from the pack")
        elif sha256(files[name]) != digest:
            report.problems.append(f"manifest: the SHA-256 of {name} is {sha256(files[name])}, "
                                   f"the manifest says {digest}")
    for name in sorted(set(files) - set(listed) - {MANIFEST}):
        report.problems.append(f"manifest: {name} is in the pack but not listed in the manifest")


def _events(files: dict[str, bytes], case_id: int, report: PackReport) -> list[CaseEvent]:
    records = _json(files, EVENTS)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise _Failed(f"{EVENTS} is not a list of events")
    try:
        events = [event_from_record(r) for r in records]
    except (TypeError, ValueError) as exc:
        raise _Failed(f"{EVENTS}: an event cannot be read: {exc}") from exc
    report.events = len(events)
    if any(e.case_id != case_id for e in events):
        report.problems.append(f"events: an event belongs to another case than #{case_id}")
    broken = verify_chain(events)
    if broken is not None:
        report.problems.append(f"events: the hash chain breaks at event {broken} (edited, removed or reordered)")
    return events


def _check_head(events: list[CaseEvent], leaf: Head, case_id: int, report: PackReport) -> None:
    if leaf.case_id != case_id:
        report.problems.append(f"checkpoint: the proven leaf is case #{leaf.case_id}, not #{case_id}")
    elif leaf.event_count > len(events):
        report.problems.append(f"checkpoint: the signed head covers {leaf.event_count} events, the pack holds "
                               f"only {len(events)} (events were removed)")
    elif leaf.event_count and events[leaf.event_count - 1].hash != leaf.last_event_hash:
        report.problems.append(f"checkpoint: the signed head of case #{case_id} is event {leaf.event_count} "
                               f"with hash {leaf.last_event_hash}; the pack's event {leaf.event_count} has hash "
                               f"{events[leaf.event_count - 1].hash}")
    elif leaf.event_count < len(events):
        report.notes.append(f"events {leaf.event_count + 1}–{len(events)} came after the checkpoint: "
                            "their chain verifies, but no signed checkpoint covers them yet")


def _check_checkpoint(files: dict[str, bytes], events: list[CaseEvent], case_id: int,
                      public_key: Ed25519PublicKey | None, tsa_roots: Sequence[x509.Certificate] | None,
                      report: PackReport) -> None:
    if CHECKPOINT not in files:
        report.problems.append(f"checkpoint: no signed checkpoint covers case #{case_id} yet (make one with "
                               "`serviceflow audit checkpoint`, then pack the case again)")
        return
    doc = _json(files, CHECKPOINT)
    try:
        statement_text, signature = str(doc["statement"]), str(doc["signature"])
        signed = json.loads(statement_text)
        leaf = Head(int(doc["leaf"]["case_id"]), int(doc["leaf"]["event_count"]), str(doc["leaf"]["last_event_hash"]))
        index, proof = int(doc["leaf_index"]), [bytes.fromhex(p) for p in doc["proof"]]
        tree_size, root_hash = int(signed["tree_size"]), str(signed["root_hash"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _Failed(f"{CHECKPOINT} is incomplete or malformed: {exc}") from exc
    _check_head(events, leaf, case_id, report)
    if merkle.root_from_proof(merkle.leaf_hash(leaf_data(leaf)), index, tree_size, proof) != bytes.fromhex(root_hash):
        report.problems.append(f"checkpoint: the inclusion proof of case #{case_id}'s head does not lead to the "
                               f"signed root of checkpoint {signed.get('checkpoint')}")
    if public_key is None:
        try:
            public_key = load_public_key(str(doc.get("public_key", "")).encode(), CHECKPOINT)
        except ValueError as exc:
            raise _Failed(str(exc)) from exc
        report.notes.append(f"the signature was checked with the public key inside the pack (fingerprint "
                            f"{fingerprint(public_key)}): compare it with the key you keep, or pass --public-key")
    problem = signature_problem(statement_text, signature, public_key)
    if problem:
        report.problems.append(f"checkpoint: {problem}")
    else:
        report.notes.append(f"checkpoint {signed.get('checkpoint')} of {signed.get('created_at')} UTC, over "
                            f"{tree_size} case(s), signed by key {signed.get('key_id')}")
    _check_timestamp(files, statement_text, signed.get("checkpoint"), tsa_roots, report)


def _check_timestamp(files: dict[str, bytes], statement_text: str, number: object,
                     roots: Sequence[x509.Certificate] | None, report: PackReport) -> None:
    """The checkpoint's RFC 3161 timestamp must cover its statement (the bytes its signature
    covers); its time is vouched for by the TSA only when its signature chains to ``roots``."""
    if CHECKPOINT_TIMESTAMP not in files:
        if roots:
            report.notes.append(f"checkpoint {number} carries no RFC 3161 timestamp (no TSA was configured, "
                                "or it did not answer, when the checkpoint was made)")
        return
    try:
        stamp = read_stamp(files[CHECKPOINT_TIMESTAMP], statement_text.encode(), roots)
    except TimestampInvalid as exc:
        report.problems.append(f"checkpoint: the RFC 3161 timestamp of checkpoint {number} does not verify: "
                               f"{exc.message}")
        return
    report.notes.append(f"checkpoint {number} was timestamped at {stamp.time.isoformat()} by the TSA "
                        f"{stamp.tsa or '(unnamed)'} (RFC 3161, serial {stamp.serial})")
    if not stamp.trusted:
        report.notes.append("the timestamp covers the checkpoint, but its signature was not checked: pass "
                            "--tsa-ca FILE (the TSA's CA certificates) to trust its time")


def verify_pack(pack: bytes, public_key: Ed25519PublicKey | None = None,
                tsa_roots: Sequence[x509.Certificate] | None = None) -> PackReport:
    """Check a pack offline: manifest digests, the event chain, the chain's head against the signed
    checkpoint leaf, the inclusion proof against the signed root, the signature, and the
    checkpoint's timestamp when it has one (against ``tsa_roots``, the TSA's CA certificates)."""
    report = PackReport()
    try:
        files = _read(pack)
        _check_manifest(files, report)
        case = _json(files, CASE)
        if not isinstance(case, dict) or not isinstance(case.get("id"), int):
            raise _Failed(f"{CASE} does not name the case")
        report.case_id = case["id"]
        events = _events(files, case["id"], report)
        _check_checkpoint(files, events, case["id"], public_key, tsa_roots, report)
    except _Failed as exc:
        report.problems.append(str(exc))
    return report

