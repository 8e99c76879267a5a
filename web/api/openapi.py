"""The OpenAPI 3.1 document of API v1; a test checks it lists exactly the routes the app has."""

from __future__ import annotations

from typing import Any

from engine.data_limits import DataLimits
from engine.services.case_search import INTEGRITY_VALUES
from engine.services.messages import MAX_NAME
from web.api.openapi_migrations import MIGRATION_PATHS, MIGRATION_SCHEMAS
from web.api.openapi_models import MODEL_PATHS, MODEL_SCHEMAS
from web.api.params import MAX_LIMIT, MAX_OFFSET


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": _json(_ref("Error"), "Missing or invalid token"),
    "403": _json(_ref("Error"), "Not allowed for the caller"),
    "404": _json(_ref("Error"), "No such resource"),
    "409": _json(_ref("Error"), "The task is no longer open or the case changed underneath"),
    "422": _json(_ref("Error"), "Invalid input; details maps field paths (or parameter names) to messages"),
    "400": _json(_ref("Error"), "The body is not valid JSON"),
    "413": _json(_ref("Error"), "The body is larger than the server accepts (details.max_bytes)"),
}
BODY_ERRORS = ("400", "413", "422")


def _stored_body(body: dict) -> dict:
    """A JSON object body: fields it does not name are ignored but still checked as every stored
    value is (no NUL character in a name or a text), so the document says so."""
    if body.get("type") != "object" or "additionalProperties" in body:
        return body
    return {**body, "propertyNames": TEXT, "additionalProperties": _ref("JsonValue")}


def _op(summary: str, ok: dict, body: dict | None = None, params: list | None = None,
        errors: tuple[str, ...] = ("401",)) -> dict:
    """An operation; one with a body also answers 400, 413 and 422 (``json_body``)."""
    codes = (*errors, *BODY_ERRORS) if body is not None else errors
    op: dict[str, Any] = {"summary": summary, "responses": {**ok, **{c: ERRORS[c] for c in codes if c not in ok}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _stored_body(body)}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema or TEXT}


# Text that reaches the database: PostgreSQL stores no NUL character (422 names the field).
TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
CASE_ID = _path_param("case_id", {"type": "integer", "minimum": 1})
TASK_ID = _path_param("task_id", {"type": "string"})
PAGING = [_query("limit", {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}),
          _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET})]
OBJ = {"type": "object"}


def not_blank(most: int) -> dict:
    """Text with something in it besides spaces, at most ``most`` characters."""
    return {"allOf": [TEXT, {"pattern": "\\S"}], "type": "string", "maxLength": most}


DAY = {"type": "string", "format": "date"}
CASE_SEARCH = [
    _query("version", {"type": "integer", "minimum": 1, "maximum": 10**6}),
    _query("from", {**DAY, "description": "cases started on this day or later"}),
    _query("to", {**DAY, "description": "cases started on this day or earlier"}),
    _query("department", {**TEXT, "description": "a department that had a task in the case"}),
    _query("outcome", {**TEXT, "description": "part of the outcome (the end event's name)"}),
    _query("integrity", {"enum": list(INTEGRITY_VALUES), "description": "the case's last verification"}),
]
LOG_FILTER = [_query("process"), _query("since", {"type": "string", "format": "date",
                                                          "description": "only events from this day on (UTC)"})]
DATA = {**_ref("JsonObject"), "description": f"any JSON object nested at most {DataLimits.max_depth} levels "
        f"deep (by default), at most {DataLimits.max_bytes} bytes, with no NUL character in its text"}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}, "details": {}}},
    "JsonObject": {"type": "object", "propertyNames": TEXT, "additionalProperties": _ref("JsonValue")},
    "JsonValue": {"anyOf": [{"type": ["null", "boolean", "number"]}, TEXT, _ref("JsonObject"),
                            {"type": "array", "items": _ref("JsonValue")}]},
    "Customer": {"type": "object", "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "address": {"type": "string"},
        "priority": {"type": "boolean"}, "contacts": {"type": "array"}, "products": {"type": "array"},
        "agreements": {"type": "array"}, "notes": {"type": "string"}, "updated_at": {"type": "string"},
        "version": {"type": "integer"}, "open_cases": {"type": "integer"}}},
    "Process": {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "version": {"type": "integer"},
        "name_zh": {"type": "string", "description": "the name in Chinese, when the process gives one"},
        "content_hash": {"type": "string"}, "published_at": {"type": ["string", "null"]},
        "starts_by_hand": {"type": "boolean", "description": "false: only a timer or a message starts its cases"},
        "starts_on_timer": {"type": "boolean", "description": "a timer start event begins cases on its schedule"},
        "startable_by": {"type": "array", "items": {"type": "string"},
                         "description": "who may start it by hand (department:ID, role:NAME, integration:NAME)"},
        "may_start": {"type": "boolean", "description": "whether the caller may start it (POST /cases)"},
        "start_messages": {"type": "array", "items": {"type": "string"},
                           "description": "messages that start a case (POST /messages/{name})"}}},
    "Form": {"type": ["object", "null"], "properties": {
        "name": {"type": "string"}, "schema": OBJ, "ui_schema": OBJ}},
    "Task": {"type": "object", "properties": {
        "id": {"type": "string"}, "case_id": {"type": "integer"}, "process_id": {"type": "string"},
        "element_id": {"type": "string"}, "title": {"type": "string"}, "name": {"type": "string"},
        "title_zh": {"type": "string", "description": "the title in Chinese, when the process gives one"},
        "detail": {"type": "string", "description": "which item a multi-instance task is for"},
        "case_title": {"type": "string"},
        "customer": {"type": "string"}, "lane": {"type": ["string", "null"]},
        "department": {"type": ["string", "null"]}, "assignee": {"type": ["string", "null"]},
        "owners": {"type": "array", "items": {"type": "string"},
                   "description": "who may work a task no department works: the usernames its lane's "
                                  "lane_owners entry lists, else the person who started the case"},
        "form": {}, "priority": {"type": "integer"}, "due_at": {"type": ["string", "null"]},
        "created_at": {"type": "string"}}},
    "Case": {"type": "object", "properties": {
        "id": {"type": "integer"}, "process_id": {"type": "string"}, "process_name": {"type": "string"},
        "process_name_zh": {"type": "string"},
        "version": {"type": "integer"}, "version_hash": {"type": "string"}, "title": {"type": "string"},
        "customer": {"type": "string"}, "customer_code": {"type": ["string", "null"]},
        "status": {"enum": ["running", "completed", "error", "cancelled"]},
        "outcome": {"type": "string"}, "error": {"type": "string"}, "data": OBJ,
        "created_at": {"type": "string"}, "updated_at": {"type": "string"},
        "completed_at": {"type": ["string", "null"]},
        "open_tasks": {"type": "array", "items": _ref("Task")},
        "integrity_failed": {"type": "boolean", "description": "its last scheduled verification failed (lists)"}}},
    "UnmatchedMessage": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "payload": OBJ, "correlation": OBJ,
        "received_at": {"type": "string"}, "actor": {"type": "string"}}},
    "Event": {"type": "object", "properties": {
        "seq": {"type": "integer"}, "type": {"type": "string"}, "at": {"type": "string"},
        "actor": {"type": "string"}, "task_id": {"type": ["string", "null"]},
        "element_id": {"type": ["string", "null"]}, "data": OBJ, "hash": {"type": "string"},
        "changes": {"type": "object", "description": "variable → {before, after}; a side is absent when unset",
                    "additionalProperties": {"type": "object", "properties": {"before": {}, "after": {}}}}}},
    "Verdict": {"type": "object", "required": ["case_id", "ok", "event_count", "first_broken_seq", "code", "reason",
                                               "checkpoint_coverage", "checkpoint"],
                "properties": {
                    "case_id": {"type": "integer"}, "ok": {"type": "boolean"}, "event_count": {"type": "integer"},
                    "first_broken_seq": {"type": ["integer", "null"],
                                         "description": "null when it verifies, or when the failure names no event "
                                                        "(code checkpoint_invalid)"},
                    "code": {"type": "string", "description": "empty when the history verifies"},
                    "reason": {"type": "string"},
                    "checkpoint_coverage": {
                        "enum": ["covered", "not_covered", "no_key", "invalid"],
                        "description": "covered: checked against the case's head in the latest signed checkpoint "
                                       "covering it (checkpoint); not_covered: no checkpoint covers the case yet; "
                                       "no_key: the server has no key to check checkpoints with; invalid: the "
                                       "checkpoint covering the case does not verify"},
                    "checkpoint": {"oneOf": [{"type": "null"}, {
                        "type": "object", "required": ["number", "created_at", "event_count", "last_event_hash"],
                        "properties": {"number": {"type": "integer"},
                                       "created_at": {"type": "string", "description": "as signed (UTC)"},
                                       "event_count": {"type": "integer"},
                                       "last_event_hash": {"type": "string"}}}]}}},
}


def openapi_document() -> dict:
    """Built per call from constants: cheap, and never stale against a cached copy."""
    # Acting on a task answers as reading its case does: one the caller may not read is not found.
    refusals = {"403": _json(_ref("Error"), "The caller reads the task's case but may not work the task"),
                "404": _json(_ref("Error"), "No such task, or the task of a case the caller may not read")}
    task_ok = {"200": _json(_ref("Task"), "The task"), **refusals}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ServiceFlow API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**SCHEMAS, **MODEL_SCHEMAS, **MIGRATION_SCHEMAS},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/openapi.json": {"get": {**_op("This document", {"200": _json(OBJ, "OpenAPI document")}, errors=()),
                                      "security": []}},
            "/processes": {"get": _op("Published processes", {
                "200": _json({"type": "array", "items": _ref("Process")}, "Processes")})},
            "/cases": {
                "get": _op("List cases", {"200": _json({"type": "object", "properties": {
                    "total": {"type": "integer"}, "cases": {"type": "array", "items": _ref("Case")}}}, "Cases")},
                    params=[_query("status"), _query("process"), _query("customer"), _query("q"), *PAGING,
                            *CASE_SEARCH],
                    errors=("401", "422")),
                "post": _op("Start a case", {"201": _json(_ref("Case"), "The new case")},
                            body={"type": "object", "required": ["process"], "properties": {
                                "process": TEXT, "data": DATA}},
                            errors=("401", "403", "404", "422")),
            },
            "/cases/{case_id}": {"get": _op("One case", {"200": _json(_ref("Case"), "The case")},
                                            params=[CASE_ID], errors=("401", "404"))},
            "/cases/{case_id}/events": {"get": _op("Case history", {"200": _json({
                "type": "object", "properties": {
                    "events": {"type": "array", "items": _ref("Event")},
                    "chain_intact": {"type": "boolean"},
                    "first_broken_seq": {"type": ["integer", "null"]}}}, "Events")},
                params=[CASE_ID], errors=("401", "404"))},
            "/cases/{case_id}/comments": {"post": _op(
                "Comment on a case (readers of the case, auditors excepted)",
                {"201": _json(_ref("Event"), "The recorded comment_added event")}, params=[CASE_ID],
                body={"type": "object", "required": ["text"], "properties": {"text": not_blank(4000)}},
                errors=("401", "403", "404", "409", "422"))},
            "/cases/{case_id}/retry": {"post": _op(
                "Run the failed step of a case in error again (administrators)",
                {"200": _json(_ref("Case"), "The case after the retry (in error again if the step failed again)")},
                params=[CASE_ID], errors=("401", "403", "404", "409"))},
            "/cases/{case_id}/cancel": {"post": _op(
                "Cancel a running case or one in error, giving the reason (administrators)",
                {"200": _json(_ref("Case"), "The cancelled case")}, params=[CASE_ID],
                body={"type": "object", "required": ["reason"], "properties": {"reason": not_blank(2000)}},
                errors=("401", "403", "404", "409", "422"))},
            "/cases/{case_id}/pack": {"get": _op(
                "The case's audit pack: events, the signed checkpoint with the inclusion proof of the case's head "
                "(and its RFC 3161 timestamp, checkpoint.tsr, when a TSA stamped it), the pinned version's files, "
                "the printable records and a manifest of SHA-256 digests; "
                "verify it offline with serviceflow audit verify --pack", {
                    "200": {"description": "A zip file", "content": {"application/zip": {
                        "schema": {"type": "string", "format": "binary"}}}}},
                params=[CASE_ID], errors=("401", "404"))},
            "/cases/{case_id}/verify": {"get": _op(
                "Verify the case's history: chain, case row, data and stored state, and the case's head in the "
                "latest signed checkpoint covering it", {"200": _json(
                    _ref("Verdict"), "The verdict: the first broken event and why, or ok")},
                params=[CASE_ID], errors=("401", "404"))},
            "/cases/{case_id}/replay": {"get": _op("Case replayed from its recorded inputs", {"200": _json({
                "type": "object", "required": ["case_id", "identical", "steps", "divergence"], "properties": {
                    "case_id": {"type": "integer"}, "identical": {"type": "boolean"},
                    "steps": {"type": "integer"},
                    "divergence": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                        "step": {"type": "integer"}, "seq": {"type": ["integer", "null"]},
                        "what": {"type": "string"}, "recorded": {}, "replayed": {}}}]}}}, "Verdict")},
                params=[CASE_ID], errors=("401", "403", "404"))},
            "/inbox": {"get": _op("My open tasks", {"200": _json({"type": "array", "items": _ref("Task")}, "Tasks")},
                                  params=PAGING, errors=("401", "422"))},
            "/tasks/{task_id}": {"get": _op("One open task", {"200": _json({"type": "object", "properties": {
                "task": _ref("Task"), "form": _ref("Form"), "prefill": OBJ, "may_complete": {"type": "boolean"},
                "case_id": {"type": "integer"},
                "instructions": {"type": "string", "description": "the task's instructionsForEndUser as safe HTML"},
                "instructions_error": {"type": "string", "description": "why the instructions could not be shown"},
                "signals": {"type": "array", "description": "manual signals the task offers (POST .../signal)",
                            "items": {"type": "object", "properties": {
                                "name": {"type": "string"}, "label": {"type": "string"}}}}}}, "Task and form")},
                params=[TASK_ID], errors=("401", "404", "409"))},
            "/tasks/{task_id}/signal": {"post": _op("Send one of the task's manual signals",
                                                    {"200": _json(_ref("Case"), "The case after"), **refusals},
                                                    params=[TASK_ID],
                                                    body={"type": "object", "required": ["signal"],
                                                          "properties": {"signal": {**TEXT, "minLength": 1}}},
                                                    errors=("401", "403", "404", "409", "422"))},
            "/tasks/{task_id}/claim": {"post": _op("Claim", task_ok, params=[TASK_ID],
                                                   errors=("401", "403", "404", "409"))},
            "/tasks/{task_id}/release": {"post": _op("Release", task_ok, params=[TASK_ID],
                                                     errors=("401", "403", "404", "409"))},
            "/tasks/{task_id}/assign": {"post": _op("Assign to a colleague", task_ok, params=[TASK_ID],
                                                    body={"type": "object", "required": ["username"],
                                                          "properties": {"username": TEXT}},
                                                    errors=("401", "403", "404", "409", "422"))},
            "/messages/{name}": {"post": _op(
                "Deliver a message to the case waiting for it, or start a case with it",
                {"200": _json(_ref("Case"), "The waiting case, after the message; or the case this same start "
                                            "message (same correlation values and payload) started before"),
                 "201": _json(_ref("Case"), "The case the message started"),
                 "403": _json(_ref("Error"), "The event receiving it does not name the caller among its "
                                             "allowedSenders (details.allowed_senders); nothing was stored"),
                 "404": _json(_ref("Error"), "Nothing matched; the message was kept (details.unmatched_id)")},
                params=[_path_param("name", {**TEXT, "minLength": 1, "maxLength": MAX_NAME})],
                body={"type": "object", "properties": {
                    "payload": DATA,
                    "correlation": {**DATA, "description": "correlation property id -> value; for a "
                                    "start message, the sender's record keys: sent again, it starts no second "
                                    "case (409 when the payload differs)"}}},
                errors=("401", "409", "422"))},
            "/messages/unmatched": {"get": _op("Messages that matched nothing (administrators)", {
                "200": _json({"type": "array", "items": _ref("UnmatchedMessage")}, "Kept messages")},
                params=PAGING, errors=("401", "403", "422"))},
            "/customers": {"get": _op("The Customer List (department staff, administrators, auditors)", {
                "200": _json({"type": "array", "items": _ref("Customer")}, "Customers")},
                params=[_query("q")], errors=("401", "403", "422"))},
            "/tasks/{task_id}/complete": {"post": _op("Complete", {"200": _json(_ref("Case"), "The case after"),
                                                                   **refusals},
                                                      params=[TASK_ID],
                                                      body={"type": "object", "properties": {"data": DATA}},
                                                      errors=("401", "403", "404", "409", "422"))},
            "/audit/xes": {"get": _op("The event log in XES, IEEE 1849 (auditors, administrators, process owners)", {
                "200": {"description": "XES document, streamed",
                        "content": {"application/xml": {"schema": {"type": "string"}}}}},
                params=LOG_FILTER, errors=("401", "403", "422"))},
            "/audit/ocel": {"get": _op("The event log in OCEL 2.0 JSON (auditors, administrators, process owners)", {
                "200": _json({"type": "object", "required": ["events", "objects", "objectTypes", "eventTypes"],
                              "properties": {"events": {"type": "array"}, "objects": {"type": "array"},
                                             "objectTypes": {"type": "array"}, "eventTypes": {"type": "array"}}},
                             "OCEL 2.0 document, streamed")},
                params=LOG_FILTER, errors=("401", "403", "422"))},
            **MODEL_PATHS,
            **MIGRATION_PATHS,
        },
    }
