"""The administrators' Security page: locked sign-ins to unlock, everyone's API tokens to revoke,
and a user's password to reset."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import InvalidInput, NotFound
from engine.services.api_tokens import list_tokens, revoke_token
from engine.services.credentials import reset_password
from engine.services.sign_in import list_locks, unlock
from web.admin import bp
from web.auth.texts import field_errors
from web.context import actor, engine


def _page(status: int = 200, errors: dict[str, list[str]] | None = None, username: str = ""):  # type: ignore[no-untyped-def]
    return render_template("admin/security.html", locks=list_locks(engine(), actor()),
                           tokens=list_tokens(engine(), actor(), everyone=True),
                           errors=errors or {}, username=username), status


@bp.get("/security")
@login_required
def security():  # type: ignore[no-untyped-def]
    """Locked usernames and addresses, every API token, and the password reset form."""
    return _page()


@bp.post("/security/unlock")
@login_required
def unlock_sign_in():  # type: ignore[no-untyped-def]
    """Lift the lock of a username or a client address."""
    kind, key = request.form.get("kind", ""), request.form.get("key", "")
    unlock(engine(), actor(), kind, key)
    flash(_("%(key)s may sign in again.", key=key), "success")
    return redirect(url_for("admin.security"))


@bp.post("/security/tokens/<int:token_id>/revoke")
@login_required
def revoke_any_token(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke anyone's API token."""
    revoke_token(engine(), actor(), token_id)
    flash(_("The API token is revoked."), "success")
    return redirect(url_for("admin.security"))


@bp.post("/security/password")
@login_required
def reset_user_password():  # type: ignore[no-untyped-def]
    """Set a user's password: their sessions end and their API tokens are revoked."""
    username = request.form.get("username", "").strip()
    try:
        reset_password(engine(), actor(), username, request.form.get("new_password", ""))
    except (InvalidInput, NotFound) as exc:
        errors = field_errors(exc) if isinstance(exc, InvalidInput) else {"username": [_("No such user.")]}
        return _page(422, errors=errors, username=username)
    flash(_("The password of %(username)s is reset; their sessions ended and their API tokens are revoked.",
            username=username), "success")
    return redirect(url_for("admin.security"))
