"""The procedure page: the controlled document from procedure/ in the reader's language (with a
switch to the other) under its document-control header, beside every clause with what implements
and tests it, each clause linked to its place in the text; a printable view; Markdown rendered
without passing any HTML through."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from flask import Flask
from lxml import html

from engine.context import EngineContext, build_context
from engine.definitions.procedure_document import LANGUAGES, load_control
from engine.errors import InvalidDefinition
from tests.web.test_language import switch

ROOT = Path(__file__).resolve().parents[2]
PROCEDURE = ROOT / "procedure"
CLAUSES = json.loads((ROOT / "workflows" / "clauses.json").read_text(encoding="utf-8"))
# 5.5.3 in each language: the on-site service under an approved Liaison Form.
ON_SITE = {"en": "part replacement, repair, adjustment, calibration or cleaning",
           "zh": "零件的更换、修理、调整、校正、清理"}


def _login(app: Flask, username: str = "auditor1"):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302
    return client


def _page(client, path: str = "/procedure"):  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200, response.text
    return html.fromstring(response.data)


def test_the_procedure_page_lists_every_clause_with_its_state_and_elements(app: Flask) -> None:
    page = _page(_login(app))
    rows = {row.get("id").removeprefix("clause-"): row for row in page.xpath("//tr[@data-state]")}
    assert {"5.2", "5.3", "5.4.1", "5.4.2", "5.5.1", "5.5.1.1", "5.5.2", "5.5.3", "5.6", "5.6.1"} <= set(rows)
    after_sales = rows["5.5.3"]
    assert after_sales.get("data-state") in {"implemented", "untested"}
    assert "after_sales_feedback" in after_sales.text_content()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_header_shows_the_document_control_fields(app: Flask, language: str) -> None:
    page = _page(_login(app), f"/procedure?lang={language}")
    field = {cell.get("data-doc"): cell.text_content().strip() for cell in page.xpath("//*[@data-doc]")}
    owner = {"en": "Sales Section", "zh": "经营科"}[language]
    title = {"en": "Service Management Procedure", "zh": "服务管理程序"}[language]
    assert (field["number"], field["version"], field["owner"], field["title"], field["pages"]) == (
        "QP-SA-01", "A0", owner, title, "4")
    assert {field["prepared"], field["reviewed"], field["approved"]} == {"—"}  # blank on the original
    [revision] = page.xpath("//table[@id='revision-record']/tbody/tr")
    assert [c.text_content() for c in revision.xpath("td")][1:] == ["A0", {"en": "First issue", "zh": "初版"}[language]]
    copies = {r.xpath("td")[0].text_content(): r.xpath("td")[1].text_content()
              for r in page.xpath("//table[@id='distribution']/tbody/tr")}
    assert len(copies) == 12 and set(copies.values()) == {"1"}
    assert {"en": "Quality Assurance Dept.", "zh": "品保部"}[language] in copies


def test_a_clause_reads_in_both_languages_and_the_page_follows_the_reader(app: Flask) -> None:
    client = _login(app, "sales1")
    for language, words in ON_SITE.items():
        [clause] = _page(client, f"/procedure?lang={language}").xpath("//*[@id='section-5.5.3']")
        assert words in clause.text_content()
    english = _page(client)
    assert ON_SITE["en"] in english.get_element_by_id("section-5.5.3").text_content()
    assert english.get_element_by_id("other-language").get("href") == "/procedure?lang=zh"
    switch(client, "zh", "/procedure")
    chinese = _page(client)
    assert ON_SITE["zh"] in chinese.get_element_by_id("section-5.5.3").text_content()
    assert chinese.get_element_by_id("other-language").get("href") == "/procedure?lang=en"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_trace_link_resolves_to_a_clause_of_the_text(app: Flask, language: str) -> None:
    page = _page(_login(app), f"/procedure?lang={language}")
    links = page.xpath("//tr[@data-state]//a[@data-clause-link]")
    assert len(links) == len(CLAUSES["clauses"])  # every clause of the catalogue is in the text
    text = page.get_element_by_id("procedure-text")
    for link in links:
        target = link.get("href").removeprefix("#")
        [section] = text.xpath(f".//*[@id='{target}']")
        assert section.text_content().lstrip().startswith(link.text_content())


def test_the_printable_view_has_the_header_and_text_without_the_trace(app: Flask) -> None:
    page = _page(_login(app), "/procedure/print?lang=zh")
    assert page.xpath("//td[@data-doc='number']")[0].text_content() == "QP-SA-01"
    assert ON_SITE["zh"] in page.get_element_by_id("section-5.5.3").text_content()
    assert not page.xpath("//tr[@data-state]")
    assert page.xpath("//button[@data-print]")


def test_an_unknown_language_is_refused_naming_the_field(app: Flask) -> None:
    response = _login(app).get("/procedure?lang=fr<script>")
    assert response.status_code == 422
    assert "Unknown language fr&lt;script&gt;" in response.text and "<script>" not in response.text


@pytest.fixture
def hostile_app(ctx: EngineContext, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The app reading a procedure/ whose English text carries HTML and script."""
    from web import create_app

    shutil.copytree(PROCEDURE, tmp_path / "procedure")
    (tmp_path / "procedure" / "en.md").write_text(
        "**5.2** <script>alert('x')</script> <img src=x onerror=alert(1)>\n\n"
        "<div style=\"color:red\">styled</div>\n\n[click](javascript:alert(1))\n", encoding="utf-8")
    context = build_context(dataclasses.replace(ctx.settings, procedure_dir=tmp_path / "procedure"))
    context.catalog = ctx.catalog
    yield create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, context=context)
    context.database.dispose()


def test_markdown_with_html_and_script_is_shown_as_text(hostile_app: Flask) -> None:
    response = _login(hostile_app).get("/procedure?lang=en")
    assert response.status_code == 200
    page = html.fromstring(response.data)
    text = page.get_element_by_id("procedure-text")
    assert not text.xpath(".//script | .//img | .//*[@style] | .//*[@onerror] | .//div")
    assert not text.xpath(".//a[starts-with(@href, 'javascript:')]")
    assert "<script>alert('x')</script>" in text.get_element_by_id("section-5.2").text_content()
    assert "&lt;script&gt;" in response.text


def _control(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    data = json.loads((PROCEDURE / "control.json").read_text(encoding="utf-8"))
    change(data)
    (tmp_path / "control.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("version"), "procedure/control.json: (the document): 'version' is a required property"),
    (lambda d: d["title"].pop("zh"), "procedure/control.json: title: 'zh' is a required property"),
    (lambda d: d["distribution"][3].update(copies="one"), "procedure/control.json: distribution/3/copies:"),
    (lambda d: d["signoffs"][0].update(step="signed"), "procedure/control.json: signoffs/0/step:"),
    (lambda d: d["signoffs"].__setitem__(2, d["signoffs"][0]),
     "procedure/control.json: signoffs: need one each of prepared"),
], ids=["no-version", "no-chinese-title", "copies-not-a-number", "unknown-step", "step-twice"])
def test_a_malformed_header_is_refused_naming_the_field(  # type: ignore[no-untyped-def]
        tmp_path: Path, change, message: str) -> None:
    with pytest.raises(InvalidDefinition) as refused:
        load_control(_control(tmp_path, change))
    assert refused.value.message.startswith(message)


def test_the_header_and_the_clause_catalogue_name_the_same_document() -> None:
    control, document = load_control(PROCEDURE), CLAUSES["document"]
    assert (control.number, control.version, control.title["en"], control.title["zh"], control.owner["department"]) == (
        document["number"], document["version"], document["title"], document["title_zh"], document["owner"])


def test_no_file_of_the_repository_points_outside_it() -> None:
    """The procedure used to be read from a folder beside the checkout; it is in procedure/ now."""
    outside = "../" + "shared"
    skipped = {".git", ".venv", "node_modules", "instance", "__pycache__", ".pytest_cache", ".ruff_cache"}
    found = []
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if path.is_dir() or parts & skipped or any(p.endswith(".egg-info") for p in parts):
            continue
        if path.suffix in {".md", ".py", ".toml", ".json", ".html", ".cfg", ".bpmn", ".dmn", ".txt", ".ini", ""}:
            if outside in path.read_text(encoding="utf-8", errors="replace"):
                found.append(str(path.relative_to(ROOT)))
    assert found == []
    assert "procedure/" in (ROOT / "README.md").read_text(encoding="utf-8")
