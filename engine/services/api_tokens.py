"""API tokens: created with a name and an expiry, shown once, listed and revoked by their owner
(administrators: anyone's), refused once expired or revoked (OWASP ASVS 3.5)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from engine.context import EngineContext
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.persistence.models import ApiToken, User
from engine.persistence.uow import UnitOfWork
from engine.services.actors import Actor
from engine.time.clock import utcnow

DEFAULT_DAYS = 90
MAX_DAYS = 730
LAST_USED_PRECISION = timedelta(minutes=1)  # last_used_at is written at most this often per token
_DAYS = re.compile(r"(\d{1,4})d")
BAD_EXPIRY = "Give the expiry as a number of days (90d) or a date (2027-03-31)."
EXPIRY_OUT_OF_RANGE = f"The expiry must be in the future and at most {MAX_DAYS} days ahead."
NAME_TOO_LONG = "A token name has at most 120 characters."
NAME_MISSING = "Give the token a name that says where it is used."


@dataclass(frozen=True)
class TokenView:
    """A token as its owner and administrators see it: never the token itself, which is not stored."""

    id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def status(self) -> str:
        """"revoked", "expired" or "active"."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


def parse_expiry(text: str, field: str = "expires") -> datetime:
    """``90d`` (days from now) or a date ``2027-03-31`` (the token ends as that day begins, UTC);
    between one day and MAX_DAYS ahead."""
    raw = (text or "").strip()
    now = utcnow()
    match = _DAYS.fullmatch(raw)
    try:
        expires = now + timedelta(days=int(match.group(1))) if match else datetime.combine(
            date.fromisoformat(raw), datetime.min.time())
    except ValueError:
        raise InvalidInput(BAD_EXPIRY, {field: [BAD_EXPIRY]}) from None
    if expires <= now or expires > now + timedelta(days=MAX_DAYS):
        raise InvalidInput(EXPIRY_OUT_OF_RANGE, {field: [EXPIRY_OUT_OF_RANGE]})
    return expires


def token_digest(token: str) -> str:
    """What is stored of a bearer or session token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(ctx: EngineContext, username: str, label: str = "", expires_at: datetime | None = None) -> str:
    """A new bearer token for ``username`` (default expiry DEFAULT_DAYS); only its hash is stored,
    so it is shown once."""
    name = label.replace("\x00", "").strip()
    if not name:
        raise InvalidInput(NAME_MISSING, {"name": [NAME_MISSING]})
    if len(name) > 120:
        raise InvalidInput(NAME_TOO_LONG, {"name": [NAME_TOO_LONG]})
    token = "sf_" + secrets.token_urlsafe(32)
    expires = expires_at or utcnow() + timedelta(days=DEFAULT_DAYS)
    with ctx.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"No user named {username!r}")
        uow.session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), label=name, expires_at=expires))
        uow.commit()
    return token


def actor_for_token(ctx: EngineContext, token: str) -> Actor | None:
    """The token's actor, or None when it is unknown, revoked or expired. Answers are cached for a
    few seconds (TOKEN_CACHE_SECONDS): an integration calls many times a second, and a token revoked
    in another server process, or a deactivated user, loses access within that time."""
    digest = token_digest(token)
    now = utcnow()
    cached = ctx.token_actors.get(digest)
    if cached is not None:
        actor, expires_at = cached
        return actor if expires_at is None or expires_at > now else None
    with ctx.unit_of_work(readonly=True) as uow:
        row = uow.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        user = uow.session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        actor, expires_at, token_id = Actor.of(user), row.expires_at, row.id
        stale = row.last_used_at is None or row.last_used_at <= now - LAST_USED_PRECISION
    if stale:
        with ctx.unit_of_work() as uow:
            uow.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
            uow.commit()
    ctx.token_actors.put(digest, (actor, expires_at))
    return actor


def list_tokens(ctx: EngineContext, actor: Actor, everyone: bool = False) -> list[TokenView]:
    """The caller's tokens, newest first; with ``everyone`` (administrators only) all users' tokens."""
    if everyone and not actor.is_admin:
        raise Forbidden("Only administrators list everyone's API tokens")
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if not everyone:
        query = query.where(ApiToken.user_id == actor.id)
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
        return [TokenView(id=t.id, username=username, name=t.label, created_at=t.created_at,
                          expires_at=t.expires_at, last_used_at=t.last_used_at, revoked_at=t.revoked_at)
                for t, username in rows]


def revoke_token(ctx: EngineContext, actor: Actor, token_id: int) -> None:
    """Revoke one of the caller's tokens (administrators: anyone's); someone else's is NotFound."""
    if not 0 < token_id < 2**31:
        raise NotFound(f"No API token with id {token_id}")
    with ctx.unit_of_work() as uow:
        row = uow.session.get(ApiToken, token_id)
        if row is None or (row.user_id != actor.id and not actor.is_admin):
            raise NotFound(f"No API token with id {token_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        uow.commit()
        ctx.token_actors.discard(row.token_hash)


def revoke_user_tokens(uow: UnitOfWork, user_id: int) -> None:
    """Revoke all of a user's tokens in the caller's transaction (an administrator's password
    reset); the caller empties ``ctx.token_actors`` after committing."""
    uow.session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=utcnow()))
