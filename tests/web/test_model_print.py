"""The printable document-control header of a process version: label, the three sign-offs by
name and date, the revision record and the distribution list, as the paper procedure shows them."""

from __future__ import annotations

from engine.services import models
from tests.factories import actor
from tests.web.test_pages import login


def _published_through_the_three_sign_offs(ctx):  # type: ignore[no-untyped-def]
    draft = models.new_draft(ctx, actor(ctx, "owner1"), "liaison_approval")
    path = next(p for p in draft.files if p.endswith(".bpmn"))
    models.save_file(ctx, actor(ctx, "owner1"), draft.id, path, draft.files[path].replace(
        'name="Write Liaison Form"', 'name="Write the Liaison Form"'))
    models.submit(ctx, actor(ctx, "owner1"), draft.id, "Task renamed")
    models.review(ctx, actor(ctx, "reviewer1"), draft.id, "Fine")
    models.approve(ctx, actor(ctx, "gm1"), draft.id, "Approved")
    return models.publish(ctx, actor(ctx, "gm1"), draft.id, "")


def test_the_printable_header_shows_who_signed_the_version_its_record_and_distribution(app, ctx):
    version = _published_through_the_three_sign_offs(ctx)
    page = login(app, "reviewer1").get(f"/models/{version.id}/print")
    assert page.status_code == 200
    text = page.text
    signed = models.signed_steps(version)
    for step, who in (("prepared", "owner1"), ("reviewed", "reviewer1"), ("approved", "gm1")):
        assert signed[step] is not None and signed[step].actor == who
        cell = text.split(f'data-doc="{step}">', 1)[1].split("</td>", 1)[0]
        assert signed[step].display_name in cell and signed[step].at[:10] in cell
    assert f'data-doc="label">{version.label}<' in text and version.label == "A1"
    record = text.split('id="revision-record"', 1)[1].split("</table>", 1)[0]
    assert {r.label for r in version.revision_record} >= {"A0", "A1"}
    assert all(f"<td>{r.label}</td>" in record for r in version.revision_record)
    assert version.distribution == ["management", "sales"]
    distribution = text.split('id="distribution"', 1)[1].split("</table>", 1)[0]
    assert "<td>Sales Section</td>" in distribution and "Manager" in distribution
    assert f'href="/models/{version.id}/print"' in login(app, "owner1").get(f"/models/{version.id}").text


def test_staff_who_may_not_read_models_cannot_print_them(app, ctx):
    version = _published_through_the_three_sign_offs(ctx)
    assert login(app, "sales1").get(f"/models/{version.id}/print").status_code == 403
