"""Moving running cases to a newer version and back, on both backends: the dry run's verdicts on
a mix of cases, a moved case running to its end on the new version with its inbox row, timer and
history right, a revert restoring the stored state exactly and refused once the case moved on,
and who may do it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.audit import verify
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.persistence.models import Case, CaseEvent, CaseState, CaseTask, WorkItem
from engine.services import cases, migrations
from tests.factories import actor, complete, open_task
from tests.migration_bundles import CHECK, CONFIRM, PROCESS_ID, WRITE, publish_version, start


def _request(case_ids: list[int], dry_run: bool) -> migrations.MigrationRequest:
    return migrations.read_request({"process": PROCESS_ID, "to_version": 2, "cases": case_ids, "dry_run": dry_run})


def _stored(ctx, case_id: int) -> tuple:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        rows = sorted(tuple(r) for r in uow.session.execute(
            select(CaseTask.task_id, CaseTask.workflow_key, CaseTask.state).where(CaseTask.case_id == case_id)))
        case = uow.session.get(Case, case_id)
        return uow.session.get(CaseState, case_id).state, rows, case.process_version_id, case.next_due_at


@pytest.fixture
def two_versions(ctx):  # type: ignore[no-untyped-def]
    """A case still at "Write" and two at "Check" on version 1, then version 2 published."""
    v1 = publish_version(ctx, 1)
    at_write = start(ctx)
    at_check = [start(ctx).id for _ in range(2)]
    for case_id in at_check:
        complete(ctx, "sales1", case_id, WRITE, {})
    v2 = publish_version(ctx, 2)
    return v1, v2, at_write.id, *at_check


def test_a_dry_run_says_which_cases_can_move_and_why_not_and_changes_nothing(ctx, two_versions) -> None:  # type: ignore[no-untyped-def]
    _, _, at_write, at_check, _ = two_versions
    before = [_stored(ctx, at_write), _stored(ctx, at_check)]
    result = migrations.migrate_cases(ctx, actor(ctx, "owner1"), _request([at_write, at_check], dry_run=True))
    verdicts = {v.case_id: v for v in result.cases}
    assert result.dry_run and result.migration_id is None
    assert verdicts[at_check].can_migrate and not verdicts[at_check].migrated
    assert not verdicts[at_write].can_migrate
    assert "Task_Write" in verdicts[at_write].reason and "changed in version 2" in verdicts[at_write].reason
    assert [_stored(ctx, at_write), _stored(ctx, at_check)] == before


def test_a_filter_selects_open_cases_by_waiting_element(ctx, two_versions) -> None:  # type: ignore[no-untyped-def]
    _, _, at_write, at_check, other = two_versions
    request = migrations.read_request({"process": PROCESS_ID, "to_version": 2, "dry_run": True,
                                       "filter": {"version": 1, "status": "running", "waiting_at": "Task_Check"}})
    result = migrations.migrate_cases(ctx, actor(ctx, "admin1"), request)
    assert [(v.case_id, v.can_migrate) for v in result.cases] == [(at_check, True), (other, True)]


def test_a_migrated_case_keeps_its_task_and_timer_and_runs_to_its_end_on_the_new_version(ctx, two_versions) -> None:  # type: ignore[no-untyped-def]
    _, v2, at_write, at_check, _ = two_versions
    task_before = open_task(ctx, at_check, CHECK)
    due_before = _stored(ctx, at_check)[3]
    result = migrations.migrate_cases(ctx, actor(ctx, "owner1"), _request([at_write, at_check], dry_run=False))
    assert {(v.case_id, v.migrated) for v in result.cases} == {(at_write, False), (at_check, True)}
    assert _stored(ctx, at_write)[2] != v2
    _, _, version_id, due_after = _stored(ctx, at_check)
    assert version_id == v2 and due_after == due_before is not None
    assert open_task(ctx, at_check, CHECK).id == task_before.id
    events, broken = cases.case_events(ctx, actor(ctx, "auditor1"), at_check)
    migrated = events[-1]
    assert broken is None and migrated.type == "case_migrated"
    assert migrated.data == {"migration_id": result.migration_id, "from_version_id": two_versions[0],
                             "to_version_id": v2, "from_version": 1, "to_version": 2,
                             "verdict": "Every open task of the case exists unchanged in version 2"}
    with ctx.unit_of_work(readonly=True) as uow:
        event = uow.session.scalars(select(CaseEvent).where(CaseEvent.case_id == at_check)
                                    .order_by(CaseEvent.seq.desc())).first()
        assert event.version_hash == uow.session.get(Case, at_check).version.content_hash
    complete(ctx, "sales1", at_check, CHECK, {})
    done = complete(ctx, "sales1", at_check, CONFIRM, {})
    assert done.status == "completed" and done.version == 2
    with ctx.unit_of_work(readonly=True) as uow:
        assert uow.session.scalars(select(WorkItem).where(WorkItem.case_id == at_check)).all() == []
        assert verify.verify_case(uow.session, at_check).ok


def test_a_revert_restores_the_stored_state_exactly_and_is_refused_after_a_later_step(ctx, two_versions) -> None:  # type: ignore[no-untyped-def]
    _, _, _, at_check, other_id = two_versions
    before = _stored(ctx, at_check)
    owner = actor(ctx, "owner1")
    result = migrations.migrate_cases(ctx, owner, _request([at_check, other_id], dry_run=False))
    assert all(v.migrated for v in result.cases)
    complete(ctx, "sales1", other_id, CHECK, {})  # the other case moves on
    view = migrations.get_migration(ctx, owner, result.migration_id)
    assert {(i.case_id, i.may_revert) for i in view.cases} == {(at_check, True), (other_id, False)}
    reverted = migrations.revert_migration(ctx, owner, result.migration_id)
    outcome = {o.case_id: o for o in reverted.cases}
    assert outcome[at_check].reverted
    assert not outcome[other_id].reverted and "task_completed" in outcome[other_id].reason
    assert _stored(ctx, at_check) == before
    events, broken = cases.case_events(ctx, owner, at_check)
    assert broken is None and [e.type for e in events[-2:]] == ["case_migrated", "migration_reverted"]
    assert cases.get_case(ctx, owner, other_id).version == 2
    done = complete(ctx, "sales1", at_check, CHECK, {})
    assert done.status == "completed" and done.version == 1
    again = migrations.revert_migration(ctx, owner, result.migration_id)
    assert {(o.case_id, o.reverted) for o in again.cases} == {(at_check, False), (other_id, False)}


@pytest.mark.parametrize("username", ["sales1", "auditor1", "reviewer1", "gm1"])
def test_only_process_owners_and_administrators_migrate(ctx, two_versions, username: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        migrations.migrate_cases(ctx, actor(ctx, username), _request([two_versions[3]], dry_run=True))


@pytest.mark.parametrize(("body", "field"), [
    ({"to_version": 2, "cases": [1]}, "process"),
    ({"process": PROCESS_ID, "to_version": "2", "cases": [1]}, "to_version"),
    ({"process": PROCESS_ID, "to_version": 2}, "cases"),
    ({"process": PROCESS_ID, "to_version": 2, "cases": [1], "filter": {}}, "cases"),
    ({"process": PROCESS_ID, "to_version": 2, "cases": [1, "x"]}, "cases[1]"),
    ({"process": PROCESS_ID, "to_version": 2, "filter": {"colour": "red"}}, "filter.colour"),
    ({"process": PROCESS_ID, "to_version": 2, "filter": {"started_before": "soon"}}, "filter.started_before"),
    ({"process": PROCESS_ID, "to_version": 2, "filter": {"status": "completed"}}, "filter.status"),
    ({"process": PROCESS_ID, "to_version": 2, "cases": [1], "dry_run": "yes"}, "dry_run"),
])
def test_a_bad_request_is_refused_naming_its_field(body: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        migrations.read_request(body)
    assert field in refused.value.details


def test_a_target_or_case_that_does_not_exist_is_not_found_naming_its_field(ctx, two_versions) -> None:  # type: ignore[no-untyped-def]
    owner = actor(ctx, "owner1")
    for body, field in (({"process": PROCESS_ID, "to_version": 7, "cases": [two_versions[3]]}, "to_version"),
                        ({"process": "no_such_process", "to_version": 2, "cases": [1]}, "process"),
                        ({"process": PROCESS_ID, "to_version": 2, "cases": [999999]}, "cases[0]")):
        with pytest.raises(NotFound) as refused:
            migrations.migrate_cases(ctx, owner, migrations.read_request(body))
        assert field in refused.value.details
