"""`serviceflow setup` is idempotent, the CLI prints usable tokens, settings fail loudly."""

from __future__ import annotations

import pytest

from engine.config import ConfigError, Settings
from engine.context import build_context
from engine.services.api_tokens import actor_for_token
from engine.services.processes import list_published
from engine.services.setup import setup
from web.cli import main


def test_running_setup_again_changes_nothing(ctx):
    before = list_published(ctx)
    report = setup(ctx, demo=True)
    assert report.published == [] and report.users_added == [] and report.departments_added == 0
    assert list_published(ctx) == before


def test_the_cli_sets_up_a_database_and_creates_working_tokens(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    assert main(["setup", "--demo"]) == 0
    first = capsys.readouterr().out
    assert "published after_sales_feedback v1" in first and "sales1" in first
    assert main(["setup", "--demo"]) == 0
    assert "unchanged after_sales_feedback v1" in capsys.readouterr().out
    assert main(["token", "create", "sales1"]) == 0
    token = capsys.readouterr().out.strip()
    ctx = build_context()
    assert actor_for_token(ctx, token).username == "sales1"
    assert main(["token", "create", "nobody"]) == 2
    assert "No user named 'nobody'" in capsys.readouterr().err


def test_production_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICEFLOW_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env()


def test_development_keeps_its_generated_secret_key_across_restarts(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SERVICEFLOW_ENV", raising=False)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path))
    assert Settings.from_env().secret_key == Settings.from_env().secret_key
    assert len(Settings.from_env().secret_key) == 64
