"""Comments on a case: a remark by someone who takes part in it, kept in its hash-chained
history (``comment_added``) like every other event, so a comment can be neither edited nor
removed unnoticed. Whoever may read the case may comment, except auditors, who change nothing."""

from __future__ import annotations

from typing import Any

from engine.audit import chain as audit
from engine.context import EngineContext
from engine.data_limits import required_text
from engine.errors import Conflict, Forbidden
from engine.services import visibility
from engine.services.actors import Actor
from engine.services.cases import EventView, event_view
from engine.services.tasks import locked_case

MAX_COMMENT = 4000


def add_comment(ctx: EngineContext, actor: Actor, case_id: int, text: Any) -> EventView:
    """The recorded comment; NotFound when ``actor`` may not read the case."""
    if actor.reads_only:
        raise Forbidden("Auditors read cases; they do not comment on them")
    text = required_text(text, "text", MAX_COMMENT, "Write the comment first")
    with ctx.unit_of_work() as uow:
        visibility.readable_case(uow.session, actor, case_id)
        case = locked_case(uow.session, case_id)
        if case.status == "cancelled":
            raise Conflict(f"Case {case_id} was cancelled; it takes no more comments")
        event = audit.record(case, "comment_added", actor, {"text": text})
        audit.seal(case)  # chained now: the comment is answered with its stored event
        visibility.add_participants(uow.session, case_id, people=[actor])
        uow.session.flush()
        view = event_view(event)
        uow.commit()
    return view
