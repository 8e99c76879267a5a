"""The step-through of a case is replayed once per state of its history, not on every view: it
is kept with the head of the verified chain it was built at (``case_steps_cache``), served again
while nothing changed, rebuilt when the history grew, and never trusted over the chain: a kept
row that does not match is ignored, and a history that does not verify is replayed every time.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import delete, select, update

from engine.audit import replay as audit_replay
from engine.persistence.models import Case, CaseEvent, CaseStepsCache, WorkItem
from engine.services import cases, replay
from tests.factories import actor, complete
from tests.integration.tamper import as_database_owner
from tests.integration.test_after_sales_paths import CONTAIN, FEEDBACK


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every replay the services run, counted (one entry per replay)."""
    real: Callable = audit_replay.replay
    counted: list[int] = []

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        counted.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(audit_replay, "replay", counting)
    return counted


def _case(ctx) -> int:  # type: ignore[no-untyped-def]
    case = cases.start_case(ctx, actor(ctx, "sales1"), "after_sales_feedback")
    complete(ctx, "sales1", case.id, "Record customer feedback", {**FEEDBACK, "category": "quality"})
    return case.id


def _view(ctx, case_id: int) -> replay.CaseSteps:  # type: ignore[no-untyped-def]
    return replay.case_steps(ctx, actor(ctx, "qc1"), case_id)


def _kept(ctx, case_id: int) -> tuple[str, int] | None:  # type: ignore[no-untyped-def]
    """The head the kept step-through was built at, and how many steps it holds."""
    with ctx.unit_of_work(readonly=True) as uow:
        row = uow.session.get(CaseStepsCache, case_id)
        return None if row is None else (row.head, len(row.steps))


def _head(ctx, case_id: int) -> str:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.get(Case, case_id).last_event_hash


def test_a_second_view_serves_the_kept_steps_without_replaying_and_a_grown_history_rebuilds_them(ctx, replays):
    case_id = _case(ctx)
    first = _view(ctx, case_id)
    assert first.replayed and len(replays) == 1
    assert _kept(ctx, case_id) == (_head(ctx, case_id), 2)
    again = _view(ctx, case_id)
    assert not again.replayed and len(replays) == 1
    assert again.snapshots == first.snapshots and again.divergence is None
    assert [v.version for v in again.versions] == [v.version for v in first.versions]

    complete(ctx, "qc1", case_id, "Contain the problem", CONTAIN)
    grown = _view(ctx, case_id)
    assert grown.replayed and len(replays) == 2
    assert len(grown.snapshots) == 3 and grown.snapshots[:2] == first.snapshots
    assert _kept(ctx, case_id) == (_head(ctx, case_id), 3)
    assert not _view(ctx, case_id).replayed and len(replays) == 2


def test_a_kept_row_whose_head_is_not_the_chains_is_ignored_and_rebuilt(ctx, replays):
    case_id = _case(ctx)
    _view(ctx, case_id)
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(CaseStepsCache).where(CaseStepsCache.case_id == case_id)
                            .values(head="f" * 64, steps=[]))
        uow.commit()
    rebuilt = _view(ctx, case_id)
    assert rebuilt.replayed and len(replays) == 2 and len(rebuilt.snapshots) == 2
    assert _kept(ctx, case_id) == (_head(ctx, case_id), 2)


def test_a_kept_row_edited_in_the_database_is_rebuilt_not_shown(ctx, replays):
    case_id = _case(ctx)
    shown = _view(ctx, case_id)
    with as_database_owner(ctx) as conn:
        steps = [dict(step) for step in conn.scalar(select(CaseStepsCache.steps).where(
            CaseStepsCache.case_id == case_id))]
        steps[-1]["data"] = {**steps[-1]["data"], "category": "forged"}
        conn.execute(update(CaseStepsCache).where(CaseStepsCache.case_id == case_id).values(steps=steps))
    rebuilt = _view(ctx, case_id)
    assert rebuilt.replayed and len(replays) == 2
    assert rebuilt.snapshots[-1].data == shown.snapshots[-1].data
    assert rebuilt.snapshots[-1].data["category"] == "quality"
    assert not _view(ctx, case_id).replayed and len(replays) == 2


def test_a_kept_row_that_cannot_be_read_back_is_rebuilt_not_failed_on(ctx, replays):
    case_id = _case(ctx)
    _view(ctx, case_id)
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(CaseStepsCache).where(CaseStepsCache.case_id == case_id)
                            .values(steps=[{"step": "one"}], divergence=["x"]))
        uow.commit()
    rebuilt = _view(ctx, case_id)
    assert rebuilt.replayed and len(replays) == 2 and [s.step for s in rebuilt.snapshots] == [1, 2]
    assert not _view(ctx, case_id).replayed and len(replays) == 2


def test_an_edit_the_chain_does_not_cover_makes_the_view_replay_and_show_it(ctx, replays):
    """The inbox rows are not in the chain: a removed one changes what the replay compares, so the
    kept steps (built when it was there) are not served."""
    case_id = _case(ctx)
    assert _view(ctx, case_id).divergence is None
    with as_database_owner(ctx) as conn:
        conn.execute(delete(WorkItem).where(WorkItem.case_id == case_id))
    edited = _view(ctx, case_id)
    assert edited.replayed and len(replays) == 2
    assert edited.divergence is not None and edited.divergence.what == "stored open tasks (work_items)"
    assert not _view(ctx, case_id).replayed and len(replays) == 2  # kept with its divergence


def test_a_history_that_does_not_verify_is_replayed_on_every_view_and_not_kept(ctx, replays):
    case_id = _case(ctx)
    kept = _view(ctx, case_id).snapshots
    with ctx.unit_of_work(readonly=True) as uow:
        seq, data = uow.session.execute(select(CaseEvent.seq, CaseEvent.data).where(
            CaseEvent.case_id == case_id, CaseEvent.type == "task_completed")).one()
    with as_database_owner(ctx) as conn:
        conn.execute(update(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
                     .values(data={**data, "category": "complaint"}))
    for views in (2, 3):
        tampered = _view(ctx, case_id)
        assert tampered.replayed and len(replays) == views
        assert tampered.divergence is not None and tampered.divergence.step == 2
    assert _kept(ctx, case_id) == (_head(ctx, case_id), len(kept))  # the row from before, untouched


def test_the_history_page_replays_once_for_any_number_of_views(app, ctx, replays):
    from tests.web.test_pages import login

    case_id = _case(ctx)
    browser = login(app, "qc1")
    pages = [browser.get(f"/cases/{case_id}/history") for _ in range(3)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    shown = [re.search(r"data-steps='(.*?)'", p.text, re.S).group(1) for p in pages]
    assert shown[0] == shown[1] == shown[2] and len(replays) == 1
