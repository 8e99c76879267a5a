"""`serviceflow setup` is idempotent, the CLI prints usable tokens, settings fail loudly."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from engine.config import ConfigError, Settings
from engine.context import build_context
from engine.services.api_tokens import actor_for_token
from engine.services.processes import list_published
from engine.services.setup import setup
from web.cli import main

ROOT = Path(__file__).resolve().parents[2]


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


BPMN = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions id="d" '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">{}</bpmn:definitions>')
MISSING_FORM = BPMN.format(
    '<bpmn:process id="missing_form" isExecutable="true"><bpmn:userTask id="t"><bpmn:extensionElements>'
    '<spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="nowhere.schema.json"/>'
    '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask></bpmn:process>')
BAD_SCRIPT = BPMN.format('<bpmn:process id="bad_script" isExecutable="true"><bpmn:scriptTask id="s">'
                         '<bpmn:script>x = (</bpmn:script></bpmn:scriptTask></bpmn:process>')


def _workflows_with_bad_files(tmp_path: Path) -> Path:
    """A real process that needs no other file, beside a BPMN saved as UTF-16, one that is not
    well-formed XML, one naming a form that does not exist and one whose script does not parse
    (each stage that can refuse a file: reading, indexing, bundling, publishing)."""
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    shutil.copy(ROOT / "workflows" / "liaison_approval.bpmn", workflows / "liaison_approval.bpmn")
    text = (ROOT / "workflows" / "customer_data.bpmn").read_text(encoding="utf-8")
    (workflows / "customer_data.bpmn").write_bytes(text.encode("utf-16"))
    (workflows / "broken.bpmn").write_text("<definitions><process id='x'>", encoding="utf-8")
    (workflows / "missing_form.bpmn").write_text(MISSING_FORM, encoding="utf-8")
    (workflows / "bad_script.bpmn").write_text(BAD_SCRIPT, encoding="utf-8")
    return workflows


def test_setup_publishes_the_good_files_and_names_every_bad_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("SERVICEFLOW_WORKFLOWS", str(_workflows_with_bad_files(tmp_path)))
    assert main(["setup"]) == 1
    out, err = capsys.readouterr()
    assert "published liaison_approval v1" in out
    lines = err.splitlines()
    assert len(lines) == 4 and all(line.startswith("serviceflow: not published: workflows/") for line in lines)
    assert lines[0].startswith("serviceflow: not published: workflows/broken.bpmn: not well-formed XML (line 1)")
    assert lines[1] == "serviceflow: not published: workflows/customer_data.bpmn: the file is UTF-16; save it as UTF-8"
    assert lines[2] == ("serviceflow: not published: workflows/missing_form.bpmn: names form "
                        "'nowhere.schema.json', which is not in forms/")
    assert lines[3].startswith("serviceflow: not published: workflows/bad_script.bpmn: bpmn:scriptTask id='s'")
    assert [p.id for p in list_published(build_context())] == ["liaison_approval"]


def test_setup_reports_failures_of_the_service_by_file(ctx, tmp_path):
    ctx.settings = dataclasses.replace(ctx.settings, workflows_dir=_workflows_with_bad_files(tmp_path))
    report = setup(ctx)
    assert [path for path, _ in report.failed] == ["workflows/broken.bpmn", "workflows/customer_data.bpmn",
                                                   "workflows/missing_form.bpmn", "workflows/bad_script.bpmn"]
    assert [p.id for p in report.unchanged] == ["liaison_approval"]


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
