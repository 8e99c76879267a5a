"""The model pages, on both backends: who sees them, the list of processes and versions, a
version's files, problems, sign-offs, revision record and distribution, and the steps taken
through the page's forms."""

from __future__ import annotations

import io
import re

from flask import Flask

from tests.model_bundles import BROKEN_CONDITION, files, zipped
from tests.web.test_language import switch
from tests.web.test_pages import login


def upload(client, bundle: bytes, note: str = "First issue"):  # type: ignore[no-untyped-def]
    return client.post("/models", data={"bundle": (io.BytesIO(bundle), "bundle.zip"), "change_note": note},
                       content_type="multipart/form-data")


def model_id(response) -> int:  # type: ignore[no-untyped-def]
    return int(re.search(r"/models/(\d+)$", response.location).group(1))


def test_only_those_who_may_read_models_get_the_link_and_the_pages(app: Flask) -> None:
    for user in ("owner1", "reviewer1", "gm1", "admin1", "auditor1"):
        client = login(app, user)
        assert 'href="/models"' in client.get("/cases").text
        assert client.get("/models").status_code == 200
    sales = login(app, "sales1")
    assert 'href="/models"' not in sales.get("/inbox").text
    assert sales.get("/models").status_code == 403


def test_the_list_shows_each_process_with_its_versions_labels_and_states(app: Flask) -> None:
    page = login(app, "owner1").get("/models").text
    capa = page[page.index('data-process-id="capa"'):]
    capa = capa[:capa.index("</section>")]
    assert "A0" in capa and 'data-status="published"' in capa and "Imported" in capa and "setup" in capa
    assert "New draft" in capa
    assert "Upload a bundle" in page
    assert "Upload a bundle" not in login(app, "gm1").get("/models").text  # management does not prepare


def test_an_uploaded_draft_shows_its_problems_files_and_next_step(app: Flask) -> None:
    client = login(app, "owner1")
    response = upload(client, zipped(files({"workflows/model_demo.bpmn": BROKEN_CONDITION})))
    assert response.status_code == 302
    draft = model_id(response)
    page = client.get(f"/models/{draft}").text
    assert 'data-element-id="f1" data-severity="error"' in page and "Sequence flow f1" in page
    assert f'href="/models/{draft}/files/workflows/model_demo.bpmn"' in page
    assert f'href="/models/{draft}/files/forms/demo-check.schema.json"' in page
    assert 'data-step="submit"' in page and "First issue" in page
    download = client.get(f"/models/{draft}/files/workflows/model_demo.bpmn")
    assert download.text == BROKEN_CONDITION and "attachment" in download.headers["Content-Disposition"]
    assert client.get(f"/models/{draft}/files/workflows/nothing.bpmn").status_code == 404
    refused = client.post(f"/models/{draft}/submit", data={"note": ""})
    assert refused.status_code == 409 and "validation error" in refused.text
    assert 'data-status="draft"' in client.get(f"/models/{draft}").text


def test_the_three_sign_offs_through_the_pages_publish_the_version(app: Flask) -> None:
    owner = login(app, "owner1")
    draft = model_id(upload(owner, zipped(files())))
    assert owner.post(f"/models/{draft}/submit", data={"note": "ready"}).status_code == 302
    reviewer = login(app, "reviewer1")
    page = reviewer.get(f"/models/{draft}").text
    assert 'data-step="review"' in page and 'data-step="reject"' in page
    assert reviewer.post(f"/models/{draft}/review", data={"note": ""}).status_code == 302
    gm = login(app, "gm1")
    assert gm.post(f"/models/{draft}/approve", data={"note": ""}).status_code == 302
    assert 'data-step="publish"' in gm.get(f"/models/{draft}").text
    assert gm.post(f"/models/{draft}/publish", data={"note": ""}).status_code == 302
    page = gm.get(f"/models/{draft}").text
    assert 'data-status="published"' in page and "Model demo" in page
    signed = re.findall(r'<tr data-step="(\w+)"><td>[^<]*</td><td>([^<]*)</td>', page)
    assert signed == [("prepared", "Process Owner"), ("submitted", "Process Owner"),
                      ("reviewed", "Quality Assurance Reviewer"), ("approved", "General Manager"),
                      ("published", "General Manager")]
    assert "<li>Quality Inspection Section</li>" in page  # the distribution list: its lanes' departments


def test_reject_through_the_page_needs_a_comment_and_returns_to_draft(app: Flask) -> None:
    owner = login(app, "owner1")
    draft = model_id(upload(owner, zipped(files())))
    owner.post(f"/models/{draft}/submit", data={"note": ""})
    reviewer = login(app, "reviewer1")
    assert reviewer.post(f"/models/{draft}/reject", data={"comment": ""}).status_code == 422
    assert reviewer.post(f"/models/{draft}/reject", data={"comment": "Name the lot"}).status_code == 302
    page = owner.get(f"/models/{draft}").text
    assert 'data-status="draft"' in page and "Name the lot" in page and 'data-step="submit"' in page


def test_new_draft_copies_the_version_in_force(app: Flask) -> None:
    owner = login(app, "owner1")
    response = owner.post("/models/new/capa")
    assert response.status_code == 302
    page = owner.get(response.location).text
    assert 'data-status="draft"' in page and "workflows/capa.bpmn" in page
    assert login(app, "reviewer1").post("/models/new/capa").status_code == 403


def test_a_bad_upload_is_refused_on_the_page(app: Flask) -> None:
    client = login(app, "owner1")
    assert upload(client, b"not a zip").status_code == 422
    response = upload(client, zipped(files({"workflows/model_demo.bpmn": "<bpmn:definitions"})))
    assert response.status_code == 422 and "not well-formed XML" in response.text


def test_the_pages_in_chinese(app: Flask) -> None:
    client = login(app, "owner1")
    switch(client, "zh")
    page = client.get("/models").text
    assert "流程模型" in page and "上传模型包" in page and "已发布" in page
    draft = model_id(upload(client, zipped(files())))
    page = client.get(f"/models/{draft}").text
    assert "修订记录" in page and "签核" in page and "提交审查" in page


def test_the_page_uploads_a_bundle_above_the_request_limit(app: Flask) -> None:
    import base64
    import json
    import os

    padding = {f"forms/pad{i}.schema.json": json.dumps({"type": "object", "description": base64.b64encode(
        os.urandom(600 * 1024)).decode()}) for i in range(3)}
    large = zipped(files(padding))
    assert len(large) > app.config["MAX_CONTENT_LENGTH"]
    client = login(app, "owner1")
    response = upload(client, large)
    assert response.status_code == 302
    assert "forms/pad2.schema.json" in client.get(response.location).text
    assert client.post("/tasks/x", data={"x": "y" * (2 * 1024 * 1024)}).status_code == 413  # elsewhere, as before
