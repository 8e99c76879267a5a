"""Replay: rebuild a case from its pinned version and its recorded inputs, and compare.

A case's history records every input the engine ever received (the start data, each submitted
form, each timer firing with its moment, each message, each version migration, each signal a
person sent, each administrator's retry of a failed step or cancellation) and what followed from
it (the tasks that became ready, the effects applied, the failure or the end). Replay runs the
inputs again, in order, in a fresh workflow on the same runtime code the services use
(``engine.spiff.runtime``, scripts in the sandbox), with the clock held at the recorded moments,
and after each step compares what the fresh engine did with what was recorded. The first
difference is reported with both sides; none means the record is consistent with the procedure.

A script the sandbox stopped (its process killed, a limit hit) failed because of the machine at
that moment, not because of the procedure: such a recorded failure is an input too, like a
timer's moment. The replay stops the first script or expression it runs at the recorded element
with the recorded message (``SandboxStop``), which is what a retry of a passing failure needs:
the failure, then the same step run again and succeeding.

Task ids are SpiffWorkflow's random UUIDs, so a replay's tasks get other ids: each recorded task
id is paired with the replayed task that became ready in the same step for the same element
(in order, for several instances of one element), and the pairing is used from then on.

Nothing here touches the database: the service (``engine.services.replay``) reads the events and
the stored state and hands them in. Effects a step requests are collected and compared, never
applied.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine import effects
from engine.audit.chain import canonical_json, jsonable
from engine.definitions.catalog import ParsedProcess
from engine.errors import ScriptError, ServiceFlowError
from engine.sandbox.environment import ScriptRaised
from engine.services.engine_errors import describe_engine_failure, element_of_failure
from engine.spiff import migration, state_codec, task_index
from engine.spiff.runtime import CaseRuntime, ReadyTask
from engine.time import clock
from engine.time.timers import PendingTimer

INPUTS = frozenset({"case_started", "task_completed", "timer_fired", "message_received", "case_migrated",
                    "migration_reverted", "signal_sent", "case_retried", "case_cancelled"})
MIGRATIONS = frozenset({"case_migrated", "migration_reverted"})
# What may follow a failed step (engine.services.interventions): anything else moves a failed case on.
AFTER_FAILURE = frozenset({"case_retried", "case_cancelled"})
# Recorded after the step they belong to; the rest of a step's events are recorded before it runs.
AFTER_STEP = frozenset({"task_ready", "case_completed", "case_failed", "scheduled_start"})


@dataclass(frozen=True)
class RecordedEvent:
    """What replay reads of one recorded event. ``data_hash`` and ``changes`` are the case data
    after the event as the history recorded it, when the history records it (else None)."""

    seq: int
    type: str
    at: datetime
    task_id: str | None
    element_id: str | None
    data: dict
    version_hash: str
    data_hash: str | None = None
    changes: dict | None = None

    @classmethod
    def of(cls, event: Any) -> RecordedEvent:
        return cls(event.seq, event.type, event.at, event.task_id, event.element_id, event.data or {},
                   event.version_hash, event.data_hash, event.changes)


@dataclass(frozen=True)
class StoredCase:
    """The case as the database holds it now, compared with the replay after its last step."""

    status: str
    data: dict
    open_task_ids: frozenset[str]
    runtime: CaseRuntime | None = None
    unreadable: str = ""


@dataclass(frozen=True)
class Divergence:
    """The first place where the replay and the record disagree: at which step (1 = the start),
    after which event, what differs, and both sides."""

    step: int
    seq: int | None
    what: str
    recorded: Any
    replayed: Any

    def as_json(self) -> dict[str, Any]:
        return {"step": self.step, "seq": self.seq, "what": self.what, "recorded": jsonable(self.recorded),
                "replayed": jsonable(self.replayed)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Divergence:
        return cls(value["step"], value["seq"], value["what"], value["recorded"], value["replayed"])


@dataclass(frozen=True)
class OpenTask:
    task_id: str  # the recorded id
    element_id: str
    title: str
    department: str | None
    file: str  # the BPMN file of the version that holds the element


Element = tuple[str, str]  # (BPMN file, element id): called processes live in their own files


@dataclass(frozen=True)
class Snapshot:
    """The case after one step, as the replay rebuilt it: for stepping through a history."""

    step: int
    seq: int
    type: str
    at: datetime
    element_id: str | None
    data: dict
    open_tasks: list[OpenTask]
    waiting: list[Element]  # the timers and messages the case waits for
    done: dict[Element, int]  # times each element completed so far (loops count each iteration)
    done_now: list[Element]  # the elements completed during this step, in order
    process_id: str
    status: str
    submitted: dict = field(default_factory=dict)  # what came in: the form data, the message payload
    version_hash: str = ""  # the version the case was on after the step (a migration changes it)

    def as_json(self) -> dict[str, Any]:
        """The snapshot as JSON, to be kept (``engine.services.replay`` stores a case's steps);
        ``from_json`` gives it back equal."""
        return {
            "step": self.step, "seq": self.seq, "type": self.type, "at": self.at.isoformat(),
            "element_id": self.element_id, "data": jsonable(self.data),
            "open_tasks": [[t.task_id, t.element_id, t.title, t.department, t.file] for t in self.open_tasks],
            "waiting": [list(element) for element in self.waiting],
            "done": [[file, element, count] for (file, element), count in self.done.items()],
            "done_now": [list(element) for element in self.done_now],
            "process_id": self.process_id, "status": self.status, "submitted": jsonable(self.submitted),
            "version_hash": self.version_hash,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Snapshot:
        return cls(
            step=value["step"], seq=value["seq"], type=value["type"], at=datetime.fromisoformat(value["at"]),
            element_id=value["element_id"], data=value["data"],
            open_tasks=[OpenTask(*task) for task in value["open_tasks"]],
            waiting=[(file, element) for file, element in value["waiting"]],
            done={(file, element): count for file, element, count in value["done"]},
            done_now=[(file, element) for file, element in value["done_now"]],
            process_id=value["process_id"], status=value["status"], submitted=value["submitted"],
            version_hash=value["version_hash"],
        )


@dataclass
class ReplayReport:
    steps: int = 0
    divergence: Divergence | None = None
    snapshots: list[Snapshot] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.divergence is None


class _Diverged(Exception):  # noqa: N818 - control flow inside this module only
    def __init__(self, divergence: Divergence) -> None:
        super().__init__(divergence.what)
        self.divergence = divergence


@dataclass
class _Step:
    number: int
    inputs: list[RecordedEvent]
    outputs: list[RecordedEvent] = field(default_factory=list)

    @property
    def first(self) -> RecordedEvent:
        return self.inputs[0]

    @property
    def last_seq(self) -> int:
        return max(e.seq for e in [*self.inputs, *self.outputs])

    @property
    def end_at(self) -> datetime:
        return max(e.at for e in [*self.inputs, *self.outputs])


def steps_of(events: Sequence[RecordedEvent]) -> list[_Step]:
    """The history cut into engine steps: each begins with an input event; the timers one worker
    round fired together are one step, and so are a message start and the message it caught."""
    steps: list[_Step] = []
    for event in events:
        current = steps[-1] if steps else None
        if event.type in INPUTS and not _joins(current, event):
            steps.append(_Step(len(steps) + 1, [event]))
        elif current is not None:
            (current.inputs if event.type in INPUTS else current.outputs).append(event)
    return steps


def _joins(current: _Step | None, event: RecordedEvent) -> bool:
    """Whether an input event belongs to the step before it: a message start's own message (also
    when the start failed and it was recorded after the failure), or a timer the same worker round
    fired."""
    if current is None:
        return False
    first = current.first
    if event.type == "message_received" and first.type == "case_started" and first.data.get("message"):
        return len(current.inputs) == 1
    if current.outputs:
        return False
    return event.type == "timer_fired" and first.type == "timer_fired" and (
        event.data.get("clock") == first.data.get("clock"))


def data_hash(data: dict) -> str:
    """How a history records the case data after an event (sha256 of its canonical JSON)."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse(moment: Any) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(moment)) if isinstance(moment, str) else None
    except ValueError:
        return None


class Replayer:
    """One replay of one case's history."""

    def __init__(self, process_by_hash: Callable[[str], ParsedProcess | None],
                 process_by_id: Callable[[Any], ParsedProcess | None], script_engine: Any,
                 departments: frozenset[str], keep_snapshots: bool = False) -> None:
        self.process_by_hash = process_by_hash
        self.process_by_id = process_by_id
        self.script_engine = script_engine
        self.departments = departments
        self.keep_snapshots = keep_snapshots
        self.runtime: CaseRuntime | None = None
        self.process: ParsedProcess | None = None
        self.to_replayed: dict[str, str] = {}
        self.to_recorded: dict[str, str] = {}
        self.open: dict[str, ReadyTask] = {}
        self.error: str | None = None
        self.done: Counter[Element] = Counter()
        self.reached: dict[str, timedelta] = {}  # timer task -> the drift its due time may have (_note_timers)
        self.moved_from: list[tuple[ParsedProcess, tuple[str, list]]] = []  # the state each migration left
        self.cancelled = False
        self.step_engine: Any = script_engine  # the one the current step runs on (SandboxStop or not)
        self.report = ReplayReport()

    # -- the whole run --

    def run(self, events: Sequence[RecordedEvent], stored: StoredCase | None) -> ReplayReport:
        steps = steps_of(events)
        try:
            for step in steps:
                self._guarded(step)
                self.report.steps = step.number
            if stored is not None:
                last = steps[-1] if steps else None
                self._compare_stored(stored, last.number if last else 0, last.last_seq if last else None)
        except _Diverged as diverged:
            self.report.divergence = diverged.divergence
        return self.report

    def _guarded(self, step: _Step) -> None:
        """One step; a record the engine cannot even be fed (an event whose data was replaced by
        something else than the app writes) is reported at its step rather than failing the caller."""
        try:
            self._step(step)
        except _Diverged:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a tampered record makes the engine raise is the finding
            self._diverge(step, "the recorded step cannot be replayed", f"{type(exc).__name__}: {exc}", None)

    def _diverge(self, step: _Step, what: str, recorded: Any, replayed: Any, seq: int | None = None) -> None:
        raise _Diverged(Divergence(step.number, seq if seq is not None else step.first.seq, what,
                                   recorded, replayed))

    def _diverge_at(self, number: int, seq: int | None, what: str, recorded: Any, replayed: Any) -> None:
        raise _Diverged(Divergence(number, seq, what, recorded, replayed))

    def _step(self, step: _Step) -> None:
        first = step.first
        self._check_may_move(step)
        pinned = self.process.content_hash if self.process is not None else first.version_hash
        if first.type not in MIGRATIONS and first.version_hash != pinned:
            self._diverge(step, "version", first.version_hash, pinned)
        before = copy.deepcopy(self._data())
        if first.type == "case_cancelled":
            self._cancel(step)
            after = jsonable(self._data())
            self._compare_data(step, before, after)
        else:
            requested = self._run(step)
            after = jsonable(self._data())
            self._compare(step, before, after, requested)
        if self.keep_snapshots:
            self._snapshot(step, after)

    def _check_may_move(self, step: _Step) -> None:
        """A cancelled case takes no input; a failed one only a retry or a cancellation."""
        first = step.first
        if self.cancelled:
            self._diverge(step, "the case was cancelled in an earlier step, yet it was moved on", "case moved on",
                          "case cancelled")
        if self.error is not None and first.type not in AFTER_FAILURE:
            self._diverge(step, "the case failed in an earlier step, yet it was moved on", "case moved on",
                          f"case failed: {self.error}")
        if first.type != "case_started" and self.process is None:
            self._diverge(step, "no case_started event begins the history", "case_started", first.type)

    def _run(self, step: _Step) -> list[effects.Effect]:
        """Apply the step's inputs at its recorded moment; the effects its service tasks request.
        A step whose record says the sandbox stopped a script runs on ``SandboxStop``."""
        stop = recorded_stop(step.outputs)
        self.step_engine = self.script_engine if stop is None else SandboxStop(self.script_engine, *stop)
        self._use(self.step_engine)
        try:
            with clock.frozen_at(step.first.at), effects.collecting() as requested:
                try:
                    self._apply(step)
                except (SpiffWorkflowException, ServiceFlowError, ScriptRaised) as exc:
                    self.error = describe_engine_failure(exc)
        finally:
            self.step_engine = self.script_engine
            self._use(self.script_engine)
        return requested

    def _use(self, script_engine: Any) -> None:
        if self.runtime is not None:
            self.runtime.workflow.script_engine = script_engine

    def _data(self) -> dict:
        return self.runtime.data if self.runtime is not None else {}

    # -- applying one step's inputs --

    def _apply(self, step: _Step) -> None:
        first = step.first
        kind = first.type
        if kind == "case_started":
            self._start(step)
        elif kind == "task_completed":
            replayed = self._replayed_task(step, first)
            self.runtime.complete(replayed, first.data)
        elif kind == "timer_fired":
            self._fire(step)
        elif kind == "message_received":
            self._catch(step, first)
        elif kind == "signal_sent":
            self._signal(step, first)
        elif kind == "case_retried":
            self._retry(step, first)
        else:
            self._migrate(step, first)

    def _start(self, step: _Step) -> None:
        first = step.first
        self.process = self.process_by_hash(first.version_hash)
        if self.process is None:
            self._diverge(step, "the version the case started on is not stored", first.version_hash, None)
        message = first.data.get("message")
        if not message:
            self.runtime = CaseRuntime.start(self.process, self.step_engine, first.data.get("data") or {})
            return
        caught = next((e for e in step.inputs if e.type == "message_received"), None)
        self.runtime, task_id = CaseRuntime.open_at_message(self.process, self.step_engine, message)
        if caught is None or caught.task_id is None:
            return
        self._pair(caught.task_id, task_id)
        self.runtime.catch_message(task_id, message, caught.data.get("payload") or {},
                                   caught.data.get("correlation") or {})

    def _replayed_task(self, step: _Step, event: RecordedEvent) -> str:
        replayed = self.to_replayed.get(event.task_id or "")
        if replayed is None or replayed not in self.open:
            self._diverge(step, f"task {event.element_id} is not open in the replay", event.element_id,
                          sorted(t.element_id for t in self.open.values()), seq=event.seq)
        return replayed

    def _fire(self, step: _Step) -> None:
        pending = self.runtime.pending_timers()
        chosen: list[PendingTimer] = []
        for event in step.inputs:
            timer = self._timer_for(step, event, pending, chosen)
            chosen.append(timer)
        moment = _parse(step.first.data.get("clock")) or _aware(step.first.at)
        with clock.frozen_at(moment):
            self.runtime.fire_timers(chosen)

    def _timer_for(self, step: _Step, event: RecordedEvent, pending: list[PendingTimer],
                   taken: list[PendingTimer]) -> PendingTimer:
        """The replayed timer a recorded firing stands for: the same task when paired before, else
        the same element whose due time is nearest the recorded one."""
        candidates = [t for t in pending if t not in taken and (
            self.to_replayed.get(event.task_id or "") == t.task_id or t.element_id == event.element_id)]
        recorded_due = _parse(event.data.get("due"))
        if not candidates:
            self._diverge(step, f"timer {event.element_id} is not pending in the replay", event.element_id,
                          sorted(t.element_id for t in pending), seq=event.seq)
        timer = min(candidates, key=lambda t: abs((t.due - recorded_due).total_seconds()) if recorded_due else 0)
        # The replay reached the timer at the recorded start of its step; the original run reached
        # it a moment later, within the step's recorded duration.
        window = self.reached.get(timer.task_id, timedelta(0))
        if recorded_due is not None and not (timer.due <= recorded_due <= timer.due + window):
            self._diverge(step, f"due time of timer {event.element_id}", recorded_due.isoformat(),
                          timer.due.isoformat(), seq=event.seq)
        if event.task_id:
            self._pair(event.task_id, timer.task_id)
        return timer

    def _catch(self, step: _Step, event: RecordedEvent) -> None:
        name = event.data.get("name")
        waits = self.runtime.waiting_messages()
        paired = self.to_replayed.get(event.task_id or "")
        wait = next((w for w in waits if w.task_id == paired and w.name == name), None) or next(
            (w for w in waits if w.element_id == event.element_id and w.name == name), None)
        if wait is None:
            self._diverge(step, f"message {name} is not awaited in the replay", event.element_id,
                          sorted(w.element_id for w in waits), seq=event.seq)
        if event.task_id:
            self._pair(event.task_id, wait.task_id)
        self.runtime.catch_message(wait.task_id, name, event.data.get("payload") or {},
                                   event.data.get("correlation") or {})

    def _migrate(self, step: _Step, event: RecordedEvent) -> None:
        """Move the workflow as the migration service moved it (``engine.spiff.migration``, the
        same code), or, for a revert, back to the workflow as it stood before that move: a revert
        restores the stored state from before it exactly, and nothing may have happened since."""
        if event.type == "migration_reverted":
            if not self.moved_from:
                self._diverge(step, "a migration is reverted that was never made", None, event.data)
            process, (skeleton, rows) = self.moved_from.pop()
            self.runtime = CaseRuntime.restore(process, skeleton, rows, self.step_engine)
            self.process = process
            return
        target = self.process_by_id(event.data.get("to_version_id"))
        if target is None:
            self._diverge(step, "the version the case migrated to is not stored", event.data.get("to_version_id"),
                          None)
        before = state_codec.dump_rows(self.runtime.workflow)
        verdict = migration.migrate(self.runtime.workflow, target.spec, target.subprocess_specs,
                                    f"version {event.data.get('to_version')}")
        if not verdict.can_migrate:
            self._diverge(step, "the case could not move to the version it migrated to", event.data,
                          "; ".join(verdict.reasons))
        self.moved_from.append((self.process, before))
        skeleton, rows = state_codec.dump_rows(self.runtime.workflow)
        self.runtime = CaseRuntime.restore(target, skeleton, rows, self.step_engine)
        self.process = target

    def _signal(self, step: _Step, event: RecordedEvent) -> None:
        """Press the task's signal button as the person did (``engine.services.tasks.send_signal``):
        the replayed task must offer that signal, under the recorded label."""
        replayed = self._replayed_task(step, event)
        name = event.data.get("signal")
        offered = self.runtime.signal_buttons(replayed)
        if not isinstance(name, str) or name not in offered:
            self._diverge(step, f"signal {name} is not offered by task {event.element_id} in the replay", name,
                          sorted(offered), seq=event.seq)
        if event.data.get("label") != offered[name]:
            self._diverge(step, f"label of signal {name}", event.data.get("label"), offered[name], seq=event.seq)
        self.runtime.send_signal(replayed, name)

    def _retry(self, step: _Step, event: RecordedEvent) -> None:
        """Run the failed steps again as the administrator's retry did
        (``engine.services.interventions.retry_case``): the replayed case must be in error with the
        recorded error, failed at the elements the retry names."""
        recorded = event.data.get("error")
        if self.error is None:
            self._diverge(step, "a case that was not in error was retried", recorded, None, seq=event.seq)
        if self.runtime is None:
            self._diverge(step, "the case failed before it had a workflow, yet a step was run again", recorded,
                          self.error, seq=event.seq)
        if not isinstance(recorded, str) or not same_failure(recorded, self.error):
            self._diverge(step, "the error the retry was for", recorded, self.error, seq=event.seq)
        failed = self.runtime.failed_elements()
        if event.data.get("elements") != failed:
            self._diverge(step, "the failed steps run again", event.data.get("elements"), failed, seq=event.seq)
        self.error = None
        self.runtime.retry_failed()

    def _cancel(self, step: _Step) -> None:
        """End the case as the administrator's cancellation did
        (``engine.services.interventions.cancel_case``): nothing runs, its open tasks leave the
        inbox; it was cancelled from the status the replay is in."""
        recorded = step.first.data.get("status")
        if recorded != self._status():
            self._diverge(step, "status of the case when it was cancelled", recorded, self._status())
        self.cancelled = True
        self.open.clear()

    def _pair(self, recorded: str, replayed: str) -> None:
        self.to_replayed[recorded] = replayed
        self.to_recorded[replayed] = recorded

    # -- comparing one step's outcome with its record --

    def _compare(self, step: _Step, before: dict, after: dict, requested: list[effects.Effect]) -> None:
        failed = next((e for e in step.outputs if e.type == "case_failed"), None)
        if (failed is None) != (self.error is None):
            self._diverge(step, "failure", failed.data.get("error") if failed else None, self.error,
                          seq=failed.seq if failed else None)
        if failed is not None and not same_failure(failed.data.get("error") or "", self.error or ""):
            self._diverge(step, "failure", failed.data.get("error"), self.error, seq=failed.seq)
        self._compare_effects(step, requested)
        if self.error is None:
            self._compare_ready(step)
            self._compare_end(step)
            self._note_timers(step)
        else:  # a case in error has no inbox rows; a retry makes each ready task new again
            self.open.clear()
        self._compare_data(step, before, after)

    def _compare_effects(self, step: _Step, requested: list[effects.Effect]) -> None:
        recorded = [(e.data.get("operation"), e.data.get("params")) for e in step.outputs
                    if e.type == "effect_applied"]
        replayed = [(r.operation, jsonable(r.params)) for r in requested] if self.error is None else []
        if recorded != replayed:
            self._diverge(step, "effects applied", recorded, replayed)

    def _compare_ready(self, step: _Step) -> None:
        ready = {t.id: t for t in self.runtime.ready_tasks(self.departments)}
        for gone in [task_id for task_id in self.open if task_id not in ready]:
            del self.open[gone]
        new = [t for t in ready.values() if t.id not in self.open]
        recorded = [e for e in step.outputs if e.type == "task_ready"]
        if sorted(e.element_id or "" for e in recorded) != sorted(t.element_id for t in new):
            self._diverge(step, "tasks that became ready", sorted(e.element_id or "" for e in recorded),
                          sorted(t.element_id for t in new), seq=recorded[0].seq if recorded else None)
        unpaired = list(new)
        for event in recorded:
            task = next(t for t in unpaired if t.element_id == event.element_id)
            unpaired.remove(task)
            if event.data.get("department") != task.department:
                self._diverge(step, f"department of task {task.element_id}", event.data.get("department"),
                              task.department, seq=event.seq)
            self._pair(event.task_id or "", task.id)
        self.open.update({t.id: t for t in new})

    def _compare_end(self, step: _Step) -> None:
        ended = next((e for e in step.outputs if e.type == "case_completed"), None)
        completed = self.runtime.is_completed
        if (ended is not None) != completed:
            self._diverge(step, "case completed", ended is not None, completed,
                          seq=ended.seq if ended else None)
        if ended is not None and ended.data.get("outcome") != outcome(self.runtime):
            self._diverge(step, "outcome", ended.data.get("outcome"), outcome(self.runtime), seq=ended.seq)

    def _compare_data(self, step: _Step, before: dict, after: dict) -> None:
        """Each event's recorded data hash and changes, where the history has them: an event
        recorded before the step holds the data as it was then, one recorded after it, the result."""
        allowed_before = jsonable(before)
        for event in [*step.inputs, *step.outputs]:
            candidates = [after] if event.type in AFTER_STEP else [allowed_before, after]
            if event.data_hash is not None and event.data_hash not in {data_hash(c) for c in candidates}:
                self._diverge(step, "case data after the event (data_hash)", event.data_hash, data_hash(after),
                              seq=event.seq)
            for name, change in (event.changes or {}).items():
                value = change.get("after") if isinstance(change, dict) else change
                if all(c.get(name) != value for c in candidates):
                    self._diverge(step, f"variable {name} after the event", value, after.get(name), seq=event.seq)

    def _note_timers(self, step: _Step) -> None:
        """How far each pending timer's recorded due time may lie after the replayed one: the
        original run reached (or re-armed) it a moment after the step's recorded start, at most
        the longest step it was pending through."""
        for timer in self.runtime.pending_timers():
            took = step.end_at - step.first.at
            self.reached[timer.task_id] = max(self.reached.get(timer.task_id, took), took)

    # -- the stored case after the last step --

    def _status(self) -> str:
        if self.cancelled:
            return "cancelled"
        if self.error is not None:
            return "error"
        return "completed" if self.runtime is not None and self.runtime.is_completed else "running"

    def _compare_stored(self, stored: StoredCase, step_number: int, seq: int | None) -> None:
        """The stored row, inbox and workflow state against the replay after its last step: an
        edit of any of them shows here, at the last step (the history holds nothing later)."""
        def diverge(what: str, recorded: Any, replayed: Any) -> None:
            self._diverge_at(step_number, seq, what, recorded, replayed)

        replayed = jsonable(self._data())
        if stored.status != self._status():
            diverge("stored case status", stored.status, self._status())
        if stored.data != replayed:
            diverge("stored case data (cases.data)", _diff(stored.data, replayed), _diff(replayed, stored.data))
        open_ids = frozenset(self.to_recorded.get(t, t) for t in self.open)
        if stored.open_task_ids != open_ids:
            diverge("stored open tasks (work_items)", sorted(stored.open_task_ids), sorted(open_ids))
        if stored.unreadable:
            diverge("stored workflow state (case_states, case_tasks)", stored.unreadable, "readable")
        if stored.runtime is None or self.runtime is None:
            return
        kept = stored.runtime
        if jsonable(kept.data) != replayed:
            diverge("stored workflow data (case_states, case_tasks)", _diff(jsonable(kept.data), replayed),
                    _diff(replayed, jsonable(kept.data)))
        kept_ready = sorted((t.id, t.element_id) for t in kept.ready_tasks(self.departments))
        replay_ready = sorted((self.to_recorded.get(t.id, t.id), t.element_id)
                              for t in self.runtime.ready_tasks(self.departments))
        if kept_ready != replay_ready and self.error is None:
            diverge("stored ready tasks (case_states, case_tasks)", kept_ready, replay_ready)
        kept_live, replay_live = _live_tasks(kept), _live_tasks(self.runtime)
        if kept_live != replay_live:
            differing = next((pair for pair in zip(kept_live, replay_live, strict=False) if pair[0] != pair[1]),
                             (kept_live[len(replay_live):], replay_live[len(kept_live):]))
            diverge("stored workflow tasks (case_states, case_tasks)", differing[0], differing[1])

    # -- snapshots for stepping through the history --

    def _snapshot(self, step: _Step, data: dict) -> None:
        runtime = self.runtime
        done_now = [] if runtime is None else list(_completed_since_last(runtime))
        self.done.update(done_now)
        status = self._status()
        waiting: list[Element] = []
        open_tasks: list[OpenTask] = []
        if runtime is not None and self.error is None and not self.cancelled:
            waits = [t.task_id for t in runtime.pending_timers()] + [w.task_id for w in runtime.waiting_messages()]
            waiting = sorted({_element_of(runtime, task_id) for task_id in waits})
            open_tasks = [OpenTask(self.to_recorded.get(t.id, t.id), t.element_id, t.title, t.department,
                                   _element_of(runtime, t.id)[0]) for t in self.open.values()]
        self.report.snapshots.append(Snapshot(
            step=step.number, seq=step.first.seq, type=step.first.type, at=step.first.at,
            element_id=step.first.element_id, data=data, open_tasks=open_tasks, waiting=waiting,
            done=dict(self.done), done_now=done_now,
            process_id=self.process.process_id if self.process else "", status=status,
            submitted=_submitted(step), version_hash=self.process.content_hash if self.process else "",
        ))


# Steps whose own event holds what came in: the form data, the signal, the retry, the reason.
SUBMITTED_WITH_EVENT = frozenset({"task_completed", "signal_sent", "case_retried", "case_cancelled"})


def _submitted(step: _Step) -> dict:
    first = step.first
    if first.type in SUBMITTED_WITH_EVENT:
        return first.data
    caught = next((e for e in step.inputs if e.type == "message_received"), None)
    if caught is not None:
        return caught.data.get("payload") or {}
    return first.data.get("data") or {} if first.type == "case_started" else {}


def _element_of(runtime: CaseRuntime, task_id: str) -> Element:
    task = runtime.workflow.get_task_from_id(UUID(task_id))
    return (getattr(task.workflow.spec, "file", "") or "", _bpmn_id(task.task_spec))


def _bpmn_id(spec: Any) -> str:
    return getattr(spec, "bpmn_id", None) or spec.name


# A sandbox limit (CPU or wall time, memory, nesting) stops a runaway script; which limit is hit
# first depends on the machine's load at that moment, so a replay may stop it by another one.
LIMIT_STOP = "Script stopped: "


def same_failure(recorded: str, replayed: str) -> bool:
    """The same error, or a script stopped by a sandbox limit at the same element in both runs."""
    if recorded == replayed:
        return True
    return LIMIT_STOP in recorded and LIMIT_STOP in replayed and (
        recorded.split(LIMIT_STOP, 1)[0] == replayed.split(LIMIT_STOP, 1)[0])


def recorded_stop(outputs: Sequence[RecordedEvent]) -> tuple[str, str] | None:
    """Where and how the sandbox stopped a script, when a step's record says it failed so: the
    element as the failure names it ("Compute (Task_compute)") and the message from
    ``Script stopped:`` on. None for any other failure, or one that names no element."""
    failed = next((e for e in outputs if e.type == "case_failed"), None)
    error = failed.data.get("error") if failed is not None else None
    if not isinstance(error, str) or LIMIT_STOP not in error:
        return None
    where, _, rest = error.partition(LIMIT_STOP)
    if not where.endswith(": ") or len(where) <= 2:
        return None
    return where[:-2], LIMIT_STOP + rest


class SandboxStop(PythonScriptEngine):
    """The script engine of a step whose record says the sandbox stopped a script there: the
    first script or expression run at that element stops with the recorded message, raised as
    the sandbox's own failure would be (so it is described the same way); everything else runs
    on ``engine``. A stop the original run met at a later call at that element (a multi-instance
    task's third instance) is met at the first one here, so such a replay may differ from the
    record after that step."""

    def __init__(self, engine: PythonScriptEngine, where: str, stop: str) -> None:
        super().__init__(environment=engine.environment)
        self.engine = engine
        self.where = where
        self.stop = stop
        self.stopped = False

    def _stops_at(self, task: Any) -> bool:
        if self.stopped or element_of_failure(task) != self.where:
            return False
        self.stopped = True
        return True

    def _stopped(self, task: Any, message: str) -> WorkflowTaskException:
        """SpiffWorkflow's wrapping of a sandbox failure, with the failure as its cause."""
        stop = ScriptError(self.stop)
        wrapped = WorkflowTaskException(message, task=task, exception=stop)
        wrapped.__cause__ = stop
        return wrapped

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        if self._stops_at(task):
            raise self._stopped(task, f"Error evaluating expression '{expression}'")
        return self.engine.evaluate(task, expression, external_context)

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> Any:
        if self._stops_at(task):
            raise self._stopped(task, self.stop)
        return self.engine.execute(task, script, external_context)


def outcome(runtime: CaseRuntime) -> str:
    """The name of the end event the case's own process ended at (as the case row records it)."""
    for task in runtime.workflow.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent):
        if task.workflow is runtime.workflow:
            return task.task_spec.bpmn_name or task.task_spec.name
    return ""


def _completed_since_last(runtime: CaseRuntime) -> Iterator[Element]:
    """The BPMN elements whose tasks completed since the last call (the task index's record of
    changes, which the replay's throwaway workflow never saves otherwise), in creation order."""
    top = runtime.workflow
    for workflow in [top, *top.subprocesses.values()]:
        file = getattr(workflow.spec, "file", "") or ""
        for task in task_index.changed_tasks(workflow):
            if task.state == TaskState.COMPLETED and getattr(task.task_spec, "bpmn_id", None):
                yield file, task.task_spec.bpmn_id
    task_index.saved(top)


def _live_tasks(runtime: CaseRuntime) -> list[tuple[str, str, str, str]]:
    """Every unfinished task of a case (subprocesses included) with its state and data, in an
    order that does not depend on task ids: what a stored state and a replay must agree on."""
    top = runtime.workflow
    return sorted((task.workflow.spec.name, task.task_spec.name, TaskState.get_name(task.state),
                   canonical_json(jsonable(task.data)))
                  for workflow in [top, *top.subprocesses.values()] for task in task_index.live_tasks(workflow))


def _diff(mine: Any, other: Any) -> Any:
    """The part of ``mine`` that differs from ``other`` (top-level keys of two dicts)."""
    if isinstance(mine, dict) and isinstance(other, dict):
        return {k: v for k, v in mine.items() if other.get(k, object()) != v} | {
            k: None for k in other if k not in mine}
    return mine


def replay(events: Sequence[RecordedEvent], process_by_hash: Callable[[str], ParsedProcess | None],
           process_by_id: Callable[[Any], ParsedProcess | None], script_engine: Any, departments: frozenset[str],
           stored: StoredCase | None = None, keep_snapshots: bool = False) -> ReplayReport:
    """Replay a case's recorded events and compare; ``stored`` is compared after the last step."""
    replayer = Replayer(process_by_hash, process_by_id, script_engine, departments, keep_snapshots)
    return replayer.run(events, stored)
