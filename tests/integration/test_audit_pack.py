"""A case's audit pack verifies offline with only the public key, and each kind of tampering is
caught and named: an edited or removed event, a rewritten history, an edited file, a checkpoint
signed with another key, a wrong inclusion proof."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from engine.audit import chain
from engine.audit.checkpoints import GENESIS, Head, statement
from engine.audit.pack import (
    CHECKPOINT,
    EVENTS,
    MANIFEST,
    RECORDS,
    RECORDS_CSS,
    VERSION,
    event_from_record,
    verify_pack,
    write_pack,
)
from engine.audit.signing import load_public_key, sign
from engine.persistence.models import Case, ProcessFile
from engine.services import cases
from engine.services.checkpoints import make_checkpoint, public_key_pem
from tests.factories import actor, complete
from tests.integration.signing import with_signing_key
from tests.integration.test_after_sales_paths import FEEDBACK
from tests.web.test_records import login
from web.cli import main


def _case(ctx) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    return case.id


@pytest.fixture
def packed(ctx, api, tmp_path):  # type: ignore[no-untyped-def]
    """A checkpointed case, its pack as an auditor downloads it, and the public key auditors keep."""
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    make_checkpoint(ctx)
    response = api.get(f"/cases/{case_id}/pack", as_="auditor1")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    return case_id, response.data, load_public_key(public_key_pem(ctx).encode(), "test key")


def _files(pack: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pack)) as zf:
        return {name: zf.read(name) for name in zf.namelist() if name != MANIFEST}


def _repack(files: dict[str, bytes], case_id: int) -> bytes:
    """As someone who edits a pack and recomputes its manifest would."""
    return write_pack(files, case_id, "2026-12-06T00:00:00")


def _events(files: dict[str, bytes]) -> list[dict]:
    return json.loads(files[EVENTS])


def test_a_good_pack_verifies_with_the_public_key(ctx, packed):
    case_id, pack, public = packed
    report = verify_pack(pack, public)
    assert report.problems == [] and report.case_id == case_id
    files = _files(pack)
    assert report.events == len(_events(files)) >= 3
    with ctx.unit_of_work(readonly=True) as uow:
        version_id = uow.session.get(Case, case_id).process_version_id
        stored = {f.path for f in uow.session.scalars(select(ProcessFile).where(ProcessFile.version_id == version_id))}
    assert {f"process/{path}" for path in stored} <= set(files)
    assert b"Record customer feedback" in files[RECORDS] and b'href="records.css"' in files[RECORDS]
    assert b".print-record" in files[RECORDS_CSS]
    assert json.loads(files[VERSION])["signoffs"]
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(pack)).read(MANIFEST))
    assert set(manifest["files"]) == set(files)
    assert any("checkpoint 1" in note for note in report.notes)


def test_an_edited_event_is_caught_at_that_event(packed):
    case_id, pack, public = packed
    files = _files(pack)
    events = _events(files)
    events[1]["actor"] = "gm1"
    files[EVENTS] = json.dumps(events).encode()
    assert verify_pack(_repack(files, case_id), public).problems == [
        "events: the hash chain breaks at event 2 (edited, removed or reordered)"]


def test_a_history_rewritten_with_recomputed_hashes_is_caught_by_the_signed_head(packed):
    case_id, pack, public = packed
    files = _files(pack)
    events = _events(files)
    events[-1]["data"] = {**events[-1]["data"], "description": "Nothing wrong"}
    prev = chain.GENESIS
    for record in events:  # every hash recomputed, as someone with database access could
        record["prev_hash"] = prev
        record["hash"] = prev = chain.event_hash(event_from_record(record))
    files[EVENTS] = json.dumps(events).encode()
    [problem] = verify_pack(_repack(files, case_id), public).problems
    assert problem.startswith(f"checkpoint: the signed head of case #{case_id} is event {len(events)} with hash")


def test_a_removed_newest_event_is_caught(packed):
    case_id, pack, public = packed
    files = _files(pack)
    events = _events(files)
    files[EVENTS] = json.dumps(events[:-1]).encode()
    assert verify_pack(_repack(files, case_id), public).problems == [
        f"checkpoint: the signed head covers {len(events)} events, the pack holds only {len(events) - 1} "
        "(events were removed)"]


def test_a_removed_event_in_the_middle_breaks_the_chain(packed):
    case_id, pack, public = packed
    files = _files(pack)
    events = _events(files)
    files[EVENTS] = json.dumps(events[:1] + events[2:]).encode()
    problems = verify_pack(_repack(files, case_id), public).problems
    assert problems[0] == "events: the hash chain breaks at event 2 (edited, removed or reordered)"


def test_an_edited_file_is_caught_by_the_manifest(packed):
    case_id, pack, public = packed
    files = _files(pack)
    name = next(n for n in files if n.startswith("process/") and n.endswith(".bpmn"))
    files[name] = files[name].replace(b"</bpmn:definitions>", b"<!-- edited --></bpmn:definitions>")
    manifest = zipfile.ZipFile(io.BytesIO(pack)).read(MANIFEST)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(MANIFEST, manifest)
        for n, data in files.items():
            zf.writestr(n, data)
    [problem] = verify_pack(buffer.getvalue(), public).problems
    assert problem.startswith(f"manifest: the SHA-256 of {name} is ") and "the manifest says" in problem


def test_a_checkpoint_forged_with_another_key_is_caught(packed):
    case_id, pack, public = packed
    files = _files(pack)
    events = _events(files)
    forger = Ed25519PrivateKey.generate()
    head = Head(case_id, len(events), events[-1]["hash"])
    text = statement(1, "2026-12-06T00:00:00", [head], GENESIS, forger.public_key())
    files[CHECKPOINT] = json.dumps({"statement": text, "signature": sign(forger, text.encode()), "leaf_index": 0,
                                    "proof": [], "public_key": "", "leaf": head.__dict__}).encode()
    [problem] = verify_pack(_repack(files, case_id), public).problems
    assert problem.startswith("checkpoint: the checkpoint was signed by key ") and "not by the public key" in problem


def test_a_wrong_inclusion_proof_is_caught(packed):
    case_id, pack, public = packed
    files = _files(pack)
    checkpoint = json.loads(files[CHECKPOINT])
    checkpoint["leaf_index"] += 1
    files[CHECKPOINT] = json.dumps(checkpoint).encode()
    [problem] = verify_pack(_repack(files, case_id), public).problems
    assert problem == (f"checkpoint: the inclusion proof of case #{case_id}'s head does not lead to the signed root "
                       "of checkpoint 1")


def test_events_after_the_checkpoint_verify_by_their_chain_and_are_named(ctx, api, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback").id
    make_checkpoint(ctx)
    with ctx.unit_of_work(readonly=True) as uow:
        covered = uow.session.get(Case, case_id).event_count
    complete(ctx, "sales1", case_id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    report = verify_pack(api.get(f"/cases/{case_id}/pack", as_="auditor1").data,
                         load_public_key(public_key_pem(ctx).encode(), "test key"))
    assert report.problems == []
    assert any(n.startswith(f"events {covered + 1}–") and "no signed checkpoint covers them yet" in n
               for n in report.notes)


def test_a_case_no_checkpoint_covers_does_not_verify(ctx, api, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    report = verify_pack(api.get(f"/cases/{case_id}/pack", as_="admin1").data,
                         load_public_key(public_key_pem(ctx).encode(), "test key"))
    assert report.problems == [f"checkpoint: no signed checkpoint covers case #{case_id} yet (make one with "
                               "`serviceflow audit checkpoint`, then pack the case again)"]


def test_the_pack_is_for_those_who_may_read_the_case(ctx, api, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    assert api.get(f"/cases/{case_id}/pack", as_="sales1").status_code == 200
    assert api.get(f"/cases/{case_id}/pack", as_="prod1").status_code == 404
    assert api.get(f"/cases/{case_id}/pack").status_code == 401
    assert api.get("/cases/999999/pack", as_="auditor1").status_code == 404


def test_not_a_zip_is_named():
    assert verify_pack(b"PK but not really").problems[0].startswith("not a readable zip file")


def test_the_cli_packs_a_case_and_verifies_it_offline(ctx, db_url, tmp_path, monkeypatch, capsys):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    make_checkpoint(ctx)
    (tmp_path / "public.pem").write_text(public_key_pem(ctx))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    assert main(["audit", "pack", str(case_id), str(tmp_path / "pack.zip")]) == 0
    assert f"audit pack of case #{case_id} written to" in capsys.readouterr().out
    for name in ("DATABASE_URL", "SERVICEFLOW_INSTANCE"):  # offline: nothing but the files
        monkeypatch.delenv(name)
    assert main(["audit", "verify", "--pack", str(tmp_path / "pack.zip"), "--public-key",
                 str(tmp_path / "public.pem")]) == 0
    assert f"case #{case_id}: verified" in capsys.readouterr().out
    files = _files((tmp_path / "pack.zip").read_bytes())
    files[EVENTS] = files[EVENTS].replace(b'"sales1"', b'"gm1"', 1)
    (tmp_path / "edited.zip").write_bytes(_repack(files, case_id))
    assert main(["audit", "verify", "--pack", str(tmp_path / "edited.zip"), "--public-key",
                 str(tmp_path / "public.pem")]) == 1
    out = capsys.readouterr().out
    assert "FAILED: events: the hash chain breaks at event" in out and "does NOT verify" in out
    assert main(["audit", "verify", "--pack", str(tmp_path / "pack.zip")]) == 0
    assert "the signature was checked with the public key inside the pack" in capsys.readouterr().out
    assert main(["audit", "verify", "--pack", str(tmp_path / "missing.zip")]) == 2


def test_the_case_page_links_to_the_pack_that_verifies(ctx, app, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    make_checkpoint(ctx)
    client = login(app, "auditor1")
    assert f'href="/cases/{case_id}/pack"' in client.get(f"/cases/{case_id}").text
    response = client.get(f"/cases/{case_id}/pack")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert verify_pack(response.data, load_public_key(public_key_pem(ctx).encode(), "test key")).problems == []
    assert login(app, "prod1").get(f"/cases/{case_id}/pack").status_code == 404
