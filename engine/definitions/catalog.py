"""Process versions as immutable bundles of files, parsed once per content hash and cached.

A bundle holds exactly the files one process needs (its BPMN, the BPMN of processes it calls,
the DMN it evaluates, the forms its user tasks name), so its hash changes only when something
that process uses changes, and a case pinned to a hash always runs the same definition.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import ManualTask, UserTask

from engine.definitions import bpmn_xml, senders, starters
from engine.definitions.checks import check_expressions, check_operations
from engine.definitions.forms import FormDefinition
from engine.errors import InvalidDefinition
from engine.spiff.held_events import messages_held, races, timers_held
from engine.time import due_dates

WORKFLOW_PREFIX = "workflows/"
FORM_PREFIX = "forms/"
DECISION_TESTS_SUFFIX = ".tests.json"  # beside a DMN file: its decision tests (engine.definitions.decision_tests)
UTF16_STARTS = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")  # byte-order marks, or "<" in UTF-16


@dataclass(frozen=True)
class ProcessBundle:
    """The files of one process version, keyed ``workflows/NAME`` or ``forms/NAME``."""

    process_id: str
    name: str
    files: Mapping[str, str]

    @property
    def content_hash(self) -> str:
        """SHA-256 over sorted (path, content) pairs: the identity of a process version."""
        digest = hashlib.sha256()
        for path in sorted(self.files):
            digest.update(path.encode())
            digest.update(b"\0")
            digest.update(self.files[path].encode())
            digest.update(b"\0")
        return digest.hexdigest()


NAME_ZH = "name:zh"  # the spiffworkflow property holding an element's name in Chinese


@dataclass(frozen=True)
class UserTaskInfo:
    """What the inbox and the task page need to know about a user task, without the engine."""

    element_id: str
    title: str
    lane: str | None
    form: str | None
    ui_form: str | None
    department_expression: str | None = None
    title_zh: str = ""
    instructions: str = ""  # spiff-arena's instructionsForEndUser: Markdown with Jinja over the task data
    due_date: str | None = None  # the dueDate property (engine.time.due_dates)


@dataclass(frozen=True)
class MessageCatchInfo:
    """A message catch event, the form its payload must satisfy (the event's
    ``formJsonSchemaFilename`` property), so that another system's message is checked as a
    person's form submission is, and who may send it (``allowedSenders``, ``engine.definitions.senders``)."""

    element_id: str
    message: str
    form: str | None
    is_start: bool
    senders: senders.AllowedSenders = senders.DEFAULT


@dataclass
class ParsedProcess:
    """A process version ready to run: specs, forms and user-task facts, shared by all its cases."""

    process_id: str
    name: str
    content_hash: str
    spec: Any
    subprocess_specs: dict[str, Any]
    forms: dict[str, FormDefinition] = field(default_factory=dict)
    user_tasks: dict[str, UserTaskInfo] = field(default_factory=dict)
    task_forms: dict[str, FormDefinition] = field(default_factory=dict)  # laid out by a formUiSchemaFilename
    message_catches: dict[str, MessageCatchInfo] = field(default_factory=dict)
    starts_by_hand: bool = True
    starts_on_timer: bool = False
    startable_by: senders.AllowedSenders = field(default_factory=lambda: starters.default(()))
    name_zh: str = ""

    def message_start(self, message: str) -> MessageCatchInfo | None:
        """The top-level start event that begins a case when ``message`` arrives, if any."""
        return next((c for c in self.message_catches.values() if c.is_start and c.message == message), None)

    def form_for(self, element_id: str) -> FormDefinition | None:
        """The form a user task names, or None for a task that only needs a confirmation."""
        info = self.user_tasks.get(element_id)
        if info is None or info.form is None:
            return None
        return self.task_forms.get(element_id) or self.forms[info.form]


def _describe(exc: ValidationException) -> str:
    where = " ".join(
        part for part in (
            getattr(exc, "tag", ""),
            f"id={exc.id!r}" if getattr(exc, "id", "") else "",
            f"name={exc.name!r}" if getattr(exc, "name", "") else "",
            f"line {exc.line_number}" if getattr(exc, "line_number", "") else "",
        ) if part
    )
    file_name = getattr(exc, "file_name", "") or ""
    return f"{file_name}: {where}: {exc}" if where else f"{file_name}: {exc}"


UI_SCHEMA_SUFFIX = "uischema.json"  # ``X.uischema.json`` beside ``X.schema.json``; spiff-arena's ``X-uischema.json``


def _load_forms(bundle: ProcessBundle) -> dict[str, FormDefinition]:
    forms: dict[str, FormDefinition] = {}
    schemas = {p: t for p, t in bundle.files.items() if p.startswith(FORM_PREFIX)}
    for path, text in schemas.items():
        if path.endswith(UI_SCHEMA_SUFFIX):
            continue
        name = path.removeprefix(FORM_PREFIX)
        ui_path = path.removesuffix(".schema.json") + ".uischema.json"
        forms[name] = FormDefinition.from_json(name, text, schemas.get(ui_path))
    return forms


def _user_tasks(spec: Any, subprocess_specs: dict[str, Any], forms: Mapping[str, FormDefinition]) -> dict:
    tasks: dict[str, UserTaskInfo] = {}
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            if not isinstance(task_spec, UserTask | ManualTask):  # a manual task: instructions, no form
                continue
            if task_spec.name in tasks:
                raise InvalidDefinition(
                    f"bpmn:userTask id={task_spec.bpmn_id!r} is used in more than one process of this "
                    f"bundle ({bundle_process_ids(spec, subprocess_specs)}); give each user task its own id"
                )
            props = (task_spec.extensions or {}).get("properties", {})
            form = _named_form(task_spec, "bpmn:userTask", forms) if isinstance(task_spec, UserTask) else None
            tasks[task_spec.name] = UserTaskInfo(
                element_id=task_spec.name,
                title=task_spec.bpmn_name or task_spec.name,
                lane=task_spec.lane,
                form=form,
                ui_form=props.get("formUiSchemaFilename"),
                department_expression=props.get("departmentExpression"),
                title_zh=props.get(NAME_ZH, ""),
                instructions=((task_spec.extensions or {}).get("instructionsForEndUser") or "").strip(),
                due_date=props.get(due_dates.PROPERTY),
            )
    return tasks


def _task_forms(tasks: Mapping[str, UserTaskInfo], forms: Mapping[str, FormDefinition],
                files: Mapping[str, str]) -> dict[str, FormDefinition]:
    """Each user task's form laid out by the UI schema file its ``formUiSchemaFilename`` names
    (spiff-arena names it beside the schema; a task without one keeps ``X.uischema.json``)."""
    laid_out = {}
    for info in tasks.values():
        if info.ui_form is None or info.form is None:
            continue
        text = files.get(FORM_PREFIX + info.ui_form)
        if text is None:
            raise InvalidDefinition(f"bpmn:userTask id={info.element_id!r} name={info.title!r} names UI schema "
                                    f"{info.ui_form!r}, which is not in forms/")
        laid_out[info.element_id] = forms[info.form].with_ui_schema(info.ui_form, text)
    return laid_out


def _named_form(task_spec: Any, tag: str, forms: Mapping[str, FormDefinition]) -> str | None:
    form = (task_spec.extensions or {}).get("properties", {}).get("formJsonSchemaFilename")
    if form is not None and form not in forms:
        raise InvalidDefinition(
            f"{tag} id={task_spec.bpmn_id!r} name={task_spec.bpmn_name!r} names form {form!r}, which is not in forms/"
        )
    return form


def _message_catches(spec: Any, subprocess_specs: dict[str, Any], forms: Mapping[str, FormDefinition]) -> dict:
    """Every event that receives a message, keyed by its element id: catch and start events, and
    the message events an event-based gateway races (the gateway holds their definitions)."""
    catches: dict[str, MessageCatchInfo] = {}
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            for definition, element in messages_held(task_spec):
                where = f"bpmn:event id={element.bpmn_id!r} name={element.bpmn_name!r}"
                allowed = senders.parse((element.extensions or {}).get("properties", {}).get(senders.PROPERTY), where)
                is_start = process_spec is spec and isinstance(task_spec, StartEvent)
                catches[element.name] = MessageCatchInfo(
                    element.name, definition.name, _named_form(element, "bpmn:event", forms), is_start, allowed)
    return catches


def _check_races(spec: Any, subprocess_specs: dict[str, Any]) -> None:
    """Refuse a race between several timers: SpiffWorkflow 3.2 keeps one due time per waiting
    element, so the timers behind one event-based gateway would all come due at the first one's
    time and every path would be taken. One timer may race any number of other events."""
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            if races(task_spec) and len(timers_held(task_spec)) > 1:
                raise InvalidDefinition(
                    f"{process_spec.name}: id={task_spec.bpmn_id!r} name={task_spec.bpmn_name!r} races "
                    f"{len(timers_held(task_spec))} timers; race one timer against the other events")


def _start_events(spec: Any, definition: type) -> list[Any]:
    return [s for s in spec.task_specs.values()
            if isinstance(s, StartEvent) and isinstance(s.event_definition, definition)]


def _startable_by(spec: Any, value: str | None) -> senders.AllowedSenders:
    """Who may start the process by hand (``engine.definitions.starters``). A process without a
    none start event begins only on its timer or message: a case started by hand would skip the
    schedule or wait for ever, so it has no Start button and naming starters on it is refused."""
    where = f"bpmn:process id={spec.name!r}"
    by_hand = _start_events(spec, NoneEventDefinition)
    if not by_hand and value is not None:
        raise InvalidDefinition(f"{where}: {starters.PROPERTY} is set, but only a timer or a message starts "
                                "this process; add a none start event or remove the property")
    return starters.parse(value, [s.lane for s in by_hand], where)


def bundle_process_ids(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    return ", ".join([spec.name, *subprocess_specs])


def parse_bundle(bundle: ProcessBundle) -> ParsedProcess:
    """Parse and check every file of a bundle; errors name the file and the element."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    startable_by: str | None = None
    name_zh = ""
    try:
        for path, text in sorted(bundle.files.items()):
            if not path.startswith(WORKFLOW_PREFIX) or path.endswith(DECISION_TESTS_SUFFIX):
                continue
            root = bpmn_xml.parse_xml(text, path)
            if bpmn_xml.is_dmn(root):
                bpmn_xml.space_dmn_input_cells(root)
                parser.add_dmn_xml(root, filename=path)
            else:
                check_expressions(root, path)
                check_operations(root, path)
                found = bpmn_xml.process_property(root, bundle.process_id, starters.PROPERTY)
                startable_by = startable_by if found is None else found
                name_zh = bpmn_xml.process_property(root, bundle.process_id, NAME_ZH) or name_zh
                parser.add_bpmn_xml(root, filename=path)
        spec = parser.get_spec(bundle.process_id)
        subprocess_specs = parser.get_subprocess_specs(bundle.process_id)
    except ValidationException as exc:
        raise InvalidDefinition(_describe(exc)) from exc
    except SpiffWorkflowException as exc:
        raise InvalidDefinition(f"{bundle.process_id}: {exc}") from exc
    forms = _load_forms(bundle)
    _check_races(spec, subprocess_specs)
    user_tasks = _user_tasks(spec, subprocess_specs, forms)
    return ParsedProcess(
        process_id=bundle.process_id,
        name=bundle.name,
        content_hash=bundle.content_hash,
        spec=spec,
        subprocess_specs=subprocess_specs,
        forms=forms,
        user_tasks=user_tasks,
        task_forms=_task_forms(user_tasks, forms, bundle.files),
        message_catches=_message_catches(spec, subprocess_specs, forms),
        starts_by_hand=bool(_start_events(spec, NoneEventDefinition)),
        starts_on_timer=bool(_start_events(spec, TimerEventDefinition)),
        startable_by=_startable_by(spec, startable_by),
        name_zh=name_zh,
    )


class ProcessCatalog:
    """Parsed process versions keyed by content hash; parsing happens once per version per process."""

    def __init__(self) -> None:
        self._parsed: dict[str, ParsedProcess] = {}
        self._lock = threading.Lock()

    def cached(self, content_hash: str) -> ParsedProcess | None:
        """The parsed version if this process has it already, without touching the database."""
        return self._parsed.get(content_hash)

    def get(self, content_hash: str, load_bundle: Any) -> ParsedProcess:
        """Return the parsed version, calling ``load_bundle()`` only on the first request for it."""
        parsed = self._parsed.get(content_hash)
        if parsed is not None:
            return parsed
        with self._lock:
            parsed = self._parsed.get(content_hash)
            if parsed is None:
                parsed = parse_bundle(load_bundle())
                self._parsed[content_hash] = parsed
        return parsed


def read_definition_text(path: Path, key: str) -> str:
    """A definition file's text. Files are stored and hashed as UTF-8, so any other encoding is
    refused with a message naming the file (UTF-16, as some editors save XML, is named as such)."""
    raw = path.read_bytes()
    if raw[:2] in UTF16_STARTS:
        raise InvalidDefinition(f"{key}: the file is UTF-16; save it as UTF-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDefinition(f"{key}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc


@dataclass
class DirectoryScan:
    """What a workflows directory holds: a bundle per executable process, keyed by the file that
    defines it, and every file that could not be used with the reason. One bad file costs only
    the processes that need it, so setup can publish the rest and name every bad file."""

    bundles: list[tuple[str, ProcessBundle]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def _index_directory(workflows_dir: Path, scan: DirectoryScan) -> tuple[dict, dict, dict]:
    texts: dict[str, str] = {}
    process_files: dict[str, str] = {}
    decision_files: dict[str, str] = {}
    for path in sorted(workflows_dir.glob("*.bpmn")) + sorted(workflows_dir.glob("*.dmn")):
        key = WORKFLOW_PREFIX + path.name
        try:
            text = read_definition_text(path, key)
            root = bpmn_xml.parse_xml(text, key)
        except InvalidDefinition as exc:
            scan.failures.append((key, exc.message))
            continue
        texts[key] = text
        if bpmn_xml.is_dmn(root):
            decision_files.update({d: key for d in bpmn_xml.decision_ids(root)})
        else:
            process_files.update({pid: key for pid, _, _ in bpmn_xml.process_ids(root)})
    for path in sorted(workflows_dir.glob("*" + DECISION_TESTS_SUFFIX)):
        key = WORKFLOW_PREFIX + path.name
        try:
            texts[key] = read_definition_text(path, key)
        except InvalidDefinition as exc:
            scan.failures.append((key, exc.message))
    return texts, process_files, decision_files


def decision_tests_key(dmn_key: str) -> str:
    """Where a DMN file's decision tests are: ``workflows/x.dmn`` -> ``workflows/x.tests.json``."""
    return dmn_key.removesuffix(".dmn") + DECISION_TESTS_SUFFIX


def _closure(start: str, texts: dict, process_files: dict, decision_files: dict) -> tuple[set, set]:
    needed, forms, pending = set(), set(), [start]
    while pending:
        key = pending.pop()
        if key in needed:
            continue
        needed.add(key)
        root = bpmn_xml.parse_xml(texts[key], key)
        if bpmn_xml.is_dmn(root):
            continue
        called, decisions, form_names = bpmn_xml.references(root)
        forms |= form_names
        for ref, index, kind in [(c, process_files, "process") for c in called] + [
            (d, decision_files, "decision") for d in decisions
        ]:
            if ref not in index:
                raise InvalidDefinition(f"{key}: refers to {kind} {ref!r}, which no file defines")
            pending.append(index[ref])
    return needed, forms


def _bundle(key: str, process_id: str, name: str, texts: dict, process_files: dict, decision_files: dict,
            forms_dir: Path) -> ProcessBundle:
    needed, forms = _closure(key, texts, process_files, decision_files)
    files = {k: texts[k] for k in needed}
    files.update({t: texts[t] for k in needed if k.endswith(".dmn") and (t := decision_tests_key(k)) in texts})
    for form in forms:
        form_path = forms_dir / form
        if not form_path.exists():
            raise InvalidDefinition(f"{key}: names form {form!r}, which is not in forms/")
        files[FORM_PREFIX + form] = read_definition_text(form_path, FORM_PREFIX + form)
        ui_path = forms_dir / (form.removesuffix(".schema.json") + ".uischema.json")
        if ui_path.exists():
            files[FORM_PREFIX + ui_path.name] = read_definition_text(ui_path, FORM_PREFIX + ui_path.name)
    return ProcessBundle(process_id=process_id, name=name, files=files)


def scan_directory(workflows_dir: Path, forms_dir: Path) -> DirectoryScan:
    """Every executable process of a directory of BPMN/DMN files and a forms directory, and every
    file that failed (unreadable, malformed, or naming what does not exist), in file order."""
    scan = DirectoryScan()
    texts, process_files, decision_files = _index_directory(workflows_dir, scan)
    for key in sorted(k for k in texts if k.endswith(".bpmn")):
        root = bpmn_xml.parse_xml(texts[key], key)
        for process_id, name, executable in bpmn_xml.process_ids(root):
            if not executable:
                continue
            try:
                bundle = _bundle(key, process_id, name, texts, process_files, decision_files, forms_dir)
            except InvalidDefinition as exc:
                scan.failures.append((key, exc.message))
                continue
            scan.bundles.append((key, bundle))
    return scan


def bundles_from_directory(workflows_dir: Path, forms_dir: Path) -> list[ProcessBundle]:
    """One bundle per executable process in a directory whose every file is usable; the first
    failure is raised (``scan_directory`` reports them all)."""
    scan = scan_directory(workflows_dir, forms_dir)
    if scan.failures:
        raise InvalidDefinition(scan.failures[0][1])
    return [bundle for _, bundle in scan.bundles]
