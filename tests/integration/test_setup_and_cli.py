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
    assert lines[3].startswith("serviceflow: not published: workflows/bad_script.bpmn: Script task s (line 1): "
                               "Script refused: SyntaxError")
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


def test_setup_records_what_it_loads_as_imported_versions_with_labels(ctx):
    from engine.services.models import get_model, process_versions
    from tests.factories import actor

    versions = process_versions(ctx, actor(ctx, "auditor1"), "capa").versions
    assert [(v.label, v.status, v.source, v.created_by) for v in versions] == [("A0", "published", "imported", "setup")]
    model = get_model(ctx, actor(ctx, "auditor1"), versions[0].id)
    assert [(s.step, s.actor) for s in model.signoffs] == [("imported", "setup")]
    assert "workflows/capa.bpmn" in model.signoffs[0].comment and "workflows/capa.bpmn" in model.change_note
    assert [(r.label, r.source) for r in model.revision_record] == [("A0", "imported")]
    assert "workflows/feedback_routing.tests.json" in get_model(
        ctx, actor(ctx, "auditor1"), process_versions(ctx, actor(ctx, "auditor1"), "after_sales_feedback")
        .versions[0].id).files


def test_setup_publishes_a_changed_workflow_as_the_next_label(ctx, tmp_path):
    from engine.services.models import process_versions
    from tests.factories import actor

    workflows = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", workflows)
    path = workflows / "liaison_approval.bpmn"
    path.write_text(path.read_text().replace('name="Write Liaison Form"', 'name="Write the Liaison Form"'))
    changed = dataclasses.replace(ctx.settings, workflows_dir=workflows)
    ctx.settings = changed
    report = setup(ctx)
    assert "liaison_approval" in [p.id for p in report.published]  # and the processes that call it
    assert "capa" in [p.id for p in report.unchanged]
    assert any(p.severity == "warning" for p in report.problems) and report.failed == []
    versions = process_versions(ctx, actor(ctx, "gm1"), "liaison_approval").versions
    assert [(v.label, v.status) for v in versions] == [("A1", "published"), ("A0", "superseded")]


def test_setup_refuses_a_workflow_with_validation_errors_naming_the_element(ctx, tmp_path):
    workflows = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", workflows)
    path = workflows / "liaison_approval.bpmn"
    path.write_text(path.read_text().replace('<bpmn:userTask id="Task_WriteLiaisonForm"',
                                             '<bpmn:task id="Task_Lost" name="Lost" />'
                                             '<bpmn:userTask id="Task_WriteLiaisonForm"', 1))
    ctx.settings = dataclasses.replace(ctx.settings, workflows_dir=workflows)
    report = setup(ctx)
    assert report.published == []
    failed = dict(report.failed)  # liaison_approval and every process that calls it
    assert "workflows/liaison_approval.bpmn" in failed
    assert all("'Lost' (Task_Lost) is never reached" in message for message in failed.values())
    assert {p.element_id for p in report.problems if p.blocks} == {"Task_Lost"}


def test_the_cli_imports_a_bundle_as_a_draft(tmp_path, monkeypatch, capsys):
    from tests.model_bundles import BROKEN_CONDITION, files, zipped

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SERVICEFLOW_INSTANCE", str(tmp_path / "instance"))
    assert main(["setup", "--demo"]) == 0
    capsys.readouterr()
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(zipped(files()))
    bad.write_bytes(zipped(files({"workflows/model_demo.bpmn": BROKEN_CONDITION})))
    assert main(["models", "import", str(good), "--as", "owner1", "--note", "First issue"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("draft ") and "of model_demo" in out
    assert main(["models", "import", str(bad)]) == 1
    assert "error: workflows/model_demo.bpmn: Sequence flow f1" in capsys.readouterr().out
    assert main(["models", "import", str(good), "--as", "sales1"]) == 2
    assert "sales1 may not prepare process models" in capsys.readouterr().err
