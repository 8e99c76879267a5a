"""Verifying case histories: the chain, the case row it must end in, and a signed checkpoint.

A case verifies when its events chain from the genesis hash with consecutive sequence numbers
and each event's hash covers its content (``engine.audit.chain``); when the case row's
``event_count`` and ``last_event_hash`` name the last event (a deleted newest event is caught
here); when ``cases.data`` and the stored workflow state are those the last events recorded (an
edited case); and, given the head of the case's chain from the latest signed checkpoint, when
the chain still extends it (a history rewritten and re-hashed end to end by someone with
database access is caught only here: the checkpoint's signature is made with a key the database
does not hold). A checkpoint that should vouch for a case but does not verify itself fails the
case too (``checkpoint_invalid``): the evidence was tampered with, whatever the chain says.

``verify_cases`` streams every case with three ordered reads (cases, events, task rows) merged
by case id, without the ORM; ``verify_in_processes`` shares ranges of cases out to processes
(the goal, measured in ``bench/``: 100,000 cases in under a minute).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from engine.audit import reasons
from engine.audit.chain import GENESIS, canonical_json, event_hash, sha256_hex
from engine.persistence.models import Case, CaseEvent, CaseState, CaseTask
from engine.spiff import state_digest

CheckpointHeads = Mapping[int, tuple[int, str]]
"""case id → (event count, hash of the event at that count), from the latest signed checkpoint."""

BATCH = 2000

# Why a case fails (``engine.audit.reasons`` says it in words).
SEQUENCE = "sequence"
LINK = "link"
HASH = "hash"
DOWNGRADE = "downgrade"
COUNT = "count"
LAST_HASH = "last_hash"
DATA = "data"
STATE = "state"
CHECKPOINT_SHORT = "checkpoint_short"
CHECKPOINT_DIVERGED = "checkpoint_diverged"
CHECKPOINT_INVALID = "checkpoint_invalid"


@dataclass(frozen=True)
class Verdict:
    """A case's verdict: ``broken_seq`` is the first event that does not verify (for a problem of
    the case row, the event it disagrees with), ``failing`` every event whose own hash is wrong."""

    case_id: int
    event_count: int
    code: str = ""
    broken_seq: int | None = None  # None with a code: no event is named (``checkpoint_invalid``)
    failing: frozenset[int] = field(default_factory=frozenset)
    params: tuple[tuple[str, object], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.code

    @property
    def reason(self) -> str:
        """Why it fails, in English (``describe`` with a gettext for the reader's language)."""
        return self.describe()

    def describe(self, gettext: Callable[[str], str] = str) -> str:
        return reasons.describe(self.code, dict(self.params), gettext) if self.code else ""

    def untrusted(self, seq: int) -> bool:
        """Whether the event ``seq`` cannot be relied on: it fails its own hash, or the failure
        names it (``distrusts``)."""
        return seq in self.failing or distrusts(self.code, self.broken_seq, seq)


def distrusts(code: str, broken_seq: int | None, seq: int) -> bool:
    """Whether a failure (``code`` at ``broken_seq``, as a verdict or a stored failure gives them)
    makes the event ``seq`` untrustworthy: the first broken event; and when the history diverges
    from a signed checkpoint, every event the checkpoint covers, since a rewrite re-hashed end to
    end changes the signed head whichever of them it altered."""
    if broken_seq is None:
        return False
    if code == CHECKPOINT_DIVERGED:
        return seq <= broken_seq
    return seq == broken_seq


@dataclass(frozen=True)
class StoredCase:
    """What the verifier needs of a case row (read by ORM or by a plain select)."""

    id: int
    event_count: int
    last_event_hash: str
    data: Any
    skeleton: str | None
    rows_total: int


def _first_chain_break(events: list[Any]) -> tuple[str, int, dict] | None:
    prev, version = GENESIS, 1
    for expected, event in enumerate(events, start=1):
        if event.seq != expected:
            return SEQUENCE, expected, {"found": event.seq}
        if event.prev_hash != prev:
            return LINK, expected, {}
        if event.chain_version < version:
            return DOWNGRADE, expected, {}
        if event_hash(event) != event.hash:
            return HASH, expected, {}
        prev, version = event.hash, event.chain_version
    return None


def verify_chain(events: Iterable[Any]) -> int | None:
    """The first event of a chain alone (no case row, no stored state: an audit pack offline) that
    does not verify, or None when all do."""
    found = _first_chain_break(list(events))
    return None if found is None else found[1]


def _failing(events: list[Any]) -> frozenset[int]:
    return frozenset(e.seq for e in events if event_hash(e) != e.hash)


def verify_events(case: StoredCase, events: list[Any], checkpoint: tuple[int, str] | None = None) -> Verdict:
    """The verdict on one case from its row and its events in sequence order."""
    count = len(events)

    def broken(code: str, seq: int | None, **params: object) -> Verdict:
        return Verdict(case.id, count, code, seq, _failing(events),
                       tuple(sorted({"seq": seq, "count": count, **params}.items())))

    found = _first_chain_break(events)
    if found is not None:
        code, seq, params = found
        return broken(code, seq, **params)
    if checkpoint is not None:
        signed_count, signed_hash = checkpoint
        if count < signed_count:
            return broken(CHECKPOINT_SHORT, count + 1, signed=signed_count)
        if signed_count and events[signed_count - 1].hash != signed_hash:
            return broken(CHECKPOINT_DIVERGED, signed_count)
    recorded = case.event_count or 0
    if recorded != count:
        return broken(COUNT, min(count, recorded) + 1, recorded=recorded)
    if count and case.last_event_hash != events[-1].hash:
        return broken(LAST_HASH, count)
    last = events[-1] if events else None
    if last is not None and last.data_hash is not None and \
            sha256_hex(canonical_json(case.data or {})) != last.data_hash:
        return broken(DATA, count)
    stepped = next((e for e in reversed(events) if e.state_hash is not None), None)
    if stepped is not None and (case.skeleton is None or
                                state_digest.state_hash(case.skeleton, case.rows_total) != stepped.state_hash):
        return broken(STATE, stepped.seq)
    return Verdict(case.id, count)


def checkpoint_invalid(verdict: Verdict, checkpoint: int) -> Verdict:
    """The verdict on a case whose covering checkpoint does not verify: the case's own problem when
    it has one (it names an event), else a failure naming the checkpoint."""
    if not verdict.ok:
        return verdict
    return Verdict(verdict.case_id, verdict.event_count, CHECKPOINT_INVALID, params=(("checkpoint", checkpoint),))


def stored_case(session: Session, case: Case) -> StoredCase:
    """The case row and its stored workflow state, as the verifier compares them."""
    state = session.get(CaseState, case.id)
    rows = session.execute(select(CaseTask.task_id, CaseTask.workflow_key, CaseTask.state)
                           .where(CaseTask.case_id == case.id))
    return StoredCase(case.id, case.event_count, case.last_event_hash, case.data,
                      state.state if state is not None else None, state_digest.rows_sum(tuple(r) for r in rows))


def verify_case(session: Session, case_id: int, checkpoint: tuple[int, str] | None = None) -> Verdict:
    """The verdict on one case (LookupError when there is no such case)."""
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))
    return verify_events(stored_case(session, case), events, checkpoint)


_EVENT_COLUMNS = [CaseEvent.case_id, CaseEvent.seq, CaseEvent.type, CaseEvent.at, CaseEvent.actor,
                  CaseEvent.task_id, CaseEvent.element_id, CaseEvent.data, CaseEvent.version_hash,
                  CaseEvent.prev_hash, CaseEvent.hash, CaseEvent.chain_version, CaseEvent.data_hash,
                  CaseEvent.changes, CaseEvent.state_hash]


def _grouped(rows: Iterable[Any]) -> Iterator[tuple[int, list[Any]]]:
    for case_id, group in groupby(rows, key=lambda row: row[0]):
        yield case_id, list(group)


def _next_group(groups: Iterator[tuple[int, list[Any]]], pending: list, case_id: int) -> list[Any]:
    """The group of ``case_id`` from an ordered stream of groups (``pending`` holds one look-ahead)."""
    while True:
        if not pending:
            item = next(groups, None)
            if item is None:
                return []
            pending.append(item)
        group_id, rows = pending[0]
        if group_id > case_id:
            return []
        pending.clear()
        if group_id == case_id:
            return rows


Selection = list[int] | tuple[int, int] | None
"""Which cases: these ids, an inclusive range of ids, or all."""


def verify_cases(session: Session, case_ids: Iterable[int] | None = None,
                 checkpoints: CheckpointHeads | None = None) -> Iterator[Verdict]:
    """The verdict on every case (or those of ``case_ids``), in case id order, streamed."""
    checkpoints = checkpoints or {}
    if case_ids is None:
        yield from _verify_selection(session, None, checkpoints)
        return
    wanted = sorted(set(case_ids))
    for i in range(0, len(wanted), BATCH):
        yield from _verify_selection(session, wanted[i:i + BATCH], checkpoints)


def verify_in_processes(url: str, checkpoints: CheckpointHeads | None = None, processes: int = 2,
                        chunk: int = 10_000) -> Iterator[Verdict]:
    """``verify_cases`` over every case, with ranges of case ids shared out to ``processes``
    processes (each with its own connection), in case id order: hashing is CPU work, and one
    Python process uses one core."""
    checkpoints = checkpoints or {}
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            low, high = conn.execute(select(func.min(Case.id), func.max(Case.id))).one()
    finally:
        engine.dispose()
    if low is None:
        return
    ranges = [(start, min(start + chunk - 1, high)) for start in range(low, high + 1, chunk)]
    jobs = [(url, r, {k: v for k, v in checkpoints.items() if r[0] <= k <= r[1]}) for r in ranges]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        for verdicts in pool.map(_verify_job, jobs):
            yield from verdicts


def _verify_job(job: tuple[str, tuple[int, int], dict]) -> list[Verdict]:
    url, bounds, checkpoints = job
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return list(_verify_selection(session, bounds, checkpoints))
    finally:
        engine.dispose()


def _filtered(query: Any, column: Any, selection: Selection) -> Any:
    if selection is None:
        return query
    if isinstance(selection, tuple):
        return query.where(column.between(*selection))
    return query.where(column.in_(selection))


def _verify_selection(session: Session, ids: Selection, checkpoints: CheckpointHeads) -> Iterator[Verdict]:
    def stream(query: Any) -> Iterator[Any]:
        return session.execute(query, execution_options={"yield_per": BATCH})

    cases = stream(_filtered(select(Case.id, Case.event_count, Case.last_event_hash, Case.data, CaseState.state)
                             .outerjoin(CaseState, CaseState.case_id == Case.id), Case.id, ids).order_by(Case.id))
    events = _grouped(stream(_filtered(select(*_EVENT_COLUMNS), CaseEvent.case_id, ids)
                             .order_by(CaseEvent.case_id, CaseEvent.seq)))
    tasks = _grouped(stream(_filtered(select(CaseTask.case_id, CaseTask.task_id, CaseTask.workflow_key,
                                             CaseTask.state), CaseTask.case_id, ids).order_by(CaseTask.case_id)))
    event_ahead: list = []
    task_ahead: list = []
    for case_id, event_count, last_hash, data, skeleton in cases:
        rows = _next_group(tasks, task_ahead, case_id)
        stored = StoredCase(case_id, event_count, last_hash, data, skeleton,
                            state_digest.rows_sum(row[1:] for row in rows))
        yield verify_events(stored, _next_group(events, event_ahead, case_id), checkpoints.get(case_id))
