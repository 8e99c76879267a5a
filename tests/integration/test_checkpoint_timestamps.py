"""RFC 3161 timestamps on signed checkpoints, against a TSA of the tests' own on the loopback: a
checkpoint is stamped over the exact bytes its signature covers, stored and written as a .tsr
beside its file, verified by ``audit verify`` and shipped in the audit pack; a TSA that is slow,
fails or answers something else never costs the checkpoint, and a swapped or edited token fails
verification naming its checkpoint."""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from asn1crypto import tsp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from engine.audit.pack import CHECKPOINT_TIMESTAMP, MANIFEST, verify_pack, write_pack
from engine.audit.signing import load_public_key, private_pem
from engine.audit.timestamps import read_stamp
from engine.config import AuditSettings, ConfigError
from engine.persistence.models import AuditCheckpoint, AuditCheckpointTimestamp
from engine.services import cases
from engine.services.checkpoints import make_checkpoint, public_key_pem, verify_timestamps
from tests.factories import actor, complete
from tests.integration.signing import with_signing_key
from tests.integration.test_after_sales_paths import FEEDBACK
from tests.integration.tsa import Authority, Server, serve, with_tsa
from tests.web.test_records import login
from web.cli import main

TIMEOUT = 0.5  # seconds: short, so that the failing TSAs cost the suite little


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


@pytest.fixture
def tsa(authority: Authority) -> Iterator[Server]:
    yield from serve(authority)


def _case(ctx) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    return case.id


def _statement(ctx, number: int) -> bytes:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.get(AuditCheckpoint, number).statement.encode()


def _stored(ctx) -> dict[int, bytes]:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return dict(uow.session.execute(select(AuditCheckpointTimestamp.checkpoint_id,
                                               AuditCheckpointTimestamp.response)).all())


def _files(pack: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pack)) as zf:
        return {name: zf.read(name) for name in zf.namelist() if name != MANIFEST}


def test_a_checkpoint_is_stamped_over_its_signed_statement_stored_and_written_beside_its_file(
        ctx, tmp_path, tsa, authority):
    with_signing_key(ctx, tmp_path)
    with_tsa(ctx, tmp_path, tsa)
    _case(ctx)
    before = datetime.now(UTC).replace(microsecond=0)
    made = make_checkpoint(ctx)
    assert made.stamp is not None and made.stamp_error == ""
    assert before <= made.stamp.time <= datetime.now(UTC) and made.stamp.tsa == authority.subject
    assert made.stamp.trusted
    statement = _statement(ctx, 1)
    [request] = [tsp.TimeStampReq.load(r) for r in tsa.requests]
    assert request["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert request["message_imprint"]["hashed_message"].native == hashlib.sha256(statement).digest()
    assert request["cert_req"].native is True and request["nonce"].native is not None
    assert made.stamp_file == tmp_path / "checkpoints" / "checkpoint-00000001.tsr"
    assert made.stamp_file.read_bytes() == _stored(ctx)[1] == made.stamp.response
    assert read_stamp(made.stamp_file.read_bytes(), statement, [authority.ca]).time == made.stamp.time


def test_without_a_tsa_url_a_checkpoint_is_made_as_before(ctx, tmp_path, tsa):
    with_signing_key(ctx, tmp_path)
    _case(ctx)
    made = make_checkpoint(ctx)
    assert made.stamp is None and made.stamp_error == "" and tsa.requests == []
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["checkpoint-00000001.json"]
    assert _stored(ctx) == {}


@pytest.mark.parametrize(("behaviour", "error"), [
    ("slow", "did not answer within 0.5 s"),
    ("trickle", "did not answer within 0.5 s"),
    ("error", "answered HTTP 500"),
    ("garbage", "(text/html) that do not verify: it is not an RFC 3161 TimeStampResp"),
    ("huge", "answered more than 65536 bytes"),
    ("other_imprint", "that do not verify: it covers another statement"),
    ("other_nonce", "that do not verify: its nonce is not the request's"),
    ("untrusted", "that do not verify: its signature does not verify against the TSA's CA certificates"),
])
def test_a_failing_tsa_leaves_the_checkpoint_unstamped_and_the_next_one_asks_again(
        ctx, tmp_path, tsa, behaviour, error, caplog):
    with_signing_key(ctx, tmp_path)
    with_tsa(ctx, tmp_path, tsa, timeout=TIMEOUT)
    _case(ctx)
    tsa.behaviour = behaviour
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="serviceflow.audit"):
        made = make_checkpoint(ctx)
    assert time.monotonic() - started < TIMEOUT + 1.5
    assert made.number == 1 and made.stamp is None
    assert made.stamp_error.startswith(f"the TSA {tsa.url} ") and error in made.stamp_error
    assert f"checkpoint 1 is kept without an RFC 3161 timestamp: {made.stamp_error}" in caplog.text
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
    assert _stored(ctx) == {} and not (tmp_path / "checkpoints" / "checkpoint-00000001.tsr").exists()
    tsa.behaviour = "grant"
    again = make_checkpoint(ctx)
    assert again.number == 2 and again.stamp is not None and set(_stored(ctx)) == {2}


def test_the_cli_warns_of_a_failing_tsa_and_still_makes_the_checkpoint(ctx, db_url, tmp_path, tsa, monkeypatch,
                                                                       capsys):
    _case(ctx)
    tsa.behaviour = "error"
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("SERVICEFLOW_TSA_URL", tsa.url)
    monkeypatch.setenv("SERVICEFLOW_TSA_TIMEOUT", str(TIMEOUT))
    for name in ("SERVICEFLOW_AUDIT_KEY", "SERVICEFLOW_AUDIT_KEY_FILE", "SERVICEFLOW_CHECKPOINT_DIR",
                 "SERVICEFLOW_TSA_CA_FILE", "SERVICEFLOW_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert main(["audit", "checkpoint"]) == 0
    out = capsys.readouterr()
    assert "checkpoint 1: 1 case(s)" in out.out
    assert f"warning: checkpoint 1 is not timestamped: the TSA {tsa.url} answered HTTP 500" in out.err
    assert "the next checkpoint asks the TSA again" in out.err


def test_audit_verify_reports_the_stamped_time_and_a_swapped_token_fails_naming_its_checkpoint(
        ctx, db_url, tmp_path, tsa, authority, monkeypatch, capsys):
    _case(ctx)
    ca_file = tmp_path / "tsa-ca.pem"
    ca_file.write_bytes(authority.ca_pem())
    (tmp_path / "key.pem").write_bytes(private_pem(Ed25519PrivateKey.generate()))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("SERVICEFLOW_AUDIT_KEY_FILE", str(tmp_path / "key.pem"))
    monkeypatch.setenv("SERVICEFLOW_TSA_URL", tsa.url)
    monkeypatch.setenv("SERVICEFLOW_TSA_CA_FILE", str(ca_file))
    for name in ("SERVICEFLOW_AUDIT_KEY", "SERVICEFLOW_CHECKPOINT_DIR", "SERVICEFLOW_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert main(["audit", "checkpoint"]) == 0
    first = capsys.readouterr().out
    assert f"by the TSA {authority.subject} (RFC 3161)" in first
    assert f"timestamp written to {tmp_path / 'instance' / 'checkpoints' / 'checkpoint-00000001.tsr'}" in first
    _case(ctx)
    assert main(["audit", "checkpoint"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    stamped = read_stamp(_stored(ctx)[2], _statement(ctx, 2), [authority.ca])
    assert (f"checkpoint 2 was timestamped at {stamped.time.isoformat()} by the TSA {authority.subject} "
            "(RFC 3161; its signature checked against the TSA's CA certificates)") in out
    assert "timestamps: 2 checkpoint(s) stamped and covered, none failed, 0 unstamped" in out
    with ctx.unit_of_work() as uow:  # someone with database access gives checkpoint 2 checkpoint 1's token
        uow.session.execute(update(AuditCheckpointTimestamp).where(AuditCheckpointTimestamp.checkpoint_id == 2)
                            .values(response=_stored(ctx)[1]))
        uow.commit()
    assert main(["audit", "verify", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert ("checkpoint 2: its RFC 3161 timestamp does not verify: it covers another statement (its SHA-256 "
            f"imprint is {hashlib.sha256(_statement(ctx, 1)).hexdigest()}") in out
    assert "timestamps: 1 checkpoint(s) stamped and covered, 1 failed, 0 unstamped" in out


def test_an_edited_token_fails_against_the_ca_and_is_named(ctx, tmp_path, tsa, authority):
    with_signing_key(ctx, tmp_path)
    with_tsa(ctx, tmp_path, tsa)
    _case(ctx)
    make_checkpoint(ctx)
    response = bytearray(_stored(ctx)[1])
    signature_at = len(response) - 10  # inside the ECDSA signature, the token's last field
    response[signature_at] ^= 0x01
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(AuditCheckpointTimestamp).values(response=bytes(response)))
        uow.commit()
    report = verify_timestamps(ctx)
    assert report.stamped == 0 and report.latest is None
    [problem] = report.problems
    assert problem.startswith("checkpoint 1: its RFC 3161 timestamp does not verify: ")
    unchecked = verify_timestamps(ctx, roots=[])  # without the CA only what the token covers is checked
    assert unchecked.problems == [] and unchecked.stamped == 1 and not unchecked.trusted


def test_the_pack_carries_the_timestamp_and_verifies_it_offline(ctx, api, db_url, tmp_path, tsa, authority,
                                                                 monkeypatch, capsys):
    with_signing_key(ctx, tmp_path)
    ca_file = with_tsa(ctx, tmp_path, tsa)
    case_id = _case(ctx)
    made = make_checkpoint(ctx)
    pack = api.get(f"/cases/{case_id}/pack", as_="auditor1").data
    files = _files(pack)
    assert files[CHECKPOINT_TIMESTAMP] == made.stamp.response
    public = load_public_key(public_key_pem(ctx).encode(), "test key")
    report = verify_pack(pack, public, [authority.ca])
    assert report.problems == []
    assert (f"checkpoint 1 was timestamped at {made.stamp.time.isoformat()} by the TSA {authority.subject} "
            f"(RFC 3161, serial {made.stamp.serial})") in report.notes
    untrusted = verify_pack(pack, public)
    assert untrusted.problems == [] and any("its signature was not checked: pass --tsa-ca FILE" in n
                                            for n in untrusted.notes)
    [problem] = verify_pack(pack, public, [Authority("another").ca]).problems
    assert problem.startswith("checkpoint: the RFC 3161 timestamp of checkpoint 1 does not verify: its signature "
                              "does not verify against the TSA's CA certificates")
    (tmp_path / "pack.zip").write_bytes(pack)
    (tmp_path / "public.pem").write_text(public_key_pem(ctx))
    for name in ("DATABASE_URL", "SERVICEFLOW_INSTANCE"):  # offline: nothing but the files
        monkeypatch.delenv(name, raising=False)
    assert main(["audit", "verify", "--pack", str(tmp_path / "pack.zip"), "--public-key",
                 str(tmp_path / "public.pem"), "--tsa-ca", str(ca_file)]) == 0
    out = capsys.readouterr().out
    assert f"note: checkpoint 1 was timestamped at {made.stamp.time.isoformat()}" in out
    assert f"case #{case_id}: verified" in out
    assert main(["audit", "verify", "--pack", str(tmp_path / "pack.zip"), "--tsa-ca",
                 str(tmp_path / "missing.pem")]) == 2
    assert f"--tsa-ca {tmp_path / 'missing.pem'} cannot be read" in capsys.readouterr().err


def test_a_pack_with_another_checkpoints_timestamp_fails_naming_the_checkpoint(ctx, api, tmp_path, tsa, authority):
    with_signing_key(ctx, tmp_path)
    with_tsa(ctx, tmp_path, tsa)
    case_id = _case(ctx)
    first = make_checkpoint(ctx)
    make_checkpoint(ctx)
    files = _files(api.get(f"/cases/{case_id}/pack", as_="auditor1").data)
    files[CHECKPOINT_TIMESTAMP] = first.stamp.response  # checkpoint 1's genuine token, shipped with checkpoint 2
    repacked = write_pack(files, case_id, "2026-12-06T00:00:00")
    [problem] = verify_pack(repacked, load_public_key(public_key_pem(ctx).encode(), "key"), [authority.ca]).problems
    assert problem.startswith("checkpoint: the RFC 3161 timestamp of checkpoint 2 does not verify: it covers "
                              "another statement")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_the_written_timestamp_verifies_with_openssl(ctx, tmp_path, tsa):
    with_signing_key(ctx, tmp_path)
    ca_file = with_tsa(ctx, tmp_path, tsa)
    _case(ctx)
    made = make_checkpoint(ctx)
    (tmp_path / "statement").write_bytes(_statement(ctx, 1))
    checked = subprocess.run(["openssl", "ts", "-verify", "-in", str(made.stamp_file), "-data",
                              str(tmp_path / "statement"), "-CAfile", str(ca_file)],
                             capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout


def test_the_case_page_shows_auditors_the_stamped_time(ctx, app, tmp_path, tsa, authority):
    with_signing_key(ctx, tmp_path)
    with_tsa(ctx, tmp_path, tsa)
    case_id = _case(ctx)
    made = make_checkpoint(ctx)
    page = login(app, "auditor1").get(f"/cases/{case_id}").text
    assert "Signed checkpoint 1 (" in page
    assert f"RFC 3161 timestamp: {made.stamp.time:%Y-%m-%d %H:%M:%S} UTC, by {authority.subject}." in page
    assert "RFC 3161" not in login(app, "sales1").get(f"/cases/{case_id}").text
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(AuditCheckpointTimestamp).values(response=b"edited"))
        uow.commit()
    page = login(app, "auditor1").get(f"/cases/{case_id}").text
    assert "Its RFC 3161 timestamp does not verify: it is not an RFC 3161 TimeStampResp" in page


def test_a_timestamp_file_the_database_does_not_know_is_never_overwritten(ctx, tmp_path, tsa):
    with_signing_key(ctx, tmp_path)
    with_tsa(ctx, tmp_path, tsa)
    _case(ctx)
    stray = tmp_path / "checkpoints" / "checkpoint-00000001.tsr"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"from a database since restored")
    made = make_checkpoint(ctx)
    assert made.number == 1 and made.stamp is None
    assert made.stamp_error.startswith(f"{stray} already exists")
    assert stray.read_bytes() == b"from a database since restored" and _stored(ctx) == {}


def test_a_broken_tsa_ca_file_leaves_the_checkpoint_unstamped_naming_the_setting(ctx, tmp_path, tsa):
    with_signing_key(ctx, tmp_path)
    ca_file = with_tsa(ctx, tmp_path, tsa)
    ca_file.write_text("not a certificate")
    _case(ctx)
    made = make_checkpoint(ctx)
    assert made.number == 1 and made.stamp is None
    assert made.stamp_error.startswith(f"SERVICEFLOW_TSA_CA_FILE {ca_file} does not hold PEM certificates")
    assert tsa.requests == []


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SERVICEFLOW_TSA_URL", "tsa.example", "SERVICEFLOW_TSA_URL must be an http:// or https:// URL with a host"),
    ("SERVICEFLOW_TSA_URL", "ftp://tsa.example/", "SERVICEFLOW_TSA_URL must be an http:// or https:// URL"),
    ("SERVICEFLOW_TSA_URL", "http://tsa.example:port/", "SERVICEFLOW_TSA_URL is not a valid URL"),
    ("SERVICEFLOW_TSA_TIMEOUT", "0", "SERVICEFLOW_TSA_TIMEOUT must be more than 0 and at most 60 seconds"),
    ("SERVICEFLOW_TSA_TIMEOUT", "nan", "SERVICEFLOW_TSA_TIMEOUT must be more than 0 and at most 60 seconds"),
    ("SERVICEFLOW_TSA_TIMEOUT", "soon", "SERVICEFLOW_TSA_TIMEOUT must be a number of seconds"),
])
def test_malformed_tsa_settings_are_refused_naming_the_variable(monkeypatch, tmp_path, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        AuditSettings.from_env(tmp_path, production=False)


def test_tsa_settings_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SERVICEFLOW_TSA_URL", "https://tsa.example/stamp")
    monkeypatch.setenv("SERVICEFLOW_TSA_CA_FILE", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SERVICEFLOW_TSA_TIMEOUT", "2.5")
    settings = AuditSettings.from_env(tmp_path, production=False)
    assert (settings.tsa_url, settings.tsa_ca_file, settings.tsa_timeout) == (
        "https://tsa.example/stamp", tmp_path / "ca.pem", 2.5)
    for name in ("SERVICEFLOW_TSA_URL", "SERVICEFLOW_TSA_CA_FILE", "SERVICEFLOW_TSA_TIMEOUT"):
        monkeypatch.delenv(name)
    unset = AuditSettings.from_env(tmp_path, production=False)
    assert (unset.tsa_url, unset.tsa_ca_file, unset.tsa_timeout) == ("", None, 5.0)
