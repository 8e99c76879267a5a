"""Sign-in and sign-out for people; the API authenticates with bearer tokens instead.

A signed-in browser's cookie carries a server-side session token (engine.services.sessions): the
user loader accepts the cookie only while that session lives, so signing out, idling and a
password change end it on the server, and signing in always starts a new one.
"""

from __future__ import annotations

import math
from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from engine.errors import InvalidInput
from engine.services.actors import Actor
from engine.services.sessions import end_session, session_actor, start_session
from engine.services.sign_in import sign_in
from engine.services.users import LOCALES, set_locale
from engine.time.clock import utcnow
from web.context import engine
from web.formatting import datetime_short

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = None  # the server-side session is the protection
SESSION_KEY = "sid"


class WebUser(UserMixin):
    """Flask-Login's view of an engine actor."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.id = str(actor.id)


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    actor = session_actor(engine(), str(session.get(SESSION_KEY, "")))
    return WebUser(actor) if actor is not None and str(actor.id) == user_id else None


def current_session_token() -> str | None:
    """The signed-in browser's session token (kept when the user changes their password)."""
    token = session.get(SESSION_KEY)
    return str(token) if token else None


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


def _begin(actor: Actor) -> None:
    """A new session for the signed-in user: the cookie's old contents go (no session fixation),
    and a session the browser still had ends."""
    locale, previous = session.get("locale"), current_session_token()
    if previous:
        end_session(engine(), previous)
    session.clear()
    if locale in LOCALES:
        session["locale"] = locale
    session[SESSION_KEY] = start_session(engine(), actor)
    login_user(WebUser(actor))


def _locked_message(until: datetime) -> str:
    """When to try again, in whole minutes and as a UTC time (the page has no time zone of its own)."""
    minutes = max(1, math.ceil((until - utcnow()).total_seconds() / 60))
    return ngettext("Too many failed sign-ins. Try again in %(num)s minute (after %(time)s UTC).",
                    "Too many failed sign-ins. Try again in %(num)s minutes (after %(time)s UTC).",
                    minutes, time=datetime_short(until))


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Sign in with username and password; 429 while the username or the address is locked."""
    if request.method == "POST":
        username = request.form.get("username", "")
        result = sign_in(engine(), username, request.form.get("password", ""), request.remote_addr or "")
        if result.actor is not None:
            _begin(result.actor)
            return redirect(_safe_next(request.args.get("next")))
        if result.locked_until is not None:
            flash(_locked_message(result.locked_until), "error")
            return render_template("auth/login.html", username=username), 429
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", username=username), 401
    return render_template("auth/login.html", username="")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    """Sign out: the session ends on the server, so a copy of the cookie opens nothing."""
    token, locale = current_session_token(), current_user.actor.locale
    if token:
        end_session(engine(), token)
    logout_user()
    session.clear()
    session["locale"] = locale
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


from web.auth import settings as _settings  # noqa: E402,F401 - registers the Settings pages on bp
