"""Who a version's distribution list names by default: the departments whose lanes the process
has (they work it, so they are told when a new version is in force), and how a draft's list
follows its diagrams as they change without undoing what the process owner chose by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.definitions import bpmn_xml
from engine.definitions.catalog import WORKFLOW_PREFIX
from engine.errors import InvalidDefinition


def lane_departments(files: Mapping[str, str], departments: frozenset[str]) -> list[str]:
    """The known departments named by the lanes of a bundle's BPMN files (files that do not parse
    name none: validation reports them)."""
    found: set[str] = set()
    for path, text in files.items():
        if path.startswith(WORKFLOW_PREFIX) and path.endswith(".bpmn"):
            try:
                root = bpmn_xml.parse_xml(text, path)
            except InvalidDefinition:
                continue
            found |= {lane.get("name", "") for lane in root.iterfind(".//bpmn:lane", bpmn_xml.NS)}
    return sorted(found & departments)


def follow_lanes(current: Iterable[str], lanes_before: Iterable[str], lanes_now: Iterable[str]) -> list[str]:
    """A draft's list after its diagrams changed: a department whose lane was added joins, one
    whose lane is gone leaves, and every choice the owner made about the other departments
    (added by hand, or a lane department taken off) stays."""
    before, now = set(lanes_before), set(lanes_now)
    return sorted((set(current) - (before - now)) | (now - before))
