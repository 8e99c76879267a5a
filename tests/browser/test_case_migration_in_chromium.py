"""A process owner migrates a running case in the browser: from the new version's page, a dry run
by filter shows which cases can move and why not, the migration moves the movable one, the case's
history shows it, and the revert puts it back on its version."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.services import cases
from tests.browser.test_task_pages import sign_in
from tests.factories import actor, complete
from tests.migration_bundles import WRITE, publish_version, start


def test_an_owner_migrates_a_running_case_sees_it_in_its_history_and_reverts_it(page: Page, live_server, ctx):
    publish_version(ctx, 1)
    stays = start(ctx)
    moves = start(ctx)
    complete(ctx, "sales1", moves.id, WRITE, {})
    v2 = publish_version(ctx, 2)

    sign_in(page, "owner1")
    page.goto(f"/models/{v2}")
    page.locator("#migrate-link").click()
    page.locator("#version").fill("1")
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator(f'#verdicts tr[data-case="{moves.id}"]')).to_have_attribute("data-can-migrate", "yes")
    refused = page.locator(f'#verdicts tr[data-case="{stays.id}"]')
    expect(refused).to_have_attribute("data-can-migrate", "no")
    expect(refused).to_contain_text("Task_Write")

    page.get_by_role("button", name="Migrate", exact=True).click()
    expect(page).to_have_url(re.compile(r"/migrations/\d+$"))
    expect(page.locator(f'#migration-cases tr[data-case="{moves.id}"]')).to_have_attribute("data-status", "migrated")
    assert cases.get_case(ctx, actor(ctx, "owner1"), moves.id).version == 2
    migration_page = page.url

    page.goto(f"/cases/{moves.id}")
    expect(page.get_by_role("cell", name="Case migrated", exact=True)).to_be_visible()

    page.goto(migration_page)
    page.locator("#revert").click()
    expect(page.locator(f'#migration-cases tr[data-case="{moves.id}"]')).to_have_attribute("data-status", "reverted")
    assert cases.get_case(ctx, actor(ctx, "owner1"), moves.id).version == 1
    page.goto(f"/cases/{moves.id}")
    expect(page.get_by_role("cell", name="Migration reverted", exact=True)).to_be_visible()
