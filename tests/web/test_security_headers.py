"""Security headers on every response: pages, API, static files and errors; HSTS in production.
The Content-Security-Policy forbids inline script and style, so the templates must hold none."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from web import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def assert_secure_headers(response, name: str = "") -> None:  # type: ignore[no-untyped-def]
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives.get("script-src") == "'self'" and directives.get("style-src") == "'self'", name
    assert directives.get("frame-ancestors") == "'none'" and directives.get("object-src") == "'none'", name
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, name
    assert response.headers.get("X-Content-Type-Options") == "nosniff", name
    assert response.headers.get("Referrer-Policy") == "same-origin", name
    assert response.headers.get("X-Frame-Options") == "DENY", name


def test_pages_api_static_files_and_errors_carry_the_security_headers(app, api):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    app.add_url_rule("/boom", "boom", boom)
    client = app.test_client()
    client.post("/login", data={"username": "sales1", "password": "demo"})
    responses = {
        "sign-in page": app.test_client().get("/login"),
        "inbox": client.get("/inbox"),
        "redirect": app.test_client().get("/inbox"),
        "static file": client.get("/static/css/app.css"),
        "missing page": client.get("/no-such-page"),
        "server error": client.get("/boom"),
        "API": api.get("/inbox", as_="sales1"),
        "API without token": api.get("/inbox"),
        "API wrong method": api.client.delete("/api/v1/inbox"),
    }
    assert {name: r.status_code for name, r in responses.items()} == {
        "sign-in page": 200, "inbox": 200, "redirect": 302, "static file": 200, "missing page": 404,
        "server error": 500, "API": 200, "API without token": 401, "API wrong method": 405,
    }
    for name, response in responses.items():
        assert_secure_headers(response, name)
        assert "Strict-Transport-Security" not in response.headers, name
    responses["static file"].close()


def test_production_adds_hsts_and_secure_cookies(ctx):
    ctx.settings = replace(ctx.settings, production=True)
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, context=ctx)
    client = app.test_client()
    signed_in = client.post("/login", data={"username": "sales1", "password": "demo"})
    assert signed_in.status_code == 302
    assert "; Secure" in signed_in.headers["Set-Cookie"]
    for response in (signed_in, app.test_client().get("/login"), client.get("/api/v1/openapi.json")):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert_secure_headers(response)


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_script_event_handler_or_style(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=|<style", html), "inline style"
    assert "javascript:" not in html
