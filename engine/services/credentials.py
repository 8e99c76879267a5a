"""Passwords changed by their owner or reset by an administrator, under the password policy.

What else ends (OWASP ASVS 2.1.x, 3.3.3): a user's own change ends their other sessions and keeps
the one they changed it from and their API tokens (an integration should not stop because its
owner changed a password; tokens are listed and revoked separately). An administrator's reset
means the account may be in the wrong hands: it ends every session and revokes every API token of
the user, and lifts a sign-in lock on the username.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.accounts.password_policy import check_password
from engine.accounts.passwords import hash_password, verify_password
from engine.context import EngineContext
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.persistence.models import User
from engine.services.actors import Actor
from engine.services.api_tokens import revoke_user_tokens
from engine.services.sessions import end_user_sessions
from engine.services.sign_in import unlock_account

WRONG_CURRENT = "The current password is wrong."


def change_password(ctx: EngineContext, actor: Actor, current: str, new: str, keep_session: str | None) -> None:
    """Set the caller's password after checking the current one; other sessions end."""
    with ctx.unit_of_work(readonly=True) as uow:
        user = uow.session.get(User, actor.id)
        if user is None or not user.is_active:
            raise NotFound(f"No user with id {actor.id}")
        stored = user.password_hash
    if not verify_password(stored, current):
        raise InvalidInput(WRONG_CURRENT, {"current_password": [WRONG_CURRENT]})
    check_password(new, actor.username)
    new_hash = hash_password(new)
    with ctx.unit_of_work() as uow:
        user = uow.session.get(User, actor.id)
        if user is None or user.password_hash != stored:
            raise InvalidInput(WRONG_CURRENT, {"current_password": [WRONG_CURRENT]})
        user.password_hash = new_hash
        end_user_sessions(uow, actor.id, keep_token=keep_session)
        uow.commit()


def reset_password(ctx: EngineContext, admin: Actor, username: str, new: str) -> None:
    """An administrator sets a user's password: all their sessions end and their tokens are revoked."""
    if not admin.is_admin:
        raise Forbidden("Only administrators reset passwords")
    check_password(new, username)
    new_hash = hash_password(new)
    with ctx.unit_of_work() as uow:
        user = None if "\x00" in username else uow.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"No user named {username!r}", {"username": ["No such user."]})
        user.password_hash = new_hash
        end_user_sessions(uow, user.id)
        revoke_user_tokens(uow, user.id)
        uow.commit()
    ctx.token_actors.clear()
    unlock_account(ctx, username)
