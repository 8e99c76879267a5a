"""Pages for process owners to move running cases to a version (engine.services.migrations):
from a version's page, choose the cases by filter or by id, see a dry run's verdicts, migrate,
see the result and revert it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import InvalidInput, NotFound
from engine.services import migrations
from web.context import actor, engine

bp = Blueprint("migrations", __name__)


@bp.app_context_processor
def _may_migrate() -> dict[str, Any]:
    """Whether the version page offers the migration link (process owners, administrators)."""
    return {"may_migrate_cases": lambda: current_user.is_authenticated and migrations.may_migrate(actor())}


def _body(target: migrations.TargetView, form: Any) -> dict[str, Any]:
    """The API's request shape from the page's fields: case ids when given, else the filter."""
    body: dict[str, Any] = {"process": target.process_id, "to_version": target.version,
                            "dry_run": form.get("action") != "migrate"}
    ids = form.get("cases", "").replace(",", " ").split()
    if ids:
        body["cases"] = [int(i) if i.isdigit() else i for i in ids]
        return body
    flt = {name: form.get(name, "").strip() for name in migrations.FILTER_FIELDS}
    if flt["version"].isdigit():
        flt["version"] = int(flt["version"])  # type: ignore[assignment]
    body["filter"] = flt
    return body


@bp.route("/models/<int:model_id>/migrate", methods=["GET", "POST"])
@login_required
def migrate(model_id: int):  # type: ignore[no-untyped-def]
    """Choose cases of the process and judge (dry run) or move them to this version."""
    target = migrations.migration_target(engine(), actor(), model_id)
    result, status = None, 200
    if request.method == "POST":
        try:
            result = migrations.migrate_cases(engine(), actor(), migrations.read_request(_body(target, request.form)))
        except (InvalidInput, NotFound) as exc:
            flash(exc.message, "error")
            status = 422
        if result is not None and not result.dry_run:
            flash(_("Migrated %(moved)s of %(total)s cases.", moved=sum(v.migrated for v in result.cases),
                    total=len(result.cases)), "success")
            return redirect(url_for("migrations.detail", migration_id=result.migration_id))
    return render_template("migrations/migrate.html", target=target, result=result, form=request.form), status


@bp.get("/migrations/<int:migration_id>")
@login_required
def detail(migration_id: int):  # type: ignore[no-untyped-def]
    """A migration's cases, what became of each, and the revert."""
    view = migrations.get_migration(engine(), actor(), migration_id)
    return render_template("migrations/detail.html", migration=view)


@bp.post("/migrations/<int:migration_id>/revert")
@login_required
def revert(migration_id: int):  # type: ignore[no-untyped-def]
    """Move the cases back, each only while nothing has happened in it since it moved."""
    result = migrations.revert_migration(engine(), actor(), migration_id)
    for outcome in result.cases:
        if outcome.reverted:
            flash(_("Case %(id)s is back on its version.", id=outcome.case_id), "success")
        else:
            flash(_("Case %(id)s was not reverted: %(reason)s", id=outcome.case_id, reason=outcome.reason), "error")
    return redirect(url_for("migrations.detail", migration_id=migration_id))
