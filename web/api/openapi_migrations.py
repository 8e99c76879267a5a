"""The OpenAPI paths and schemas of case migration (web/api/migrations.py)."""

from __future__ import annotations

from engine.services.migrations import FILTER_FIELDS, MAX_CASE_ID, MAX_CASES, MAX_INT, OPEN_STATUSES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


STRING = {"type": "string"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000]*$"}
INT = {"type": "integer"}
MIGRATION_ID = {"name": "migration_id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT}}


def _errors(*codes: str) -> dict:
    texts = {"401": "Missing or invalid token", "403": "Only process owners and administrators migrate cases",
             "404": "No such migration, process, version or case (details names the field)",
             "422": "Invalid input; details names the field",
             "400": "The body is not valid JSON", "413": "The body is larger than the server accepts"}
    return {c: _json(_ref("Error"), texts[c]) for c in codes}


MIGRATION_SCHEMAS: dict = {
    "MigrationRequest": {"type": "object", "required": ["process", "to_version"], "oneOf": [
        {"required": ["cases"], "not": {"required": ["filter"]}},
        {"required": ["filter"], "not": {"required": ["cases"]}}], "properties": {
        "process": {**TEXT, "maxLength": 120},
        "to_version": {"type": "integer", "minimum": 1, "maximum": MAX_INT,
                       "description": "the number of a published (or superseded) version of the process, newer "
                                      "than the cases' own"},
        "cases": {"type": "array", "minItems": 1, "maxItems": MAX_CASES,
                  "items": {"type": "integer", "minimum": 1, "maximum": MAX_CASE_ID},
                  "description": "case ids; or give filter"},
        "filter": {"type": "object", "additionalProperties": False, "description": (
            f"open cases of the process not on the target ({', '.join(FILTER_FIELDS)}); at most {MAX_CASES}"),
            "properties": {
                "version": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
                "status": {"enum": list(OPEN_STATUSES)},
                "waiting_at": {**TEXT, "description": "an element id the case is at"},
                "started_before": {"anyOf": [{**STRING, "format": "date"}, {**STRING, "format": "date-time"}],
                                   "description": "a date (YYYY-MM-DD) or an ISO 8601 date-time"},
                "customer": TEXT}},
        "dry_run": {"type": "boolean", "default": True,
                    "description": "true (the default): judge each case and change nothing"}}},
    "MigrationResult": {"type": "object", "properties": {
        "dry_run": {"type": "boolean"}, "process": STRING, "to_version": INT,
        "migration_id": {"type": ["integer", "null"]},
        "cases": {"type": "array", "items": {"type": "object", "properties": {
            "case_id": INT, "can_migrate": {"type": "boolean"}, "reason": STRING,
            "migrated": {"type": "boolean"}, "from_version": {"type": ["integer", "null"]}}}}}},
    "Migration": {"type": "object", "properties": {
        "id": INT, "process": STRING, "to_version": INT, "actor": STRING, "created_at": STRING,
        "selection": {"type": "object"}, "reverted_at": {"type": ["string", "null"]}, "reverted_by": STRING,
        "cases": {"type": "array", "items": {"type": "object", "properties": {
            "case_id": INT, "status": {"enum": ["migrated", "not_migrated", "reverted"]}, "reason": STRING,
            "from_version": INT, "may_revert": {"type": "boolean"}}}}}},
    "RevertResult": {"type": "object", "properties": {
        "migration_id": INT, "cases": {"type": "array", "items": {"type": "object", "properties": {
            "case_id": INT, "reverted": {"type": "boolean"}, "reason": STRING}}}}},
}

MIGRATION_PATHS: dict = {
    "/migrations": {"post": {
        "summary": "Judge (dry run) or move running cases to another version of their process",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("MigrationRequest")}}},
        "responses": {"200": _json(_ref("MigrationResult"), "A dry run: each case's verdict, nothing changed"),
                      "201": _json(_ref("MigrationResult"), "The migration, recorded, with each case's result"),
                      **_errors("400", "401", "403", "404", "413", "422")}}},
    "/migrations/{migration_id}": {"get": {
        "summary": "A migration and its cases", "parameters": [MIGRATION_ID],
        "responses": {"200": _json(_ref("Migration"), "The migration"), **_errors("401", "403", "404")}}},
    "/migrations/{migration_id}/revert": {"post": {
        "summary": "Move a migration's cases back, each while nothing has happened in it since",
        "parameters": [MIGRATION_ID],
        "responses": {"200": _json(_ref("RevertResult"), "Each case's outcome"), **_errors("401", "403", "404")}}},
}
