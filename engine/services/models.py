"""Process models under document control: drafts prepared by a process owner, reviewed by
Quality Assurance, approved and published by management, each step signed.

Draft -> submitted -> reviewed -> approved -> published (the one version new cases start on; the
one before is superseded and its cases stay on it). A reviewer or approver may reject, which
sends the version back to draft with their comment. Preparer, reviewer and approver are three
different people. A draft's files change until it is submitted; from then on they are frozen
(its content hash is computed then: drafts hold a placeholder, so they never start a case).

Who may read models: process owners, Quality Assurance, management, administrators and auditors;
anyone else gets Forbidden. An id that does not exist is NotFound. Wrong role is Forbidden, a
step out of order is Conflict, and a version with validation errors cannot be submitted or
published (Conflict, with the problems in ``details``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select

from engine.context import EngineContext
from engine.data_limits import text_problem
from engine.definitions import bpmn_xml
from engine.definitions.bundle_zip import MAX_FILES, bundle_path, check_file, read_zip, write_zip
from engine.definitions.catalog import NAME_ZH, WORKFLOW_PREFIX, ProcessBundle
from engine.definitions.distribution import follow_lanes, lane_departments
from engine.definitions.extension_splice import keep_unchanged_extensions
from engine.definitions.validation import Problem, main_process, validate
from engine.errors import Conflict, Forbidden, InvalidDefinition, InvalidInput, NotFound
from engine.persistence.models import ProcessFile, ProcessVersion, VersionSignoff
from engine.persistence.uow import UnitOfWork
from engine.services import processes
from engine.services.actors import Actor
from engine.services.model_notices import queue_version_published
from engine.time.clock import utcnow

DRAFT, SUBMITTED, REVIEWED, APPROVED, PUBLISHED, SUPERSEDED = (
    "draft", "submitted", "reviewed", "approved", "published", "superseded")
REVIEWERS = "qa"            # Quality Assurance (品保部) reviews
APPROVERS = "management"    # management approves and publishes
MAX_NOTE = 2000
MAX_NAME_ZH = 200  # process_versions.name_zh
DRAFT_HASH_PREFIX = "draft:"


@dataclass(frozen=True)
class SignOff:
    step: str
    actor: str
    display_name: str
    at: str
    comment: str


@dataclass(frozen=True)
class RevisionEntry:
    """One line of a process's revision record: a released version (or the one shown)."""

    version_id: int
    label: str
    status: str
    change_note: str
    source: str
    created_by: str
    at: str


@dataclass(frozen=True)
class ModelView:
    id: int
    process_id: str
    name: str
    name_zh: str
    label: str
    status: str
    change_note: str
    files: dict[str, str]
    problems: list[Problem]
    signoffs: list[SignOff]
    revision_record: list[RevisionEntry]
    distribution: list[str]
    source: str
    created_by: str
    created_at: str

    @property
    def has_errors(self) -> bool:
        return any(p.blocks for p in self.problems)


@dataclass(frozen=True)
class VersionSummary:
    id: int
    label: str
    status: str
    change_note: str
    source: str
    created_by: str
    created_at: str
    published_at: str | None


@dataclass(frozen=True)
class ProcessModels:
    process_id: str
    name: str
    versions: list[VersionSummary]  # newest first
    name_zh: str = ""


# --- who may do what -------------------------------------------------------------------------

def may_read(actor: Actor) -> bool:
    return (actor.is_admin or actor.is_auditor or actor.is_process_owner
            or REVIEWERS in actor.departments or APPROVERS in actor.departments)


def may_prepare(actor: Actor) -> bool:
    return actor.is_process_owner


def may_review(actor: Actor) -> bool:
    return REVIEWERS in actor.departments


def may_approve(actor: Actor) -> bool:
    return APPROVERS in actor.departments


def next_steps(actor: Actor, view: ModelView) -> list[str]:
    """The steps ``actor`` may take on the version now (what the page offers as buttons)."""
    steps: list[str] = []
    if view.status == DRAFT and may_prepare(actor):
        steps += ["edit", "submit"]
    if view.status == SUBMITTED and may_review(actor) and actor.username != _signer(view.signoffs, SUBMITTED):
        steps += ["review", "reject"]
    if view.status == REVIEWED and may_approve(actor) and actor.username not in _signers(view.signoffs):
        steps += ["approve", "reject"]
    if view.status == APPROVED and may_approve(actor):
        steps += ["publish", "reject"]
    return steps


def _signer(signoffs: Sequence[SignOff | VersionSignoff], step: str) -> str | None:
    """Who last signed ``step`` (a view's sign-offs or a row's)."""
    return next((s.actor for s in reversed(signoffs) if s.step == step), None)


SIGNING_STEPS = {"prepared": ("imported", "prepared", SUBMITTED), "reviewed": (REVIEWED,), "approved": (APPROVED,)}


def signed_steps(view: ModelView) -> dict[str, SignOff | None]:
    """Who prepared, reviewed and approved the version as it stands (the signatures since its last
    rejection), as a paper header shows them: the last signature of each kind."""
    rejected = max((i for i, s in enumerate(view.signoffs) if s.step == "rejected"), default=-1)
    current = view.signoffs[rejected + 1:]
    return {step: next((s for s in reversed(current) if s.step in kinds), None)
            for step, kinds in SIGNING_STEPS.items()}


def _signers(signoffs: Sequence[SignOff | VersionSignoff]) -> set[str]:
    """Who prepared and who reviewed: neither may approve."""
    return {s for s in (_signer(signoffs, SUBMITTED), _signer(signoffs, REVIEWED)) if s}


def _require(allowed: bool, actor: Actor, what: str) -> None:
    if not allowed:
        raise Forbidden(f"{actor.username} may not {what}")


# --- reading ---------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _problems(row: ProcessVersion) -> list[Problem]:
    return [Problem(**p) for p in row.problems or []]


def _revision_record(uow: UnitOfWork, row: ProcessVersion) -> list[RevisionEntry]:
    released = uow.session.scalars(select(ProcessVersion).where(
        ProcessVersion.process_id == row.process_id,
        ProcessVersion.status.in_((PUBLISHED, SUPERSEDED)) | (ProcessVersion.id == row.id),
    ).order_by(ProcessVersion.published_at.is_(None), ProcessVersion.published_at, ProcessVersion.id))
    return [RevisionEntry(v.id, v.label, v.status, v.change_note, v.source, v.created_by,
                          _iso(v.published_at or v.created_at)) for v in released]


def _view(uow: UnitOfWork, row: ProcessVersion) -> ModelView:
    signoffs = [SignOff(s.step, s.actor, s.display_name, _iso(s.at), s.comment) for s in row.signoffs]
    return ModelView(
        id=row.id, process_id=row.process_id, name=row.name, name_zh=row.name_zh or "", label=row.label,
        status=row.status,
        change_note=row.change_note, files={f.path: f.content for f in sorted(row.files, key=lambda f: f.path)},
        problems=_problems(row), signoffs=signoffs, revision_record=_revision_record(uow, row),
        distribution=list(row.distribution or []), source=row.source, created_by=row.created_by,
        created_at=_iso(row.created_at),
    )


def _row(uow: UnitOfWork, model_id: int, lock: bool = False) -> ProcessVersion:
    query = select(ProcessVersion).where(ProcessVersion.id == model_id)
    row = uow.session.scalar(query.with_for_update() if lock else query) if 0 < model_id < 2**31 else None
    if row is None:
        raise NotFound(f"No model {model_id}")
    return row


def get_model(ctx: EngineContext, actor: Actor, model_id: int) -> ModelView:
    """One version with its files, problems, sign-offs and revision record."""
    _require(may_read(actor), actor, "read process models")
    with ctx.unit_of_work(readonly=True) as uow:
        return _view(uow, _row(uow, model_id))


def _summary(row: ProcessVersion) -> VersionSummary:
    return VersionSummary(row.id, row.label, row.status, row.change_note, row.source, row.created_by,
                          _iso(row.created_at), _iso(row.published_at) or None)


def list_models(ctx: EngineContext, actor: Actor) -> list[ProcessModels]:
    """Every process with its versions, newest first; processes by name."""
    _require(may_read(actor), actor, "read process models")
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_id,
                                                                   ProcessVersion.version.desc()))
        grouped: dict[str, list[ProcessVersion]] = {}
        for row in rows:
            grouped.setdefault(row.process_id, []).append(row)
        found = []
        for pid, versions in grouped.items():
            named = _naming_version(versions)
            found.append(ProcessModels(pid, named.name, [_summary(v) for v in versions], named.name_zh or ""))
    return sorted(found, key=lambda p: p.name.lower())


def _naming_version(versions: list[ProcessVersion]) -> ProcessVersion:
    """The version whose names the process goes by: the one in force (else its newest)."""
    return next((v for v in versions if v.status == PUBLISHED), versions[0])


def process_versions(ctx: EngineContext, actor: Actor, process_id: str) -> ProcessModels:
    """One process's versions, newest first (NotFound for a process without any)."""
    found = [p for p in list_models(ctx, actor) if p.process_id == process_id]
    if not found:
        raise NotFound(f"No process {process_id!r}")
    return found[0]


# --- preparing drafts ------------------------------------------------------------------------

def _check_note(text: str, field: str) -> str:
    problem = text_problem(text)
    if problem is not None or len(text) > MAX_NOTE:
        message = problem or f"at most {MAX_NOTE} characters"
        raise InvalidInput(f"{field}: {message}", {field: message})
    return text.strip()


def _name_zh(files: dict[str, str], process_id: str) -> str:
    """The process's own Chinese name (its ``name:zh`` property), which the version carries from
    its draft on, so that every page names even a draft in the reader's language."""
    for path, text in sorted(files.items()):
        if path.startswith(WORKFLOW_PREFIX) and path.endswith(".bpmn"):
            try:
                found = bpmn_xml.process_property(bpmn_xml.parse_xml(text, path), process_id, NAME_ZH)
            except InvalidDefinition:
                continue
            if found:
                return found.strip()[:MAX_NAME_ZH]
    return ""


def _validated(ctx: EngineContext, files: dict[str, str]) -> tuple[list[Problem], tuple[str, str] | None]:
    """The bundle's problems and its process (None when no single process can be found)."""
    problems = validate(files, ctx.department_ids(), ctx.script_engine)
    try:
        return problems, main_process(files)
    except InvalidDefinition as exc:
        return [*problems, Problem("", "", "error", exc.message)], None


def _placeholder_hash() -> str:
    return DRAFT_HASH_PREFIX + uuid.uuid4().hex


def _sign(row: ProcessVersion, step: str, actor: Actor, comment: str = "") -> None:
    row.signoffs.append(VersionSignoff(step=step, actor=actor.username, display_name=actor.display_name,
                                       at=utcnow(), comment=comment))


def _new_draft(uow: UnitOfWork, ctx: EngineContext, actor: Actor, process: tuple[str, str], files: dict[str, str],
               problems: list[Problem], source: str, change_note: str) -> ModelView:
    process_id, name = process
    row = ProcessVersion(
        process_id=process_id, name=name, name_zh=_name_zh(files, process_id),
        version=processes.next_version_number(uow, process_id),
        content_hash=_placeholder_hash(), status=DRAFT, published_at=None, label="",
        change_note=change_note, distribution=lane_departments(files, ctx.department_ids()), source=source,
        created_by=actor.username, problems=[asdict(p) for p in problems],
        files=[ProcessFile(path=p, content=c) for p, c in sorted(files.items())],
    )
    uow.session.add(row)
    _sign(row, "prepared", actor, change_note)
    uow.session.flush()
    view = _view(uow, row)
    uow.commit()
    return view


def import_bundle(ctx: EngineContext, actor: Actor, zip_bytes: bytes, change_note: str = "") -> ModelView:
    """A new draft from an uploaded zip, with its validation problems. A bundle that cannot even
    be read as one process is refused (InvalidDefinition, the problems in ``details``)."""
    _require(may_prepare(actor), actor, "prepare process models")
    note = _check_note(change_note, "change_note")
    files = read_zip(zip_bytes)
    problems, process = _validated(ctx, files)
    if process is None:
        raise InvalidDefinition("The bundle cannot be parsed as one process",
                                {"problems": [asdict(p) for p in problems]})
    with ctx.unit_of_work() as uow:
        return _new_draft(uow, ctx, actor, process, files, problems, "uploaded", note)


def new_draft(ctx: EngineContext, actor: Actor, process_id: str) -> ModelView:
    """A draft copying the newest version's files, to be edited into the next version."""
    _require(may_prepare(actor), actor, "prepare process models")
    with ctx.unit_of_work() as uow:
        newest = uow.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                                    .order_by(ProcessVersion.version.desc()).limit(1)) \
            if text_problem(process_id) is None else None
        if newest is None:
            raise NotFound(f"No process {process_id!r}")
        files = {f.path: f.content for f in newest.files}
        process = (newest.process_id, newest.name)
    problems, _ = _validated(ctx, files)
    with ctx.unit_of_work() as uow:
        return _new_draft(uow, ctx, actor, process, files, problems, "edited", "")


def _draft_row(uow: UnitOfWork, model_id: int) -> ProcessVersion:
    """The draft, locked for changing (Conflict once it is submitted)."""
    row = _row(uow, model_id, lock=True)
    if row.status != DRAFT:
        raise Conflict(f"Model {model_id} is {row.status}; only a draft can be changed")
    return row


def save_file(ctx: EngineContext, actor: Actor, model_id: int, path: str, content: str) -> ModelView:
    """Change (or add) one file of a draft and validate the draft again. A BPMN file that
    replaces one keeps the original text of the extension and loop elements it did not change
    (``extension_splice``): an editor's save must not rewrite what only other tools read."""
    _require(may_prepare(actor), actor, "edit process models")
    if bundle_path(path) != path:
        raise InvalidInput(f"path: {path!r} is not where the bundle keeps it ({bundle_path(path)!r})",
                           {"path": f"use {bundle_path(path)!r}"})
    check_file(path, content)
    if text_problem(content) is not None:
        raise InvalidInput(f"content: {text_problem(content)}", {"content": text_problem(content)})
    with ctx.unit_of_work() as uow:
        row = _draft_row(uow, model_id)
        files = {f.path: f.content for f in row.files}
        if path not in files and len(files) >= MAX_FILES:
            raise InvalidInput(f"path: a bundle holds at most {MAX_FILES} files", {"path": "too many files"})
        lanes_before = lane_departments(files, ctx.department_ids())
        if path.endswith(".bpmn") and path in files:
            content = keep_unchanged_extensions(files[path], content, path)
        files[path] = content
        process_id = row.process_id
    problems, process = _validated(ctx, files)
    if process is not None and process[0] != process_id:
        problems.append(Problem("", path, "error", f"The bundle's process is now {process[0]!r}; this draft is "
                                                   f"of {process_id!r}: start a new draft for another process."))
    with ctx.unit_of_work() as uow:
        row = _draft_row(uow, model_id)
        existing = next((f for f in row.files if f.path == path), None)
        if existing is None:
            row.files.append(ProcessFile(path=path, content=content))
        else:
            existing.content = content
        row.problems = [asdict(p) for p in problems]
        row.distribution = follow_lanes(row.distribution or [], lanes_before,
                                        lane_departments(files, ctx.department_ids()))
        if process is not None and process[0] == process_id:
            row.name = process[1]
        row.name_zh = _name_zh(files, process_id)
        uow.session.flush()
        view = _view(uow, row)
        uow.commit()
        return view


def set_distribution(ctx: EngineContext, actor: Actor, model_id: int, departments: object) -> ModelView:
    """The process owner chooses who is told when the draft is published (by default the
    departments of its lanes): department ids from the department list, nothing else."""
    _require(may_prepare(actor), actor, "edit process models")
    if not isinstance(departments, list) or not all(isinstance(d, str) for d in departments):
        raise InvalidInput("distribution: a list of department ids", {"distribution": "a list of department ids"})
    unknown = sorted(set(departments) - ctx.department_ids())
    if unknown:
        shown = ", ".join(repr(d[:40]) for d in unknown[:5])
        raise InvalidInput(f"distribution: no department {shown}", {"distribution": f"unknown department {shown}"})
    with ctx.unit_of_work() as uow:
        row = _draft_row(uow, model_id)
        row.distribution = sorted(set(departments))
        return _commit_view(uow, row)


# --- signing ---------------------------------------------------------------------------------

def _blocking(row: ProcessVersion, what: str) -> None:
    errors = [p for p in _problems(row) if p.blocks]
    if errors:
        raise Conflict(f"Model {row.id} has {len(errors)} validation error(s); fix them before it is {what}",
                       {"problems": [asdict(p) for p in errors]})


def _in_status(row: ProcessVersion, *statuses: str) -> None:
    if row.status not in statuses:
        raise Conflict(f"Model {row.id} is {row.status}; this step needs it {' or '.join(statuses)}")


def submit(ctx: EngineContext, actor: Actor, model_id: int, note: str = "") -> ModelView:
    """The preparer signs the draft and hands it to review; its files are frozen from now on."""
    _require(may_prepare(actor), actor, "submit process models")
    comment = _check_note(note, "note")
    with ctx.unit_of_work() as uow:
        row = _row(uow, model_id, lock=True)
        _in_status(row, DRAFT)
        _blocking(row, "submitted")
        content_hash = ProcessBundle(row.process_id, row.name, {f.path: f.content for f in row.files}).content_hash
        same = uow.session.scalar(select(ProcessVersion).where(
            ProcessVersion.process_id == row.process_id, ProcessVersion.content_hash == content_hash))
        if same is not None:
            raise Conflict(f"Model {row.id} has the same files as version {same.label or same.id} "
                           f"({same.status}); change something first", {"same_as": same.id})
        row.content_hash = content_hash
        row.status = SUBMITTED
        _sign(row, SUBMITTED, actor, comment)
        return _commit_view(uow, row)


def review(ctx: EngineContext, actor: Actor, model_id: int, note: str = "") -> ModelView:
    """Quality Assurance signs the review (审查); not the person who prepared it."""
    _require(may_review(actor), actor, "review process models")
    comment = _check_note(note, "note")
    with ctx.unit_of_work() as uow:
        row = _row(uow, model_id, lock=True)
        _in_status(row, SUBMITTED)
        if _signer(row.signoffs, SUBMITTED) == actor.username:
            raise Forbidden(f"{actor.username} prepared model {row.id}; someone else must review it")
        row.status = REVIEWED
        _sign(row, REVIEWED, actor, comment)
        return _commit_view(uow, row)


def approve(ctx: EngineContext, actor: Actor, model_id: int, note: str = "") -> ModelView:
    """Management signs the approval (核准); not the preparer nor the reviewer."""
    _require(may_approve(actor), actor, "approve process models")
    comment = _check_note(note, "note")
    with ctx.unit_of_work() as uow:
        row = _row(uow, model_id, lock=True)
        _in_status(row, REVIEWED)
        if actor.username in _signers(row.signoffs):
            raise Forbidden(f"{actor.username} prepared or reviewed model {row.id}; someone else must approve it")
        row.status = APPROVED
        _sign(row, APPROVED, actor, comment)
        return _commit_view(uow, row)


def publish(ctx: EngineContext, actor: Actor, model_id: int, note: str = "") -> ModelView:
    """Management puts the approved version in force: new cases start on it, the version before
    is superseded (its cases stay on it), the schedule follows it and the distribution list's
    departments are notified."""
    _require(may_approve(actor), actor, "publish process models")
    comment = _check_note(note, "note")
    with ctx.unit_of_work(readonly=True) as uow:
        row = _row(uow, model_id)
        _in_status(row, APPROVED)
        parsed = ctx.process(row)
    timer = processes.timer_start(ctx, parsed)
    with ctx.unit_of_work() as uow:
        row = _row(uow, model_id, lock=True)
        _in_status(row, APPROVED)
        _blocking(row, "published")
        processes.check_senders(uow, parsed)
        processes.check_starters(uow, parsed)
        processes.put_in_force(uow, row, timer, parsed)
        _sign(row, PUBLISHED, actor, comment)
        queue_version_published(uow, ctx.settings.mail, row)
        return _commit_view(uow, row)


def reject(ctx: EngineContext, actor: Actor, model_id: int, comment: str) -> ModelView:
    """The reviewer (a submitted version) or management (reviewed or approved) sends it back to
    draft with their comment; its files may change again."""
    _require(may_review(actor) or may_approve(actor), actor, "reject process models")
    text = _check_note(comment, "comment")
    if not text:
        raise InvalidInput("comment: say what must change", {"comment": "required"})
    with ctx.unit_of_work() as uow:
        row = _row(uow, model_id, lock=True)
        allowed = ((SUBMITTED,) if may_review(actor) else ()) + ((REVIEWED, APPROVED) if may_approve(actor) else ())
        _in_status(row, *allowed)
        row.status = DRAFT
        row.content_hash = _placeholder_hash()
        _sign(row, "rejected", actor, text)
        return _commit_view(uow, row)


def _commit_view(uow: UnitOfWork, row: ProcessVersion) -> ModelView:
    uow.session.flush()
    view = _view(uow, row)
    uow.commit()
    return view


def export_zip(ctx: EngineContext, actor: Actor, model_id: int) -> bytes:
    """The zip of any version's files, importable again as it is."""
    return write_zip(get_model(ctx, actor, model_id).files)


def export_file_name(view: ModelView) -> str:
    """``capa-A3.zip``; a draft, which has no label yet, ``capa-draft-17.zip``."""
    return f"{view.process_id}-{view.label or f'draft-{view.id}'}.zip"


# The forward sign-off steps by the name the pages and the API use for them (reject takes a comment).
STEPS = {"submit": submit, "review": review, "approve": approve, "publish": publish}
