"""Process versions: loading definitions as published versions and listing what can be started."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import func, select

from engine.context import EngineContext
from engine.data_limits import text_problem
from engine.definitions import senders
from engine.definitions.catalog import ParsedProcess, ProcessBundle, parse_bundle, scan_directory
from engine.definitions.validation import Problem, validate
from engine.errors import InvalidDefinition, NotFound
from engine.persistence.models import Department, ProcessFile, ProcessVersion, Schedule, VersionSignoff
from engine.sandbox.environment import SCRIPT_FAILURES
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


def _summary(row: ProcessVersion, parsed: ParsedProcess) -> ProcessSummary:
    """What the start page and the API say of a version, including how its cases begin: a
    process whose only start event catches a message is started by that message, not by hand."""
    published = row.published_at.isoformat() if row.published_at else None
    messages = sorted(c.message for c in parsed.message_catches.values() if c.is_start)
    return ProcessSummary(row.process_id, row.name, row.version, row.content_hash, published,
                          parsed.starts_by_hand, messages)


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
            files=[ProcessFile(path=p, content=c) for p, c in sorted(bundle.files.items())],
        )
        uow.session.add(row)
        put_in_force(uow, row, timer)
        uow.session.add(VersionSignoff(version=row, step="imported", actor=IMPORTED_BY, display_name=IMPORTED_BY,
                                       at=row.published_at, comment=files))
        uow.commit()
        return _summary(row, parsed), True


def next_version_number(uow, process_id: str) -> int:  # type: ignore[no-untyped-def]
    """The next row number of a process's versions (drafts included; the label is separate)."""
    latest = uow.session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.process_id == process_id))
    return (latest or 0) + 1


def put_in_force(uow, row: ProcessVersion, timer: schedules.TimerStart | None) -> None:  # type: ignore[no-untyped-def]
    """Make ``row`` the one published version of its process: the one before is superseded
    (its running cases stay on it), the label is the next of the revision record (A0, A1, …)
    and the schedule follows the new version's timer start."""
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


def list_published(ctx: EngineContext) -> list[ProcessSummary]:
    """The newest published version of every process, by name."""
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(latest_versions_query().order_by(ProcessVersion.name))
        return [_summary(r, ctx.process(r)) for r in rows]


def latest_published(session, process_id: str) -> ProcessVersion:  # type: ignore[no-untyped-def]
    """The version new cases of ``process_id`` start on (none for an id no row can hold)."""
    if text_problem(process_id) is not None:
        raise NotFound(f"No published process {process_id!r}")
    row = session.scalar(latest_versions_query().where(ProcessVersion.process_id == process_id))
    if row is None:
        raise NotFound(f"No published process {process_id!r}")
    return row
