"""Process versions: bundles, hashes and the refusal of malformed or malicious definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions.catalog import ProcessBundle, ProcessCatalog, bundles_from_directory, parse_bundle
from engine.errors import InvalidDefinition

ROOT = Path(__file__).resolve().parents[2]

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
  <bpmn:process id="p" name="P" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="ask" name="Ask">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    {extra}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
FORM = '{"type": "object", "properties": {"x": {"type": "string"}}}'


def bundle(bpmn: str, forms: dict[str, str] | None = None) -> ProcessBundle:
    files = {"workflows/p.bpmn": bpmn}
    files.update({f"forms/{k}": v for k, v in (forms or {"a.schema.json": FORM}).items()})
    return ProcessBundle(process_id="p", name="P", files=files)


def test_a_valid_bundle_parses_with_its_user_task_and_form():
    parsed = parse_bundle(bundle(BPMN.format(form="a.schema.json", extra="")))
    assert parsed.user_tasks["ask"].title == "Ask"
    assert parsed.form_for("ask").schema["properties"]["x"]["type"] == "string"


def test_the_content_hash_changes_with_any_file_and_only_then():
    one = bundle(BPMN.format(form="a.schema.json", extra=""))
    same = bundle(BPMN.format(form="a.schema.json", extra=""))
    other_form = bundle(BPMN.format(form="a.schema.json", extra=""), {"a.schema.json": FORM.replace("x", "y")})
    assert one.content_hash == same.content_hash
    assert one.content_hash != other_form.content_hash


def test_a_missing_form_is_refused_naming_the_user_task():
    with pytest.raises(InvalidDefinition, match="userTask id='ask'.*'missing.schema.json'"):
        parse_bundle(bundle(BPMN.format(form="missing.schema.json", extra="")))


def test_an_element_bpmn_does_not_know_is_refused_naming_it():
    extra = '<bpmn:bogusTask id="weird_one" name="Weird" />'
    with pytest.raises(InvalidDefinition, match="line"):
        parse_bundle(bundle(BPMN.format(form="a.schema.json", extra=extra)))


def test_a_flow_to_a_missing_element_is_refused_naming_the_flow():
    dangling = BPMN.format(form="a.schema.json", extra="").replace(
        'id="f2" sourceRef="ask" targetRef="end"', 'id="f2" sourceRef="ask" targetRef="nowhere"'
    )
    with pytest.raises(InvalidDefinition, match="nowhere"):
        parse_bundle(bundle(dangling))


def test_a_condition_that_does_not_compile_is_refused_naming_the_flow():
    bad = BPMN.format(form="a.schema.json", extra="").replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="end" />',
        '<bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="end">'
        '<bpmn:conditionExpression>x ==</bpmn:conditionExpression></bpmn:sequenceFlow>',
    )
    with pytest.raises(InvalidDefinition, match="bpmn:sequenceFlow id='f2'"):
        parse_bundle(bundle(bad))


def test_a_script_that_tries_to_escape_the_sandbox_is_refused_at_publish_naming_the_task():
    from tests.factories import script_process

    escape = script_process("escaping", "x = ().__class__.__base__.__subclasses__()")
    with pytest.raises(InvalidDefinition, match="bpmn:scriptTask id='script' name='Compute'.*__class__"):
        parse_bundle(escape)


def test_entity_expansion_is_refused_before_parsing():
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol2;</bpmn:definitions>'
    )
    with pytest.raises(InvalidDefinition, match="DOCTYPE"):
        parse_bundle(bundle(laughs))


def test_external_entities_are_refused():
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>'
    )
    with pytest.raises(InvalidDefinition, match="p.bpmn: DOCTYPE"):
        parse_bundle(bundle(xxe))


def test_xml_that_is_not_well_formed_is_refused_with_its_line():
    with pytest.raises(InvalidDefinition, match=r"not well-formed XML \(line"):
        parse_bundle(bundle("<bpmn:definitions>\n<oops></bpmn:definitions>"))


def test_the_catalog_parses_a_version_once():
    calls = []
    target = bundle(BPMN.format(form="a.schema.json", extra=""))

    def load():
        calls.append(1)
        return target

    catalog = ProcessCatalog()
    first = catalog.get(target.content_hash, load)
    assert catalog.get(target.content_hash, load) is first
    assert calls == [1]


def test_bundles_from_the_workflows_directory_carry_only_the_forms_they_use():
    for found in bundles_from_directory(ROOT / "workflows", ROOT / "forms"):
        parsed = parse_bundle(found)
        used = {t.form for t in parsed.user_tasks.values() if t.form}
        schemas = {p.removeprefix("forms/") for p in found.files if p.endswith(".schema.json")}
        assert schemas == used


@pytest.mark.parametrize(
    ("category", "route"), [("quality", "capa"), ("calibration", "onsite"), ("other", "complaint")]
)
def test_dmn_cells_route_through_the_catalog_whether_or_not_in_cells_have_a_leading_space(category, route):
    from engine.sandbox.environment import make_script_engine
    from engine.spiff.runtime import CaseRuntime

    data_dir = Path(__file__).parent / "data"
    dmn = (data_dir / "sandbox_routing.dmn").read_text().replace("<text> in [", "<text>in [")
    routing = ProcessBundle("sandbox_routing", "Routing", {
        "workflows/sandbox_routing.bpmn": (data_dir / "sandbox_routing.bpmn").read_text(),
        "workflows/sandbox_routing.dmn": dmn,
    })
    runtime = CaseRuntime.start(parse_bundle(routing), make_script_engine(),
                                {"raw_category": category, "serials": [], "width": 3})
    assert runtime.is_completed
    assert runtime.data["route"] == route


def test_a_task_is_laid_out_by_the_ui_schema_file_it_names_and_a_missing_one_is_refused():
    from tests import spiff_arena_models as arena

    files = arena.forms()
    parsed = parse_bundle(ProcessBundle(arena.FORMS, "Forms", files))
    assert parsed.form_for("Activity_choose").ui_schema == arena.FRUIT_UI
    assert "choose-fruit-uischema.json" not in parsed.forms  # a UI schema is not a form of its own
    del files["forms/choose-fruit-uischema.json"]
    with pytest.raises(InvalidDefinition) as refused:
        parse_bundle(ProcessBundle(arena.FORMS, "Forms", files))
    assert "id='Activity_choose'" in refused.value.message and "choose-fruit-uischema.json" in refused.value.message
