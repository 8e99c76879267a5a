"""The admin Outbox page and the user's notification mail setting, through the Flask client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from engine.persistence.models import User
from engine.services.users import find_actor, notify_email_on
from tests.web.test_pages import login, start


@pytest.fixture
def sales1_mail_restored(ctx) -> Iterator[None]:  # type: ignore[no-untyped-def]
    yield
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(User).where(User.username == "sales1").values(notify_email=True))
        uow.commit()


def test_admins_read_queued_mail_on_the_outbox_page_and_others_may_not(app, ctx):
    case = start(ctx)
    admin = login(app, "admin1")
    page = admin.get("/admin/outbox")
    assert page.status_code == 200
    assert "sales1@example.com" in page.text and "sales2@example.com" in page.text
    assert f"New task: Record customer feedback — {case.title}" in page.text
    assert "No SMTP server is configured" in page.text
    assert 'href="/admin/outbox"' in admin.get("/inbox").text
    sales = login(app, "sales1")
    assert sales.get("/admin/outbox").status_code == 403
    assert 'href="/admin/outbox"' not in sales.get("/inbox").text


def test_a_user_turns_notification_mail_off_and_on_again(app, ctx, sales1_mail_restored):
    client = login(app, "sales1")
    page = client.get("/settings")
    assert page.status_code == 200 and "Notification mail is on." in page.text
    response = client.post("/settings/notify-email", data={"notify_email": "off"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings")
    assert not notify_email_on(ctx, find_actor(ctx, "sales1"))
    assert "Notification mail is off." in client.get("/settings").text
    client.post("/settings/notify-email", data={"notify_email": "on"})
    assert notify_email_on(ctx, find_actor(ctx, "sales1"))


def test_the_setting_form_needs_a_csrf_token(ctx, sales1_mail_restored):
    from web import create_app

    app = create_app({"TESTING": True}, context=ctx)
    client = login_with_csrf(app)
    assert client.post("/settings/notify-email", data={"notify_email": "off"}).status_code == 400
    assert notify_email_on(ctx, find_actor(ctx, "sales1"))


def login_with_csrf(app):  # type: ignore[no-untyped-def]
    import re

    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post("/login", data={"username": "sales1", "password": "demo", "csrf_token": token})
    assert response.status_code == 302
    return client
