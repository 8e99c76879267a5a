"""The event log in OCEL 2.0 JSON: the case, its customer, each CAPA action, each returned lot,
each sample and each Liaison Form are objects; every event is related to its case and to the
objects its own data names (a root-cause analysis to the actions it proposed, say).

Which case data are which objects is data, ``workflows/ocel_objects.json`` beside the diagrams
(see its ``$comment``), not code: a new process names its objects there. Events are streamed as
they are read; the objects, fewer, are gathered meanwhile and written after them (JSON readers do
not care about the order of keys), and so are the types, which list the attributes seen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audit.event_log import LogCase, LogEvent, iso_utc, scalar

MAPPING_FILE = "ocel_objects.json"
CASE_TYPE = "Case"


@dataclass(frozen=True)
class Source:
    id: str
    path: str = ""
    when: str = ""
    form: str = ""
    qualifier: str = ""
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectType:
    type: str
    sources: tuple[Source, ...]


def load_mapping(workflows_dir: Path) -> list[ObjectType]:
    """The object types of ``workflows/ocel_objects.json`` (none when the file is absent)."""
    path = workflows_dir / MAPPING_FILE
    if not path.exists():
        return []
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [ObjectType(type=str(t["type"]), sources=tuple(
        Source(id=str(s["id"]), path=str(s.get("path", "")), when=str(s.get("when", "")), form=str(s.get("form", "")),
               qualifier=str(s.get("qualifier", "")), attributes=tuple(s.get("attributes", ())))
        for s in t["sources"])) for t in raw["object_types"]]


def _get(data: Any, dotted: str) -> Any:
    for part in dotted.split(".") if dotted else []:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _values(data: Any, path: str) -> Iterator[tuple[int, Any]]:
    """(position from 1, value) of what ``path`` names; ``[]`` takes each item of a list."""
    head, marker, rest = path.partition("[]")
    found = _get(data, head)
    if not marker:
        if found not in (None, "", [], {}):
            yield 1, found
        return
    if isinstance(found, list):
        for index, item in enumerate(found, start=1):
            value = _get(item, rest.lstrip(".")) if rest else item
            if value not in (None, "", [], {}):
                yield index, value


@dataclass
class FoundObject:
    id: str
    type: str
    qualifier: str
    attributes: dict[str, Any] = field(default_factory=dict)


def find_objects(mapping: list[ObjectType], case_id: int, data: dict, form: str | None = None) -> list[FoundObject]:
    """The objects ``data`` names (a case's data, or what one event carried), by the mapping."""
    found: dict[str, FoundObject] = {}
    for object_type in mapping:
        for source in object_type.sources:
            if source.form:
                hits = [(1, data)] if form == source.form else []
            else:
                if source.when and not _get(data, source.when):
                    continue
                hits = list(_values(data, source.path))
            for index, value in hits:
                if not scalar(value) and not isinstance(value, dict):
                    continue
                object_id = source.id.format(case=case_id, index=index, value=value if scalar(value) else index)
                attributes = {k: value[k] for k in source.attributes
                              if isinstance(value, dict) and scalar(value.get(k))}
                qualifier = source.qualifier or object_type.type.lower()
                seen = found.setdefault(object_id, FoundObject(object_id, object_type.type, qualifier))
                seen.attributes.update(attributes)
    return list(found.values())


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


class _Types:
    """Attribute names and types seen per object or event type, for ``objectTypes``/``eventTypes``."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, str]] = {}

    def note(self, type_: str, attributes: dict[str, Any]) -> None:
        known = self.seen.setdefault(type_, {})
        for name, value in attributes.items():
            known.setdefault(name, _kind(value))

    def as_json(self) -> list[dict]:
        return [{"name": name, "attributes": [{"name": a, "type": t} for a, t in sorted(attrs.items())]}
                for name, attrs in sorted(self.seen.items())]


def _case_object(case: LogCase) -> dict[str, Any]:
    return {"process": case.process_id, "version": case.version, "title": case.title, "status": case.status,
            "outcome": case.outcome}


def _event_json(case: LogCase, event: LogEvent, related: list[FoundObject]) -> dict[str, Any]:
    attributes = {"resource": event.resource, "lifecycle": event.transition, "event_type": event.type,
                  "seq": event.seq}
    if event.group:
        attributes["group"] = event.group
    return {
        "id": f"{case.id}:{event.seq}", "type": event.activity, "time": iso_utc(event.at),
        "attributes": [{"name": k, "value": v} for k, v in attributes.items()],
        "relationships": [{"objectId": f"case:{case.id}", "qualifier": "case"}]
        + [{"objectId": o.id, "qualifier": o.qualifier} for o in related],
    }


def ocel_chunks(cases: Iterator[LogCase], mapping: list[ObjectType]) -> Iterator[bytes]:
    """The document in pieces: the events first, as read; then objects and types."""
    objects: dict[str, dict[str, Any]] = {}
    object_types, event_types = _Types(), _Types()

    def remember(found: FoundObject, at: str) -> None:
        entry = objects.setdefault(found.id, {"id": found.id, "type": found.type, "attributes": {},
                                              "relationships": [], "_time": at})
        entry["attributes"].update(found.attributes)
        object_types.note(found.type, found.attributes)

    yield b'{"events": ['
    first = True
    for case in cases:
        started = iso_utc(case.created_at)
        case_id = f"case:{case.id}"
        case_attributes = _case_object(case)
        objects[case_id] = {"id": case_id, "type": CASE_TYPE, "attributes": case_attributes,
                            "relationships": [], "_time": started}
        object_types.note(CASE_TYPE, case_attributes)
        for found in find_objects(mapping, case.id, case.data):
            remember(found, started)
            objects[case_id]["relationships"].append({"objectId": found.id, "qualifier": found.qualifier})
        for event in case.events:
            related = find_objects(mapping, case.id, event.data, event.form)
            for found in related:
                remember(found, iso_utc(event.at))
            body = _event_json(case, event, related)
            event_types.note(event.activity, {a["name"]: a["value"] for a in body["attributes"]})
            yield (b"" if first else b",") + json.dumps(body, ensure_ascii=False).encode()
            first = False
    yield b'], "objects": '
    yield json.dumps([_object_json(o) for o in objects.values()], ensure_ascii=False).encode()
    yield b', "objectTypes": ' + json.dumps(object_types.as_json(), ensure_ascii=False).encode()
    yield b', "eventTypes": ' + json.dumps(event_types.as_json(), ensure_ascii=False).encode() + b"}"


def _object_json(entry: dict[str, Any]) -> dict[str, Any]:
    at = entry["_time"]
    return {"id": entry["id"], "type": entry["type"],
            "attributes": [{"name": k, "time": at, "value": v} for k, v in entry["attributes"].items()],
            "relationships": entry["relationships"]}
