"""Process versions: loading definitions as published versions and listing what can be started."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import func, select

from engine.context import EngineContext
from engine.data_limits import text_problem
from engine.definitions import senders, starters
from engine.definitions.catalog import ParsedProcess, ProcessBundle, parse_bundle, scan_directory
from engine.definitions.distribution import lane_departments
from engine.definitions.validation import Problem, validate
from engine.errors import InvalidDefinition, NotFound
from engine.persistence.models import Department, ProcessFile, ProcessVersion, Schedule, VersionSignoff
from engine.sandbox.environment import SCRIPT_FAILURES
from engine.services.actors import Actor
from engine.time import schedules
from engine.time.clock import utcnow


@dataclass(frozen=True)
class ProcessSummary:
    id: str
    name: str
    version: int
    content_hash: str
    published_at: str | None
    starts_by_hand: bool
    start_messages: list[str]
    starts_on_timer: bool = False
    startable_by: list[str] = field(default_factory=list)
    may_start: bool | None = None
    name_zh: str = ""


def may_start(actor: Actor, parsed: ParsedProcess) -> bool:
    """Whether ``actor`` may start a case of the process by hand: it has a Start button at all,
    and its ``startableBy`` (``engine.definitions.starters``) admits them. Auditors never start."""
    if not parsed.starts_by_hand or (actor.is_auditor and not actor.departments):
        return False
    return parsed.startable_by.admits(actor)


def _summary(row: ProcessVersion, parsed: ParsedProcess, actor: Actor | None = None) -> ProcessSummary:
    """What the start page and the API say of a version, including how its cases begin: a
    process whose only start events catch a message or wait for a timer is started by them, not
    by hand; with an ``actor``, whether that caller may start it."""
    published = row.published_at.isoformat() if row.published_at else None
    messages = sorted(c.message for c in parsed.message_catches.values() if c.is_start)
    starting = [str(rule) for rule in parsed.startable_by.rules] if parsed.starts_by_hand else []
    return ProcessSummary(row.process_id, row.name, row.version, row.content_hash, published,
                          parsed.starts_by_hand, messages, parsed.starts_on_timer, starting,
                          None if actor is None else may_start(actor, parsed), parsed.name_zh)


IMPORTED_BY = "setup"


def publish_bundle(ctx: EngineContext, bundle: ProcessBundle, source_files: str = "") -> tuple[ProcessSummary, bool]:
    """Store a bundle as the newest published version of its process, unless that exact content
    is already a version (then nothing changes). The bundle is parsed first: a definition that
    does not parse is never stored. A process whose start event is a timer gets its schedule
    (``schedules``) from the version published here. Setup records it as imported (by ``setup``,
    now, from ``source_files``) under the next label, so the revision record has no gap."""
    parsed = parse_bundle(bundle)
    timer = timer_start(ctx, parsed)
    with ctx.unit_of_work() as uow:
        check_senders(uow, parsed)
        check_starters(uow, parsed)
        existing = uow.session.scalar(
            select(ProcessVersion).where(
                ProcessVersion.process_id == bundle.process_id,
                ProcessVersion.content_hash == parsed.content_hash,
            )
        )
        if existing is not None:
            if timer is not None and uow.session.scalar(
                    select(Schedule.id).where(Schedule.process_id == bundle.process_id)) is None:
                _sync_schedule(uow, bundle.process_id, timer)  # published before schedules existed
                uow.commit()
            return _summary(existing, parsed), False
        files = source_files or ", ".join(sorted(bundle.files))
        row = ProcessVersion(
            process_id=bundle.process_id,
            name=bundle.name,
            version=next_version_number(uow, bundle.process_id),
            content_hash=parsed.content_hash,
            source="imported",
            created_by=IMPORTED_BY,
            change_note=f"Imported by setup from {files}",
            distribution=lane_departments(bundle.files, ctx.department_ids()),
            files=[ProcessFile(path=p, content=c) for p, c in sorted(bundle.files.items())],
        )
        uow.session.add(row)
        put_in_force(uow, row, timer, parsed)
        uow.session.add(VersionSignoff(version=row, step="imported", actor=IMPORTED_BY, display_name=IMPORTED_BY,
                                       at=row.published_at, comment=files))
        uow.commit()
        return _summary(row, parsed), True


def next_version_number(uow, process_id: str) -> int:  # type: ignore[no-untyped-def]
    """The next row number of a process's versions (drafts included; the label is separate)."""
    latest = uow.session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.process_id == process_id))
    return (latest or 0) + 1


def put_in_force(uow, row: ProcessVersion, timer: schedules.TimerStart | None,  # type: ignore[no-untyped-def]
                 parsed: ParsedProcess) -> None:
    """Make ``row`` the one published version of its process: the one before is superseded
    (its running cases stay on it), the label is the next of the revision record (A0, A1, …),
    the name in Chinese is kept for the pages that list cases, and the schedule follows the new
    version's timer start."""
    row.name_zh = parsed.name_zh[:200]
    uow.session.flush()
    in_force = uow.session.scalars(select(ProcessVersion).where(
        ProcessVersion.process_id == row.process_id, ProcessVersion.status == "published").with_for_update())
    for previous in in_force:
        if previous is not row:
            previous.status = "superseded"
    released = uow.session.scalar(select(func.count(ProcessVersion.id)).where(
        ProcessVersion.process_id == row.process_id, ProcessVersion.status.in_(("published", "superseded")),
        ProcessVersion.id != row.id))
    row.label = f"A{released or 0}"
    row.status = "published"
    row.published_at = utcnow()
    _sync_schedule(uow, row.process_id, timer)


def check_senders(uow, parsed: ParsedProcess) -> None:  # type: ignore[no-untyped-def]
    """Every department and integration a message's ``allowedSenders`` names must exist, so that a
    typo is refused now, naming the element, instead of leaving the message open to nobody."""
    departments = set(uow.session.scalars(select(Department.id)))
    for catch in parsed.message_catches.values():
        senders.check_known(catch.senders, departments,
                            f"{parsed.process_id}: bpmn:event id={catch.element_id!r} (message {catch.message!r})")


def check_starters(uow, parsed: ParsedProcess) -> None:  # type: ignore[no-untyped-def]
    """Every department and integration the process's ``startableBy`` names must exist, so that a
    typo does not leave the process startable by nobody. The default (start events' lanes) is
    not checked: a lane may name a role such as ``responsible`` that is no department."""
    if parsed.startable_by.declared:
        senders.check_known(parsed.startable_by, set(uow.session.scalars(select(Department.id))),
                            f"{parsed.process_id}: bpmn:process id={parsed.process_id!r}", starters.PROPERTY)


def timer_start(ctx: EngineContext, parsed: ParsedProcess) -> schedules.TimerStart | None:
    """The version's timer start event, its expression evaluated and checked now, so that a
    definition whose schedule cannot be computed is refused when it is published."""
    try:
        timer = schedules.timer_start(parsed.spec, ctx.script_engine)
        if timer is not None:
            schedules.next_run(timer, utcnow())
    except (*SCRIPT_FAILURES, SpiffWorkflowException, ValueError, TypeError) as exc:
        raise InvalidDefinition(f"{parsed.process_id}: the timer start event's expression is unusable: {exc}") from exc
    return timer


def _sync_schedule(uow, process_id: str, timer: schedules.TimerStart | None) -> None:  # type: ignore[no-untyped-def]
    """Keep the process's schedule as its newest version says: none without a timer start; the
    next occurrence after now when the expression is new or changed; an unchanged expression keeps
    its next run (a run missed just before a republish still happens)."""
    schedule = uow.session.scalar(select(Schedule).where(Schedule.process_id == process_id).with_for_update())
    if timer is None:
        if schedule is not None:
            uow.session.delete(schedule)
        return
    if schedule is None:
        schedule = Schedule(process_id=process_id)
        uow.session.add(schedule)
    elif schedule.expression == timer.expression and schedule.element_id == timer.element_id:
        return
    now = utcnow()
    schedule.element_id, schedule.expression = timer.element_id, timer.expression
    schedule.next_run_at = schedules.next_run(timer, now, published_at=now)
    schedule.updated_at = now


@dataclass
class DirectoryPublication:
    """What publishing a directory did: each process published (True) or already there (False),
    each file that failed with the reason, so one bad file does not hold back the others, and the
    validation problems of what it loaded (the same the API reports for an uploaded bundle)."""

    published: list[tuple[ProcessSummary, bool]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def publish_directory(ctx: EngineContext, workflows_dir: Path, forms_dir: Path) -> DirectoryPublication:
    """Publish every usable executable process found in a workflows directory (setup does this).
    A bundle with validation errors is not published: its errors are its failure."""
    scan = scan_directory(workflows_dir, forms_dir)
    result = DirectoryPublication(failures=list(scan.failures))
    for key, bundle in scan.bundles:
        problems = validate(bundle.files, ctx.department_ids(), ctx.script_engine)
        result.problems += [p for p in problems if p not in result.problems]
        errors = [p for p in problems if p.blocks]
        if errors:
            result.failures.append((key, "; ".join(f"{p.file}: {p.message}" for p in errors)))
            continue
        try:
            result.published.append(publish_bundle(ctx, bundle, f"{key} ({len(bundle.files)} files)"))
        except InvalidDefinition as exc:
            result.failures.append((key, exc.message))
    return result


def latest_versions_query():  # type: ignore[no-untyped-def]
    latest = (
        select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("version"))
        .where(ProcessVersion.status == "published")
        .group_by(ProcessVersion.process_id)
        .subquery()
    )
    return select(ProcessVersion).join(
        latest,
        (ProcessVersion.process_id == latest.c.process_id) & (ProcessVersion.version == latest.c.version),
    )


def list_published(ctx: EngineContext, actor: Actor | None = None) -> list[ProcessSummary]:
    """The newest published version of every process, by name; with an ``actor``, each says
    whether that caller may start it (``may_start``)."""
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(latest_versions_query().order_by(ProcessVersion.name))
        return [_summary(r, ctx.process(r), actor) for r in rows]


def latest_published(session, process_id: str) -> ProcessVersion:  # type: ignore[no-untyped-def]
    """The version new cases of ``process_id`` start on (none for an id no row can hold)."""
    if text_problem(process_id) is not None:
        raise NotFound(f"No published process {process_id!r}")
    row = session.scalar(latest_versions_query().where(ProcessVersion.process_id == process_id))
    if row is None:
        raise NotFound(f"No published process {process_id!r}")
    return row
