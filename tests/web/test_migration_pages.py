"""The migration pages, on both backends: only process owners and administrators get the link on
a published version's page and the pages themselves; a dry run shows each case's verdict; a bad
case number is refused on the page naming it."""

from __future__ import annotations

from flask import Flask

from tests.factories import complete
from tests.migration_bundles import WRITE, publish_version, start
from tests.web.test_pages import login


def test_only_owners_and_administrators_get_the_migration_link_and_pages(app: Flask, ctx) -> None:  # type: ignore[no-untyped-def]
    publish_version(ctx, 1)
    v2 = publish_version(ctx, 2)
    for user in ("owner1", "admin1"):
        client = login(app, user)
        assert f'href="/models/{v2}/migrate"' in client.get(f"/models/{v2}").text
        assert client.get(f"/models/{v2}/migrate").status_code == 200
    for user in ("auditor1", "gm1", "reviewer1"):
        client = login(app, user)
        assert "/migrate" not in client.get(f"/models/{v2}").text
        assert client.get(f"/models/{v2}/migrate").status_code == 403
        assert client.post(f"/models/{v2}/migrate", data={"cases": "1", "action": "migrate"}).status_code == 403


def test_a_dry_run_on_the_page_shows_each_cases_verdict_and_a_bad_number_is_named(app: Flask, ctx) -> None:  # type: ignore[no-untyped-def]
    publish_version(ctx, 1)
    at_write, at_check = start(ctx), start(ctx)
    complete(ctx, "sales1", at_check.id, WRITE, {})
    v2 = publish_version(ctx, 2)
    owner = login(app, "owner1")
    page = owner.post(f"/models/{v2}/migrate", data={"version": "1", "action": "dry_run"}).text
    assert f'data-case="{at_check.id}" data-can-migrate="yes"' in page
    assert f'data-case="{at_write.id}" data-can-migrate="no"' in page
    refused = owner.post(f"/models/{v2}/migrate", data={"cases": f"{at_check.id} x", "action": "dry_run"})
    assert refused.status_code == 422 and "cases[1]" in refused.text
