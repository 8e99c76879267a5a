"""Server-side sessions of signed-in browsers (OWASP ASVS 3.2-3.3).

The browser's signed cookie holds a random session token; only its SHA-256 is stored. A session
ends when its user signs out, after ``session_idle_minutes`` without a request, after
``session_max_hours`` in any case, and when the password is changed or reset. ``last_seen_at``
is written at most once a minute, so that pages do not all write to the database.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from engine.context import EngineContext
from engine.persistence.models import User, UserSession
from engine.persistence.uow import UnitOfWork
from engine.services.actors import Actor
from engine.services.api_tokens import token_digest
from engine.time.clock import utcnow

SEEN_PRECISION = timedelta(minutes=1)


def start_session(ctx: EngineContext, actor: Actor) -> str:
    """A new session for a user who just proved who they are; the token goes into the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with ctx.unit_of_work() as uow:
        uow.session.add(UserSession(token_hash=token_digest(token), user_id=actor.id, created_at=now, last_seen_at=now))
        uow.commit()
    return token


def session_actor(ctx: EngineContext, token: str) -> Actor | None:
    """The actor of a live session; None when it is unknown, ended, idle too long or too old."""
    if not token:
        return None
    limits = ctx.settings.auth
    now = utcnow()
    with ctx.unit_of_work(readonly=True) as uow:
        row = uow.session.scalar(select(UserSession).where(UserSession.token_hash == token_digest(token)))
        if row is None or row.revoked_at is not None:
            return None
        if (row.last_seen_at + timedelta(minutes=limits.session_idle_minutes) <= now
                or row.created_at + timedelta(hours=limits.session_max_hours) <= now):
            return None
        user = uow.session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        actor, session_id, stale = Actor.of(user), row.id, row.last_seen_at <= now - SEEN_PRECISION
    if stale:
        with ctx.unit_of_work() as uow:
            uow.session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now))
            uow.commit()
    return actor


def end_session(ctx: EngineContext, token: str) -> None:
    """Sign out: the session's token opens nothing any more, wherever a copy of the cookie is."""
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(UserSession)
                            .where(UserSession.token_hash == token_digest(token), UserSession.revoked_at.is_(None))
                            .values(revoked_at=utcnow()))
        uow.commit()


def end_user_sessions(uow: UnitOfWork, user_id: int, keep_token: str | None = None) -> None:
    """End every session of a user but ``keep_token``'s, in the caller's transaction."""
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep_token:
        query = query.where(UserSession.token_hash != token_digest(keep_token))
    uow.session.execute(query.values(revoked_at=utcnow()))
