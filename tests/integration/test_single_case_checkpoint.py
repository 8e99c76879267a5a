"""One case verified on its own (its page, its history, its records, ``GET /api/v1/cases/ID/verify``)
is checked against its head in the latest signed checkpoint that covers it, as the worker and the
command check every case: a deleted newest event or a history re-hashed end to end, which the
chain and the case row no longer show, is caught; the answer names the checkpoint, or says that
none covers the case yet; the checkpoint's signature is verified once per process, and the leaf
is read with one query."""

from __future__ import annotations

import lxml.html
from sqlalchemy import delete, event, update

from engine.audit import verify
from engine.persistence.models import AuditCheckpoint, AuditCheckpointLeaf
from engine.services import cases, integrity, users
from engine.services.checkpoints import make_checkpoint
from tests.factories import actor, complete
from tests.integration import tamper
from tests.integration.signing import with_signing_key
from tests.integration.test_after_sales_paths import FEEDBACK
from tests.web.test_pages import login


def _case(ctx) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "complaint"})
    return case.id


def _case_page(app, case_id: int, username: str = "sales1"):  # type: ignore[no-untyped-def]
    response = login(app, username).get(f"/cases/{case_id}")
    assert response.status_code == 200
    return lxml.html.fromstring(response.text)


def _text(page, xpath: str) -> str:  # type: ignore[no-untyped-def]
    return " ".join(e.text_content().strip() for e in page.xpath(xpath))


VERDICT = "//p[contains(@class, 'integrity-ok') or contains(@class, 'integrity-broken')][contains(@class, 'integrity')]"
COVERAGE = "//p[@data-checkpoint-coverage]"


def test_a_newest_event_deleted_after_the_checkpoint_is_caught_by_the_api_and_the_page(ctx, api, app, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    made = make_checkpoint(ctx)
    signed = api.get(f"/cases/{case_id}/verify", as_="auditor1").get_json()
    assert (signed["ok"], signed["checkpoint_coverage"], signed["checkpoint"]["number"]) == (True, "covered", 1)
    count = signed["event_count"]
    assert signed["checkpoint"]["event_count"] == count

    deleted = tamper.drop_newest_event(ctx, case_id)
    assert deleted == count
    with ctx.unit_of_work(readonly=True) as uow:
        assert verify.verify_case(uow.session, case_id).code != verify.COUNT, "the case row was covered up"

    body = api.get(f"/cases/{case_id}/verify", as_="auditor1").get_json()
    assert (body["ok"], body["code"], body["first_broken_seq"]) == (False, "checkpoint_short", deleted)
    assert f"the signed checkpoint covers {count} events, the history has only {count - 1}" in body["reason"]
    assert body["checkpoint"]["number"] == made.number and body["checkpoint_coverage"] == "covered"
    assert body["checkpoint"]["created_at"] == made.created_at

    page = _case_page(app, case_id)
    assert f"BROKEN at event {deleted}" in _text(page, VERDICT)
    assert f"covers {count} events, the history has only {count - 1}" in _text(page, VERDICT)
    assert "Checked against signed checkpoint 1 of " in _text(page, COVERAGE)
    history = api.get(f"/cases/{case_id}/events", as_="auditor1").get_json()
    assert (history["chain_intact"], history["first_broken_seq"]) == (False, deleted)


def test_a_history_rehashed_after_the_checkpoint_is_caught_and_its_records_distrusted(ctx, api, app, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    make_checkpoint(ctx)
    count = api.get(f"/cases/{case_id}/verify", as_="auditor1").get_json()["event_count"]
    events, _ = cases.case_events(ctx, actor(ctx, "auditor1"), case_id)
    record = next(e.seq for e in events if e.type == "task_completed")
    tamper.edit_event(ctx, case_id, record, actor="gm1")
    tamper.rehash_chain(ctx, case_id)
    with ctx.unit_of_work(readonly=True) as uow:
        assert verify.verify_case(uow.session, case_id).ok, "the chain alone verifies again"

    body = api.get(f"/cases/{case_id}/verify", as_="sales1").get_json()
    assert (body["ok"], body["code"], body["first_broken_seq"]) == (False, "checkpoint_diverged", count)
    assert f"event {count} differs from the signed checkpoint" in body["reason"]

    page = _case_page(app, case_id)
    assert f"BROKEN at event {count}" in _text(page, VERDICT) and "history was rewritten" in _text(page, VERDICT)
    [altered] = page.xpath(f"//article[@id='record-{record}']")
    assert altered.xpath(".//*[contains(@class, 'record-untrusted')]"), "the record the rewrite covers"
    rows = page.xpath("//table[contains(@class, 'history-table')]/tbody/tr")
    assert len(rows) == count and all("row-broken" in (r.get("class") or "") for r in rows)


def test_a_case_started_after_the_checkpoint_verifies_as_not_yet_covered(ctx, api, app, tmp_path):
    with_signing_key(ctx, tmp_path)
    covered = _case(ctx)
    make_checkpoint(ctx)
    later = _case(ctx)
    body = api.get(f"/cases/{later}/verify", as_="auditor1").get_json()
    assert (body["ok"], body["code"]) == (True, "")
    assert (body["checkpoint_coverage"], body["checkpoint"]) == ("not_covered", None)
    assert api.get(f"/cases/{covered}/verify", as_="auditor1").get_json()["checkpoint_coverage"] == "covered"

    page = _case_page(app, later)
    assert _text(page, VERDICT) == "Integrity: verified"
    assert "Not yet covered by a signed checkpoint" in _text(page, COVERAGE)
    users.set_locale(ctx, actor(ctx, "sales1"), "zh")
    assert "尚无已签名的检查点涵盖" in _text(_case_page(app, later), COVERAGE)


def test_a_checkpoint_that_does_not_verify_fails_the_cases_it_covers(ctx, api, app, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    make_checkpoint(ctx)
    with tamper.as_database_owner(ctx) as conn:
        conn.execute(update(AuditCheckpoint).where(AuditCheckpoint.id == 1).values(
            statement=AuditCheckpoint.statement + " "))
    body = api.get(f"/cases/{case_id}/verify", as_="auditor1").get_json()
    assert (body["ok"], body["code"], body["first_broken_seq"]) == (False, "checkpoint_invalid", None)
    assert (body["checkpoint_coverage"], body["checkpoint"]) == ("invalid", None)
    assert "signed checkpoint 1 does not verify" in body["reason"]
    page = _case_page(app, case_id)
    assert "Integrity: BROKEN: signed checkpoint 1 does not verify" in _text(page, VERDICT)
    assert "does not verify" in _text(page, COVERAGE)


def test_a_case_missing_from_the_latest_checkpoint_but_in_an_earlier_one_fails(ctx, api, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    make_checkpoint(ctx)
    make_checkpoint(ctx)
    with tamper.as_database_owner(ctx) as conn:
        conn.execute(delete(AuditCheckpointLeaf).where(AuditCheckpointLeaf.checkpoint_id == 2,
                                                       AuditCheckpointLeaf.case_id == case_id))
    body = api.get(f"/cases/{case_id}/verify", as_="auditor1").get_json()
    assert (body["ok"], body["code"], body["checkpoint_coverage"]) == (False, "checkpoint_invalid", "invalid")
    assert "signed checkpoint 2 does not verify" in body["reason"]


def test_without_a_signing_key_the_answer_says_no_checkpoint_was_checked(ctx, api, app):
    case_id = _case(ctx)
    assert not ctx.settings.audit.has_key
    body = api.get(f"/cases/{case_id}/verify", as_="auditor1").get_json()
    assert (body["ok"], body["checkpoint_coverage"], body["checkpoint"]) == (True, "no_key", None)
    assert "no signing key is configured" in _text(_case_page(app, case_id), COVERAGE)


def test_the_signature_is_verified_once_and_the_leaf_read_with_one_query(ctx, tmp_path, monkeypatch):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    make_checkpoint(ctx)
    from engine.audit import checkpoints

    checked: list[str] = []
    real = checkpoints.signature_problem
    monkeypatch.setattr(checkpoints, "signature_problem", lambda *args: checked.append("signature") or real(*args))
    reads: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "audit_checkpoint" in statement:
            reads.append(statement)

    for engine in {ctx.database.engine, ctx.database.read_engine}:
        event.listen(engine, "before_cursor_execute", on_execute)
    try:
        for _ in range(3):
            result = integrity.verify_case(ctx, actor(ctx, "auditor1"), case_id)
            assert (result.verdict.ok, result.coverage, result.checkpoint.checkpoint) == (True, "covered", 1)
    finally:
        for engine in {ctx.database.engine, ctx.database.read_engine}:
            event.remove(engine, "before_cursor_execute", on_execute)
    assert checked == ["signature"], "verified once, then the cached checkpoint serves"
    assert len(reads) == 3, "one query per verification reads the case's leaf and its checkpoint"


def test_someone_who_may_not_read_the_case_learns_nothing_of_its_checkpoint(ctx, api, tmp_path):
    with_signing_key(ctx, tmp_path)
    case_id = _case(ctx)
    make_checkpoint(ctx)
    response = api.get(f"/cases/{case_id}/verify", as_="prod1")
    assert (response.status_code, response.get_json()["error"]) == (404, f"No case {case_id}")
