"""Administration pages: the notification outbox, the incidents (unexpected failures) and
Security (web/admin/security.py)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from engine.services.incidents import list_incidents
from engine.services.notifications import list_outbox
from web.context import actor, engine

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/outbox")
@login_required
def outbox():  # type: ignore[no-untyped-def]
    """The newest notification mails: queued (no SMTP configured, or not sent yet), sent or failed."""
    messages = list_outbox(engine(), actor())
    return render_template("admin/outbox.html", messages=messages,
                           smtp_configured=engine().settings.mail.smtp_configured)


@bp.get("/incidents")
@login_required
def incidents():  # type: ignore[no-untyped-def]
    """Unexpected failures, newest first, with the id people were shown and the traceback."""
    return render_template("admin/incidents.html", incidents=list_incidents(engine(), actor()))


from web.admin import security as _security  # noqa: E402,F401 - registers the Security page on bp
