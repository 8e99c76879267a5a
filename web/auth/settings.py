"""The signed-in user's Settings: notification mail, their password and their API tokens."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import InvalidInput
from engine.services.api_tokens import create_api_token, list_tokens, parse_expiry, revoke_token
from engine.services.credentials import change_password
from engine.services.users import notify_email_on, set_notify_email
from web.auth import bp, current_session_token
from web.auth.texts import field_errors
from web.context import engine

EXPIRY_CHOICES = ("30d", "90d", "180d", "365d")


def _page(status: int = 200, **extra: object):  # type: ignore[no-untyped-def]
    actor = current_user.actor
    return render_template("auth/settings.html", notify_email=notify_email_on(engine(), actor),
                           tokens=list_tokens(engine(), actor), expiry_choices=EXPIRY_CHOICES,
                           errors=extra.pop("errors", {}), **extra), status


@bp.get("/settings")
@login_required
def settings():  # type: ignore[no-untyped-def]
    """Notification mail on or off, the password form, and the user's API tokens."""
    return _page()


@bp.post("/settings/notify-email")
@login_required
def notify_email():  # type: ignore[no-untyped-def]
    """Turn notification mail on or off."""
    on = set_notify_email(engine(), current_user.actor, request.form.get("notify_email") == "on")
    flash(_("Notification mail is on.") if on else _("Notification mail is off."), "success")
    return redirect(url_for("auth.settings"))


@bp.post("/settings/password")
@login_required
def password():  # type: ignore[no-untyped-def]
    """Change one's own password (the current one is required); other sessions end."""
    form = request.form
    if form.get("new_password", "") != form.get("confirm_password", ""):
        return _page(422, errors={"confirm_password": [_("The two new passwords differ.")]})
    try:
        change_password(engine(), current_user.actor, form.get("current_password", ""),
                        form.get("new_password", ""), keep_session=current_session_token())
    except InvalidInput as exc:
        return _page(422, errors=field_errors(exc))
    flash(_("Your password is changed; your other sessions have ended."), "success")
    return redirect(url_for("auth.settings"))


@bp.post("/settings/tokens")
@login_required
def create_token():  # type: ignore[no-untyped-def]
    """Create an API token; the page shows it this once (it is not stored, only its hash)."""
    actor = current_user.actor
    try:
        expires = parse_expiry(request.form.get("expires", ""))
        token = create_api_token(engine(), actor.username, request.form.get("name", ""), expires)
    except InvalidInput as exc:
        return _page(422, errors=field_errors(exc))
    return _page(201, new_token=token)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke one of one's own API tokens."""
    revoke_token(engine(), current_user.actor, token_id)
    flash(_("The API token is revoked."), "success")
    return redirect(url_for("auth.settings"))
