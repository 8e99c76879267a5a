"""A case's replay verdict (auditors, administrators, process owners) and its step-through on the
diagram (everyone who reads the case): the path taken, and the case as it stood after each step."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from engine.audit.chain import jsonable
from engine.audit.replay import Snapshot
from engine.services import replay
from engine.services.replay import VersionDiagrams
from web.context import actor, engine

bp = Blueprint("case_history", __name__)


def step_labels() -> dict[str, str]:
    """What each kind of step is called on the timeline."""
    return {
        "case_started": _("Case started"),
        "task_completed": _("Task completed"),
        "timer_fired": _("Timer fired"),
        "message_received": _("Message received"),
        "case_migrated": _("Moved to another version"),
        "migration_reverted": _("Version move reverted"),
        "signal_sent": _("Signal sent"),
        "case_retried": _("Case retried"),
        "case_cancelled": _("Case cancelled"),
    }


def status_labels() -> dict[str, str]:
    return {"running": _("Running"), "completed": _("Completed"), "error": _("Error"), "cancelled": _("Cancelled")}


def version_label(version: VersionDiagrams) -> str:
    """A version as the switch between the diagrams of a migrated case names it."""
    if version.label:
        return _("Version %(number)s (%(label)s)", number=version.version, label=version.label)
    return _("Version %(number)s", number=version.version)


def _step_json(snapshot: Snapshot, labels: dict[str, str], versions: dict[str, VersionDiagrams]) -> dict[str, Any]:
    """One step as the page's script reads it: elements as [file, element id] pairs of the
    diagrams of the version the case was on after the step (``version``, its number)."""
    version = versions.get(snapshot.version_hash)
    names = {element: name for in_file in version.names.values() for element, name in in_file.items()} \
        if version is not None else {}
    return {
        "step": snapshot.step, "seq": snapshot.seq, "at": snapshot.at.strftime("%Y-%m-%d %H:%M:%S"),
        "label": labels.get(snapshot.type, snapshot.type),
        "element": names.get(snapshot.element_id or "", snapshot.element_id or ""),
        "version": version.version if version is not None else None,
        "version_label": version_label(version) if version is not None else "",
        "status": snapshot.status,
        "open": [{"file": t.file, "element": t.element_id, "title": t.title, "department": t.department or ""}
                 for t in snapshot.open_tasks],
        "waiting": [list(element) for element in snapshot.waiting],
        "done": [[file, element, count] for (file, element), count in sorted(snapshot.done.items())],
        "done_now": [list(element) for element in snapshot.done_now],
        "data": jsonable(snapshot.data),
        "submitted": jsonable(snapshot.submitted),
    }


@bp.get("/cases/<int:case_id>/replay")
@login_required
def verdict(case_id: int) -> ResponseReturnValue:
    """The case rebuilt from its recorded inputs and compared with its record."""
    report = replay.replay_case(engine(), actor(), case_id)
    return render_template("case_history/replay.html", case_id=case_id, report=report)


@bp.get("/cases/<int:case_id>/history")
@login_required
def steps(case_id: int) -> ResponseReturnValue:
    """The diagram with the path taken and a timeline to step through, event by event."""
    found = replay.case_steps(engine(), actor(), case_id)
    labels = step_labels()
    versions = {v.content_hash: v for v in found.versions}
    return render_template(
        "case_history/steps.html", case=found, current=found.current, version_label=version_label,
        statuses=status_labels(), steps=[_step_json(s, labels, versions) for s in found.snapshots],
        diagrams={v.version: {"main": v.main_file, "processes": v.processes, "names": v.names}
                  for v in found.versions},
    )
