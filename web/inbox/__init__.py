"""The inbox: open tasks of my departments and tasks assigned to me."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from engine.services import work_items
from engine.services.work_items import WorkItemView
from engine.time.clock import utcnow
from web.context import actor, engine

bp = Blueprint("inbox", __name__)

PAGE_SIZE = 100
MAX_OFFSET = 10**9  # beyond any inbox, and within what the database takes as an OFFSET


@dataclass(frozen=True)
class InboxRow:
    """A work item with what the signed-in user may do with it."""

    item: WorkItemView
    mine: bool
    allowed: work_items.TaskPermissions
    overdue: bool


@bp.get("/")
def root() -> ResponseReturnValue:
    """The start page is the inbox; auditors, who have none, start at the case list."""
    if getattr(current_user, "is_authenticated", False) and current_user.actor.reads_only:
        return redirect(url_for("cases.index"))
    return redirect(url_for("inbox.index"))


@bp.get("/inbox")
@login_required
def index() -> ResponseReturnValue:
    """My open tasks, with Claim and Release buttons; auditors have none and go to the cases."""
    me = actor()
    if me.reads_only:
        return redirect(url_for("cases.index"))
    offset = max(0, min(MAX_OFFSET, request.args.get("offset", 0, type=int) or 0))
    now = utcnow()
    items = work_items.inbox(engine(), me, limit=PAGE_SIZE, offset=offset)
    rows = [
        InboxRow(item=i, mine=i.assignee == me.username, allowed=work_items.permissions(me, i),
                 overdue=i.due_at is not None and i.due_at < now)
        for i in items
    ]
    return render_template(
        "inbox/index.html", rows=rows, offset=offset, page_size=PAGE_SIZE,
        next_offset=offset + PAGE_SIZE if len(items) == PAGE_SIZE else None,
        prev_offset=max(0, offset - PAGE_SIZE) if offset > 0 else None,
    )
