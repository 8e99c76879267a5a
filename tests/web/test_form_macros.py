"""The form macros render accessible fields, keep what the user typed and show errors in place."""

from __future__ import annotations

import json
from pathlib import Path

import lxml.html
import pytest
from jinja2 import Environment, FileSystemLoader

from engine.definitions.forms import FormDefinition, coerce_form_post

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
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
        "customer": {"type": "string", "title": "Customer", "maxLength": 100, "pattern": "^[^<>]*$"},
        "received_on": {"type": "string", "format": "date", "title": "Received on"},
        "category": {
            "type": "string", "title": "Category",
            "oneOf": [{"const": key, "title": title} for key, title in CATEGORIES.items()],
        },
        "description": {"type": "string", "title": "Description of the feedback",
                        "description": "What the customer reported, in their words."},
        "priority": {"type": "integer", "title": "Priority", "minimum": 1, "maximum": 5, "default": 3},
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
        "case_ref": {"type": "string"},
    },
}
UI = {
    "ui:order": ["customer", "received_on", "category", "*", "actions"],
    "description": {"ui:widget": "textarea", "ui:placeholder": "e.g. noise from spindle"},
    "priority": {"ui:help": "1 = highest"},
    "case_ref": {"ui:widget": "hidden"},
    "actions": {"items": {"action": {"ui:widget": "textarea"}}},
}
FILLED = {
    "customer": "Acme Tools", "received_on": "2024-03-05", "category": "repair",
    "description": "Spindle noise\nsecond line", "priority": 2, "urgent": True, "case_ref": "C-17",
    "actions": [
        {"action": "Replace bearing", "owner_department": "tech", "due_date": "2024-03-20"},
        {"action": "Call customer", "owner_department": "sales", "due_date": "2024-03-07"},
    ],
}


def render(call: str, autoescape: bool = False, babel: bool = False,
           **context: object) -> lxml.html.HtmlElement:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=autoescape)
    if babel:  # what Flask-Babel installs: new-style gettext, which %-formats every msgid
        env.add_extension("jinja2.ext.i18n")
        env.install_gettext_callables(lambda s: s, lambda s, p, n: s, newstyle=True)  # type: ignore[attr-defined]
    else:
        env.globals["_"] = lambda s: s
    source = '{% from "forms/_macros.html" import render_form, render_values %}<form>' + call + "</form>"
    return lxml.html.fromstring(env.from_string(source).render(**context))


def form_html(data: dict | None = None, errors: dict | None = None, ui: dict | None = None,
              **kw: object) -> lxml.html.HtmlElement:
    return render("{{ render_form(schema, ui, data, errors, prefix) }}", schema=SCHEMA,
                  ui=UI if ui is None else ui, data=data or {}, errors=errors or {},
                  prefix=kw.pop("prefix", ""), **kw)


def field(doc: lxml.html.HtmlElement, path: str) -> lxml.html.HtmlElement:
    (wrapper,) = doc.xpath(f'//*[@data-field="{path}"][not(ancestor::template or ancestor::dl)]')
    return wrapper


def control(doc: lxml.html.HtmlElement, path: str) -> lxml.html.HtmlElement:
    wrapper = field(doc, path)
    (label,) = wrapper.xpath("./label")
    (target,) = doc.xpath(f'//*[@id="{label.get("for")}"]')
    return target


def test_every_field_has_a_label_title_and_required_marker() -> None:
    doc = form_html()
    expected = {"customer": ("Customer", True), "received_on": ("Received on", True),
                "category": ("Category", True), "description": ("Description of the feedback", True),
                "priority": ("Priority", False), "urgent": ("Urgent", False)}
    for path, (title, required) in expected.items():
        (label,) = field(doc, path).xpath("./label")
        assert label.text == title
        assert bool(label.xpath('./span[@class="required"]')) is required
        assert control(doc, path).get("name") == path
        assert (control(doc, path).get("required") is not None) is required
    legend = field(doc, "actions").xpath("./legend")[0]
    assert legend.text_content() == "Corrective actions*"


def test_fields_follow_ui_order_with_star_for_the_rest() -> None:
    doc = form_html()
    paths = [el.get("data-field") for el in doc.xpath('//div[@data-form]/*[@data-field]')]
    assert paths == ["customer", "received_on", "category", "description", "priority", "urgent",
                     "case_ref", "actions"]


def test_widgets_match_schema_types() -> None:
    doc = form_html()
    customer = control(doc, "customer")
    assert (customer.get("type"), customer.get("maxlength")) == ("text", "100")
    assert customer.get("pattern") == "^[^<>]*$"
    assert control(doc, "received_on").get("type") == "date"
    description = control(doc, "description")
    assert description.tag == "textarea" and description.get("placeholder") == "e.g. noise from spindle"
    priority = control(doc, "priority")
    assert [priority.get(a) for a in ("type", "min", "max", "step")] == ["number", "1", "5", "1"]
    assert control(doc, "urgent").get("type") == "checkbox"
    hidden = doc.xpath('//input[@data-field="case_ref"]')[0]
    assert (hidden.get("type"), hidden.get("name")) == ("hidden", "case_ref")


def test_one_of_renders_a_select_with_titles() -> None:
    select = control(form_html({"category": "cleaning"}), "category")
    options = [(o.get("value"), o.text) for o in select.xpath("./option")]
    assert options[0] == ("", "Choose…")
    assert options[1:] == list(CATEGORIES.items())
    assert select.xpath("./option[@selected]/@value") == ["cleaning"]


def test_radio_widget_renders_one_radio_per_choice() -> None:
    doc = form_html({"category": "return"}, ui={"category": {"ui:widget": "radio"}})
    radios = field(doc, "category").xpath('.//input[@type="radio"]')
    assert [r.get("value") for r in radios] == list(CATEGORIES)
    assert [r.get("value") for r in radios if r.get("checked") is not None] == ["return"]
    assert control(doc, "category") is radios[0]


@pytest.mark.parametrize(("widget", "xpath"), [("radio", ".//label[@class='field-option']/input"),
                                                ("select", ".//select/option[@value!='']")])
def test_boolean_as_yes_no_radios_or_select_posts_back(widget: str, xpath: str) -> None:
    doc = form_html({"urgent": False}, ui={"urgent": {"ui:widget": widget}})
    choices = field(doc, "urgent").xpath(xpath)
    labels = [(c if c.tag == "option" else c.getparent()).text_content().strip() for c in choices]
    assert labels == ["Yes", "No"]
    assert control(doc, "urgent").get("name") == "urgent"
    form = FormDefinition.from_json("feedback.json", json.dumps(SCHEMA))
    for choice, expected in zip(choices, (True, False), strict=True):
        assert coerce_form_post(form, [("urgent", choice.get("value"))])["urgent"] is expected


def test_help_text_is_linked_to_its_input() -> None:
    doc = form_html()
    help_el = field(doc, "priority").xpath('./p[@class="field-help"]')[0]
    assert help_el.text == "1 = highest"
    assert control(doc, "priority").get("aria-describedby") == help_el.get("id")
    assert field(doc, "description").xpath('./p[@class="field-help"]')[0].text.startswith("What the")


def test_empty_array_with_min_items_shows_one_row_and_a_template() -> None:
    doc = form_html()
    rows = field(doc, "actions").xpath('./div[@data-array-rows]/div[@data-array-row]')
    assert len(rows) == 1
    names = [el.get("name") for el in rows[0].xpath(".//textarea|.//input|.//select")]
    assert names == ["actions[0][action]", "actions[0][owner_department]", "actions[0][due_date]"]
    owner = control(doc, "actions.0.owner_department")
    assert [o.get("value") for o in owner.xpath("./option")] == ["", "sales", "qc", "tech", "production"]
    template_names = doc.xpath("//template[@data-array-template]//*[@name]/@name")
    assert template_names == ["actions[__i__][action]", "actions[__i__][owner_department]",
                              "actions[__i__][due_date]"]
    assert doc.xpath('//fieldset[@data-array]/button[@data-array-add]')[0].text == "Add row"


def test_filled_values_are_shown() -> None:
    doc = form_html(FILLED)
    assert control(doc, "customer").get("value") == "Acme Tools"
    assert control(doc, "received_on").get("value") == "2024-03-05"
    assert control(doc, "description").text == "Spindle noise\nsecond line"
    assert control(doc, "priority").get("value") == "2"
    assert control(doc, "urgent").get("checked") is not None
    assert len(field(doc, "actions").xpath(".//div[@data-array-rows]/div[@data-array-row]")) == 2
    assert control(doc, "actions.1.action").text == "Call customer"
    assert control(doc, "actions.1.owner_department").xpath("./option[@selected]/@value") == ["sales"]
    assert control(doc, "actions.1.due_date").get("value") == "2024-03-07"


def test_schema_defaults_only_on_a_first_render() -> None:
    assert control(form_html(), "priority").get("value") == "3"
    assert control(form_html({"customer": "Acme"}), "priority").get("value") == ""


def test_errors_sit_beside_their_field_and_typed_values_survive() -> None:
    data = {**FILLED, "priority": "two", "received_on": "05/03/2024"}
    errors = {"": ["Someone else completed this task."], "priority": ["Must be a whole number."],
              "received_on": ["Must be a date (YYYY-MM-DD)."], "customer": ["This field is required."],
              "actions.1.due_date": ["Must be a date (YYYY-MM-DD)."]}
    doc = form_html(data, errors)
    top = doc.xpath("//form/*")[0]
    assert top.get("class") == "form-errors" and top.text_content() == "Someone else completed this task."
    for path in ("priority", "received_on", "customer", "actions.1.due_date"):
        wrapper, target = field(doc, path), control(doc, path)
        message = target.getnext()
        assert message.get("class") == "field-error" and message.getparent() is wrapper
        assert message.text_content() == errors[path][0]
        assert target.get("aria-invalid") == "true"
        assert message.get("id") in target.get("aria-describedby").split()
    assert control(doc, "priority").get("value") == "two"
    assert control(doc, "priority").get("type") == "text"  # type=number would blank out "two"
    assert control(doc, "received_on").get("value") == "05/03/2024"
    assert control(doc, "actions.0.due_date").get("aria-invalid") is None
    assert control(doc, "priority").get("aria-describedby").split()[0].endswith("-help")


def test_array_level_error_is_shown_in_the_fieldset() -> None:
    doc = form_html({"actions": []}, {"actions": ["Must have at least 1 entry."]})
    fieldset = field(doc, "actions")
    (message,) = fieldset.xpath('./p[@class="field-error"]')
    assert message.text_content() == "Must have at least 1 entry."
    assert fieldset.get("aria-invalid") == "true"


def test_prefix_makes_ids_unique_without_changing_names() -> None:
    doc = form_html(prefix="task7-")
    customer = control(doc, "customer")
    assert customer.get("id") == "task7-f-customer" and customer.get("name") == "customer"


@pytest.mark.parametrize(("autoescape", "babel"), [(False, False), (True, False), (True, True)])
def test_values_and_titles_are_escaped_whatever_the_environment(autoescape: bool, babel: bool) -> None:
    schema = {"type": "object", "properties": {"note": {"type": "string", "title": "A <b>& co"},
                                               "done": {"type": "integer", "title": "Done %"}}}
    source = ("{{ render_form(schema, {}, data, {'note': ['<i>bad</i>']}) }}"
              "{{ render_values(schema, {}, data) }}")
    doc = render(source, autoescape=autoescape, babel=babel, schema=schema,
                 data={"note": '"><script>x()</script>'})
    assert not doc.xpath("//script|//b|//i")
    assert control(doc, "note").get("value") == '"><script>x()</script>'
    assert field(doc, "note").xpath("./label")[0].text == "A <b>& co"
    assert field(doc, "done").xpath("./label")[0].text == "Done %"
    assert doc.xpath("//dt")[0].text == "A <b>& co"
    assert doc.xpath('//p[@class="field-error"]')[0].text_content() == "<i>bad</i>"


def test_rendered_form_posts_back_to_the_same_data() -> None:
    doc = form_html(FILLED)
    form = FormDefinition.from_json("feedback.json", json.dumps(SCHEMA))
    assert coerce_form_post(form, list(doc.form_values())) == FILLED


def test_render_values_shows_titles_yes_no_and_a_table() -> None:
    doc = render("{{ render_values(schema, ui, data) }}", schema=SCHEMA, ui=UI,
                 data={**FILLED, "priority": None})

    def value(path: str) -> str:
        return doc.xpath(f'//div[@data-field="{path}"]/dd')[0].text_content().strip()
    assert value("category") == "Repair request"
    assert value("urgent") == "Yes"
    assert value("priority") == "—"
    assert doc.xpath('//div[@data-field="customer"]/dt')[0].text == "Customer"
    assert not doc.xpath('//*[@data-field="case_ref"]')
    table = doc.xpath('//div[@data-field="actions"]//table')[0]
    assert [th.text for th in table.xpath(".//th")] == ["Action", "Owner department", "Due date"]
    rows = [[td.text_content() for td in tr.xpath("./td")] for tr in table.xpath(".//tbody/tr")]
    assert rows == [["Replace bearing", "tech", "2024-03-20"], ["Call customer", "sales", "2024-03-07"]]
