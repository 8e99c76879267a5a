"""JSON API v1: the same use cases as the web pages, for integrations. Bearer-token auth."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, g, jsonify, request, send_file

from engine.audit.event_log import LogFilter
from engine.audit.exports import ocel_export, xes_export
from engine.definitions.forms import FormDefinition
from engine.services import (
    cases,
    comments,
    customers,
    integrity,
    interventions,
    messages,
    processes,
    replay,
    tasks,
    work_items,
)
from engine.services.api_tokens import actor_for_token
from web.api.json_body import json_object
from web.api.openapi import openapi_document
from web.api.params import paging
from web.api.serialize import to_json
from web.case_filters import case_filter
from web.cases.pack import audit_pack
from web.context import engine
from web.errors import json_error
from web.forms import with_customer_choices
from web.read_only import refuse_if_read_only

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.before_request
def _authenticate():  # type: ignore[no-untyped-def]
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    actor = actor_for_token(engine(), token.strip()) if scheme.lower() == "bearer" and token else None
    if actor is None:
        return json_error("Authentication required: send Authorization: Bearer <token>", 401)
    g.actor = actor
    refuse_if_read_only(actor)
    return None


def _body() -> dict:
    return json_object(engine().settings.data_limits)


def _customer_choices() -> Callable[[], list[tuple[str, str]]]:
    """The Customer List as (code, name), read at most once per request and only when a form
    has a customer field."""
    read: list[list[tuple[str, str]]] = []

    def choices() -> list[tuple[str, str]]:
        if not read:
            read.append(customers.customer_choices(engine()))
        return read[0]

    return choices


def _form_json(form: FormDefinition | None, data: Mapping[str, Any] | None,
               choices: Callable[[], list[tuple[str, str]]]) -> dict[str, Any] | None:
    """A task's form as the web form offers it: each ``format: customer`` field carries the
    Customer List as ``oneOf`` choices (for callers who may read the list), so that a client can
    fill it from the schema alone."""
    result = to_json(form)
    if form is not None and customers.may_read_customer_list(g.actor):
        result["schema"] = with_customer_choices(form.schema, choices, data)
    return result


def _case_json(view: cases.CaseView) -> dict[str, Any]:
    forms = tasks.open_task_forms(engine(), view)
    choices = _customer_choices()
    result = to_json(view)
    for task in result["open_tasks"]:
        task["form"] = _form_json(forms.get(task["id"]), None, choices)
    return result


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


@bp.get("/processes")
def list_processes():  # type: ignore[no-untyped-def]
    """Published processes, each saying whether the caller may start it (``may_start``)."""
    return jsonify([to_json(p) for p in processes.list_published(engine(), g.actor)])


@bp.post("/cases")
def start_case():  # type: ignore[no-untyped-def]
    """Start a case of a published process."""
    body = _body()
    view = cases.start_case(engine(), g.actor, str(body.get("process", "")), body.get("data") or {})
    return jsonify(_case_json(view)), 201


@bp.get("/cases")
def list_cases():  # type: ignore[no-untyped-def]
    """Cases, filtered by status, process, customer, text and the auditors' search (version, period,
    department, outcome, integrity)."""
    limit, offset = paging(50)
    flt = case_filter(request.args, limit, offset, strict=True)
    views, total = cases.list_cases(engine(), g.actor, flt)
    return jsonify({"total": total, "cases": [to_json(v) for v in views]})


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):  # type: ignore[no-untyped-def]
    """One case with its open tasks and their forms."""
    return jsonify(_case_json(cases.get_case(engine(), g.actor, case_id)))


@bp.get("/cases/<int:case_id>/replay")
def replay_case(case_id: int):  # type: ignore[no-untyped-def]
    """The case rebuilt from its recorded inputs and compared with its record (issue 11 §3)."""
    return jsonify(replay.replay_case(engine(), g.actor, case_id).as_json())


@bp.get("/cases/<int:case_id>/events")
def case_events(case_id: int):  # type: ignore[no-untyped-def]
    """The case history, with whether its hash chain verifies."""
    events, broken = cases.case_events(engine(), g.actor, case_id)
    return jsonify({"events": [to_json(e) for e in events], "chain_intact": broken is None,
                    "first_broken_seq": broken})


@bp.post("/cases/<int:case_id>/comments")
def comment(case_id: int):  # type: ignore[no-untyped-def]
    """Comment on a case (whoever reads it, auditors excepted): the comment is a history event."""
    return jsonify(to_json(comments.add_comment(engine(), g.actor, case_id, _body().get("text")))), 201


@bp.post("/cases/<int:case_id>/retry")
def retry(case_id: int):  # type: ignore[no-untyped-def]
    """Administrators: run the failed step of a case in error again."""
    return jsonify(_case_json(interventions.retry_case(engine(), g.actor, case_id)))


@bp.post("/cases/<int:case_id>/cancel")
def cancel(case_id: int):  # type: ignore[no-untyped-def]
    """Administrators: cancel a running case or one in error, giving the reason."""
    reason = _body().get("reason")
    return jsonify(_case_json(interventions.cancel_case(engine(), g.actor, case_id, reason)))


@bp.get("/cases/<int:case_id>/pack")
def case_pack(case_id: int):  # type: ignore[no-untyped-def]
    """The case's audit pack (zip), verifiable offline with ``serviceflow audit verify --pack``."""
    return send_file(io.BytesIO(audit_pack(g.actor, case_id)), mimetype="application/zip", as_attachment=True,
                     download_name=f"case-{case_id}-audit-pack.zip")


@bp.get("/cases/<int:case_id>/verify")
def verify_case(case_id: int):  # type: ignore[no-untyped-def]
    """Whether the case's history verifies, and if not its first broken event and why; and the
    signed checkpoint it was checked against, or why none was."""
    checked = integrity.verify_case(engine(), g.actor, case_id)
    verdict, head = checked.verdict, checked.checkpoint
    return jsonify({"case_id": verdict.case_id, "ok": verdict.ok, "event_count": verdict.event_count,
                    "first_broken_seq": verdict.broken_seq, "code": verdict.code,
                    "reason": verdict.reason, "checkpoint_coverage": checked.coverage,
                    "checkpoint": None if head is None else {
                        "number": head.checkpoint, "created_at": head.created_at.isoformat(),
                        "event_count": head.event_count, "last_event_hash": head.last_event_hash}})


@bp.get("/inbox")
def inbox():  # type: ignore[no-untyped-def]
    """Open tasks of the caller's departments and tasks assigned to the caller."""
    limit, offset = paging(100)
    items = work_items.inbox(engine(), g.actor, limit=limit, offset=offset)
    return jsonify([to_json(i) for i in items])


@bp.get("/tasks/<task_id>")
def get_task(task_id: str):  # type: ignore[no-untyped-def]
    """An open task with its form and the data it is prefilled with."""
    page = tasks.get_task(engine(), g.actor, task_id)
    form = _form_json(page.form, page.prefill, _customer_choices())
    return jsonify({"task": to_json(page.task), "form": form, "prefill": page.prefill,
                    "may_complete": page.may_complete, "case_id": page.case.id,
                    "instructions": page.instructions, "instructions_error": page.instructions_error,
                    "signals": to_json(list(page.signals))})


@bp.post("/tasks/<task_id>/signal")
def send_signal(task_id: str):  # type: ignore[no-untyped-def]
    """Press one of the task's manual signal buttons (``signals`` of GET /tasks/ID)."""
    view = tasks.send_signal(engine(), g.actor, task_id, _body().get("signal"))
    return jsonify(_case_json(view))


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str):  # type: ignore[no-untyped-def]
    """Claim a task of one of the caller's departments."""
    return jsonify(to_json(work_items.claim(engine(), g.actor, task_id)))


@bp.post("/tasks/<task_id>/release")
def release(task_id: str):  # type: ignore[no-untyped-def]
    """Give a claimed task back to its department."""
    return jsonify(to_json(work_items.release(engine(), g.actor, task_id)))


@bp.post("/tasks/<task_id>/assign")
def assign(task_id: str):  # type: ignore[no-untyped-def]
    """Hand a task to a colleague of its department."""
    username = str(_body().get("username", ""))
    return jsonify(to_json(work_items.assign(engine(), g.actor, task_id, username)))


@bp.post("/tasks/<task_id>/complete")
def complete(task_id: str):  # type: ignore[no-untyped-def]
    """Submit a task's data; 422 lists field errors, 409 means someone else got there first."""
    view = tasks.complete_task(engine(), g.actor, task_id, _body().get("data", {}))
    return jsonify(_case_json(view))


@bp.post("/messages/<name>")
def send_message(name: str):  # type: ignore[no-untyped-def]
    """Deliver a message: 200 with the case it moved (or, for a start message sent again with the
    same correlation values and payload, the case it started then), 201 with the case it started,
    404 when it matched nothing (it is kept; ``details.unmatched_id`` names it)."""
    body = _body()
    delivery = messages.deliver_message(engine(), g.actor, name, body.get("payload"), body.get("correlation"))
    return jsonify(_case_json(delivery.case)), 201 if delivery.started else 200


@bp.get("/messages/unmatched")
def unmatched_messages():  # type: ignore[no-untyped-def]
    """Messages that reached no case, newest first (administrators only)."""
    limit, offset = paging(100)
    kept = messages.list_unmatched(engine(), g.actor, limit=limit, offset=offset)
    return jsonify([to_json(m) for m in kept])


@bp.get("/customers")
def list_customers():  # type: ignore[no-untyped-def]
    """The Customer List (department staff, administrators and auditors), filtered by ``q``."""
    found = customers.customer_list(engine(), g.actor, request.args.get("q") or None)
    return jsonify([to_json(c) for c in found])


def _log_filter() -> LogFilter:
    return LogFilter.parse(request.args.get("process"), request.args.get("since"))


@bp.get("/audit/xes")
def audit_xes():  # type: ignore[no-untyped-def]
    """The event log in XES (auditors, administrators, process owners), streamed."""
    chunks = xes_export(engine(), g.actor, _log_filter())
    return Response(chunks, mimetype="application/xml",
                    headers={"Content-Disposition": 'attachment; filename="serviceflow.xes"'})


@bp.get("/audit/ocel")
def audit_ocel():  # type: ignore[no-untyped-def]
    """The event log in OCEL 2.0 JSON (auditors, administrators, process owners), streamed."""
    chunks = ocel_export(engine(), g.actor, _log_filter())
    return Response(chunks, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="serviceflow-ocel.json"'})


from web.api import migrations as _migrations  # noqa: E402,F401 - registers the migration routes on bp
from web.api import models as _models  # noqa: E402,F401 - registers the model routes on bp
