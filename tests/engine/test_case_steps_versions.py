"""The step-through of a case moved to another version shows each step on the diagrams of the
version the case was on after it: the steps before the move on the old version's, the move and
what followed on the new one's; a revert puts the steps after it back on the old version. On
SQLite and PostgreSQL."""

from __future__ import annotations

import html
import json
import re

from engine.services import migrations, replay
from tests.factories import actor, complete
from tests.migration_bundles import CHECK, CONFIRM, PROCESS_ID, WRITE, publish_version, start

FILE = f"workflows/{PROCESS_ID}.bpmn"


def _migrated(ctx) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A case written on version 1, moved to version 2 at "Check", then run to its end there;
    the id of the migration too."""
    publish_version(ctx, 1)
    case = start(ctx)
    complete(ctx, "sales1", case.id, WRITE, {})
    publish_version(ctx, 2)
    moved = migrations.migrate_cases(ctx, actor(ctx, "owner1"), migrations.read_request(
        {"process": PROCESS_ID, "to_version": 2, "cases": [case.id], "dry_run": False}))
    assert [v.migrated for v in moved.cases] == [True]
    return case.id, moved.migration_id


def test_the_steps_before_a_migration_are_on_the_diagrams_of_the_version_the_case_was_on(ctx):
    case_id, _ = _migrated(ctx)
    complete(ctx, "sales1", case_id, CHECK, {})
    complete(ctx, "sales1", case_id, CONFIRM, {})
    found = replay.case_steps(ctx, actor(ctx, "sales1"), case_id)
    assert found.divergence is None
    v1, v2 = found.versions
    assert (v1.version, v1.label, v2.version, v2.label) == (1, "A0", 2, "A1")
    by_hash = {v.content_hash: v.version for v in found.versions}
    assert [(s.type, by_hash[s.version_hash]) for s in found.snapshots] == [
        ("case_started", 1), ("task_completed", 1), ("case_migrated", 2), ("task_completed", 2),
        ("task_completed", 2)]
    assert found.current is v2
    assert "Task_Confirm" not in v1.diagrams[FILE] and "Task_Confirm" in v2.diagrams[FILE]
    assert v1.names[FILE]["Task_Write"] == WRITE and v2.names[FILE]["Task_Confirm"] == CONFIRM
    assert v1.main_file == v2.main_file == FILE


def test_after_a_revert_the_steps_are_back_on_the_old_versions_diagrams(ctx):
    case_id, migration_id = _migrated(ctx)
    migrations.revert_migration(ctx, actor(ctx, "owner1"), migration_id)
    found = replay.case_steps(ctx, actor(ctx, "sales1"), case_id)
    assert found.divergence is None
    by_hash = {v.content_hash: v.version for v in found.versions}
    assert [by_hash[s.version_hash] for s in found.snapshots] == [1, 1, 2, 1]
    assert found.current.version == 1 and [v.version for v in found.versions] == [1, 2]


def test_the_history_page_carries_each_version_with_a_switch_and_each_step_names_its_version(app, ctx):
    from tests.web.test_pages import login

    case_id, _ = _migrated(ctx)
    page = login(app, "sales1").get(f"/cases/{case_id}/history").text
    steps = json.loads(html.unescape(re.search(r"data-steps='(.*?)'", page, re.S).group(1)))
    assert [(s["version"], s["version_label"]) for s in steps] == [
        (1, "Version 1 (A0)"), (1, "Version 1 (A0)"), (2, "Version 2 (A1)")]
    diagrams = json.loads(html.unescape(re.search(r"data-versions='(.*?)'", page, re.S).group(1)))
    assert sorted(diagrams) == ["1", "2"] and diagrams["1"]["main"] == FILE
    assert re.search(r'data-version-switch="1" aria-pressed="false">Version 1 \(A0\)</button>', page)
    assert re.search(r'data-version-switch="2" aria-pressed="true">Version 2 \(A1\)</button>', page)
    assert '<div class="case-steps-version" data-version="1" hidden>' in page
    assert '<div class="case-steps-version" data-version="2">' in page
    chinese = login(app, "sales1")
    chinese.post("/language", data={"locale": "zh", "next": "/"})
    assert "版本 1（A0）" in chinese.get(f"/cases/{case_id}/history").text
