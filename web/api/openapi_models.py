"""The OpenAPI paths and schemas of the process-model operations (web/api/models.py)."""

from __future__ import annotations

from engine.definitions.bundle_zip import FIELD, MAX_BUNDLE_BYTES
from engine.services.model_diff import MAX_ID
from engine.services.models import MAX_NOTE


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


STRING = {"type": "string"}
NOTE = {"type": "string", "maxLength": MAX_NOTE, "pattern": "^[^\\u0000]*$"}
MODEL_ID = {"name": "model_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
ERROR = _ref("Error")

MODEL_SCHEMAS: dict = {
    "Problem": {"type": "object", "required": ["element_id", "file", "severity", "message"], "properties": {
        "element_id": {**STRING, "description": "the BPMN/DMN element's id; empty for the whole file"},
        "file": STRING, "severity": {"enum": ["error", "warning"]}, "message": STRING}},
    "Model": {"type": "object", "properties": {
        "id": {"type": "integer"}, "process_id": STRING, "name": STRING,
        "name_zh": {**STRING, "description": "the process's name in Chinese (its name:zh property), if given"},
        "label": STRING,
        "status": {"enum": ["draft", "submitted", "reviewed", "approved", "published", "superseded"]},
        "change_note": STRING, "files": {"type": "object", "additionalProperties": STRING},
        "problems": {"type": "array", "items": _ref("Problem")},
        "signoffs": {"type": "array", "items": {"type": "object", "properties": {
            "step": STRING, "actor": STRING, "display_name": STRING, "at": STRING, "comment": STRING}}},
        "revision_record": {"type": "array", "items": {"type": "object"}},
        "distribution": {"type": "array", "items": STRING}, "source": STRING, "created_by": STRING,
        "created_at": STRING, "next_steps": {"type": "array", "items": STRING}}},
    "VersionRef": {"type": "object", "properties": {
        "id": {"type": "integer"}, "process_id": STRING, "name": STRING, "version": {"type": "integer"},
        "label": STRING, "status": STRING}},
    "ModelDiff": {"type": "object", "required": ["before", "after", "entries"], "properties": {
        "before": {**_ref("VersionRef"), "description": "the version compared with (against)"},
        "after": {**_ref("VersionRef"), "description": "the version asked about"},
        "entries": {"type": "array", "items": {"type": "object", "required": [
            "file", "element_id", "element_type", "name", "kind", "changes"], "properties": {
            "file": STRING, "element_id": {**STRING, "description": "BPMN/DMN element id or form field path; "
                                                                   "empty for a whole file or form"},
            "element_type": {**STRING, "description": "the BPMN/DMN element's tag (userTask, sequenceFlow, "
                                                      "decision rule, ...), form field, field layout or file"},
            "name": STRING, "kind": {"enum": ["added", "removed", "changed"]},
            "changes": {"type": "array", "items": {"type": "object", "properties": {
                "attribute": STRING, "before": STRING, "after": STRING}}}}}}}},
    "ProcessVersions": {"type": "object", "properties": {
        "process_id": STRING, "name": STRING, "name_zh": STRING,
        "versions": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "label": STRING, "status": STRING, "change_note": STRING,
            "source": STRING, "created_by": STRING, "created_at": STRING,
            "published_at": {"type": ["string", "null"]}}}}}},
}


def _errors(*codes: str) -> dict:
    texts = {"401": "Missing or invalid token", "403": "The caller's role may not take this step",
             "404": "No such model", "409": "Out of order, or the version has validation errors "
             "(details.problems)", "422": "Invalid input; details names the field",
             "400": "The body is not valid JSON", "413": "The body is larger than the server accepts"}
    return {c: _json(ERROR, texts[c]) for c in codes}


def _step(summary: str, body: dict) -> dict:
    return {"post": {"summary": summary, "parameters": [MODEL_ID],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                     "responses": {"200": _json(_ref("Model"), "The version after the step"),
                                   **_errors("400", "401", "403", "404", "409", "413", "422")}}}


NOTE_BODY = {"type": "object", "properties": {"note": NOTE}}

MODEL_PATHS: dict = {
    "/models": {"post": {
        "summary": "Upload a bundle (zip of BPMN, DMN, decision tests and forms) as a new draft",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [FIELD], "properties": {
                FIELD: {"type": "string", "format": "binary",
                        "description": f"a zip of at most {MAX_BUNDLE_BYTES // 1024 // 1024} MiB"},
                "change_note": NOTE}}}}},
        "responses": {"201": _json(_ref("Model"), "The draft, with its problems"),
                      "422": _json({"type": "object", "properties": {"error": STRING, "details": {
                          "type": ["object", "null"], "properties": {
                              "problems": {"type": "array", "items": _ref("Problem")}}}}},
                          "The bundle cannot be read, or cannot be parsed as one process (details.problems)"),
                      **_errors("400", "401", "403", "413")}}},
    "/models/{model_id}": {"get": {"summary": "A draft or version", "parameters": [MODEL_ID],
                                   "responses": {"200": _json(_ref("Model"), "The version"),
                                                 **_errors("401", "403", "404")}}},
    "/models/{model_id}/diff": {"get": {
        "summary": "What a version does differently from another version of the same process",
        "parameters": [MODEL_ID, {"name": "against", "in": "query", "required": True,
                                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                                  "description": "the version to compare with (the one before)"}],
        "responses": {"200": _json(_ref("ModelDiff"), "Elements, flows, rules and form fields added, removed "
                                                      "or changed"),
                      "409": _json(ERROR, "The two versions are of different processes (details.against)"),
                      "422": _json(ERROR, "against is missing or not a whole number (details.against)"),
                      **_errors("401", "403", "404")}}},
    "/models/{model_id}/export": {"get": {
        "summary": "The version's files as a zip", "parameters": [MODEL_ID],
        "responses": {"200": {"description": "The zip", "content": {"application/zip": {
            "schema": {"type": "string", "format": "binary"}}}}, **_errors("401", "403", "404")}}},
    "/models/{model_id}/distribution": {"put": {
        "summary": "Replace a draft's distribution list (process owner): the departments told when it is published",
        "parameters": [MODEL_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["distribution"], "properties": {
                "distribution": {"type": "array", "items": STRING,
                                 "description": "department ids from the department list"}}}}}},
        "responses": {"200": _json(_ref("Model"), "The draft with its new list"),
                      **_errors("400", "401", "403", "404", "409", "413", "422")}}},
    "/models/{model_id}/submit": _step("Submit a draft for review (process owner)", NOTE_BODY),
    "/models/{model_id}/review": _step("Sign the review (Quality Assurance)", NOTE_BODY),
    "/models/{model_id}/approve": _step("Sign the approval (management)", NOTE_BODY),
    "/models/{model_id}/publish": _step("Put an approved version in force (management)", NOTE_BODY),
    "/models/{model_id}/reject": _step("Send back to draft with a comment (reviewer or management)", {
        "type": "object", "required": ["comment"], "properties": {"comment": {**NOTE, "minLength": 1}}}),
    "/processes/{process_id}/versions": {"get": {
        "summary": "A process's versions, newest first",
        "parameters": [{"name": "process_id", "in": "path", "required": True, "schema": STRING}],
        "responses": {"200": _json(_ref("ProcessVersions"), "Its versions"), **_errors("401", "403", "404")}}},
}
