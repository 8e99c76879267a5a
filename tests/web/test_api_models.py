"""Process models through the API, on both backends: the document-control path from upload to a
case on the new version, roles and order enforced on every step, reject, refusals of hostile
bundles, export round-trip."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from engine.persistence.models import Case, OutboxMessage, ProcessVersion
from tests.model_bundles import BROKEN_CONDITION, PROCESS_ID, SCHEMA, bpmn, files, unzipped, zipped

BPMN_PATH = "workflows/model_demo.bpmn"


def upload(api, bundle: bytes, as_: str = "owner1", note: str = "First issue"):  # type: ignore[no-untyped-def]
    return api.client.post("/api/v1/models", data={"bundle": (io.BytesIO(bundle), "bundle.zip"), "change_note": note},
                           headers=api._headers(as_), content_type="multipart/form-data")


def sign_through(api, model_id: int, until: str = "publish") -> dict:  # type: ignore[no-untyped-def]
    """Submit (owner1), review (reviewer1), approve and publish (gm1), up to ``until``."""
    steps = [("submit", "owner1"), ("review", "reviewer1"), ("approve", "gm1"), ("publish", "gm1")]
    body: dict = {}
    for step, user in steps:
        response = api.post(f"/models/{model_id}/{step}", {"note": f"{step} ok"}, as_=user)
        assert response.status_code == 200, response.json
        body = response.json
        if step == until:
            break
    return body


def test_the_document_control_path_from_upload_to_a_case_on_the_new_version(api, ctx) -> None:  # type: ignore[no-untyped-def]
    # a version of liaison_approval in force, and a case running on it
    versions = api.get("/processes/liaison_approval/versions", as_="owner1").json["versions"]
    current = versions[0]
    assert (current["label"], current["status"], current["source"]) == ("A0", "published", "imported")
    old_case = api.post("/cases", {"process": "liaison_approval"}, as_="sales1").json
    # the owner exports it, renames a task, and uploads it with a mistake
    exported = unzipped(api.get(f"/models/{current['id']}/export", as_="owner1").data)
    path = "workflows/liaison_approval.bpmn"
    changed = exported[path].replace('name="Write Liaison Form"', 'name="Write the Liaison Form"')
    broken = changed.replace('name="Approve Liaison Form">', 'name="Approve Liaison Form">', 1)
    broken = broken.replace("<bpmn:userTask id=\"Task_WriteLiaisonForm\"",
                            "<bpmn:scriptTask id=\"Script_Broken\" name=\"Broken\"><bpmn:script>x = (</bpmn:script>"
                            "</bpmn:scriptTask>\n    <bpmn:userTask id=\"Task_WriteLiaisonForm\"", 1)
    created = upload(api, zipped({**exported, path: broken}), note="Clearer task name")
    assert created.status_code == 201, created.json
    draft = created.json
    assert (draft["process_id"], draft["status"], draft["source"]) == ("liaison_approval", "draft", "uploaded")
    errors = [p for p in draft["problems"] if p["severity"] == "error"]
    assert {p["element_id"] for p in errors} == {"Script_Broken"} and errors[0]["file"] == path
    # it cannot be submitted with errors; the owner fixes the file and submits
    refused = api.post(f"/models/{draft['id']}/submit", {}, as_="owner1")
    assert refused.status_code == 409 and refused.json["details"]["problems"][0]["element_id"] == "Script_Broken"
    from engine.services import models
    from tests.factories import actor

    fixed = models.save_file(ctx, actor(ctx, "owner1"), draft["id"], path, changed)
    assert not fixed.has_errors and fixed.status == "draft"
    published = sign_through(api, draft["id"])
    assert (published["status"], published["label"]) == ("published", "A1")
    assert [s["step"] for s in published["signoffs"]] == ["prepared", "submitted", "reviewed", "approved", "published"]
    assert [s["actor"] for s in published["signoffs"]][1:] == ["owner1", "reviewer1", "gm1", "gm1"]
    assert [(r["label"], r["status"]) for r in published["revision_record"]] == [
        ("A0", "superseded"), ("A1", "published")]
    # new cases start on it; the running case stays on its version
    new_case = api.post("/cases", {"process": "liaison_approval"}, as_="sales1").json
    assert new_case["version_hash"] != old_case["version_hash"]
    assert new_case["open_tasks"][0]["title"] == "Write the Liaison Form"
    assert api.get(f"/cases/{old_case['id']}", as_="sales1").json["version_hash"] == old_case["version_hash"]
    with ctx.unit_of_work(readonly=True) as uow:
        pinned = {c.id: c.process_version_id for c in uow.session.scalars(select(Case))}
        assert pinned[new_case["id"]] == draft["id"] and pinned[old_case["id"]] == current["id"]
        # the distribution list (the departments of its lanes) was told
        told = {m.to_address for m in uow.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "version_published"))}
    assert published["distribution"] == ["management", "sales"]
    assert {"sales1@example.com", "sales2@example.com", "gm1@example.com"} <= told


def test_an_upload_lists_problems_with_element_ids(api) -> None:  # type: ignore[no-untyped-def]
    response = upload(api, zipped(files({BPMN_PATH: BROKEN_CONDITION})))
    assert response.status_code == 201
    problems = response.json["problems"]
    assert [(p["element_id"], p["file"], p["severity"]) for p in problems] == [("f1", BPMN_PATH, "error")]
    assert api.get(f"/models/{response.json['id']}", as_="reviewer1").json["problems"] == problems


def test_a_bundle_that_is_not_one_process_is_422_with_its_problems(api) -> None:  # type: ignore[no-untyped-def]
    response = upload(api, zipped(files({BPMN_PATH: "<bpmn:definitions"})))
    assert response.status_code == 422
    assert response.json["details"]["problems"][0]["file"] == BPMN_PATH
    with api.ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == PROCESS_ID)) is None


@pytest.mark.parametrize("step", ["submit", "review", "approve", "publish", "reject"])
def test_every_step_refuses_the_wrong_roles(api, step) -> None:  # type: ignore[no-untyped-def]
    draft = upload(api, zipped(files())).json
    ready = {"submit": None, "review": "submit", "approve": "review", "publish": "approve", "reject": "submit"}[step]
    if ready:
        sign_through(api, draft["id"], until=ready)
    allowed = {"submit": {"owner1"}, "review": {"reviewer1"}, "approve": {"gm1"}, "publish": {"gm1"},
               "reject": {"reviewer1", "gm1"}}[step]
    for user in {"sales1", "owner1", "reviewer1", "gm1", "admin1", "auditor1", "qc1"} - allowed:
        response = api.post(f"/models/{draft['id']}/{step}", {"comment": "no"}, as_=user)
        assert response.status_code == 403, (user, response.json)
    if step == "reject":  # management rejects only once it is reviewed: a submitted one is out of order
        assert api.post(f"/models/{draft['id']}/reject", {"comment": "no"}, as_="gm1").status_code == 409
    assert api.get(f"/models/{draft['id']}", as_="owner1").json["status"] == (
        {"submit": "draft", "review": "submitted", "approve": "reviewed", "publish": "approved",
         "reject": "submitted"}[step])


def test_uploading_needs_a_process_owner(api) -> None:  # type: ignore[no-untyped-def]
    for user in ("sales1", "reviewer1", "gm1", "admin1"):
        assert upload(api, zipped(files()), as_=user).status_code == 403
    assert api.get("/processes/liaison_approval/versions", as_="sales1").status_code == 403


@pytest.mark.parametrize(("step", "user"), [("review", "reviewer1"), ("approve", "gm1"), ("publish", "gm1")])
def test_a_step_out_of_order_is_a_conflict(api, step, user) -> None:  # type: ignore[no-untyped-def]
    draft = upload(api, zipped(files())).json
    response = api.post(f"/models/{draft['id']}/{step}", {}, as_=user)
    assert response.status_code == 409
    assert api.get(f"/models/{draft['id']}", as_="owner1").json["status"] == "draft"
    assert api.post(f"/models/{draft['id']}/reject", {"comment": "x"}, as_="reviewer1").status_code == 409


def test_the_preparer_cannot_review_nor_approve_their_own_version(api, ctx) -> None:  # type: ignore[no-untyped-def]
    from engine.services.users import ensure_user

    ensure_user(ctx, "owner_qa", "Long-Password-123", "Owner in QA", ["qa", "management"], is_process_owner=True)
    draft = upload(api, zipped(files()), as_="owner_qa").json
    assert api.post(f"/models/{draft['id']}/submit", {}, as_="owner_qa").status_code == 200
    assert api.post(f"/models/{draft['id']}/review", {}, as_="owner_qa").status_code == 403
    assert api.post(f"/models/{draft['id']}/review", {}, as_="reviewer1").status_code == 200
    assert api.post(f"/models/{draft['id']}/approve", {}, as_="owner_qa").status_code == 403
    assert api.get(f"/models/{draft['id']}", as_="gm1").json["status"] == "reviewed"


def test_reject_returns_to_draft_with_the_comment(api) -> None:  # type: ignore[no-untyped-def]
    draft = upload(api, zipped(files())).json
    sign_through(api, draft["id"], until="review")
    assert api.post(f"/models/{draft['id']}/reject", {"comment": ""}, as_="gm1").status_code == 422
    rejected = api.post(f"/models/{draft['id']}/reject", {"comment": "Name the sample lot"}, as_="gm1").json
    assert rejected["status"] == "draft"
    assert rejected["signoffs"][-1] == {**rejected["signoffs"][-1], "step": "rejected", "actor": "gm1",
                                        "comment": "Name the sample lot"}
    again = sign_through(api, draft["id"])  # resubmitted as it is, the path starts over
    assert again["status"] == "published" and again["label"] == "A0"


def test_failing_decision_tests_block_publishing(api, ctx) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    dmn = (Path(__file__).resolve().parents[2] / "workflows" / "feedback_routing.dmn").read_text()
    wrong = json.dumps([{"decision": "feedback_routing", "inputs": {"category": "repair"},
                         "expected": {"routed_department": "qc"}}])
    bundle = files({"workflows/feedback_routing.dmn": dmn, "workflows/feedback_routing.tests.json": wrong})
    draft = upload(api, zipped(bundle)).json
    assert [(p["element_id"], p["severity"]) for p in draft["problems"]] == [("feedback_routing", "error")]
    assert api.post(f"/models/{draft['id']}/submit", {}, as_="owner1").status_code == 409


def test_hostile_bundles_are_refused(api) -> None:  # type: ignore[no-untyped-def]
    from engine.definitions.bundle_zip import MAX_FILE_BYTES, MAX_FILES

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(BPMN_PATH, bpmn())
        archive.writestr("forms/huge.schema.json", "0" * (50 * MAX_FILE_BYTES))
    assert len(bomb.getvalue()) < MAX_FILE_BYTES
    response = upload(api, bomb.getvalue())
    assert response.status_code == 422 and "larger than" in response.json["details"]["bundle"]
    many = zipped({**files(), **{f"forms/f{i}.schema.json": json.dumps(SCHEMA) for i in range(MAX_FILES)}})
    assert "at most" in upload(api, many).json["details"]["bundle"]
    climbing = zipped({**files(), "../../etc/x.bpmn": bpmn()})
    assert "inside the bundle" in upload(api, climbing).json["details"]["bundle"]
    assert upload(api, b"not a zip").status_code == 422
    quoted = zipped({**files(), 'forms/a"b\r\nX: y.schema.json': json.dumps(SCHEMA)})
    assert "only letters, digits" in upload(api, quoted).json["details"]["bundle"]
    dtd = bpmn().replace('<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE x [<!ENTITY e "boom">]>')
    refused = upload(api, zipped(files({BPMN_PATH: dtd})))
    assert refused.status_code == 422
    assert "DOCTYPE" in refused.json["details"]["problems"][0]["message"]
    missing = api.client.post("/api/v1/models", data={}, headers=api._headers("owner1"),
                              content_type="multipart/form-data")
    assert missing.status_code == 422 and missing.json["details"] == {"bundle": "required"}
    with api.ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == PROCESS_ID)) is None


def test_export_round_trip(api) -> None:  # type: ignore[no-untyped-def]
    draft = upload(api, zipped(files())).json
    exported = api.get(f"/models/{draft['id']}/export", as_="auditor1")
    assert exported.mimetype == "application/zip"
    assert unzipped(exported.data) == files()
    again = upload(api, exported.data).json
    assert again["files"] == draft["files"] and again["id"] != draft["id"]
    # both drafts hold the same files: the second one submitted is refused as a duplicate
    sign_through(api, draft["id"], until="submit")
    duplicate = api.post(f"/models/{again['id']}/submit", {}, as_="owner1")
    assert duplicate.status_code == 409 and duplicate.json["details"]["same_as"] == draft["id"]


def test_a_draft_never_starts_a_case_and_a_bundle_above_the_json_limit_uploads(api) -> None:  # type: ignore[no-untyped-def]
    import base64
    import os

    draft = upload(api, zipped(files())).json
    assert api.post("/cases", {"process": PROCESS_ID}, as_="qc1").status_code == 404
    sign_through(api, draft["id"], until="approve")
    assert api.post("/cases", {"process": PROCESS_ID}, as_="qc1").status_code == 404  # approved is not in force
    padding = {f"forms/pad{i}.schema.json": json.dumps({"type": "object", "description": base64.b64encode(
        os.urandom(600 * 1024)).decode()}) for i in range(3)}
    large = zipped(files(padding))
    assert len(large) > 1024 * 1024  # beyond the request limit of the JSON API (max_body_bytes)
    response = upload(api, large)
    assert response.status_code == 201 and len(response.json["files"]) == 5
