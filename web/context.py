"""Access to the engine context and the signed-in actor from a request."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user

from engine.context import EngineContext
from engine.services.actors import Actor


def engine() -> EngineContext:
    return current_app.extensions["serviceflow"]


def actor() -> Actor:
    return current_user.actor
