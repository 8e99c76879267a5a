"""Accounts: password check, language and mail settings, and the colleagues a task can be handed to."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select, update

from engine.accounts.passwords import hash_password, needs_rehash, verify_nothing, verify_password
from engine.context import EngineContext
from engine.definitions import senders
from engine.errors import Conflict, InvalidInput, NotFound
from engine.persistence.models import Department, User, UserDepartment
from engine.persistence.uow import UnitOfWork
from engine.services.actors import Actor
from engine.services.api_tokens import create_api_token


def authenticate(ctx: EngineContext, username: str, password: str) -> Actor | None:
    """The actor for valid credentials; the same work is done for unknown users (no timing leak).
    A hash from before Argon2 (Werkzeug's) is replaced by an Argon2 one once the password is known.
    No username holds a NUL character, which PostgreSQL cannot even compare."""
    with ctx.unit_of_work(readonly=True) as uow:
        user = None if "\x00" in username else uow.session.scalar(select(User).where(User.username == username))
        if user is None or not user.is_active or user.is_service_account:
            verify_nothing(password)  # a service account signs in with its token only
            return None
        if not verify_password(user.password_hash, password):
            return None
        actor, stored = Actor.of(user), user.password_hash
    if needs_rehash(stored):
        with ctx.unit_of_work() as uow:
            uow.session.execute(update(User).where(User.id == actor.id, User.password_hash == stored)
                                .values(password_hash=hash_password(password)))
            uow.commit()
    return actor


LOCALES = ("en", "zh")


def set_locale(ctx: EngineContext, actor: Actor, locale: str) -> Actor:
    """Save the interface language the user reads ("en" or "zh"); it applies from the next request."""
    if locale not in LOCALES:
        raise InvalidInput(f"Unknown language {locale!r}; choose one of {', '.join(LOCALES)}",
                           {"locale": [f"Choose one of {', '.join(LOCALES)}"]})
    with ctx.unit_of_work() as uow:
        user = uow.session.get(User, actor.id)
        if user is None or not user.is_active:
            raise NotFound(f"No user with id {actor.id}")
        user.locale = locale
        uow.commit()
        return Actor.of(user)


def _active_user(uow: UnitOfWork, actor: Actor) -> User:
    user = uow.session.get(User, actor.id)
    if user is None or not user.is_active:
        raise NotFound(f"No user with id {actor.id}")
    return user


def notify_email_on(ctx: EngineContext, actor: Actor) -> bool:
    """Whether the user receives notification mail."""
    with ctx.unit_of_work(readonly=True) as uow:
        return _active_user(uow, actor).notify_email


def set_notify_email(ctx: EngineContext, actor: Actor, on: bool) -> bool:
    """Turn the user's notification mail on or off; returns the new setting."""
    with ctx.unit_of_work() as uow:
        _active_user(uow, actor).notify_email = bool(on)
        uow.commit()
    return bool(on)


def colleagues(ctx: EngineContext, department_id: str | None,
               owners: tuple[str, ...] = ()) -> list[tuple[int, str, str]]:
    """(id, username, display name) of the active members of a department, or of a task no
    department works, the active people named to work it (``owners``)."""
    if department_id is None and not owners:
        return []
    query = select(User.id, User.username, User.display_name).where(User.is_active.is_(True))
    if department_id is None:
        query = query.where(User.username.in_(owners))
    else:
        query = query.join(UserDepartment, UserDepartment.user_id == User.id).where(
            UserDepartment.department_id == department_id)
    with ctx.unit_of_work(readonly=True) as uow:
        return [tuple(r) for r in uow.session.execute(query.order_by(User.username))]


def ensure_user(
    ctx: EngineContext,
    username: str,
    password: str,
    display_name: str,
    departments: list[str],
    email: str = "",
    **flags: bool,
) -> bool:
    """Create a user if absent (setup and demo data); True when it was created."""
    with ctx.unit_of_work() as uow:
        if uow.session.scalar(select(User.id).where(User.username == username)) is not None:
            return False
        known = set(uow.session.scalars(select(Department.id)))
        unknown = set(departments) - known
        if unknown:
            raise InvalidInput(f"Unknown departments: {', '.join(sorted(unknown))}")
        user = User(username=username, display_name=display_name, email=email,
                    password_hash=hash_password(password), **flags)
        uow.session.add(user)
        uow.session.flush()
        uow.session.add_all(UserDepartment(user_id=user.id, department_id=d) for d in departments)
        uow.commit()
    return True


USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


def ensure_service_account(ctx: EngineContext, username: str, integration: str, display_name: str = "") -> bool:
    """Create the service account of an integration if absent (demo data); True when created.
    Conflict when the name belongs to a person or to another integration's account."""
    errors = {}
    if not USERNAME.match(username):
        errors["username"] = ["Use 1 to 80 lower-case letters, digits, '.', '_' or '-'."]
    if integration not in senders.INTEGRATIONS:
        errors["integration"] = [f"Choose one of {', '.join(sorted(senders.INTEGRATIONS))}."]
    if errors:
        raise InvalidInput("The service account is invalid: " + "; ".join(
            f"{field}: {' '.join(problems)}" for field, problems in errors.items()), errors)
    with ctx.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
        if user is not None:
            if not user.is_service_account or user.integration != integration:
                raise Conflict(f"{username!r} already exists and is not a service account of {integration!r}",
                               {"username": ["Already taken."]})
            return False
        # an unusable password: the account has no sign-in, whatever a form is sent
        uow.session.add(User(username=username, display_name=display_name or senders.INTEGRATIONS[integration],
                             password_hash=hash_password(secrets.token_urlsafe(32)), is_service_account=True,
                             integration=integration, notify_email=False))
        uow.commit()
    return True


def create_service_account(ctx: EngineContext, username: str, integration: str, display_name: str = "") -> str:
    """A new service account for ``integration`` and its first API token (shown once)."""
    if not ensure_service_account(ctx, username, integration, display_name):
        raise Conflict(f"The service account {username!r} already exists; "
                       f"give it another token with: serviceflow token create {username}",
                       {"username": ["Already taken."]})
    return create_api_token(ctx, username, label="service-account")


def find_actor(ctx: EngineContext, username: str) -> Actor:
    """The actor for a username, for trusted callers (CLI, workers, tests) that need no password."""
    with ctx.unit_of_work(readonly=True) as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"No user named {username!r}")
        return Actor.of(user)
