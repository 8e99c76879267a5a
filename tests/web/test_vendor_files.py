"""The editors' npm libraries are served by the app from node_modules, only the allowlisted files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from web.vendor import FILES, NODE_MODULES

ROOT = Path(__file__).resolve().parents[2]


def test_every_allowlisted_file_is_installed_by_the_lock_file() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name, (relative, _) in FILES.items():
        package = relative.split("/", 1)[0]
        assert f"node_modules/{package}" in lock["packages"], name
        assert (NODE_MODULES / relative).is_file(), f"{relative} missing: run make install"


def test_the_modeler_bundle_is_served_as_javascript_with_cache_headers(app) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().get("/vendor/bpmn-js/bpmn-modeler.production.min.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert response.data == (NODE_MODULES / "bpmn-js/dist/bpmn-modeler.production.min.js").read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("name", "mimetype"), [
    ("bpmn-js/assets/bpmn-js.css", "text/css"),
    ("bpmn-js/assets/bpmn-font/css/bpmn.css", "text/css"),
    ("bpmn-js/assets/bpmn-font/font/bpmn.woff2", "font/woff2"),
    ("dmn-js/assets/dmn-font/font/dmn.woff", "font/woff"),
])
def test_stylesheets_and_fonts_have_their_own_content_type(app, name: str, mimetype: str) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().get(f"/vendor/{name}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.data == (NODE_MODULES / FILES[name][0]).read_bytes()


def test_the_fonts_named_by_the_library_css_resolve_to_served_files(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    css = client.get("/vendor/bpmn-js/assets/bpmn-font/css/bpmn.css").get_data(as_text=True)
    for ext in ("woff2", "woff", "ttf", "eot", "svg"):
        assert f"../font/bpmn.{ext}" in css
        assert client.get(f"/vendor/bpmn-js/assets/bpmn-font/font/bpmn.{ext}").status_code == 200


@pytest.mark.parametrize("name", [
    "bpmn-js/package.json",
    "bpmn-js/dist/bpmn-modeler.development.js",
    "bpmn-js/../../pyproject.toml",
    "..%2f..%2fpyproject.toml",
    "%2e%2e/%2e%2e/etc/passwd",
    "bpmn-js/assets/../../../../pyproject.toml",
    "/etc/passwd",
    "min-dom/dist/index.js",
])
def test_files_outside_the_allowlist_are_not_found(app, name: str) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().get(f"/vendor/{name}", follow_redirects=True)
    assert response.status_code == 404
    assert b"[project]" not in response.data and b"root:" not in response.data


def test_a_listed_file_missing_from_node_modules_is_not_found(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.config["NODE_MODULES"] = str(tmp_path)
    assert app.test_client().get("/vendor/bpmn-js/bpmn-modeler.production.min.js").status_code == 404
