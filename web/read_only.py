"""Auditors change nothing: one guard, ahead of every view, refuses them every request that could
change something (any method but GET, HEAD and OPTIONS) with 403, so that a page or endpoint
added later is refused without anyone remembering to. What they may still do is their own
account's upkeep: signing in and out, the interface language, their password, notification mail
and their API tokens (which is how they read the API)."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import Forbidden
from engine.services.actors import Actor

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OWN_ACCOUNT_ENDPOINTS = frozenset({
    "auth.login", "auth.logout", "auth.language", "auth.notify_email", "auth.password",
    "auth.create_token", "auth.revoke",
})


def is_refused(actor: Actor | None, method: str, endpoint: str | None) -> bool:
    """Whether this request would have a read-only actor change something."""
    return (actor is not None and actor.reads_only and method not in SAFE_METHODS
            and endpoint not in OWN_ACCOUNT_ENDPOINTS)


def refuse_if_read_only(actor: Actor | None) -> None:
    if is_refused(actor, request.method, request.endpoint):
        raise Forbidden(_("Auditors read cases, versions and events; they change nothing."))


def _guard_pages() -> None:
    if request.blueprint != "api" and getattr(current_user, "is_authenticated", False):
        refuse_if_read_only(current_user.actor)


def init_app(app: Flask) -> None:
    app.before_request(_guard_pages)
