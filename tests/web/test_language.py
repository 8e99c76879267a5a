"""The interface in English and Chinese: the language switch, the gettext catalog and the forms'
``ui:translations`` (every form must be translated: a new form cannot be added without Chinese)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from engine.context import EngineContext
from engine.definitions.forms import FormDefinition, field_labels
from engine.services.users import find_actor
from tests.web.test_pages import FEEDBACK, first_task_id, login, start

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / "forms"


def switch(client: FlaskClient, locale: str, next_: str = "/inbox"):  # type: ignore[no-untyped-def]
    return client.post("/language", data={"locale": locale, "next": next_})


def test_a_user_switches_to_chinese_and_back(app: Flask, ctx: EngineContext) -> None:
    task_id = first_task_id(start(ctx))
    client = login(app, "sales1")
    assert ">Inbox<" in client.get("/inbox").text

    response = switch(client, "zh", f"/tasks/{task_id}")
    assert response.status_code == 302 and response.location.endswith(f"/tasks/{task_id}")
    assert find_actor(ctx, "sales1").locale == "zh"

    inbox = client.get("/inbox").text
    assert 'lang="zh-CN"' in inbox
    assert "收件箱" in inbox and "待办任务" in inbox and "退出登录" in inbox
    assert ">Inbox<" not in inbox

    page = client.get(f"/tasks/{task_id}").text
    assert ">完成<" in page and "案件" in page
    # the after-sales "Record customer feedback" form: labels and choice titles in Chinese
    assert re.search(r'<label for="f-customer"[^>]*>顾客', page)
    assert "接收方式" in page and ">电话</option>" in page and ">质量问题</option>" in page
    assert ">质检科</option>" in page
    assert "留空则按类别分派" in page  # help text
    assert "Received by" not in page and ">Phone</option>" not in page
    assert 'value="phone"' in page and 'name="channel"' in page  # ids and values stay English

    # a failed submission's error summary names the field in Chinese too
    bad = client.post(f"/tasks/{task_id}", data={**FEEDBACK, "description": ""})
    assert bad.status_code == 422 and "表单有错误" in bad.text and ">反馈或要求的描述</a>" in bad.text

    assert switch(client, "en").status_code == 302
    assert find_actor(ctx, "sales1").locale == "en"
    page = client.get(f"/tasks/{task_id}").text
    assert ">Complete<" in page and "Received by" in page and ">Phone</option>" in page
    assert "接收方式" not in page


def test_recorded_values_show_chinese_labels(app: Flask, ctx: EngineContext) -> None:
    case = start(ctx)
    client = login(app, "sales1")
    assert client.post(f"/tasks/{first_task_id(case)}", data=FEEDBACK).status_code == 302
    switch(client, "zh")
    page = client.get(f"/cases/{case.id}").text
    assert "接收方式" in page and "电话" in page and "质量问题" in page


def test_the_sign_in_page_in_chinese_from_the_session_or_the_browser(app: Flask) -> None:
    client = app.test_client()
    assert "Sign in" in client.get("/login").text
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text

    response = switch(client, "zh", "/login")
    assert response.status_code == 302 and response.location.endswith("/login")
    page = client.get("/login", headers={"Accept-Language": "en"}).text  # the choice beats the browser
    assert "登录" in page and "用户名" in page and "密码" in page
    switch(client, "en", "/login")
    assert "Username" in client.get("/login").text


def test_an_unknown_language_is_refused_and_changes_nothing(app: Flask, ctx: EngineContext) -> None:
    client = login(app, "sales1")
    assert switch(client, "fr").status_code == 422
    assert find_actor(ctx, "sales1").locale == "en"
    assert ">Inbox<" in client.get("/inbox").text
    anonymous = app.test_client()
    assert switch(anonymous, "xx", "/login").status_code == 422
    assert "Sign in" in anonymous.get("/login").text


def test_an_unsafe_next_goes_to_the_inbox(app: Flask) -> None:
    client = login(app, "sales1")
    assert switch(client, "zh", "//evil.example/").location.endswith("/inbox")


def _forms() -> list[str]:
    return sorted(p.name.removesuffix(".schema.json") for p in FORMS.glob("*.schema.json"))


@pytest.mark.parametrize("name", _forms())
def test_every_form_has_chinese_for_its_title_and_every_field(name: str) -> None:
    schema_text = (FORMS / f"{name}.schema.json").read_text(encoding="utf-8")
    ui_text = (FORMS / f"{name}.uischema.json").read_text(encoding="utf-8")
    form = FormDefinition.from_json(name, schema_text, ui_text)
    zh = form.ui_schema.get("ui:translations", {}).get("zh", {})
    assert zh.get(""), f"{name}: no zh form title"
    missing = [path for path in field_labels(form) if not zh.get(path)]
    assert not missing, f"{name}: no zh label for {missing}"
    assert json.loads(schema_text) == form.schema  # translations never touch the schema


def test_the_customer_card_forms_are_translated_too() -> None:
    from web.customers import EDIT_FORM, NEW_FORM

    for form in (EDIT_FORM, NEW_FORM):
        zh = form.ui_schema["ui:translations"]["zh"]
        assert zh[""] and not [path for path in field_labels(form) if not zh.get(path)]


def test_the_new_customer_page_in_chinese(app: Flask) -> None:
    client = login(app, "sales1")
    switch(client, "zh")
    page = client.get("/customers/new").text
    assert "顾客编码" in page and "联系人" in page and "每行一个产品" in page


def test_every_interface_string_has_chinese() -> None:
    """Every string the templates, the web code and the notification mail pass to gettext (as
    babel.cfg extracts them for the catalog) has a Chinese translation: a new page or mail cannot
    be added in English only."""
    methods = [("web/**.py", "python"), ("engine/notifications.py", "python"),
               ("engine/services/model_notices.py", "python"), ("web/templates/**.html", "jinja2")]
    ids = {m if isinstance(m, str) else m[0] for _, _, m, _, _ in extract_from_dir(ROOT, methods)}
    with (ROOT / "web/translations/zh/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po, locale="zh")
    untranslated = sorted(i for i in ids if i not in catalog or not catalog[i].string)
    assert len(ids) > 100
    assert not untranslated, f"no Chinese in web/translations/zh for: {untranslated}"
