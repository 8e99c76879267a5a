"""Sign-in and sign-out for people; the API authenticates with bearer tokens instead."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from engine.errors import InvalidInput
from engine.services.actors import Actor
from engine.services.users import LOCALES, authenticate, get_actor, notify_email_on, set_locale, set_notify_email
from web.context import engine

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"


class WebUser(UserMixin):
    """Flask-Login's view of an engine actor."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.id = str(actor.id)


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    actor = get_actor(engine(), int(user_id))
    return WebUser(actor) if actor else None


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Sign in with username and password."""
    if request.method == "POST":
        actor = authenticate(engine(), request.form.get("username", ""), request.form.get("password", ""))
        if actor is not None:
            login_user(WebUser(actor))
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", username=request.form.get("username", "")), 401
    return render_template("auth/login.html", username="")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    """Sign out."""
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language():  # type: ignore[no-untyped-def]
    """Switch the interface language: saved on the user when signed in, else kept in the session."""
    locale = request.form.get("locale", "")
    if current_user.is_authenticated:
        set_locale(engine(), current_user.actor, locale)
    elif locale not in LOCALES:
        raise InvalidInput(f"Unknown language {locale!r}; choose one of {', '.join(LOCALES)}")
    session["locale"] = locale
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/settings")
@login_required
def settings():  # type: ignore[no-untyped-def]
    """The signed-in user's own settings: notification mail on or off."""
    return render_template("auth/settings.html", notify_email=notify_email_on(engine(), current_user.actor))


@bp.post("/settings/notify-email")
@login_required
def notify_email():  # type: ignore[no-untyped-def]
    """Turn notification mail on or off."""
    on = set_notify_email(engine(), current_user.actor, request.form.get("notify_email") == "on")
    flash(_("Notification mail is on.") if on else _("Notification mail is off."), "success")
    return redirect(url_for("auth.settings"))
