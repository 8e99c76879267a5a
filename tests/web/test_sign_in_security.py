"""Sign-in throttling and server-side sessions (hardening §3), through the Flask client on both
backends. Time moves with the engine clock (tests.factories.clock_at), never by sleeping."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import clock_at

T0 = datetime(2026, 12, 1, 9, 0)
OTHER_ADDRESS = {"REMOTE_ADDR": "192.0.2.7"}


def attempt(client: FlaskClient, username: str, password: str, environ: dict | None = None):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password}, environ_base=environ or {})


def signed_in(client: FlaskClient) -> bool:
    """Whether the client's cookie opens the inbox (else it is sent to the sign-in page)."""
    response = client.get("/inbox")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def session_data(app: Flask, client: FlaskClient) -> dict:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


# --- throttling ------------------------------------------------------------------------------


def test_wrong_passwords_lock_the_account_and_even_the_right_one_is_refused_until_the_time_shown(app, ctx):
    client = app.test_client()
    with clock_at(T0) as clock:
        statuses = [attempt(client, "sales1", f"guess-{i}").status_code for i in range(5)]
        assert statuses == [401, 401, 401, 401, 429]
        refused = attempt(client, "sales1", "demo")
        assert refused.status_code == 429
        assert "Too many failed sign-ins. Try again in 15 minutes (after 2026-12-01 09:15 UTC)." in refused.text
        assert not signed_in(client)
        assert attempt(client, "SALES1 ", "demo").status_code == 429  # the same account, typed differently
        clock.now = T0 + timedelta(minutes=10)
        assert "Try again in 5 minutes (after 2026-12-01 09:15 UTC)" in attempt(client, "sales1", "demo").text
        assert attempt(app.test_client(), "sales2", "demo").status_code == 302  # other accounts are not locked
        clock.now = T0 + timedelta(minutes=15, seconds=1)
        assert attempt(client, "sales1", "demo").status_code == 302
        assert signed_in(client)


def test_the_lock_message_is_in_the_readers_language(app, ctx):
    client = app.test_client()
    client.post("/language", data={"locale": "zh", "next": "/login"})
    with clock_at(T0):
        for i in range(5):
            response = attempt(client, "qc1", f"guess-{i}")
    assert response.status_code == 429
    assert "登录失败次数过多。请在 15 分钟后（UTC 2026-12-01 09:15 之后）重试。" in response.text


def test_failures_from_one_address_lock_that_address_for_every_account(app, ctx):
    client = app.test_client()
    with clock_at(T0):
        for i in range(20):  # four guesses each for five names: no account reaches its limit
            response = attempt(client, f"name{i % 5}", f"guess-{i}")
        assert response.status_code == 429
        assert "Try again in 15 minutes" in response.text
        assert attempt(client, "tech1", "demo").status_code == 429
        assert attempt(app.test_client(), "tech1", "demo", OTHER_ADDRESS).status_code == 302


def test_failures_older_than_the_window_do_not_add_up_and_a_right_password_clears_the_account_count(app, ctx):
    client = app.test_client()
    with clock_at(T0) as clock:
        for i in range(4):
            assert attempt(client, "prod1", f"guess-{i}").status_code == 401
        clock.now = T0 + timedelta(minutes=16)
        for i in range(4):
            assert attempt(client, "prod1", f"guess-{i}").status_code == 401
        assert attempt(client, "prod1", "demo").status_code == 302
        for i in range(4):
            assert attempt(app.test_client(), "prod1", f"guess-{i}", OTHER_ADDRESS).status_code == 401
        assert attempt(app.test_client(), "prod1", "demo", OTHER_ADDRESS).status_code == 302


def test_admins_see_locked_accounts_and_addresses_and_unlock_them(app, ctx):
    with clock_at(T0):
        for i in range(5):
            attempt(app.test_client(), "gm1", f"guess-{i}", OTHER_ADDRESS)
        assert attempt(app.test_client(), "gm1", "demo").status_code == 429
        admin = app.test_client()
        assert attempt(admin, "admin1", "demo").status_code == 302
        page = admin.get("/admin/security")
        assert page.status_code == 200
        assert 'data-lock="account:gm1"' in page.text and "2026-12-01 09:15" in page.text
        assert 'data-lock="address:' not in page.text  # five failures do not lock an address
        sales = app.test_client()
        attempt(sales, "sales1", "demo")
        assert sales.get("/admin/security").status_code == 403
        assert sales.post("/admin/security/unlock", data={"kind": "account", "key": "gm1"}).status_code == 403
        assert attempt(app.test_client(), "gm1", "demo").status_code == 429
        unlocked = admin.post("/admin/security/unlock", data={"kind": "account", "key": "gm1"}, follow_redirects=True)
        assert "gm1 may sign in again." in unlocked.text and 'data-lock="account:gm1"' not in unlocked.text
        assert attempt(app.test_client(), "gm1", "demo").status_code == 302
        assert admin.post("/admin/security/unlock", data={"kind": "account", "key": "gm1"}).status_code == 404


def test_hostile_sign_in_input_gets_an_answer_not_an_error(app, ctx):
    client = app.test_client()
    assert attempt(client, "x" * 10_000, "y" * 10_000).status_code == 401
    raw = client.post("/login", data=b"username=sa%00les1%ED%A0%80&password=%00%FF",
                      content_type="application/x-www-form-urlencoded")
    assert raw.status_code == 401 and "Wrong username or password." in raw.text
    assert client.post("/login", data={}).status_code == 401


# --- sessions --------------------------------------------------------------------------------


def test_signing_out_ends_the_session_so_a_saved_cookie_opens_nothing(app, ctx):
    client = app.test_client()
    assert attempt(client, "sales1", "demo").status_code == 302
    saved = client.get_cookie("session").value
    assert client.post("/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", saved)
    response = replay.get("/inbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_session_ends_after_the_idle_timeout_and_lives_while_used(app, ctx):
    client = app.test_client()
    with clock_at(T0) as clock:
        attempt(client, "sales1", "demo")
        for minutes in (29, 58, 87):  # each request within 30 minutes of the one before
            clock.now = T0 + timedelta(minutes=minutes)
            assert signed_in(client)
        clock.now = T0 + timedelta(minutes=87 + 30)
        assert not signed_in(client)


def test_a_used_session_still_ends_after_its_maximum_age(app, ctx):
    client = app.test_client()
    with clock_at(T0) as clock:
        attempt(client, "sales1", "demo")
        for step in range(1, 36):
            clock.now = T0 + timedelta(minutes=20 * step)  # up to 11 h 40 min
            assert signed_in(client)
        clock.now = T0 + timedelta(hours=12)
        assert not signed_in(client)


def test_the_idle_timeout_is_configurable(ctx):
    from dataclasses import replace

    from web import create_app

    ctx.settings = replace(ctx.settings, auth=replace(ctx.settings.auth, session_idle_minutes=5))
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, context=ctx)
    client = app.test_client()
    with clock_at(T0) as clock:
        attempt(client, "sales1", "demo")
        clock.now = T0 + timedelta(minutes=5)
        assert not signed_in(client)


def test_signing_in_starts_a_new_session_and_ends_the_one_the_browser_had(app, ctx):
    client = app.test_client()
    client.get("/login")
    client.post("/language", data={"locale": "zh", "next": "/login"})
    before = session_data(app, client)
    attempt(client, "sales1", "demo")
    first = session_data(app, client)
    assert first["sid"] and "sid" not in before
    old_cookie = client.get_cookie("session").value
    attempt(client, "sales2", "demo")
    second = session_data(app, client)
    assert second["sid"] != first["sid"] and second["_user_id"] != first["_user_id"]
    replay = app.test_client()
    replay.set_cookie("session", old_cookie)
    assert not signed_in(replay)


def test_the_session_cookie_is_secure_over_https_and_httponly_always(app, ctx):
    over_https = app.test_client().post("/login", data={"username": "sales1", "password": "demo"},
                                        base_url="https://localhost")
    cookie = over_https.headers["Set-Cookie"]
    assert re.search(r"; Secure", cookie) and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    over_http = app.test_client().post("/login", data={"username": "sales1", "password": "demo"})
    assert "Secure" not in over_http.headers["Set-Cookie"] and "HttpOnly" in over_http.headers["Set-Cookie"]


def test_the_limits_are_read_from_the_environment_and_fail_loudly_when_malformed(monkeypatch):
    from engine.config import AuthSettings, ConfigError

    monkeypatch.setenv("SERVICEFLOW_SESSION_IDLE_MINUTES", "10")
    monkeypatch.setenv("SERVICEFLOW_SIGNIN_ACCOUNT_FAILURES", "3")
    read = AuthSettings.from_env()
    assert (read.session_idle_minutes, read.account_failures, read.address_failures) == (10, 3, 20)
    monkeypatch.setenv("SERVICEFLOW_SIGNIN_LOCK_MINUTES", "a while")
    with pytest.raises(ConfigError, match="SERVICEFLOW_SIGNIN_LOCK_MINUTES"):
        AuthSettings.from_env()
