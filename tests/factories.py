"""Shared test data builders: valid form data from a JSON Schema, and shortcuts over services."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from engine.context import EngineContext
from engine.services import cases, tasks, work_items
from engine.services.actors import Actor
from engine.services.users import find_actor
from engine.time import clock


class MovableClock:
    """The engine clock as a test sets it: naive UTC, moved by assignment, never by sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def clock_at(start: datetime) -> Iterator[MovableClock]:
    """The engine clock set to ``start`` for the block, moved by the test; the system's again after."""
    movable = MovableClock(start)
    clock.set_clock(movable)
    try:
        yield movable
    finally:
        clock.set_clock(None)


def sample_value(schema: dict, rng: random.Random) -> Any:
    """A value that satisfies ``schema``, varied by ``rng`` so walks explore different branches."""
    if "const" in schema:
        return schema["const"]
    if "oneOf" in schema:
        return sample_value(rng.choice(schema["oneOf"]), rng)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 100)
        return rng.randint(int(low), int(high)) if kind == "integer" else float(rng.randint(int(low), int(high)))
    if kind == "array":
        items = schema.get("items", {})
        count = max(schema.get("minItems", 1), 1)
        if "enum" in items or "oneOf" in items:
            options = [o.get("const") for o in items["oneOf"]] if "oneOf" in items else items["enum"]
            return options[: max(count, 1)]
        return [sample_value(items, rng) for _ in range(count)]
    if kind == "object":
        return sample_object(schema, rng)
    if schema.get("format") == "date":
        return (date(2026, 11, 25) + timedelta(days=rng.randint(0, 30))).isoformat()
    text = f"sample {rng.randint(1, 999)}"
    return text[: schema.get("maxLength", 200)].ljust(schema.get("minLength", 0), "x")


def sample_object(schema: dict, rng: random.Random) -> dict:
    return {name: sample_value(prop, rng) for name, prop in schema.get("properties", {}).items()}


def actor(ctx: EngineContext, username: str) -> Actor:
    return find_actor(ctx, username)


def open_task(ctx: EngineContext, case_id: int, title: str | None = None) -> work_items.WorkItemView:
    """The single open task of a case (optionally the one with ``title``)."""
    view = cases.get_case(ctx, actor(ctx, "auditor1"), case_id)
    found = [t for t in view.open_tasks if title is None or t.title == title]
    assert len(found) == 1, f"expected one open task {title!r}, found {[t.title for t in view.open_tasks]}"
    return found[0]


def complete(ctx: EngineContext, username: str, case_id: int, title: str, data: dict) -> cases.CaseView:
    """Complete the case's open task called ``title`` as ``username``."""
    task = open_task(ctx, case_id, title)
    return tasks.complete_task(ctx, actor(ctx, username), task.id, data)


SCRIPT_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="test">
  <bpmn:process id="{pid}" name="{pid}" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_sales" name="sales">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>before</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>script</bpmn:flowNodeRef><bpmn:flowNodeRef>after</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="before" name="Before">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:scriptTask id="script" name="Compute" scriptFormat="python">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="after" name="After">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="Done"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="before" />
    <bpmn:sequenceFlow id="f2" sourceRef="before" targetRef="script" />
    <bpmn:sequenceFlow id="f3" sourceRef="script" targetRef="after" />
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def script_process(process_id: str, script: str):  # type: ignore[no-untyped-def]
    """A bundle: two form-less sales tasks around one script task running ``script``."""
    from xml.sax.saxutils import escape

    from engine.definitions.catalog import ProcessBundle

    xml = SCRIPT_PROCESS.format(pid=process_id, script=escape(script))
    return ProcessBundle(process_id=process_id, name=process_id, files={f"workflows/{process_id}.bpmn": xml})
