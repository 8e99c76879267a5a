"""A running case: one SpiffWorkflow instance of a parsed process version, and what it needs next.

The runtime knows BPMN semantics and nothing about users, databases or HTTP: it starts a
workflow, applies a completed task's data, runs the engine to the next wait state and reports
the ready user tasks with the department each belongs to.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.definitions.catalog import ParsedProcess, UserTaskInfo
from engine.definitions.forms import conform
from engine.errors import Conflict, ScriptError
from engine.sandbox.environment import SCRIPT_FAILURES
from engine.spiff import clock as spiff_clock
from engine.spiff import held_events, state_codec, timer_gate
from engine.spiff import limits as spiff_limits
from engine.spiff import task_index as spiff_task_index
from engine.spiff import task_lookup as spiff_task_lookup
from engine.time import due_dates, schedules, timers
from engine.time.clock import utcnow

spiff_limits.apply()
spiff_clock.apply()
spiff_task_index.apply()
spiff_task_lookup.apply()
timer_gate.apply()

LANE_OWNERS = "lane_owners"
SIGNAL_BUTTON = "signalButtonLabel"  # spiff-arena's mark of a signal boundary event people send by hand
MAX_INSTANCE_NESTING = 50


class EngineStalled(ScriptError):
    """A running case has no ready task and nothing it waits for: it would never move again."""


@dataclass(frozen=True)
class ReadyTask:
    """A user task waiting for a person, as the inbox index stores it."""

    id: str
    element_id: str
    title: str
    lane: str | None
    department: str | None
    form: str | None
    prefill: dict
    detail: str = ""
    due_at: datetime | None = None
    title_zh: str = ""
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class WaitingMessage:
    """A message catch event the case waits at, with the correlation values a message must carry
    to reach it (correlation property id -> value; a property its expression cannot evaluate over
    the case data is left out)."""

    task_id: str
    element_id: str
    name: str
    correlation: dict[str, Any]
    is_start: bool = False


DETAIL_LENGTH = 200


def describe_item(item: Any) -> str:
    """One line telling apart the instances of a multi-instance task: its item's text values."""
    if isinstance(item, dict):
        parts = [str(v) for v in item.values() if isinstance(v, str | int | float) and not isinstance(v, bool)]
    elif isinstance(item, list):
        parts = [str(v) for v in item]
    else:
        parts = [] if item is None else [str(item)]
    text = " · ".join(p for p in parts if p)
    return text if len(text) <= DETAIL_LENGTH else text[: DETAIL_LENGTH - 1] + "…"


def resolve_department(lane: str | None, data: dict, departments: frozenset[str]) -> str | None:
    """A lane named after a department is that department; any other lane is a role whose
    department the case data names in ``lane_owners`` (so diagrams need no Python to route)."""
    owners = data.get(LANE_OWNERS)
    if lane is not None and isinstance(owners, dict) and isinstance(owners.get(lane), str):
        return owners[lane]
    if lane in departments:
        return lane
    return None


MAX_LANE_OWNERS = 100


def lane_owner_names(lane: str | None, data: dict) -> tuple[str, ...]:
    """The usernames ``lane_owners`` lists for a lane, spiff-arena's way (lane name -> a list of
    usernames, set by a script before the task); a lane mapped to a text is a department instead."""
    owners = data.get(LANE_OWNERS)
    named = owners.get(lane) if lane is not None and isinstance(owners, dict) else None
    if not isinstance(named, list):
        return ()
    return tuple(dict.fromkeys(n for n in named[:MAX_LANE_OWNERS] if isinstance(n, str) and n))


class CaseRuntime:
    """Wraps one workflow instance; every public method leaves it at a wait state or raises."""

    def __init__(
        self, process: ParsedProcess, workflow: BpmnWorkflow, tracker: state_codec.SaveTracker | None = None
    ) -> None:
        self.process = process
        self.workflow = workflow
        self.tracker = tracker or state_codec.SaveTracker()

    @classmethod
    def start(cls, process: ParsedProcess, script_engine: Any, data: dict) -> CaseRuntime:
        """A new workflow with ``data`` as its start data, run to its first wait state."""
        workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=script_engine)
        cls._fire_start_timer(workflow)
        start = workflow.get_next_task(state=TaskState.READY)
        if start is not None:
            start.data.update(copy.deepcopy(data))
        runtime = cls(process, workflow)
        runtime.advance()
        return runtime

    @classmethod
    def open_at_message(cls, process: ParsedProcess, script_engine: Any, message: str) -> tuple[CaseRuntime, str]:
        """A new workflow waiting at the start event that catches ``message``, and that task's id.

        A process may begin in several ways (a person starts it, or another system's message
        does); SpiffWorkflow would run every none start event at once. Only its own start
        bookkeeping is run here, and the other start events are cancelled, so the case begins at
        this message's start event alone; the caller then lets it catch the message."""
        workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=script_engine)
        while bookkeeping := [t for t in workflow.get_tasks(state=TaskState.READY)
                              if not isinstance(t.task_spec, StartEvent)]:
            for task in bookkeeping:
                task.run()
        starts = [t for t in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK)
                  if isinstance(t.task_spec, StartEvent)]
        chosen = next((t for t in starts if t.state == TaskState.WAITING
                       and isinstance(t.task_spec.event_definition, MessageEventDefinition)
                       and t.task_spec.event_definition.name == message), None)
        if chosen is None:
            raise Conflict(f"The process does not begin with message {message!r}")
        for task in starts:
            if task is not chosen:
                task.cancel()
        return cls(process, workflow), str(chosen.id)

    @staticmethod
    def _fire_start_timer(workflow: BpmnWorkflow) -> None:
        """A case of a process whose start event is a timer exists because its time has come (the
        worker starts it on its schedule, see ``engine.time.schedules``) or because a person starts it
        now: either way its start timer has fired. Left to SpiffWorkflow, a start timer would make
        the case wait for the expression's first occurrence and, being a cycle, stay waiting for
        ever and add a branch to the same case at every occurrence; the schedule, not the case,
        owns the repetition. Marked fired, the start event completes like a none start event."""
        start_spec = schedules.timer_start_spec(workflow.spec)
        if start_spec is None:
            return
        for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK, spec_name=start_spec.name):
            task._set_internal_data(event_fired=True)
            if not task.children:  # a cycle timer predicts no path; it adds one when it fires
                for output in start_spec.outputs:
                    child = task._add_child(output, TaskState.FUTURE)
                    child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)

    @classmethod
    def restore(
        cls, process: ParsedProcess, skeleton: str, rows: list[tuple[str, str, str]], script_engine: Any
    ) -> CaseRuntime:
        """The workflow as a case stored it (skeleton and task rows), on the version's cached specs."""
        workflow, tracker = state_codec.load_rows(
            skeleton, rows, process.spec, process.subprocess_specs, script_engine
        )
        return cls(process, workflow, tracker)

    def dump_delta(self) -> state_codec.StateDelta:
        """What to write so that the stored state equals this one (only what changed)."""
        return state_codec.dump_delta(self.workflow, self.tracker)

    def dump(self) -> str:
        """The whole state as canonical JSON, for comparing two runtimes."""
        return state_codec.dump_state(self.workflow)

    def _live(self) -> Iterator[Task]:
        """Every unfinished task of the case (called subprocesses included), from the task index
        rather than by looking at every task: the history grows with every loop iteration."""
        yield from spiff_task_index.live_tasks(self.workflow)
        for subprocess in self.workflow.subprocesses.values():
            yield from spiff_task_index.live_tasks(subprocess)

    def _in_state(self, mask: int) -> Iterator[Task]:
        """The unfinished tasks in the ``mask`` states (every caller asks for unfinished ones)."""
        return (task for task in self._live() if task._state & mask)

    def advance(self) -> None:
        """Run engine tasks (scripts, gateways, decisions) until people or time must act."""
        self.workflow.do_engine_steps()
        if self.is_completed:
            return
        if next(self._in_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED), None) is None:
            raise EngineStalled("The case has no ready task and waits for nothing: it cannot continue")

    def failed_tasks(self) -> list[Task]:
        """The tasks whose step failed (SpiffWorkflow left them in ERROR), called processes included.
        Finished tasks are not indexed, so this looks at the whole tree: only a retry asks."""
        found: dict[int, Task] = {}
        for workflow in (self.workflow, *self.workflow.subprocesses.values()):
            for task in workflow.get_tasks(state=TaskState.ERROR):
                found[id(task)] = task
        return list(found.values())

    def failed_elements(self) -> list[str]:
        """The names of the elements whose step failed, sorted: what a retry records it runs again
        and what a replay of the retry checks against."""
        return sorted(t.task_spec.bpmn_name or t.task_spec.name for t in self.failed_tasks())

    def retry_failed(self) -> None:
        """Run the failed steps again, as they were before they failed, and move the case on."""
        for task in self.failed_tasks():
            task._set_state(TaskState.READY)
        self.advance()

    # -- timers: engine.time.timers reads their due times; engine.services.scheduler fires them --

    def pending_timers(self) -> list[timers.PendingTimer]:
        """Every timer the case waits on (called subprocesses included), earliest first."""
        return timers.pending(self._in_state(TaskState.WAITING | TaskState.READY))

    def fire_timers(self, due: list[timers.PendingTimer]) -> None:
        """Fire exactly the given timers and run the case on to its next wait state.

        Each timer is updated the way ``BpmnWorkflow.refresh_timers`` updates all of them, but only
        these: the caller has recorded them as fired, and a timer that comes due a moment later
        must wait for its own record rather than fire unrecorded in this step. A READY timer
        needs no update; the engine step runs it.
        """
        with timer_gate.firing({timer.task_id for timer in due}):
            for timer in due:
                task = self.workflow.get_task_from_id(UUID(timer.task_id))
                if task.state == TaskState.WAITING:
                    task.task_spec._update(task)
            self.advance()

    # -- messages: engine.services.messages delivers them; save_runtime indexes the waits --

    def waiting_messages(self) -> list[WaitingMessage]:
        """Every message catch event the case waits at (called subprocesses included), those an
        event-based gateway races against each other or a timer too (``engine.spiff.held_events``).

        The correlation values are each property's retrieval expression evaluated in the sandbox
        over the waiting task's data: the order reference a consent must name is the case's own.
        """
        waits = []
        for task in self._in_state(TaskState.WAITING):
            for definition, element in held_events.messages_held(task.task_spec):
                correlation = {}
                for prop in definition.correlation_properties:
                    try:
                        correlation[prop.name] = self.workflow.script_engine.environment.evaluate(
                            prop.retrieval_expression, copy.deepcopy(task.data))
                    except SCRIPT_FAILURES:  # no value yet: the wait is indexed without it
                        continue
                waits.append(WaitingMessage(str(task.id), element.name, definition.name, correlation,
                                            is_start=isinstance(task.task_spec, StartEvent)
                                            and task.workflow is self.workflow))
        return waits

    def catch_message(self, task_id: str, name: str, payload: dict, correlation: dict) -> None:
        """Let the waiting task ``task_id`` catch message ``name`` and run the case on.

        The event goes to that task alone: the caller found it through the correlation index,
        so no other waiting task may take it. SpiffWorkflow computes the message's correlations by
        evaluating each retrieval expression over the payload, so the correlation values are
        added to the payload under their property ids. At an event-based gateway the message wins
        the race: the gateway takes its path and cancels the other events (its timers too).
        Conflict when the task no longer waits for this message.
        """
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, TaskNotFoundException) as exc:
            raise Conflict("The case no longer waits for this message") from exc
        spec = task.task_spec
        definition = next((d for d, _ in held_events.messages_held(spec) if d.name == name), None)
        if task.state != TaskState.WAITING or definition is None:
            raise Conflict("The case no longer waits for this message")
        content = {**copy.deepcopy(payload), **copy.deepcopy(correlation)}
        event = BpmnEvent(definition, content, definition.get_correlations(task, content))
        if not spec.catches(task, event):
            raise Conflict("The message does not correlate with what the case waits for")
        spec.catch(task, event)
        spec._update(task)
        if getattr(definition, "message_var", None) is None:
            # No spiffworkflow:messageVariable: the payload's fields become case data, as a
            # submitted form's do (else SpiffWorkflow puts the payload in that variable). Set
            # once the task is ready: becoming ready copies its parent's data over its own.
            task.data.update(copy.deepcopy(content))
        self.advance()

    def user_task(self, task_id: str) -> Any:
        """The ready user task with this id, or Conflict when it is no longer waiting."""
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, TaskNotFoundException) as exc:
            raise Conflict("This task is not part of the case any more") from exc
        if task.state != TaskState.READY or not task.task_spec.manual:
            raise Conflict("This task has already been completed or cancelled")
        return task

    def complete(self, task_id: str, data: dict) -> Any:
        """Apply a person's submitted data to a ready user task and move the case on.

        The data is deep-copied in: SpiffWorkflow shares nested values between tasks, and the
        caller keeps its own copy as the audit record.
        """
        task = self.user_task(task_id)
        task.data.update(copy.deepcopy(data))
        task.run()
        self.advance()
        return task

    def presentation(self, task_id: str) -> dict[str, Any]:
        """What the task page shows beside a ready task's form, worked out once when it becomes
        ready, over its data: its ``instructionsForEndUser`` as HTML (or why they could not be
        shown: a broken template must not stop the case), the choices its form takes from the
        data, and its manual signal buttons."""
        task = self.user_task(task_id)
        shown: dict[str, Any] = {}
        info = self.process.user_tasks.get(task.task_spec.name)
        if info is not None and info.instructions:
            try:
                shown["instructions"] = self.workflow.script_engine.environment.render_instructions(
                    info.instructions, copy.deepcopy(task.data))
            except SCRIPT_FAILURES as exc:
                shown["instructions_error"] = str(exc)
        form = self.process.form_for(task.task_spec.name)
        if form is not None and form.option_variables:
            shown["options"] = form.options_in(task.data)
        signals = [{"name": name, "label": label} for _, name, label in self._signal_buttons(task)]
        if signals:
            shown["signals"] = signals
        return shown

    @staticmethod
    def _signal_buttons(task: Task) -> Iterator[tuple[Task, str, str]]:
        """(event task, signal, label) of each signal boundary event on ``task`` that spiff-arena
        offers as a button (``spiffworkflow:signalButtonLabel``) and that still waits."""
        parent = task.parent
        if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
            return
        for sibling in parent.children:
            definition = getattr(sibling.task_spec, "event_definition", None)
            label = ((sibling.task_spec.extensions or {}).get(SIGNAL_BUTTON) or "").strip() \
                if isinstance(sibling.task_spec, BoundaryEvent) else ""
            if sibling.state == TaskState.WAITING and isinstance(definition, SignalEventDefinition) and label:
                yield sibling, definition.name, label

    def signal_buttons(self, task_id: str) -> dict[str, str]:
        """The manual signals the ready user task ``task_id`` offers now (signal name -> label)."""
        return {signal: label for _, signal, label in self._signal_buttons(self.user_task(task_id))}

    def send_signal(self, task_id: str, name: str) -> str:
        """Press the manual signal button ``name`` of a ready user task: its boundary event catches
        the signal (and an interrupting one cancels the task), then the case runs on. Returns the
        button's label; Conflict when the task offers no such button now."""
        task = self.user_task(task_id)
        for event_task, signal, label in self._signal_buttons(task):
            if signal == name:
                spec = event_task.task_spec
                spec.catch(event_task, BpmnEvent(spec.event_definition, {}))
                spec._update(event_task)
                self.advance()
                return label
        raise Conflict(f"This task offers no signal {name!r}")

    def ready_tasks(self, departments: frozenset[str]) -> list[ReadyTask]:
        """Every user task now waiting for a person, with the department its lane resolves to."""
        ready = []
        for task in self._in_state(TaskState.READY):
            if not task.task_spec.manual:
                continue
            info = self.process.user_tasks.get(task.task_spec.name)
            lane = task.task_spec.lane
            department = (
                self._department_of(task, info.department_expression)
                if info is not None and info.department_expression
                else resolve_department(lane, task.data, departments)
            )
            ready.append(
                ReadyTask(
                    id=str(task.id),
                    element_id=task.task_spec.name,
                    title=info.title if info else (task.task_spec.bpmn_name or task.task_spec.name),
                    title_zh=info.title_zh if info else "",
                    lane=lane,
                    department=department,
                    form=info.form if info else None,
                    prefill=self._prefill(task),
                    detail=describe_item(self._instance_item(task)),
                    due_at=self._own_due_date(task, info) or self._deadline(task),
                    owners=() if department is not None else lane_owner_names(lane, task.data),
                )
            )
        return ready

    @staticmethod
    def _holders(task: Task) -> list[Task]:
        """The task and the activities it is part of, whose boundary timers are its deadlines: the
        multi-instance activity it is an instance of, and each subprocess or call activity it runs
        inside (and theirs, outwards to the case's own process)."""
        holders: list[Task] = []
        current: Task | None = task
        for _ in range(MAX_INSTANCE_NESTING):
            if current is None:
                break
            holders.append(current)
            if current.parent is not None and isinstance(current.parent.task_spec, MultiInstanceTask):
                holders.append(current.parent)
            workflow = current.workflow
            top = workflow.top_workflow
            current = top.get_task_from_id(workflow.parent_task_id) if workflow is not top else None
        return holders

    def _own_due_date(self, task: Task, info: UserTaskInfo | None) -> datetime | None:
        """The due date the task's ``dueDate`` property gives, counted from now (its inbox row is
        made once, now); None without the property or when its expression fails over the task's
        data, and the boundary timers decide (``engine.time.due_dates`` says why it wins)."""
        if info is None or not info.due_date:
            return None
        try:
            return due_dates.due_at(info.due_date, utcnow(),
                                    lambda expression: self.workflow.script_engine.evaluate(task, expression))
        except (*SCRIPT_FAILURES, SpiffWorkflowException, ValueError, OverflowError):
            return None

    @staticmethod
    def _deadline(task: Task) -> datetime | None:
        """The task's due date (naive UTC, as the database stores it), from the boundary timers on
        it or on an activity it is part of (``_holders``: a multi-instance activity, a subprocess,
        a call activity): the earliest interrupting one (it takes the work away), else the last
        non-interrupting one (reminders come before the date, the escalation at it)."""
        holders = CaseRuntime._holders(task)
        interrupting, warning = [], []
        for holder in holders:
            for other in holder.parent.children if holder.parent is not None else []:
                due = timers.due_time(other) if other is not holder and other.state == TaskState.WAITING else None
                if due is not None:
                    (interrupting if getattr(other.task_spec, "cancel_activity", False) else warning).append(due)
        due = min(interrupting, default=None) or max(warning, default=None)
        return due.replace(tzinfo=None) if due is not None else None

    def _instance_item(self, task: Task) -> Any:
        """The item a multi-instance task (or a task inside a multi-instance subprocess) was made
        for, as the diagram's input data item names it; None for ordinary tasks."""
        current: Task | None = task
        for _ in range(MAX_INSTANCE_NESTING):
            if current is None:
                return None
            parent = current.parent
            if parent is not None and isinstance(parent.task_spec, MultiInstanceTask):
                item = parent.task_spec.input_item
                return task.data.get(item.bpmn_id) if item is not None else None
            if parent is None and current.workflow is not self.workflow:
                current = self.workflow.get_task_from_id(current.workflow.parent_task_id)
            else:
                current = parent
        return None

    def _prefill(self, task: Task) -> dict:
        """What the task's own data already holds for its form's fields: a revision round shows
        the last answer, a multi-instance task its own item, a called process its inputs."""
        form = self.process.form_for(task.task_spec.name)
        return copy.deepcopy(conform(form, task.data)) if form is not None else {}

    def _department_of(self, task: Task, expression: str) -> str | None:
        """The department a task's ``departmentExpression`` names over its data (None if it names
        none: the task then shows to admins as unrouted rather than failing the case)."""
        value = self.workflow.script_engine.evaluate(task, expression)
        return value if isinstance(value, str) and value else None

    @property
    def is_completed(self) -> bool:
        """True once no task is unfinished (SpiffWorkflow's own flag, set when it last checked)."""
        if not self.workflow.completed and next(self._live(), None) is None:
            self.workflow.completed = True
        return self.workflow.completed

    @property
    def data(self) -> dict:
        """The case's current data: what the most recently finished task left behind."""
        if self.is_completed:
            return self.workflow.data or (self.workflow.last_task.data if self.workflow.last_task else {})
        last = self.workflow.last_task
        return last.data if last is not None else {}
