"""Signed checkpoints fix the head of every case's chain under a key the database does not hold:
stored with their leaves and as files that are never overwritten, each chaining to the one before;
a changed leaf, a re-signed statement or another key is refused by ``checkpointed_heads``."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from engine.audit import checkpoints as audit_checkpoints
from engine.audit.checkpoints import CheckpointInvalid, checkpointed_heads
from engine.audit.signing import fingerprint, load_public_key, sign, signing_key
from engine.config import AuditSettings, ConfigError
from engine.errors import Conflict
from engine.persistence.models import AuditCheckpoint, AuditCheckpointLeaf, Case
from engine.services import cases
from engine.services.checkpoints import checkpoint_if_due, checkpoints_enabled, make_checkpoint
from engine.services.scheduler import run_worker
from tests.factories import actor, clock_at, complete
from tests.integration.signing import with_signing_key
from tests.integration.test_after_sales_paths import FEEDBACK
from web.cli import main


def _start(ctx) -> int:  # type: ignore[no-untyped-def]
    return cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback").id


def _heads(ctx) -> dict[int, tuple[int, str]]:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return {c.id: (c.event_count, c.last_event_hash) for c in uow.session.scalars(select(Case))}


def test_a_checkpoint_signs_the_head_of_every_case(ctx, tmp_path):
    with_signing_key(ctx, tmp_path)
    first, second = _start(ctx), _start(ctx)
    complete(ctx, "sales1", first, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    made = make_checkpoint(ctx)
    assert made.number == 1 and made.tree_size == 2
    with ctx.unit_of_work(readonly=True) as uow:
        public = signing_key(ctx.settings.audit).public_key()
        assert checkpointed_heads(uow.session, public) == _heads(ctx)
        assert set(checkpointed_heads(uow.session, public)) == {first, second}


def test_checkpoint_files_are_never_overwritten_and_chain_to_the_previous(ctx, tmp_path):
    with_signing_key(ctx, tmp_path)
    _start(ctx)
    one = make_checkpoint(ctx)
    _start(ctx)
    two = make_checkpoint(ctx)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "checkpoint-00000001.json", "checkpoint-00000002.json"]
    first = json.loads(one.file.read_text())
    second = json.loads(two.file.read_text())
    assert json.loads(first["statement"])["prev_checkpoint_hash"] == audit_checkpoints.GENESIS
    assert json.loads(second["statement"])["prev_checkpoint_hash"] == first["hash"] == one.hash
    assert json.loads(second["statement"])["tree_size"] == 2
    with pytest.raises(FileExistsError):
        audit_checkpoints.write_file(tmp_path / "checkpoints", 2, {"forged": True})
    assert json.loads(two.file.read_text()) == second


def test_a_changed_leaf_in_the_database_is_refused(ctx, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _start(ctx)
    make_checkpoint(ctx)
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(AuditCheckpointLeaf).where(AuditCheckpointLeaf.case_id == case_id)
                            .values(event_count=AuditCheckpointLeaf.event_count - 1))
        uow.commit()
    with ctx.unit_of_work(readonly=True) as uow, pytest.raises(CheckpointInvalid, match="stored leaves"):
        checkpointed_heads(uow.session, signing_key(ctx.settings.audit).public_key())


def test_a_checkpoint_signed_with_another_key_is_refused(ctx, tmp_path):
    with_signing_key(ctx, tmp_path)
    _start(ctx)
    make_checkpoint(ctx)
    forger = Ed25519PrivateKey.generate()
    with ctx.unit_of_work() as uow:
        row = uow.session.get(AuditCheckpoint, 1)
        text = row.statement.replace(row.key_id, fingerprint(forger.public_key()))
        row.statement, row.signature = text, sign(forger, text.encode())
        uow.commit()
    with ctx.unit_of_work(readonly=True) as uow, pytest.raises(CheckpointInvalid, match="signed by key"):
        checkpointed_heads(uow.session, signing_key(ctx.settings.audit).public_key())


def test_a_statement_edited_under_the_right_key_id_fails_its_signature(ctx, tmp_path):
    with_signing_key(ctx, tmp_path)
    _start(ctx)
    make_checkpoint(ctx)
    with ctx.unit_of_work() as uow:
        row = uow.session.get(AuditCheckpoint, 1)
        row.statement = row.statement.replace('"tree_size":1', '"tree_size":2')
        uow.commit()
    with ctx.unit_of_work(readonly=True) as uow, pytest.raises(CheckpointInvalid, match="signature does not verify"):
        checkpointed_heads(uow.session, signing_key(ctx.settings.audit).public_key())


def test_no_checkpoint_yet_means_no_heads(ctx, tmp_path):
    with_signing_key(ctx, tmp_path)
    with ctx.unit_of_work(readonly=True) as uow:
        assert checkpointed_heads(uow.session, signing_key(ctx.settings.audit).public_key()) == {}


def test_the_worker_checkpoints_when_the_interval_has_passed(ctx, tmp_path):
    with_signing_key(ctx, tmp_path, minutes=60)
    _start(ctx)
    with clock_at(datetime(2026, 12, 1, 8, 0)) as clock:
        assert checkpoint_if_due(ctx).number == 1
        clock.now += timedelta(minutes=59)
        assert checkpoint_if_due(ctx) is None
        clock.now += timedelta(minutes=1)
        assert checkpoint_if_due(ctx).number == 2


def test_the_worker_makes_none_when_disabled_or_without_a_key(ctx, tmp_path):
    with_signing_key(ctx, tmp_path, minutes=0)
    assert checkpoint_if_due(ctx) is None
    ctx.settings = dataclasses.replace(ctx.settings, audit=AuditSettings())
    assert checkpoint_if_due(ctx) is None
    with pytest.raises(ConfigError, match="SERVICEFLOW_AUDIT_KEY_FILE"):
        make_checkpoint(ctx)
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(AuditCheckpoint)) is None


def test_the_development_key_is_created_once_and_a_bad_key_file_is_named(tmp_path):
    settings = AuditSettings(key_file=tmp_path / "instance" / "audit_signing_key.pem", create_key=True)
    key = signing_key(settings)
    assert oct(settings.key_file.stat().st_mode & 0o777) == "0o600"
    assert fingerprint(signing_key(settings).public_key()) == fingerprint(key.public_key())
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="bad.pem does not hold"):
        signing_key(AuditSettings(key_file=tmp_path / "bad.pem"))
    with pytest.raises(ConfigError, match="missing.pem cannot be read"):
        signing_key(AuditSettings(key_file=tmp_path / "missing.pem"))


def test_the_cli_prints_the_public_key_and_makes_a_checkpoint_with_the_development_key(
        ctx, db_url, tmp_path, monkeypatch, capsys):
    _start(ctx)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    for name in ("SERVICEFLOW_AUDIT_KEY", "SERVICEFLOW_AUDIT_KEY_FILE", "SERVICEFLOW_CHECKPOINT_DIR",
                 "SERVICEFLOW_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert main(["audit", "key", "--out", str(tmp_path / "public.pem")]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("-----BEGIN PUBLIC KEY-----") and "fingerprint (key_id): " in out.err
    assert (tmp_path / "instance" / "audit_signing_key.pem").exists()
    assert main(["audit", "checkpoint"]) == 0
    assert "checkpoint 1: 1 case(s)" in capsys.readouterr().out
    written = json.loads((tmp_path / "instance" / "checkpoints" / "checkpoint-00000001.json").read_text())
    public = load_public_key((tmp_path / "public.pem").read_bytes(), "public.pem")
    assert audit_checkpoints.signature_problem(written["statement"], written["signature"], public) is None


def test_production_without_a_signing_key_refuses_to_checkpoint(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("SERVICEFLOW_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    for name in ("SERVICEFLOW_AUDIT_KEY", "SERVICEFLOW_AUDIT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["audit", "checkpoint"]) == 2
    assert "no checkpoint signing key: set SERVICEFLOW_AUDIT_KEY_FILE" in capsys.readouterr().err
    assert not (tmp_path / "instance" / "audit_signing_key.pem").exists()


def test_the_running_worker_signs_a_checkpoint(ctx, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _start(ctx)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(ctx, stop), kwargs={"poll_seconds": 0.05})
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not list((tmp_path / "checkpoints").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
    with ctx.unit_of_work(readonly=True) as uow:
        assert set(checkpointed_heads(uow.session, signing_key(ctx.settings.audit).public_key())) == {case_id}


def test_a_worker_with_an_unreadable_key_says_so_once_and_makes_no_checkpoints(ctx, tmp_path, caplog):
    ctx.settings = dataclasses.replace(ctx.settings, audit=AuditSettings(key_file=tmp_path / "gone.pem"))
    assert not checkpoints_enabled(ctx)
    assert "the worker makes no signed checkpoints: SERVICEFLOW_AUDIT_KEY_FILE" in caplog.text
    ctx.settings = dataclasses.replace(ctx.settings, audit=AuditSettings())
    assert not checkpoints_enabled(ctx)
    assert "no checkpoint signing key is configured" in caplog.text


def test_a_checkpoint_file_the_database_does_not_know_is_never_overwritten(ctx, tmp_path):
    with_signing_key(ctx, tmp_path)
    _start(ctx)
    audit_checkpoints.write_file(tmp_path / "checkpoints", 1, {"from": "a database since restored"})
    with pytest.raises(Conflict, match="checkpoint-00000001.json already exists"):
        make_checkpoint(ctx)
    assert json.loads((tmp_path / "checkpoints" / "checkpoint-00000001.json").read_text()) == {
        "from": "a database since restored"}
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(AuditCheckpoint)) is None
