"""The event log in XES (IEEE 1849-2016), written as a stream: one trace per case carrying the
case's attributes, one event per recorded event with the standard extensions' keys
(``concept:name``, ``time:timestamp``, ``lifecycle:transition``, ``org:resource``, ``org:group``),
so that ProM, pm4py or Celonis open it without a mapping step. lxml's incremental writer escapes
every value, so case data typed by anyone still yields well-formed XML."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from engine.audit.event_log import LogCase, LogEvent, iso_utc

NS = "http://www.xes-standard.org/"
EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)
EPOCH = "1970-01-01T00:00:00.000+00:00"
# What XML 1.0 cannot carry (control characters, lone surrogates): JSON data may hold it.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _tag(name: str) -> str:
    return f"{{{NS}}}{name}"


def _attr(parent: etree._Element, kind: str, key: str, value: Any) -> None:
    text = str(value).lower() if kind == "boolean" else NOT_XML.sub("\ufffd", str(value))
    etree.SubElement(parent, _tag(kind), key=key, value=text)


def _trace(case: LogCase) -> etree._Element:
    trace = etree.Element(_tag("trace"), nsmap={None: NS})
    _attr(trace, "string", "concept:name", str(case.id))
    _attr(trace, "string", "process", case.process_id)
    _attr(trace, "string", "process_name", case.process_name)
    _attr(trace, "int", "version", case.version)
    _attr(trace, "string", "title", case.title)
    _attr(trace, "string", "customer", case.customer)
    _attr(trace, "string", "status", case.status)
    _attr(trace, "string", "outcome", case.outcome)
    _attr(trace, "date", "started", iso_utc(case.created_at))
    for event in case.events:
        trace.append(_event(event))
    return trace


def _event(event: LogEvent) -> etree._Element:
    element = etree.Element(_tag("event"))
    _attr(element, "string", "concept:name", event.activity)
    _attr(element, "date", "time:timestamp", iso_utc(event.at))
    _attr(element, "string", "lifecycle:transition", event.transition)
    _attr(element, "string", "org:resource", event.resource)
    if event.group:
        _attr(element, "string", "org:group", event.group)
    _attr(element, "string", "event_type", event.type)
    _attr(element, "int", "seq", event.seq)
    if event.element_id:
        _attr(element, "string", "element", event.element_id)
    _attr(element, "string", "hash", event.hash)
    return element


def _head(xf: Any) -> None:
    for name, prefix, uri in EXTENSIONS:
        xf.write(etree.Element(_tag("extension"), name=name, prefix=prefix, uri=uri, nsmap={None: NS}))
    trace_globals = etree.Element(_tag("global"), scope="trace", nsmap={None: NS})
    _attr(trace_globals, "string", "concept:name", "UNKNOWN")
    event_globals = etree.Element(_tag("global"), scope="event", nsmap={None: NS})
    _attr(event_globals, "string", "concept:name", "UNKNOWN")
    _attr(event_globals, "date", "time:timestamp", EPOCH)
    _attr(event_globals, "string", "lifecycle:transition", "complete")
    _attr(event_globals, "string", "org:resource", "UNKNOWN")
    xf.write(trace_globals)
    xf.write(event_globals)
    xf.write(etree.Element(_tag("classifier"), name="Activity", keys="concept:name", nsmap={None: NS}))
    xf.write(etree.Element(_tag("classifier"), name="Activity and transition",
                           keys="concept:name lifecycle:transition", nsmap={None: NS}))
    name = etree.Element(_tag("string"), key="concept:name", value="ServiceFlow event log", nsmap={None: NS})
    xf.write(name)


def xes_chunks(cases: Iterator[LogCase]) -> Iterator[bytes]:
    """The document in pieces of about a trace each, for a file or a streamed response."""
    buffer = io.BytesIO()

    def drain() -> bytes:
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return data

    with etree.xmlfile(buffer, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(_tag("log"), {"xes.version": "1849-2016", "xes.features": "nested-attributes"},
                        nsmap={None: NS}):
            _head(xf)
            yield drain()
            for case in cases:
                xf.write(_trace(case))
                yield drain()
    yield drain()
