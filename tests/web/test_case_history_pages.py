"""The replay verdict page (auditors, administrators, process owners) and the step-through page
(everyone who reads the case), served with their data and without inline script."""

from __future__ import annotations

import html
import json
import re

from sqlalchemy import update

from engine.persistence.models import Case
from tests.factories import actor, complete
from tests.integration.test_after_sales_paths import CONTAIN, FEEDBACK
from tests.web.test_pages import login


def _case(ctx) -> int:  # type: ignore[no-untyped-def]
    from engine.services import cases

    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "quality"})
    complete(ctx, "qc1", case.id, "Contain the problem", CONTAIN)
    return case.id


def _steps(page: str) -> list[dict]:
    found = re.search(r"data-steps='(.*?)'", page, re.S)
    assert found is not None
    return json.loads(html.unescape(found.group(1)))


def test_the_case_page_offers_replay_to_auditors_and_the_step_through_to_every_reader(app, ctx):
    case_id = _case(ctx)
    auditor = login(app, "auditor1").get(f"/cases/{case_id}").text
    assert f'href="/cases/{case_id}/replay"' in auditor and f'href="/cases/{case_id}/history"' in auditor
    sales = login(app, "sales1").get(f"/cases/{case_id}").text
    assert f'href="/cases/{case_id}/replay"' not in sales and f'href="/cases/{case_id}/history"' in sales


def test_the_replay_page_shows_identical_then_the_divergence_with_both_sides(app, ctx):
    case_id = _case(ctx)
    auditor = login(app, "auditor1")
    page = auditor.get(f"/cases/{case_id}/replay")
    assert page.status_code == 200
    assert 'data-replay-verdict="identical"' in page.text and "3 steps" in page.text
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(Case).where(Case.id == case_id).values(data={"description": "No defect"}))
        uow.commit()
    page = auditor.get(f"/cases/{case_id}/replay")
    assert 'data-replay-verdict="diverged"' in page.text
    assert "stored case data (cases.data)" in page.text and "No defect" in page.text
    assert login(app, "sales1").get(f"/cases/{case_id}/replay").status_code == 403


def test_the_history_page_carries_each_step_with_its_open_tasks_and_data(app, ctx):
    case_id = _case(ctx)
    page = login(app, "qc1").get(f"/cases/{case_id}/history")
    assert page.status_code == 200
    steps = _steps(page.text)
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert [t["title"] for t in steps[0]["open"]] == ["Record customer feedback"]
    assert steps[0]["data"] == {} and steps[1]["data"]["description"] == FEEDBACK["description"]
    assert [t["title"] for t in steps[2]["open"]] == ["Analyse root cause and propose actions"]
    assert [t["file"] for t in steps[2]["open"]] == ["workflows/capa.bpmn"]
    assert "workflows/capa.bpmn" in page.text and "workflows/after_sales_feedback.bpmn" in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
    assert login(app, "centre1").get(f"/cases/{case_id}/history").status_code == 404
