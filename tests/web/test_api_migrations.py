"""Case migration through the API, on both backends: a batch dry run on a mix of movable and
unmovable cases, a migrated case run to its end through the API on the new version, the revert,
and the roles and fields refused."""

from __future__ import annotations

import pytest

from tests.factories import complete
from tests.migration_bundles import CHECK, CONFIRM, PROCESS_ID, WRITE, publish_version, start


@pytest.fixture
def mixed(ctx):  # type: ignore[no-untyped-def]
    publish_version(ctx, 1)
    at_write, at_check = start(ctx).id, start(ctx).id
    complete(ctx, "sales1", at_check, WRITE, {})
    publish_version(ctx, 2)
    return at_write, at_check


def _batch(dry_run: bool, **selection) -> dict:  # type: ignore[no-untyped-def]
    return {"process": PROCESS_ID, "to_version": 2, "dry_run": dry_run, **selection}


def _task(api, case_id: int, title: str) -> str:  # type: ignore[no-untyped-def]
    tasks = api.get(f"/cases/{case_id}", as_="sales1").json["open_tasks"]
    return next(t["id"] for t in tasks if t["title"] == title)


def test_a_batch_dry_run_then_migration_moves_only_the_movable_case_which_runs_to_its_end(api, mixed) -> None:  # type: ignore[no-untyped-def]
    at_write, at_check = mixed
    dry = api.post("/migrations", _batch(True, filter={"version": 1}), as_="owner1")
    assert dry.status_code == 200, dry.json
    verdicts = {v["case_id"]: v for v in dry.json["cases"]}
    assert set(verdicts) == {at_write, at_check} and dry.json["migration_id"] is None
    assert verdicts[at_check]["can_migrate"] and not verdicts[at_write]["can_migrate"]
    assert "Task_Write" in verdicts[at_write]["reason"]

    run = api.post("/migrations", _batch(False, cases=[at_write, at_check]), as_="admin1")
    assert run.status_code == 201, run.json
    assert {(v["case_id"], v["migrated"]) for v in run.json["cases"]} == {(at_write, False), (at_check, True)}
    shown = api.get(f"/migrations/{run.json['migration_id']}", as_="owner1").json
    assert {(c["case_id"], c["status"]) for c in shown["cases"]} == {(at_write, "not_migrated"), (at_check, "migrated")}
    events = api.get(f"/cases/{at_check}/events", as_="auditor1").json
    assert events["chain_intact"] and events["events"][-1]["type"] == "case_migrated"

    for title in (CHECK, CONFIRM):
        done = api.post(f"/tasks/{_task(api, at_check, title)}/complete", {"data": {}}, as_="sales1")
        assert done.status_code == 200, done.json
    assert (done.json["status"], done.json["version"]) == ("completed", 2)
    reverted = api.post(f"/migrations/{run.json['migration_id']}/revert", None, as_="owner1")
    assert reverted.status_code == 200
    assert reverted.json["cases"][0]["reverted"] is False
    assert "task_completed" in reverted.json["cases"][0]["reason"]


def test_a_revert_through_the_api_puts_the_case_back(api, mixed) -> None:  # type: ignore[no-untyped-def]
    _, at_check = mixed
    run = api.post("/migrations", _batch(False, cases=[at_check]), as_="owner1").json
    reverted = api.post(f"/migrations/{run['migration_id']}/revert", None, as_="owner1")
    assert reverted.json["cases"] == [{"case_id": at_check, "reverted": True, "reason": "Back on version 1"}]
    assert api.get(f"/cases/{at_check}", as_="sales1").json["version"] == 1


@pytest.mark.parametrize("username", ["auditor1", "sales1", "reviewer1"])
def test_only_owners_and_administrators_may_migrate_or_read_a_migration(api, mixed, username: str) -> None:  # type: ignore[no-untyped-def]
    run = api.post("/migrations", _batch(False, cases=[mixed[1]]), as_="owner1").json
    assert api.post("/migrations", _batch(True, cases=[mixed[1]]), as_=username).status_code == 403
    assert api.get(f"/migrations/{run['migration_id']}", as_=username).status_code == 403
    assert api.post(f"/migrations/{run['migration_id']}/revert", None, as_=username).status_code == 403
    assert api.get(f"/cases/{mixed[1]}", as_="sales1").json["version"] == 2


def test_bad_fields_are_named(api, mixed) -> None:  # type: ignore[no-untyped-def]
    bad_id = api.post("/migrations", _batch(True, cases=[mixed[0], "two"]), as_="owner1")
    assert bad_id.status_code == 422 and "cases[1]" in bad_id.json["details"]
    no_version = api.post("/migrations", {**_batch(True, cases=[mixed[0]]), "to_version": 9}, as_="owner1")
    assert no_version.status_code == 404 and "to_version" in no_version.json["details"]
    bad_filter = api.post("/migrations", _batch(True, filter={"started_before": "yesterday"}), as_="owner1")
    assert bad_filter.status_code == 422 and "filter.started_before" in bad_filter.json["details"]
    assert api.get("/migrations/999", as_="owner1").status_code == 404
