"""Passwords (hardening §3 and §7): Argon2 hashes made by the engine without Werkzeug, old Werkzeug
hashes still accepted and replaced, the policy, a user's own change and an administrator's reset."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from engine.persistence.models import ApiToken, User
from engine.services.api_tokens import create_api_token

ROOT = Path(__file__).resolve().parents[2]
NEW = "correct horse battery staple"


@pytest.fixture
def passwords_restored(ctx) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """PostgreSQL keeps users from test to test: put back the hashes a test changed."""
    with ctx.unit_of_work(readonly=True) as uow:
        saved = dict(uow.session.execute(select(User.id, User.password_hash)).all())
    yield
    with ctx.unit_of_work() as uow:
        for user_id, stored in saved.items():
            uow.session.execute(update(User).where(User.id == user_id).values(password_hash=stored))
        uow.commit()


def stored_hash(ctx, username: str) -> str:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(User.password_hash).where(User.username == username))


def sign_in(app, username: str, password: str = "demo") -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.text
    return client


def refused(app, username: str, password: str) -> bool:  # type: ignore[no-untyped-def]
    return app.test_client().post("/login", data={"username": username, "password": password}).status_code == 401


def change(client: FlaskClient, current: str, new: str, confirm: str | None = None):  # type: ignore[no-untyped-def]
    return client.post("/settings/password", data={"current_password": current, "new_password": new,
                                                   "confirm_password": new if confirm is None else confirm})


def test_the_engine_hashes_with_argon2_and_never_imports_werkzeug(ctx):
    assert stored_hash(ctx, "sales1").startswith("$argon2id$")
    importers = []
    for path in (ROOT / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "werkzeug" for n in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256:600000"])
def test_a_werkzeug_hash_of_an_older_installation_signs_in_and_is_replaced_by_argon2(app, ctx, passwords_restored,
                                                                                   method):
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(User).where(User.username == "tech1")
                            .values(password_hash=generate_password_hash("demo", method=method)))
        uow.commit()
    assert refused(app, "tech1", "not demo")
    assert not stored_hash(ctx, "tech1").startswith("$argon2")
    sign_in(app, "tech1")
    assert stored_hash(ctx, "tech1").startswith("$argon2id$")
    sign_in(app, "tech1")


def test_users_change_their_own_password_and_their_other_sessions_end(app, ctx, passwords_restored):
    here, elsewhere = sign_in(app, "sales1"), sign_in(app, "sales1")
    done = change(here, "demo", NEW)
    assert done.status_code == 302
    assert "Your password is changed; your other sessions have ended." in here.get("/settings").text
    assert here.get("/inbox").status_code == 200
    assert elsewhere.get("/inbox").status_code == 302
    assert refused(app, "sales1", "demo")
    sign_in(app, "sales1", NEW)


@pytest.mark.parametrize(("current", "new", "confirm", "field", "message"), [
    ("wrong", NEW, None, "current_password", "The current password is wrong."),
    ("demo", "short pass", None, "new_password", "The password must have at least 12 characters."),
    ("demo", "x" * 129, None, "new_password", "The password may have at most 128 characters."),
    ("demo", "my name is Sales1!", None, "new_password", "The password must not contain the username."),
    ("demo", "Password1234", None, "new_password", "This password is too common; choose another."),
    ("demo", "abababababab", None, "new_password", "This password is too common; choose another."),
    ("demo", NEW, NEW + "!", "confirm_password", "The two new passwords differ."),
])
def test_a_password_change_that_breaks_the_policy_is_refused_with_the_field_named(
        app, ctx, passwords_restored, current, new, confirm, field, message):
    client = sign_in(app, "sales1")
    before = stored_hash(ctx, "sales1")
    response = change(client, current, new, confirm)
    assert response.status_code == 422
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in response.text
    assert f'id="{field}"' in response.text and f'aria-describedby="{field}-error"' in response.text
    assert stored_hash(ctx, "sales1") == before


def test_policy_messages_are_in_the_readers_language(app, ctx, passwords_restored):
    client = sign_in(app, "sales1")
    client.post("/language", data={"locale": "zh", "next": "/settings"})
    assert "密码至少需要 12 个字符。" in change(client, "demo", "short").text


def test_an_admin_resets_a_password_which_ends_the_users_sessions_and_revokes_their_tokens(app, ctx,
                                                                                           passwords_restored):
    victim = sign_in(app, "qc1")
    token = create_api_token(ctx, "qc1", "integration")
    api = app.test_client()
    assert api.get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin = sign_in(app, "admin1")
    reset = admin.post("/admin/security/password", data={"username": "qc1", "new_password": NEW},
                       follow_redirects=True)
    assert "The password of qc1 is reset" in reset.text
    assert victim.get("/inbox").status_code == 302
    assert api.get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with ctx.unit_of_work(readonly=True) as uow:
        assert all(t.revoked_at is not None for t in uow.session.scalars(select(ApiToken)))
    assert refused(app, "qc1", "demo")
    sign_in(app, "qc1", NEW)


def test_an_admin_reset_follows_the_policy_and_names_an_unknown_user(app, ctx, passwords_restored):
    admin = sign_in(app, "admin1")
    short = admin.post("/admin/security/password", data={"username": "qc1", "new_password": "short"})
    assert short.status_code == 422 and "The password must have at least 12 characters." in short.text
    unknown = admin.post("/admin/security/password", data={"username": "nobody\x00", "new_password": NEW})
    assert unknown.status_code == 422 and '<p class="field-error" id="username-error">No such user.</p>' in unknown.text
    sign_in(app, "qc1")


def test_only_admins_reset_passwords(app, ctx, passwords_restored):
    sales = sign_in(app, "sales1")
    response = sales.post("/admin/security/password", data={"username": "sales2", "new_password": NEW})
    assert response.status_code == 403
    sign_in(app, "sales2")
