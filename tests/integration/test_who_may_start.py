"""Who may start a process by hand is part of its version (``startableBy`` on the process
element, ``engine.definitions.starters``), on SQLite and PostgreSQL: every demo user and service
account starts every process of workflows/ through the JSON API and either gets the case or a
403 naming who may, with no case stored; the Start page offers only what the user may start, and
a process that only a timer starts has no Start button for anybody. Names that do not exist are
refused when a version is published, naming the process element."""

from __future__ import annotations

import pytest
from flask import Flask
from lxml import html
from sqlalchemy import func, select

from engine.definitions.catalog import ProcessBundle, parse_bundle
from engine.errors import Forbidden, InvalidDefinition
from engine.persistence.models import Case
from engine.services import cases
from engine.services.directory import DEMO_SERVICE_ACCOUNTS, DEMO_USERS
from engine.services.processes import publish_bundle
from tests.factories import SCRIPT_PROCESS, actor
from tests.web.test_pages import login

PEOPLE = [username for username, *_ in DEMO_USERS] + [username for username, *_ in DEMO_SERVICE_ACCOUNTS]
TIMER_ONLY = "customer_review_yearly"
SALES_STARTS = {"after_sales_feedback", "capa", "complaint_handling", "customer_data", "customer_visit",
                "liaison_approval", "order_delivery", "presales_request", "sample_trial", "service_agreement"}
# As the procedure assigns them: Sales is the liaison window for every customer request (4.2, 4.3),
# Quality Inspection also raises corrective action, Technical also makes samples, and a service
# centre records its region's feedback (5.6.1).
MAY_START: dict[str, set[str]] = {
    "sales1": SALES_STARTS, "sales2": SALES_STARTS, "qc1": {"capa"}, "tech1": {"sample_trial"},
    "centre1": {"service_centre_feedback"},
}
ALL_PROCESSES = SALES_STARTS | {"service_centre_feedback", TIMER_ONLY}


def _case_count(ctx) -> int:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count(Case.id))) or 0


@pytest.mark.parametrize("user", PEOPLE)
def test_each_person_may_start_exactly_the_processes_their_version_names(api, ctx, user: str) -> None:
    allowed = MAY_START.get(user, set())
    listed = {p["id"]: p for p in api.get("/processes", as_=user).json}
    assert set(listed) == ALL_PROCESSES
    assert {pid for pid, p in listed.items() if p["may_start"]} == allowed
    for process in sorted(ALL_PROCESSES):
        before = _case_count(ctx)
        response = api.post("/cases", {"process": process}, as_=user)
        if process in allowed:
            assert response.status_code == 201, (process, response.json)
            assert response.json["process_id"] == process
            assert _case_count(ctx) == before + 1
            continue
        assert _case_count(ctx) == before, process
        if process == TIMER_ONLY and user != "auditor1":
            assert response.status_code == 422, (process, response.json)
            assert response.json["details"] == {"process_id": ["Starts on a schedule"]}
        else:
            assert response.status_code == 403, (process, response.json)
            if user != "auditor1":
                assert ", ".join(listed[process]["startable_by"]) in response.json["error"]


def test_the_refusal_names_who_may_start_the_process(ctx) -> None:
    with pytest.raises(Forbidden) as refused:
        cases.start_case(ctx, actor(ctx, "tech1"), "capa")
    assert refused.value.message == ("Corrective and preventive action may be started only by "
                                     "department:sales, department:qc")


# auditors have no Start page: it leads them to the case list (tests/web/test_auditor_role.py)
@pytest.mark.parametrize("user", [u for u in PEOPLE[:-len(DEMO_SERVICE_ACCOUNTS)] if u != "auditor1"])
def test_the_start_page_offers_only_what_the_user_may_start(app: Flask, user: str) -> None:
    page = html.fromstring(login(app, user).get("/start").data)
    forms = page.xpath("//form[starts-with(@action, '/start/')]")
    buttons = {form.get("action").removeprefix("/start/") for form in forms}
    assert buttons == MAY_START.get(user, set())
    automatic = page.xpath("//ul[@id='automatic']/li")
    [yearly] = [item for item in automatic if "Yearly customer review" in item.text_content()]
    assert "Begins on its schedule" in yearly.text_content() and not yearly.xpath(".//form | .//button")
    if user not in MAY_START:
        assert "No published process may be started by you." in page.text_content()


START = '<bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
TIMER = ('<bpmn:outgoing>f1</bpmn:outgoing><bpmn:timerEventDefinition id="t"><bpmn:timeCycle>'
         '"R/2026-01-15T09:00:00+08:00/P1Y"</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>')


def _process(process_id: str, startable_by: str | None, start: str = START) -> ProcessBundle:
    """The factories' two-task sales process, naming its starters (or not), with a none start
    event or another (``TIMER``)."""
    xml = SCRIPT_PROCESS.format(pid=process_id, script="x = 1")
    if startable_by is not None:
        xml = xml.replace('isExecutable="true">', 'isExecutable="true"><bpmn:extensionElements>'
                          '<spiffworkflow:properties>'
                          f'<spiffworkflow:property name="startableBy" value="{startable_by}" />'
                          '</spiffworkflow:properties></bpmn:extensionElements>', 1)
        xml = xml.replace('<bpmn:definitions ', '<bpmn:definitions xmlns:spiffworkflow='
                          '"http://spiffworkflow.org/bpmn/schema/1.0/core" ', 1)
    xml = xml.replace(START, start, 1)
    return ProcessBundle(process_id=process_id, name=process_id, files={f"workflows/{process_id}.bpmn": xml})


def test_a_process_naming_no_starters_is_started_by_its_start_lane_and_administrators(ctx) -> None:
    publish_bundle(ctx, _process("unnamed_starters", None))
    assert cases.start_case(ctx, actor(ctx, "sales2"), "unnamed_starters").status == "running"
    assert cases.start_case(ctx, actor(ctx, "admin1"), "unnamed_starters").status == "running"
    with pytest.raises(Forbidden, match="department:sales, role:admin"):
        cases.start_case(ctx, actor(ctx, "tech1"), "unnamed_starters")


def test_who_may_start_is_part_of_the_version(ctx) -> None:
    publish_bundle(ctx, _process("versioned_starters", "department:tech"))
    assert cases.start_case(ctx, actor(ctx, "tech1"), "versioned_starters").version == 1
    publish_bundle(ctx, _process("versioned_starters", "role:process_owner, department:production"))
    with pytest.raises(Forbidden, match="role:process_owner, department:production"):
        cases.start_case(ctx, actor(ctx, "tech1"), "versioned_starters")
    assert cases.start_case(ctx, actor(ctx, "owner1"), "versioned_starters").version == 2
    assert cases.start_case(ctx, actor(ctx, "prod1"), "versioned_starters").version == 2


@pytest.mark.parametrize(("value", "message"), [
    ("department:nosuch", "bpmn:process id='bad_starters': startableBy names unknown department 'nosuch'"),
    ("integration:nosuch", "bpmn:process id='bad_starters': startableBy names unknown integration 'nosuch'"),
    ("role:boss", "bpmn:process id='bad_starters': startableBy names unknown role 'boss'"),
    ("sales", "bpmn:process id='bad_starters': startableBy entry 'sales' is not one of"),
    ("", "bpmn:process id='bad_starters': startableBy entry '' is not one of"),
])
def test_unknown_starters_are_refused_at_publish_naming_the_process(ctx, value: str, message: str) -> None:
    with pytest.raises(InvalidDefinition) as refused:
        publish_bundle(ctx, _process("bad_starters", value))
    assert message in refused.value.message
    with ctx.unit_of_work(readonly=True) as uow:
        assert not uow.session.scalar(select(func.count(Case.id)))


def test_starters_on_a_process_only_a_timer_starts_are_refused() -> None:
    with pytest.raises(InvalidDefinition, match="startableBy is set, but only a timer or a message starts"):
        parse_bundle(_process("timed_starters", "department:sales", TIMER))
    assert not parse_bundle(_process("timed_only", None, TIMER)).starts_by_hand
