"""Fixtures that serve the real app over HTTP and drive it with Debian's Chromium through Playwright.

One waitress server per test session (per xdist worker) listens on a free port of 127.0.0.1; each
test plugs its own app into it (``live_server``): an app built like the ``app`` fixture of
tests/conftest.py, on a fresh copy of the seeded SQLite database, but with CSRF protection enabled,
since a real browser posts the token. The browser is launched once per session; every test gets a
fresh context and page (``page``), so no cookie or storage leaks from one test into the next.

Chromium is never downloaded: without /usr/bin/chromium the tests are skipped, or fail where CI
is set. Exceptions raised inside the app, uncaught JavaScript errors and resources the console
reports missing fail the test that caused them, since the browser alone would only show an error
page or nothing at all.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Response, sync_playwright
from waitress import create_server

from engine.context import EngineContext

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path("/tmp/sf-shots")
TIMEOUT_MS = 10_000


@dataclass
class LiveServer:
    """A waitress server whose requests go to whichever app the current test plugged in."""

    url: str = ""
    app: Flask | None = None
    errors: list[BaseException] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app plugged in"]
        try:
            return self.app(environ, start_response)
        except BaseException as exc:  # recorded for the test, then waitress answers 500
            self.errors.append(exc)
            raise


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite only (the browser does not care about the backend): a fresh copy of the seeded template."""
    path = tmp_path / "serviceflow.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def _server() -> Iterator[LiveServer]:
    live = LiveServer()
    server = create_server(live, host="127.0.0.1", port=0, threads=4)
    live.url = f"http://127.0.0.1:{server.effective_port}"
    thread = threading.Thread(target=server.run, name="waitress-browser-tests", daemon=True)
    thread.start()
    yield live
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def live_server(_server: LiveServer, ctx: EngineContext) -> Iterator[LiveServer]:
    """The app with CSRF enabled, on this test's SQLite database, served at ``live_server.url``."""
    from web import create_app

    _server.app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": True}, context=ctx)
    _server.errors.clear()
    yield _server
    _server.app = None
    errors, _server.errors[:] = list(_server.errors), []
    assert not errors, f"the app raised while serving the browser: {errors!r}"


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"browser tests are required in CI: {message}")
        pytest.skip(message)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, launched once per session; never a downloaded browser."""
    launched = _playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh context and page on the live server; fails the test on uncaught JavaScript errors,
    on static files (CSS, JavaScript) that did not load, and on a 404 the console reports for
    anything but the page itself (the icon Chromium asks ``/favicon.ico`` for on its own, a
    broken link to a file); a page a test opens to see its 404 is not counted."""
    context = browser.new_context(base_url=live_server.url, locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []

    def on_response(response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            problems.append(f"{response.status} for {response.url}")

    def on_console(message: ConsoleMessage) -> None:
        missing = message.location.get("url", "")
        if message.type == "error" and "status of 404" in message.text and missing != tab.url:
            problems.append(f"console: {message.text} ({missing})")

    tab.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))
    tab.on("response", on_response)
    tab.on("console", on_console)
    yield tab
    context.close()
    assert not problems, problems


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots go for people to look at (not committed, not compared)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
