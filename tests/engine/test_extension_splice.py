"""A saved BPMN keeps the original bytes of the extension and loop elements the editor only
passed through, and the editor's text of everything it changed."""

from __future__ import annotations

from engine.definitions.extension_splice import keep_unchanged_extensions

PATH = "workflows/demo.bpmn"
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
        ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
        ' id="defs">\n')
CAMUNDA = '<camunda:properties>\n  <camunda:property name="owner" value=\'quality\'/></camunda:properties>'
ZEEBE = '<zeebe:taskHeaders><zeebe:header key="a" value="x > y" /></zeebe:taskHeaders>'
UNIT_TEST = ('<spiffworkflow:unitTests><spiffworkflow:unitTest id="t1">'
             '<spiffworkflow:inputJson>{"year": 2026}</spiffworkflow:inputJson>'
             '</spiffworkflow:unitTest></spiffworkflow:unitTests>')
LOOP = ('<bpmn:multiInstanceLoopCharacteristics isSequential="false" spiffworkflow:scriptsOnInstances="true">'
        '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef></bpmn:multiInstanceLoopCharacteristics>')
ORIGINAL = HEAD + f"""  <bpmn:process id="p" isExecutable="true">
    <bpmn:userTask id="Task_A" name="Check">
      <bpmn:extensionElements>{CAMUNDA}
        {ZEEBE}
        {UNIT_TEST}
      </bpmn:extensionElements>
      {LOOP}
    </bpmn:userTask>
  </bpmn:process>
</bpmn:definitions>
"""
# what bpmn-js writes back for it after the task was renamed: re-indented, quotes escaped,
# attributes in its own quoting, the loop's default isSequential dropped
SAVED = HEAD + """  <bpmn:process id="p" isExecutable="true">
    <bpmn:userTask id="Task_A" name="Check again">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="owner" value="quality" />
        </camunda:properties>
        <zeebe:taskHeaders>
          <zeebe:header key="a" value="x &gt; y" />
        </zeebe:taskHeaders>
        <spiffworkflow:unitTests>
          <spiffworkflow:unitTest id="t1">
            <spiffworkflow:inputJson>{&#34;year&#34;: 2026}</spiffworkflow:inputJson>
          </spiffworkflow:unitTest>
        </spiffworkflow:unitTests>
        <spiffworkflow:preScript>x = 1</spiffworkflow:preScript>
      </bpmn:extensionElements>
      <bpmn:multiInstanceLoopCharacteristics spiffworkflow:scriptsOnInstances="true">
        <bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
  </bpmn:process>
</bpmn:definitions>
"""


def test_unchanged_extension_elements_and_loops_keep_their_original_bytes() -> None:
    kept = keep_unchanged_extensions(ORIGINAL, SAVED, PATH)
    for original in (CAMUNDA, ZEEBE, UNIT_TEST, LOOP):
        assert original in kept
    assert 'name="Check again"' in kept  # the edit itself is the editor's
    assert "<spiffworkflow:preScript>x = 1</spiffworkflow:preScript>" in kept  # and what it added


def test_a_changed_extension_element_keeps_the_editors_text() -> None:
    changed = SAVED.replace('value="quality"', 'value="production"').replace("<bpmn:loopDataInputRef>items<",
                                                                             "<bpmn:loopDataInputRef>rows<")
    kept = keep_unchanged_extensions(ORIGINAL, changed, PATH)
    assert CAMUNDA not in kept and '<camunda:property name="owner" value="production" />' in kept
    assert LOOP not in kept and "<bpmn:loopDataInputRef>rows</bpmn:loopDataInputRef>" in kept
    assert ZEEBE in kept and UNIT_TEST in kept


def test_an_element_whose_prefix_means_something_else_in_the_new_file_is_not_spliced() -> None:
    renamed = SAVED.replace('xmlns:camunda="http://camunda.org/schema/1.0/bpmn"',
                            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:c="http://camunda.org/schema/1.0/bpmn"')
    renamed = renamed.replace("camunda:prop", "c:prop").replace(
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" ', "", 1)
    kept = keep_unchanged_extensions(ORIGINAL, renamed, PATH)
    assert CAMUNDA not in kept and "<c:properties>" in kept


def test_a_file_that_does_not_parse_is_returned_as_saved() -> None:
    assert keep_unchanged_extensions(ORIGINAL, "<bpmn:definitions", PATH) == "<bpmn:definitions"
    assert keep_unchanged_extensions("not xml", SAVED, PATH) == SAVED
