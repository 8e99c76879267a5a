"""Messages come only from who may send them, on SQLite and PostgreSQL: every demo user and both
demo service accounts send each message of workflows/ through the JSON API, and each is either
accepted (the case moves or starts) or refused with 403 naming the allowed senders, with nothing
stored: no case, no event, no kept message, the waiting case still waiting. The senders are the
receiving event's ``allowedSenders`` (``engine.definitions.senders``); an event that names none takes
messages from administrators only; names that do not exist are refused when a version is
published, with the element that holds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine.definitions.catalog import ProcessBundle
from engine.errors import Conflict, InvalidDefinition, InvalidInput
from engine.persistence.models import Case as CaseRow
from engine.persistence.models import CaseEvent, MessageStart, MessageWait, UnmatchedMessage, User
from engine.services.directory import DEMO_SERVICE_ACCOUNTS, DEMO_USERS
from engine.services.processes import list_published, publish_bundle
from engine.services.users import authenticate, create_service_account, hash_password
from tests.integration.test_agreement_and_centre_paths import CENTRE_RECORD
from tests.integration.test_messages import awaiting, consent
from web.cli import main

DIAGRAMS = Path(__file__).resolve().parents[1] / "data" / "messages"
SENDERS = [username for username, *_ in DEMO_USERS] + [username for username, *_ in DEMO_SERVICE_ACCOUNTS]
CENTRE_FEEDBACK_SENDERS = {"centre1", "centre-system"}
CONSENT_SENDERS = {"sales1", "sales2", "customer-portal"}


def stored(ctx) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How many rows each table a message writes to holds."""
    with ctx.unit_of_work(readonly=True) as uow:
        return {table.__tablename__: uow.session.scalar(select(func.count()).select_from(table)) or 0
                for table in (CaseRow, CaseEvent, MessageStart, MessageWait, UnmatchedMessage)}


def refused(response, *allowed: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.json
    assert response.json["details"] == {"allowed_senders": sorted(allowed)}
    assert "may not send message" in response.json["error"]


def test_every_demo_account_is_a_sender_here():
    assert {"centre1", "sales1", "admin1", "auditor1", "centre-system", "customer-portal"} <= set(SENDERS)


@pytest.mark.clause("5.6.1")
@pytest.mark.parametrize("username", SENDERS)
def test_only_the_service_centre_forwards_a_feedback_record(api, ctx, username: str):
    before = stored(ctx)
    response = api.post("/messages/service_centre_feedback", {"payload": CENTRE_RECORD}, as_=username)
    if username in CENTRE_FEEDBACK_SENDERS:
        assert response.status_code == 201, response.json
        assert response.json["process_id"] == "service_centre_feedback"
        assert [t["title"] for t in response.json["open_tasks"]] == ["Review forwarded feedback"]
        events = api.get(f"/cases/{response.json['id']}/events", as_="auditor1").json["events"]
        assert [(e["type"], e["actor"]) for e in events][:2] == [("case_started", username),
                                                                ("message_received", username)]
    elif username == "auditor1":
        assert response.status_code == 403
        assert stored(ctx) == before
    else:
        refused(response, "department:service_centre", "integration:centre_system")
        assert stored(ctx) == before


@pytest.mark.clause("5.4.2")
@pytest.mark.parametrize("username", SENDERS)
def test_only_sales_and_the_customer_portal_send_the_customers_consent(api, ctx, username: str):
    case = awaiting(api, "PO-31")
    before = stored(ctx)
    response = consent(api, "PO-31", "agreed", as_=username)
    if username in CONSENT_SENDERS:
        assert response.status_code == 200, response.json
        assert response.json["id"] == case.id
        assert [t["title"] for t in response.json["open_tasks"]] == ["Produce order"]
        assert response.json["data"]["customer_consent"] == "agreed"
        received = [e for e in case.events() if e["type"] == "message_received"]
        assert [(e["element_id"], e["actor"]) for e in received] == [("Event_ConsentReceived", username)]
    else:
        assert response.status_code == 403
        if username != "auditor1":
            refused(response, "department:sales", "integration:customer_portal")
        assert stored(ctx) == before
        assert api.get(f"/cases/{case.id}", as_="sales1").json["open_tasks"] == []  # still waiting
        assert consent(api, "PO-31", "agreed", as_="customer-portal").status_code == 200


@pytest.mark.parametrize("username", ["sales1", "centre-system"])
def test_a_refused_sender_keeps_nothing_even_when_nothing_would_match(api, ctx, username: str):
    """A consent naming no waiting order is kept for an allowed sender (404), but not for one the
    message's events do not name; a name no process receives is for administrators only."""
    before = stored(ctx)
    response = consent(api, "PO-404", "agreed", as_=username)
    if username == "sales1":
        assert response.status_code == 404
        assert stored(ctx)["unmatched_messages"] == before["unmatched_messages"] + 1
    else:
        refused(response, "department:sales", "integration:customer_portal")
        assert stored(ctx) == before
    unknown = api.post("/messages/no_such_message", {"payload": {}}, as_=username)
    refused(unknown, "role:admin")
    assert api.post("/messages/no_such_message", {"payload": {}}, as_="admin1").status_code == 404


def _intake(ctx, name: str, senders: str | None) -> str:  # type: ignore[no-untyped-def]
    """The test-only process begun by a message, its start event naming ``senders`` (None: the
    property removed), published as process ``name`` begun by message ``NAME_received`` (each
    test its own: on PostgreSQL published versions outlive a test); the message's name."""
    bpmn = (DIAGRAMS / "message_intake.bpmn").read_text()
    declared = '<spiffworkflow:property name="allowedSenders" value="department:service_centre" />'
    assert declared in bpmn
    bpmn = bpmn.replace(declared, "" if senders is None else
                        f'<spiffworkflow:property name="allowedSenders" value="{senders}" />')
    bpmn = bpmn.replace("intake_received", f"{name}_received").replace("message_intake", name)
    publish_bundle(ctx, ProcessBundle(name, name, {f"workflows/{name}.bpmn": bpmn}))
    return f"{name}_received"


def test_an_event_naming_no_senders_takes_messages_from_administrators_only(api, ctx):
    message = _intake(ctx, "intake_undeclared", None)
    for username in ("sales1", "centre1", "gm1", "owner1", "centre-system"):
        refused(api.post(f"/messages/{message}", {"payload": {"title": "Noise"}}, as_=username), "role:admin")
    started = api.post(f"/messages/{message}", {"payload": {"title": "Noise"}}, as_="admin1")
    assert started.status_code == 201, started.json
    assert started.json["title"] == "Noise"


def test_roles_name_administrators_and_process_owners(api, ctx):
    message = _intake(ctx, "intake_by_role", "role:process_owner, role:admin")
    assert api.post(f"/messages/{message}", {"payload": {"title": "A"}}, as_="owner1").status_code == 201
    assert api.post(f"/messages/{message}", {"payload": {"title": "B"}}, as_="admin1").status_code == 201
    refused(api.post(f"/messages/{message}", {"payload": {"title": "C"}}, as_="gm1"),
            "role:admin", "role:process_owner")


@pytest.mark.parametrize(("senders", "problem"), [
    ("department:salse", "unknown department 'salse'"),
    ("integration:erp", "unknown integration 'erp'"),
    ("role:everyone", "unknown role 'everyone'"),
    ("sales", "entry 'sales' is not one of department:NAME, role:NAME, integration:NAME"),
    ("department:sales,", "entry '' is not one of"),
])
def test_unknown_or_malformed_senders_are_refused_when_published_naming_the_element(ctx, senders: str, problem: str):
    with pytest.raises(InvalidDefinition, match="intake_start") as error:
        _intake(ctx, "intake_misnamed", senders)
    assert problem in error.value.message
    assert "intake_misnamed" not in {p.id for p in list_published(ctx)}


def test_a_service_account_signs_in_with_its_token_only(app, ctx):
    with ctx.unit_of_work() as uow:
        saved = uow.session.scalar(select(User.password_hash).where(User.username == "centre-system"))
        uow.session.execute(update(User).where(User.username == "centre-system")
                            .values(password_hash=hash_password("demo")))
        uow.commit()
    try:
        assert authenticate(ctx, "centre-system", "demo") is None  # even with its password known
        response = app.test_client().post("/login", data={"username": "centre-system", "password": "demo"})
        assert response.status_code == 401
    finally:
        with ctx.unit_of_work() as uow:
            uow.session.execute(update(User).where(User.username == "centre-system").values(password_hash=saved))
            uow.commit()


def test_the_cli_creates_a_service_account_whose_token_sends_its_integrations_messages(
        api, ctx, db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path))
    assert main(["service-account", "create", "portal-eu", "--integration", "customer_portal"]) == 0
    token = capsys.readouterr().out.strip()
    case = awaiting(api, "PO-77")
    response = api.client.post("/api/v1/messages/delivery_consent", headers={"Authorization": f"Bearer {token}"},
                               json={"payload": {"customer_consent": "agreed"}, "correlation": {"order_ref": "PO-77"}})
    assert response.status_code == 200, response.json
    assert (response.json["id"], [t["title"] for t in response.json["open_tasks"]]) == (case.id, ["Produce order"])
    assert main(["service-account", "create", "portal-eu", "--integration", "customer_portal"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["service-account", "create", "erp", "--integration", "erp"]) == 2
    assert "integration" in capsys.readouterr().err


def test_a_service_account_needs_a_known_integration_and_a_free_name(ctx):
    with pytest.raises(InvalidInput) as bad:
        create_service_account(ctx, "Bad Name!", "nope")
    assert set(bad.value.details) == {"username", "integration"}
    with pytest.raises(Conflict):
        create_service_account(ctx, "sales1", "customer_portal")  # a person's name
    with pytest.raises(Conflict):
        create_service_account(ctx, "centre-system", "centre_system")  # exists already
