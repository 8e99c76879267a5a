"""API tokens carry a name, an expiry and a last-used time; their owners list and revoke them in
Settings, administrators anyone's on the Security page; `serviceflow token create` takes --expires."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.persistence.models import ApiToken
from engine.services.api_tokens import create_api_token
from tests.factories import clock_at

T0 = datetime(2026, 12, 1, 9, 0)


def sign_in(app, username: str) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302
    return client


def api_status(app, token: str) -> int:  # type: ignore[no-untyped-def]
    return app.test_client().get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code


def row(ctx, token_id: int) -> ApiToken:  # type: ignore[no-untyped-def]
    """The stored token, detached with its values loaded."""
    with ctx.unit_of_work(readonly=True) as uow:
        found = uow.session.get(ApiToken, token_id)
        uow.session.expunge(found)
        return found


def only_token_id(ctx) -> int:  # type: ignore[no-untyped-def]
    with ctx.unit_of_work(readonly=True) as uow:
        [token_id] = uow.session.scalars(select(ApiToken.id))
    return token_id


def test_a_user_creates_a_token_in_settings_sees_it_once_and_it_works_until_it_expires(app, ctx):
    with clock_at(T0) as clock:
        client = sign_in(app, "sales1")
        created = client.post("/settings/tokens", data={"name": "ERP bridge", "expires": "30d"})
        assert created.status_code == 201
        token = re.search(r'<code class="token-once" id="new-token">(sf_[\w-]+)</code>', created.text).group(1)
        assert "Your new token is shown only this once." in created.text
        listed = client.get("/settings").text
        assert token not in listed
        assert "ERP bridge" in listed and "2026-12-31 09:00" in listed and "Active" in listed
        assert api_status(app, token) == 200
        clock.now = T0 + timedelta(days=30) - timedelta(seconds=1)
        assert api_status(app, token) == 200
        clock.now = T0 + timedelta(days=30)
        assert api_status(app, token) == 401  # also when the answer was cached a moment ago
        assert "Expired" in sign_in(app, "sales1").get("/settings").text


def test_the_last_use_is_recorded_at_most_once_a_minute(app, ctx):
    with clock_at(T0) as clock:
        token = create_api_token(ctx, "sales1", "reporting")
        token_id = only_token_id(ctx)
        assert row(ctx, token_id).last_used_at is None
        assert "Never" in sign_in(app, "sales1").get("/settings").text
        clock.now = T0 + timedelta(minutes=5)
        assert api_status(app, token) == 200
        assert row(ctx, token_id).last_used_at == T0 + timedelta(minutes=5)
        ctx.token_actors.clear()  # as another server process, or after the cache's few seconds
        clock.now = T0 + timedelta(minutes=5, seconds=30)
        assert api_status(app, token) == 200
        assert row(ctx, token_id).last_used_at == T0 + timedelta(minutes=5)
        ctx.token_actors.clear()
        clock.now = T0 + timedelta(minutes=7)
        assert api_status(app, token) == 200
        assert row(ctx, token_id).last_used_at == T0 + timedelta(minutes=7)
        assert "2026-12-01 09:07" in sign_in(app, "sales1").get("/settings").text


def test_a_user_revokes_their_token_and_it_stops_at_once_but_nobody_else_may_revoke_it(app, ctx):
    token = create_api_token(ctx, "sales1", "old laptop")
    token_id = only_token_id(ctx)
    assert api_status(app, token) == 200
    other = sign_in(app, "sales2")
    assert other.post(f"/settings/tokens/{token_id}/revoke").status_code == 404
    assert "old laptop" not in other.get("/settings").text
    assert other.get("/admin/security").status_code == 403
    assert api_status(app, token) == 200
    owner = sign_in(app, "sales1")
    revoked = owner.post(f"/settings/tokens/{token_id}/revoke", follow_redirects=True)
    assert "The API token is revoked." in revoked.text and "Revoked" in revoked.text
    assert api_status(app, token) == 401
    assert row(ctx, token_id).revoked_at is not None


def test_admins_list_everyones_tokens_and_revoke_any(app, ctx):
    token = create_api_token(ctx, "qc1", "lab system")
    token_id = only_token_id(ctx)
    admin = sign_in(app, "admin1")
    page = admin.get("/admin/security").text
    assert f'data-token-id="{token_id}"' in page and "lab system" in page and "qc1" in page
    assert admin.post(f"/admin/security/tokens/{token_id}/revoke").status_code == 302
    assert api_status(app, token) == 401


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"name": "", "expires": "90d"}, "name", "Give the token a name that says where it is used."),
    ({"name": "x" * 121, "expires": "90d"}, "name", "A token name has at most 120 characters."),
    ({"name": "ci", "expires": "soon"}, "expires", "Give the expiry as a number of days (90d) or a date"),
    ({"name": "ci", "expires": "0d"}, "expires", "The expiry must be in the future and at most 730 days ahead."),
    ({"name": "ci", "expires": "9999d"}, "expires", "The expiry must be in the future and at most 730 days ahead."),
    ({"name": "ci", "expires": "2000-01-01"}, "expires", "The expiry must be in the future"),
])
def test_bad_token_input_is_refused_with_the_field_named(app, ctx, data, field, message):
    client = sign_in(app, "sales1")
    response = client.post("/settings/tokens", data=data)
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in response.text
    with ctx.unit_of_work(readonly=True) as uow:
        assert list(uow.session.scalars(select(ApiToken))) == []


def test_revoking_a_token_that_does_not_exist_is_a_404_even_beyond_64_bits(app, ctx):
    client = sign_in(app, "sales1")
    for token_id in ("0", "12345", "99999999999999999999"):
        assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 404


def test_the_cli_creates_a_named_token_with_an_expiry(ctx, monkeypatch, capsys):
    from web.cli import main

    monkeypatch.setenv("DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("SECRET_KEY", "cli-test")
    with clock_at(T0):
        assert main(["token", "create", "sales1", "--name", "nightly export", "--expires", "2027-03-31"]) == 0
        token = capsys.readouterr().out.strip()
        assert token.startswith("sf_")
        assert main(["token", "create", "sales1", "--expires", "forever"]) == 2
        assert "Give the expiry as a number of days (90d) or a date" in capsys.readouterr().err
    with ctx.unit_of_work(readonly=True) as uow:
        [stored] = uow.session.execute(select(ApiToken.label, ApiToken.expires_at)).all()
    assert tuple(stored) == ("nightly export", datetime(2027, 3, 31))
