"""Time-driven work: firing the timers cases wait on, and sending queued notification mail
(``serviceflow worker`` runs the loop; mail: ``engine.services.notifications``).

Why it is shaped this way:

- Due work is found through the indexed ``cases.next_due_at`` alone (``save_runtime`` keeps it at
  the earliest timer of every case), so an idle worker costs one index probe and never reads or
  deserializes a case that has nothing to do.
- One case per transaction: lock its row, fire its due timers, save the state, its events and its
  new due time, commit. A worker killed at any moment loses only the case it had not committed;
  that case is still due and the next worker fires it. Nothing fires twice, because a firing, its
  ``timer_fired`` events and the case's new due time are committed together or not at all.
- Many workers on PostgreSQL claim rows with ``FOR UPDATE SKIP LOCKED``: a worker never waits on
  nor fires a case another worker holds, and PostgreSQL re-checks the due time of a row it locks,
  so a case another worker has just advanced no longer matches. SQLite has no row locks; its
  writers are serialized with BEGIN IMMEDIATE and one worker is the supported set-up there.
- Scheduled starts (a process whose start event is a timer, ``engine.time.schedules``) work the same
  way over ``schedules.next_run_at``: one schedule per transaction, claimed with ``SKIP LOCKED``;
  the case starts and the schedule moves to its next occurrence after now in one commit, so a run
  happens once however many workers look, and runs missed while no worker ran start one case.
- A worker never waits long for a person: when a case it claimed is being saved by a request at
  that moment, it backs off (a short lock timeout) and the request's save sets the due time anew.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.task import Task
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from engine.audit import chain as audit
from engine.audit.verify import CheckpointHeads
from engine.context import EngineContext
from engine.persistence.models import Case, ProcessVersion, Schedule, WorkItem
from engine.persistence.uow import UnitOfWork
from engine.services import integrity
from engine.services.case_store import load_runtime, run_step, save_runtime
from engine.services.cases import start_in
from engine.services.checkpoints import checkpoint_if_due, checkpoints_enabled, signed_heads
from engine.services.engine_errors import describe_engine_failure
from engine.services.incidents import record_incident
from engine.services.notifications import open_items, queue_task_due_soon, queue_task_escalated, send_queued_mail
from engine.spiff.runtime import CaseRuntime
from engine.time import clock, schedules, timers
from engine.time.timers import BoundaryTimer, PendingTimer, next_due_at

log = logging.getLogger("serviceflow.worker")

MIN_WAIT_SECONDS = 0.2
LOCK_TIMEOUT_MS = 500
BUSY_SQLSTATES = frozenset({"55P03", "40P01"})  # lock_not_available, deadlock_detected


@dataclass(frozen=True)
class SystemActor:
    """Who acts when time does: events show "system" and link to no user."""

    id: None = None
    username: str = "system"


SYSTEM = SystemActor()


def _claim(uow: UnitOfWork, now: datetime, passed: set[int]) -> Case | None:
    """Lock the case that has been due longest, skipping rows other workers hold.

    The comparison is strict, as SpiffWorkflow's is: a timer is due once its time is before now.
    """
    query = (
        select(Case.id)
        .where(Case.next_due_at < now.replace(tzinfo=None), Case.status == "running")
        .order_by(Case.next_due_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if passed:
        query = query.where(Case.id.not_in(passed))
    case_id = uow.session.scalar(query)
    return uow.session.get(Case, case_id) if case_id is not None else None


def _record_fired(uow: UnitOfWork, case: Case, due: list[PendingTimer], now: datetime) -> None:
    """A ``timer_fired`` event per timer, before the step runs (as a completed task is recorded
    before its step): the due time and the clock time let a replay fire it at the same moment."""
    for timer in due:
        audit.record(
            case, "timer_fired", SYSTEM,
            {"name": timer.name, "due": timer.due.isoformat(), "clock": now.isoformat()},
            task_id=timer.task_id, element_id=timer.element_id,
        )


@dataclass(frozen=True)
class _Watched:
    """A due boundary timer, as it stood before it fired: its task, and the open tasks it is
    attached to (an interrupting one takes them away, so they are read first)."""

    task: Task
    boundary: BoundaryTimer
    held: list[WorkItem]


def _watch(uow: UnitOfWork, runtime: CaseRuntime, due: list[PendingTimer]) -> list[_Watched]:
    watched = []
    for timer in due:
        task = runtime.workflow.get_task_from_id(UUID(timer.task_id))
        boundary = timers.boundary_timer(task) if task is not None else None
        if boundary is not None:
            watched.append(_Watched(task, boundary, open_items(uow, boundary.attached_task_ids)))
    return watched


def _notify(ctx: EngineContext, uow: UnitOfWork, case: Case, watched: list[_Watched]) -> None:
    """Record and mail the boundary timers that fired, in the firing's transaction: an
    ``escalation`` or ``reminder`` event names the timer, the tasks it held and those it gave. An escalation (the
    timer interrupts the work, or hands new tasks to a department that held none of it) tells the
    receivers of the new tasks and the holders of the old ones (``task_escalated``); a reminder
    (non-interrupting, no new task for anyone else) tells the holders (``task_due_soon``)."""
    uow.session.flush()
    for fired in watched:
        after = open_items(uow, timers.user_tasks_after(fired.task))
        departments = {item.department_id for item in fired.held}
        escalated = fired.boundary.interrupting or any(item.department_id not in departments for item in after)
        audit.record(case, "escalation" if escalated else "reminder", SYSTEM, {
            "timer": fired.task.task_spec.bpmn_name or fired.task.task_spec.name,
            "interrupting": fired.boundary.interrupting,
            "tasks": [item.title for item in fired.held], "new_tasks": [item.title for item in after],
        }, task_id=str(fired.task.id), element_id=fired.task.task_spec.name)
        if escalated:
            queue_task_escalated(uow, ctx.settings.mail, after, fired.held, SYSTEM)
        else:
            queue_task_due_soon(uow, ctx.settings.mail, fired.held, SYSTEM)


def _fire(ctx: EngineContext, uow: UnitOfWork, case: Case, runtime: CaseRuntime, now: datetime) -> bool:
    """Fire the case's due timers and save what follows; False when nothing was due after all
    (the stored due time was stale: it is corrected so that the case is not claimed again)."""
    due = [timer for timer in runtime.pending_timers() if timer.is_due(now)]
    if not due:
        case.next_due_at = next_due_at(runtime.pending_timers())
        return False
    _record_fired(uow, case, due, now)
    watched = _watch(uow, runtime, due)
    error = run_step(uow, case, SYSTEM, lambda: runtime.fire_timers(due))
    save_runtime(ctx, uow, case, runtime, SYSTEM, error)
    if error is None:
        _notify(ctx, uow, case, watched)
    return True


def _fail_unloadable(uow: UnitOfWork, case: Case, exc: Exception) -> None:
    """A case whose state cannot be read would be claimed first forever and hold up every other
    timer; it goes to error for admins to see, like a case whose step failed."""
    case.status, case.error, case.next_due_at = "error", describe_engine_failure(exc), None
    audit.record(case, "case_failed", SYSTEM, {"error": case.error})


def _load_and_fire(ctx: EngineContext, uow: UnitOfWork, case: Case, now: datetime) -> tuple[CaseRuntime | None, bool]:
    """The case's runtime (None if it could not be read) and whether its timers fired; flushed."""
    try:
        runtime = load_runtime(ctx, uow, case)
    except SQLAlchemyError:
        raise
    except Exception as exc:  # noqa: BLE001 - see _fail_unloadable
        _fail_unloadable(uow, case, exc)
        runtime = None
    advanced = runtime is not None and _fire(ctx, uow, case, runtime, now)
    uow.session.flush()
    return runtime, advanced


def _limit_lock_waits(ctx: EngineContext, uow: UnitOfWork) -> None:
    """Never keep a person waiting, and never deadlock with them. Saving a task writes the case's
    task rows before its case row; the worker holds the case row first. So on PostgreSQL the
    worker waits only briefly for a row a request holds, then backs off (see ``_is_busy``)."""
    if not ctx.database.is_sqlite:
        uow.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))


def _is_busy(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES


def _fire_next(ctx: EngineContext, passed: set[int]) -> tuple[int, bool] | None:
    """Claim, fire and commit one due case: (its id, whether it advanced), or None if none is due.
    A case someone is saving right now is left for a later round; their save sets its due time."""
    with ctx.unit_of_work() as uow:
        _limit_lock_waits(ctx, uow)
        now = clock.now()
        case = _claim(uow, now, passed)
        if case is None:
            return None
        case_id = case.id
        try:
            runtime, advanced = _load_and_fire(ctx, uow, case, now)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
            log.info("case %s is being changed by someone; its timers fire on a later round", case_id)
            return case_id, False
        lock_version, healthy = case.lock_version, case.status == "running"
        uow.commit()
    if runtime is not None and healthy:
        ctx.runtimes.put(case_id, lock_version, runtime)
    log.debug("case %s: %s", case_id, "timers fired" if advanced else "nothing due")
    return case_id, advanced


def fire_due_timers(ctx: EngineContext, limit: int = 100, stop: threading.Event | None = None) -> int:
    """Fire the timers of up to ``limit`` due cases, one transaction per case; returns how many
    cases advanced. Stops early when no case is due any more or ``stop`` is set."""
    advanced, passed = 0, set()
    while len(passed) < limit and not (stop is not None and stop.is_set()):
        claimed = _fire_next(ctx, passed)
        if claimed is None:
            break
        passed.add(claimed[0])
        advanced += claimed[1]
    return advanced


def _claim_schedule(uow: UnitOfWork, now: datetime, passed: set[int]) -> Schedule | None:
    """Lock the schedule that has been due longest (strictly before now, as timers), skipping rows
    other workers hold."""
    query = (
        select(Schedule)
        .where(Schedule.next_run_at < now.replace(tzinfo=None))
        .order_by(Schedule.next_run_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if passed:
        query = query.where(Schedule.id.not_in(passed))
    return uow.session.scalar(query)


def _latest_version(uow: UnitOfWork, process_id: str) -> ProcessVersion | None:
    return uow.session.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.process_id == process_id, ProcessVersion.status == "published")
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )


def _start_next(ctx: EngineContext, passed: set[int]) -> tuple[int, int | None] | None:
    """Claim one due schedule, start its case and move the schedule on, in one transaction:
    (schedule id, the new case's id, None when no version could be started), or None if no
    schedule is due. The next run is the first occurrence after now, so runs missed while no
    worker ran start one case, not one each."""
    with ctx.unit_of_work() as uow:
        _limit_lock_waits(ctx, uow)
        now = clock.now()
        schedule = _claim_schedule(uow, now, passed)
        if schedule is None:
            return None
        schedule_id, due, after = schedule.id, schedule.next_run_at, now.replace(tzinfo=None)
        version = _latest_version(uow, schedule.process_id)
        timer = schedules.timer_start(ctx.process(version).spec, ctx.script_engine) if version is not None else None
        case, runtime, error = start_in(ctx, uow, SYSTEM, version, {}) if timer is not None else (None, None, None)
        schedule.next_run_at = schedules.next_run(timer, after) if timer is not None and timer.kind == "cycle" else None
        schedule.last_run_at, schedule.updated_at = after, after
        if case is not None:
            schedule.last_case_id = case.id
            audit.record(case, "scheduled_start", SYSTEM, {
                "schedule": schedule.process_id, "due": due.isoformat() if due else None, "clock": now.isoformat(),
                "next": schedule.next_run_at.isoformat() if schedule.next_run_at else None,
            }, element_id=timer.element_id)
        case_id, lock_version = (case.id, case.lock_version) if case is not None else (None, None)
        healthy = case is not None and case.status == "running" and error is None
        uow.commit()
    if runtime is not None and healthy:
        ctx.runtimes.put(case_id, lock_version, runtime)
    log.info("schedule %s: started case %s", schedule_id, case_id)
    return schedule_id, case_id


def start_scheduled_cases(ctx: EngineContext, limit: int = 100, stop: threading.Event | None = None) -> int:
    """Start a case of every process whose schedule is due (up to ``limit``), one transaction per
    schedule, as the system; returns how many cases started."""
    started, passed = 0, set()
    while len(passed) < limit and not (stop is not None and stop.is_set()):
        claimed = _start_next(ctx, passed)
        if claimed is None:
            break
        passed.add(claimed[0])
        started += claimed[1] is not None
    return started


def seconds_until_due(ctx: EngineContext, poll_seconds: float) -> float:
    """How long the worker may sleep: until the earliest due time of a case's timer or of a
    schedule, at most ``poll_seconds`` (cases started or moved by other processes may bring earlier
    timers), at least a moment (so that a case another worker holds does not make this one spin)."""
    with ctx.unit_of_work(readonly=True) as uow:
        due = [uow.session.scalar(select(func.min(Case.next_due_at)).where(Case.status == "running")),
               uow.session.scalar(select(func.min(Schedule.next_run_at)))]
    earliest = min((at for at in due if at is not None), default=None)
    if earliest is None:
        return poll_seconds
    return min(max((earliest - clock.utcnow()).total_seconds(), MIN_WAIT_SECONDS), poll_seconds)


def _send_mail(ctx: EngineContext, batch: int) -> int:
    """Send queued notification mail when SMTP is configured (else it waits in the outbox)."""
    if not ctx.settings.mail.smtp_configured:
        return 0
    sent = send_queued_mail(ctx, batch)
    if sent:
        log.info("sent %d notification mail(s)", sent)
    return sent


def _work_once(ctx: EngineContext, stop: threading.Event, poll_seconds: float, batch: int,
               checkpoints: bool = False) -> float:
    """One round: fire what is due, send queued mail, sign a checkpoint when one is due; return
    how long to wait before the next round. A failed round (the database is down, say) is logged and retried after
    ``poll_seconds``: the worker outlives it."""
    try:
        advanced = fire_due_timers(ctx, batch, stop)
        if advanced:
            log.info("fired the due timers of %d case(s)", advanced)
        started = start_scheduled_cases(ctx, batch, stop)
        if started:
            log.info("started %d scheduled case(s)", started)
        sent = _send_mail(ctx, batch)
        checkpoint = checkpoint_if_due(ctx) if checkpoints else None
        if checkpoint is not None:
            log.info("signed checkpoint %d over %d case(s)", checkpoint.number, checkpoint.tree_size)
        busy = advanced >= batch or started >= batch or sent >= batch
        return 0.0 if busy else seconds_until_due(ctx, poll_seconds)
    except SQLAlchemyError as exc:
        log.warning("database unavailable, retrying in %.0f s: %s", poll_seconds, exc)
    except Exception as exc:  # noqa: BLE001 - a bug: recorded as an incident; the next round may succeed
        incident = record_incident(ctx, "worker", "", exc)
        log.error("firing due timers failed (incident %s); retrying in %.0f s", incident, poll_seconds)
    return poll_seconds


VERIFY_SLICE = 2000


@dataclass
class VerifyPass:
    """The worker's way through every case history: a pass starts when the monotonic clock
    reaches ``due`` and verifies ``VERIFY_SLICE`` cases per worker round (so that timers never
    wait for a whole pass), from ``next_id`` on, until no case is left."""

    due: float
    next_id: int | None = None
    heads: CheckpointHeads | None = None  # the signed heads, read once when the pass starts


def verify_slice(ctx: EngineContext, progress: VerifyPass, size: int = VERIFY_SLICE) -> int:
    """Verify the next slice of a due pass (failures are kept and mailed by
    ``engine.services.integrity``); returns how many cases it verified. A failed slice is logged
    and the pass resumes there at the next round."""
    interval = ctx.settings.verify_interval_seconds
    if not interval or (progress.next_id is None and time.monotonic() < progress.due):
        return 0
    start = progress.next_id or 0
    try:
        with ctx.unit_of_work(readonly=True) as uow:
            if progress.next_id is None:
                progress.heads = signed_heads(ctx, uow.session)
            ids = list(uow.session.scalars(select(Case.id).where(Case.id >= start).order_by(Case.id).limit(size)))
        run = integrity.verify_all(ctx, ids, progress.heads) if ids else integrity.VerifyRun(0)
    except SQLAlchemyError as exc:
        log.warning("database unavailable, history verification paused: %s", exc)
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug: recorded as an incident; the pass resumes next round
        incident = record_incident(ctx, "worker", "", exc)
        log.error("verifying case histories failed (incident %s)", incident)
        return 0
    if run.newly_failed:
        log.warning("case histories that do not verify: %s", ", ".join(str(v.case_id) for v in run.newly_failed))
    if len(ids) < size:
        progress.next_id, progress.due = None, time.monotonic() + interval
    else:
        progress.next_id = ids[-1] + 1
    return run.checked


def run_worker(ctx: EngineContext, stop: threading.Event, poll_seconds: float = 5.0, batch: int = 50) -> None:
    """Fire due timers (and sign checkpoints, see ``checkpoints_enabled``) until ``stop`` is set
    (the command sets it on SIGTERM and SIGINT), sleeping until the next due time or for
    ``poll_seconds``, whichever is sooner; verify every case history, a slice per round, at start
    and then every ``verify_interval_seconds``. A stop request is honoured between cases, never
    inside one's transaction."""
    log.info("worker started (poll every %.1f s, %d cases per round)", poll_seconds, batch)
    checkpoints = checkpoints_enabled(ctx)
    verifying = VerifyPass(due=time.monotonic())
    while not stop.is_set():
        wait = _work_once(ctx, stop, poll_seconds, batch, checkpoints)
        if verify_slice(ctx, verifying):
            wait = 0.0 if verifying.next_id is not None else wait
        if wait > 0:
            stop.wait(wait)
    log.info("worker stopped")
