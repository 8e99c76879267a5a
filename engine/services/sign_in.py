"""Sign-in with throttling (OWASP ASVS 2.2.1): too many wrong passwords for one username, or from
one client address, within ``failure_window_minutes`` lock that username or address for
``lock_minutes``. While locked even the right password is refused, so that guessing gains nothing;
the caller learns until when. Counts live in the database, so every server process shares them.
Administrators see the locks and lift them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from engine.context import EngineContext
from engine.errors import Forbidden, NotFound
from engine.persistence.models import SignInThrottle
from engine.services.actors import Actor
from engine.services.users import authenticate
from engine.time.clock import utcnow

ACCOUNT, ADDRESS = "account", "address"
KEY_LENGTH = 200


@dataclass(frozen=True)
class SignInResult:
    """``actor`` when signed in; otherwise ``locked_until`` says when to try again, if locked."""

    actor: Actor | None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class SignInLock:
    kind: str
    key: str
    failures: int
    locked_until: datetime


def _key(text: str) -> str:
    """A username or address as stored: compared case-insensitively, NUL (which PostgreSQL refuses
    in text) replaced, and cut to the column's length."""
    return text.strip().casefold().replace("\x00", "\ufffd")[:KEY_LENGTH]


def _keys(username: str, address: str) -> list[tuple[str, str]]:
    return [(ACCOUNT, _key(username)), (ADDRESS, _key(address or "unknown"))]


def sign_in(ctx: EngineContext, username: str, password: str, address: str) -> SignInResult:
    """Check the password unless the username or the address is locked; count a failure."""
    keys = _keys(username, address)
    now = utcnow()
    locked = _locked_until(ctx, keys, now)
    if locked is not None:
        return SignInResult(None, locked)
    actor = authenticate(ctx, username, password)
    if actor is not None:
        _forget(ctx, [keys[0]])
        return SignInResult(actor)
    return SignInResult(None, _count_failure(ctx, keys, now))


def _locked_until(ctx: EngineContext, keys: list[tuple[str, str]], now: datetime) -> datetime | None:
    with ctx.unit_of_work(readonly=True) as uow:
        found = uow.session.scalars(select(SignInThrottle.locked_until).where(
            or_(*(((SignInThrottle.kind == k) & (SignInThrottle.key == v)) for k, v in keys)),
            SignInThrottle.locked_until > now))
        return max(found, default=None)


def _count_failure(ctx: EngineContext, keys: list[tuple[str, str]], now: datetime) -> datetime | None:
    """Add one failure to each key's count; the lock this causes, if any. A row two processes
    create at once fails one of them on the unique key: that one counts again."""
    for attempt in range(3):
        try:
            return _try_count_failure(ctx, keys, now)
        except IntegrityError:
            if attempt == 2:
                raise
    return None


def _try_count_failure(ctx: EngineContext, keys: list[tuple[str, str]], now: datetime) -> datetime | None:
    limits = ctx.settings.auth
    window = timedelta(minutes=limits.failure_window_minutes)
    thresholds = {ACCOUNT: limits.account_failures, ADDRESS: limits.address_failures}
    locks: list[datetime] = []
    with ctx.unit_of_work() as uow:
        uow.session.execute(delete(SignInThrottle).where(
            SignInThrottle.window_started_at <= now - window,
            or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until <= now)))
        for kind, key in keys:
            row = uow.session.scalar(select(SignInThrottle).where(
                SignInThrottle.kind == kind, SignInThrottle.key == key).with_for_update())
            if row is None:
                row = SignInThrottle(kind=kind, key=key, failures=0, window_started_at=now)
                uow.session.add(row)
            elif row.window_started_at <= now - window or (row.locked_until is not None and row.locked_until <= now):
                row.failures, row.window_started_at, row.locked_until = 0, now, None
            row.failures += 1
            if row.failures >= thresholds[kind]:
                row.locked_until = now + timedelta(minutes=limits.lock_minutes)
                locks.append(row.locked_until)
            uow.session.flush()
        uow.commit()
    return max(locks, default=None)


def _forget(ctx: EngineContext, keys: list[tuple[str, str]]) -> None:
    """A right password clears its username's count (not the address's: one known account must
    not let a guesser go on with others)."""
    with ctx.unit_of_work(readonly=True) as uow:
        present = [(k, v) for k, v in keys if uow.session.scalar(select(SignInThrottle.id).where(
            SignInThrottle.kind == k, SignInThrottle.key == v)) is not None]
    if present:
        with ctx.unit_of_work() as uow:
            for kind, key in present:
                uow.session.execute(delete(SignInThrottle).where(SignInThrottle.kind == kind,
                                                                 SignInThrottle.key == key))
            uow.commit()


def list_locks(ctx: EngineContext, actor: Actor) -> list[SignInLock]:
    """Usernames and addresses locked now, the soonest to unlock first (administrators only)."""
    if not actor.is_admin:
        raise Forbidden("Only administrators see locked sign-ins")
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(select(SignInThrottle).where(SignInThrottle.locked_until > utcnow())
                                   .order_by(SignInThrottle.locked_until, SignInThrottle.id))
        return [SignInLock(r.kind, r.key, r.failures, r.locked_until) for r in rows if r.locked_until]


def unlock(ctx: EngineContext, actor: Actor, kind: str, key: str) -> None:
    """Lift a lock and forget its failures (administrators only)."""
    if not actor.is_admin:
        raise Forbidden("Only administrators unlock sign-ins")
    if kind not in (ACCOUNT, ADDRESS):
        raise NotFound(f"No locked sign-in for {kind!r} {key!r}")
    with ctx.unit_of_work() as uow:
        gone = uow.session.execute(delete(SignInThrottle).where(SignInThrottle.kind == kind,
                                                                SignInThrottle.key == _key(key))).rowcount
        if not gone:
            raise NotFound(f"No locked sign-in for {kind} {key!r}")
        uow.commit()


def unlock_account(ctx: EngineContext, username: str) -> None:
    """Forget the failures of a username (after an administrator set a new password)."""
    _forget(ctx, [(ACCOUNT, _key(username))])
