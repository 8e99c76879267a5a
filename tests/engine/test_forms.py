"""Form semantics: staff-readable validation messages, HTML post coercion, schema checking."""

from __future__ import annotations

import json

import pytest

from engine.definitions import forms
from engine.definitions.forms import FormDefinition, coerce_form_post, field_labels, validate_submission
from engine.errors import InvalidDefinition

CATEGORIES = {
    "quality": "Quality problem", "repair": "Repair request", "adjustment": "Adjustment",
    "calibration": "Calibration", "cleaning": "Cleaning", "part_replacement": "Part replacement",
    "complaint": "Complaint", "return": "Return of goods",
}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Customer Service Feedback Record",
    "type": "object",
    "required": ["customer", "received_on", "category", "description", "actions"],
    "properties": {
        "customer": {"type": "string", "title": "Customer", "maxLength": 100},
        "received_on": {"type": "string", "format": "date", "title": "Received on"},
        "category": {
            "type": "string", "title": "Category",
            "oneOf": [{"const": key, "title": title} for key, title in CATEGORIES.items()],
        },
        "description": {"type": "string", "title": "Description of the feedback"},
        "priority": {"type": "integer", "title": "Priority", "minimum": 1, "maximum": 5},
        "urgent": {"type": "boolean", "title": "Urgent"},
        "actions": {
            "type": "array", "title": "Corrective actions", "minItems": 1,
            "items": {
                "type": "object",
                "required": ["action", "owner_department", "due_date"],
                "properties": {
                    "action": {"type": "string", "title": "Action"},
                    "owner_department": {"type": "string", "title": "Owner department",
                                         "enum": ["sales", "qc", "tech", "production"]},
                    "due_date": {"type": "string", "format": "date", "title": "Due date"},
                },
            },
        },
    },
}
UI = {"description": {"ui:widget": "textarea"}, "actions": {"items": {"action": {"ui:widget": "textarea"}}}}
VALID = {
    "customer": "Acme Tools", "received_on": "2024-03-05", "category": "repair",
    "description": "Spindle noise", "priority": 2, "urgent": False,
    "actions": [{"action": "Replace bearing", "owner_department": "tech", "due_date": "2024-03-20"}],
}


@pytest.fixture
def form() -> FormDefinition:
    return FormDefinition.from_json("feedback-record.schema.json", json.dumps(SCHEMA), json.dumps(UI))


def test_valid_record_has_no_errors(form: FormDefinition) -> None:
    assert validate_submission(form, VALID) == {}


def test_missing_required_fields_are_keyed_by_the_field_not_the_parent(form: FormDefinition) -> None:
    data = {**VALID, "actions": [{"action": "Call back"}]}
    del data["customer"]
    errors = validate_submission(form, data)
    assert errors == {
        "customer": ["This field is required."],
        "actions.0.owner_department": ["This field is required."],
        "actions.0.due_date": ["This field is required."],
    }


@pytest.mark.parametrize(("change", "path", "message"), [
    ({"priority": 9}, "priority", "Must be at most 5."),
    ({"priority": 0}, "priority", "Must be at least 1."),
    ({"priority": "high"}, "priority", "Must be a whole number."),
    ({"received_on": "05/03/2024"}, "received_on", "Must be a date (YYYY-MM-DD)."),
    ({"received_on": "2024-02-30"}, "received_on", "Must be a date (YYYY-MM-DD)."),
    ({"customer": "x" * 101}, "customer", "Must be at most 100 characters."),
    ({"actions": []}, "actions", "Must have at least 1 entry."),
    ({"urgent": "yes"}, "urgent", "Must be yes or no."),
])
def test_messages_are_readable_and_placed_on_the_field(
        form: FormDefinition, change: dict, path: str, message: str) -> None:
    assert validate_submission(form, {**VALID, **change}) == {path: [message]}


def test_one_of_titles_and_enum_values_are_listed(form: FormDefinition) -> None:
    row = {**VALID["actions"][0], "owner_department": "hr", "due_date": "soon"}
    errors = validate_submission(form, {**VALID, "category": "theft", "actions": [row]})
    assert errors["category"] == ["Must be one of: " + ", ".join(CATEGORIES.values()) + "."]
    assert errors["actions.0.owner_department"] == ["Must be one of: sales, qc, tech, production."]
    assert errors["actions.0.due_date"] == ["Must be a date (YYYY-MM-DD)."]


def test_form_level_errors_use_the_empty_key(form: FormDefinition) -> None:
    assert validate_submission(form, ["not", "an", "object"]) == {"": ["Must be a group of fields."]}


def test_draft07_schemas_are_accepted_and_formats_checked() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "properties": {"on": {"type": "string", "format": "date"}},
              "dependencies": {"on": ["why"]}}
    form = FormDefinition.from_json("d7.json", json.dumps(schema))
    assert validate_submission(form, {"on": "tomorrow"}) == {
        "on": ["Must be a date (YYYY-MM-DD)."], "why": ["This field is required."]}


def test_conditional_branches_report_the_closest_failure_not_one_of() -> None:
    """spiff-arena forms show extra fields with ``dependencies`` + ``oneOf`` (draft-07)."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"returned": {"type": "boolean"}},
        "dependencies": {"returned": {"oneOf": [
            {"properties": {"returned": {"const": False}}},
            {"properties": {"returned": {"const": True}, "rma": {"type": "integer"}}, "required": ["rma"]},
        ]}},
    }
    form = FormDefinition.from_json("conditional.json", json.dumps(schema))
    assert validate_submission(form, {"returned": True}) == {"rma": ["This field is required."]}
    assert validate_submission(form, {"returned": True, "rma": "x"}) == {"rma": ["Must be a whole number."]}
    assert validate_submission(form, {"returned": False}) == {}
    assert coerce_form_post(form, [("returned", "on"), ("rma", "12")]) == {"returned": True, "rma": 12}


def test_validators_are_compiled_once_per_schema(form: FormDefinition, monkeypatch) -> None:
    calls = []
    real = forms.validator_for
    monkeypatch.setattr(forms, "_VALIDATORS", {})
    monkeypatch.setattr(forms, "validator_for", lambda schema: calls.append(1) or real(schema))
    twin = FormDefinition.from_json("copy.json", json.dumps(SCHEMA))
    calls.clear()
    for _ in range(50):
        validate_submission(form, VALID)
        validate_submission(twin, {})
    assert len(calls) == 1
    assert forms._validator(form) is forms._validator(twin)


def test_form_definitions_are_hashable_by_content(form: FormDefinition) -> None:
    twin = FormDefinition.from_json("other-name.json", json.dumps(SCHEMA, indent=2))
    assert hash(form) == hash(twin) and form.digest == twin.digest
    assert form.ui_schema == UI and twin.ui_schema == {}


@pytest.mark.parametrize(("text", "problem"), [
    ('{"type": "objekt"}', "invalid JSON Schema at type"),
    ('{"properties": {"a": {"minimum": "one"}}}', "invalid JSON Schema at properties/a/minimum"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
])
def test_invalid_schema_is_rejected_naming_file_and_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        FormDefinition.from_json("broken.schema.json", text)
    assert "broken.schema.json" in caught.value.message
    assert problem in caught.value.message


def test_invalid_ui_schema_json_is_rejected() -> None:
    with pytest.raises(InvalidDefinition, match="ui.json.*not valid JSON"):
        FormDefinition.from_json("ui.json", "{}", "{")


# --- coercion ---------------------------------------------------------------------------------


def test_coerces_a_full_post_to_typed_json(form: FormDefinition) -> None:
    post = [
        ("csrf_token", "abc"), ("customer", "Acme Tools"), ("received_on", "2024-03-05"),
        ("category", "repair"), ("description", "Spindle noise"), ("priority", " 2 "),
        ("actions", ""),
        ("actions[0][action]", "Replace bearing"), ("actions[0][owner_department]", "tech"),
        ("actions[0][due_date]", "2024-03-20"), ("actions[0][surprise]", "dropped"),
    ]
    data = coerce_form_post(form, post)
    assert data == VALID
    assert validate_submission(form, data) == {}


def test_checkbox_presence_is_true_and_absence_false(form: FormDefinition) -> None:
    assert coerce_form_post(form, [("urgent", "on")])["urgent"] is True
    assert coerce_form_post(form, [("urgent", "true")])["urgent"] is True
    assert coerce_form_post(form, [])["urgent"] is False


def test_unparsable_numbers_are_kept_for_validation_to_report(form: FormDefinition) -> None:
    data = coerce_form_post(form, [("priority", "two")])
    assert data["priority"] == "two"
    assert validate_submission(form, data)["priority"] == ["Must be a whole number."]
    assert coerce_form_post(form, [("priority", "3.0")])["priority"] == 3
    assert coerce_form_post(form, [("priority", "2.5")])["priority"] == 2.5
    assert coerce_form_post(form, [("priority", "nan")])["priority"] == "nan"
    assert coerce_form_post(form, [("priority", "1_000")])["priority"] == "1_000"


def test_empty_strings_are_dropped_so_required_reports_them(form: FormDefinition) -> None:
    data = coerce_form_post(form, [("customer", "  "), ("priority", ""), ("received_on", "")])
    assert "customer" not in data and "priority" not in data and "received_on" not in data
    errors = validate_submission(form, data)
    assert errors["customer"] == ["This field is required."]
    assert "priority" not in errors


def test_array_rows_are_reindexed_in_order_and_blank_rows_dropped(form: FormDefinition) -> None:
    post = [
        ("actions", ""),
        ("actions[7][action]", "third"), ("actions[2][action]", "first"),
        ("actions[5][action]", ""), ("actions[5][due_date]", ""),
        ("actions[3][action]", "second"), ("actions[3][due_date]", "2024-13-01"),
    ]
    data = coerce_form_post(form, post)
    assert [row["action"] for row in data["actions"]] == ["first", "second", "third"]
    assert data["actions"][1] == {"action": "second", "due_date": "2024-13-01"}
    errors = validate_submission(form, data)
    assert errors["actions.1.due_date"] == ["Must be a date (YYYY-MM-DD)."]
    assert errors["actions.2.due_date"] == ["This field is required."]


def test_array_present_but_all_rows_blank_reports_min_items(form: FormDefinition) -> None:
    data = coerce_form_post(form, [("actions", ""), ("actions[0][action]", "")])
    assert data["actions"] == []
    assert validate_submission(form, data)["actions"] == ["Must have at least 1 entry."]


def test_arrays_of_enums_come_from_repeated_values() -> None:
    schema = {"type": "object", "properties": {
        "departments": {"type": "array", "uniqueItems": True,
                        "items": {"type": "string", "enum": ["sales", "qc", "tech"]}},
        "scores": {"type": "array", "items": {"type": "integer"}},
        "flags": {"type": "array", "items": {"enum": [1, 2, 3]}},
    }}
    form = FormDefinition.from_json("multi.json", json.dumps(schema))
    post = [("departments", ""), ("departments", "qc"), ("departments", "tech"),
            ("scores[1]", "7"), ("scores[0]", "4"), ("flags[]", "2"), ("flags[]", "3")]
    assert coerce_form_post(form, post) == {"departments": ["qc", "tech"], "scores": [4, 7], "flags": [2, 3]}


def test_nested_objects_local_refs_and_conditional_fields() -> None:
    schema = {
        "type": "object",
        "$defs": {"contact": {"type": "object", "properties": {"name": {"type": "string"},
                                                                "phone": {"type": "string"}}}},
        "properties": {"contact": {"$ref": "#/$defs/contact"}, "returned": {"type": "boolean"}},
        "if": {"properties": {"returned": {"const": True}}},
        "then": {"properties": {"rma": {"type": "integer"}}, "required": ["rma"]},
    }
    form = FormDefinition.from_json("nested.json", json.dumps(schema))
    data = coerce_form_post(form, [("contact[name]", "Ann"), ("returned", "on"), ("rma", "12")])
    assert data == {"contact": {"name": "Ann"}, "returned": True, "rma": 12}
    assert validate_submission(form, {"returned": True}) == {"rma": ["This field is required."]}


def test_field_labels_use_titles_and_star_for_array_items(form: FormDefinition) -> None:
    labels = field_labels(form)
    assert labels["customer"] == "Customer"
    assert labels["actions"] == "Corrective actions"
    assert labels["actions.*.due_date"] == "Due date"


def test_an_unanswered_yes_no_radio_is_reported_as_required_not_taken_as_no():
    from engine.definitions.forms import FormDefinition, coerce_form_post, validate_submission

    form = FormDefinition(
        name="q.schema.json",
        schema={"type": "object", "required": ["must_change", "agreed"],
                "properties": {"must_change": {"type": "boolean"}, "agreed": {"type": "boolean"}}},
        ui_schema={"must_change": {"ui:widget": "radio"}},
    )
    data = coerce_form_post(form, [])
    assert data == {"agreed": False}
    assert validate_submission(form, data) == {"must_change": ["This field is required."]}
    assert coerce_form_post(form, [("must_change", "false")]) == {"must_change": False, "agreed": False}


CHOICE_FROM_DATA = {"type": "object", "required": ["fruit"], "properties": {
    "fruit": {"type": "string", "title": "Fruit", "anyOf": ["options_from_task_data_var:fruits"]},
    "tags": {"type": "array", "items": {"type": "string", "anyOf": ["options_from_task_data_var:tags"]}}}}


def test_a_schema_taking_its_choices_from_task_data_is_accepted_and_filled_from_the_data():
    form = FormDefinition.from_json("fruit.schema.json", json.dumps(CHOICE_FROM_DATA))
    assert form.option_variables == {"fruits", "tags"}
    options = form.options_in({"fruits": [{"value": "apples", "label": "Apples"}, "pears", {"label": "no value"},
                                          float("nan")], "tags": "not a list"})
    assert options == {"fruits": [{"value": "apples", "label": "Apples"}, {"value": "pears", "label": "pears"}],
                       "tags": []}
    filled = form.with_options(options)
    assert filled.schema["properties"]["fruit"]["anyOf"] == [
        {"const": "apples", "title": "Apples"}, {"const": "pears", "title": "pears"}]
    assert validate_submission(filled, {"fruit": "pears"}) == {}
    assert validate_submission(filled, {"fruit": "plums"}) == {"fruit": ["Must be one of: Apples, pears."]}
    assert coerce_form_post(filled, [("fruit", "apples")]) == {"fruit": "apples"}
    # a field whose variable holds no choices offers none, so nothing can be chosen
    assert validate_submission(filled, {"fruit": "pears", "tags": ["x"]}) != {}


def test_a_form_not_yet_filled_offers_no_choice_and_its_template_is_kept():
    form = FormDefinition.from_json("fruit.schema.json", json.dumps(CHOICE_FROM_DATA))
    assert form.schema["properties"]["fruit"]["enum"] == [] and "anyOf" not in form.schema["properties"]["fruit"]
    assert form.template == CHOICE_FROM_DATA
    assert validate_submission(form, {"fruit": "apples"}) != {}
