"""The procedure page lists every clause with what implements and tests it."""

from __future__ import annotations

from lxml import html


def _login(client, username: str = "auditor1") -> None:  # type: ignore[no-untyped-def]
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302


def test_the_procedure_page_lists_every_clause_with_its_state_and_elements(app):
    client = app.test_client()
    _login(client)
    page = html.fromstring(client.get("/procedure").data)
    rows = {row.get("id").removeprefix("clause-"): row for row in page.xpath("//tr[@data-state]")}
    assert {"5.2", "5.3", "5.4.1", "5.4.2", "5.5.1", "5.5.1.1", "5.5.2", "5.5.3", "5.6", "5.6.1"} <= set(rows)
    after_sales = rows["5.5.3"]
    assert after_sales.get("data-state") in {"implemented", "untested"}
    assert "after_sales_feedback" in after_sales.text_content()
