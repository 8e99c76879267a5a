"""What an administrator may do to a case from outside its diagram, each recorded in its history
with who and why: run the failed step of a case in error again (``case_retried``), and cancel a
case with a reason (``case_cancelled``). Neither rewrites anything that was recorded before.

A retry runs the steps SpiffWorkflow left failed, as they stood before they failed: it helps
where the failure was passing (the sandbox could not be reached, a service was down). A script
that fails on the case's data fails again, and the case goes back to error with a new
``case_failed``; nothing else is changed. A case that failed before it had a workflow (its start
failed) or whose failure left no failed step (a service task's effect refused after the step) has
nothing to run again, and the retry is refused (409)."""

from __future__ import annotations

from sqlalchemy import delete

from engine.audit import chain as audit
from engine.context import EngineContext
from engine.data_limits import required_text
from engine.errors import Conflict, Forbidden
from engine.persistence.models import CaseState, MessageWait, WorkItem
from engine.services import visibility
from engine.services.actors import Actor
from engine.services.case_store import load_runtime, run_step
from engine.services.cases import CaseView, case_view, commit_step
from engine.services.tasks import locked_case
from engine.time.clock import utcnow

MAX_REASON = 2000
CANCELLABLE = ("running", "error")


def _check_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("Only administrators may retry or cancel a case")


def retry_case(ctx: EngineContext, actor: Actor, case_id: int) -> CaseView:
    """Run a case's failed steps again; the case moves on, or is back in error if they fail again."""
    _check_admin(actor)
    with ctx.unit_of_work() as uow:
        visibility.readable_case(uow.session, actor, case_id)
        case = locked_case(uow.session, case_id)
        if case.status != "error":
            raise Conflict(f"Case {case_id} is {case.status}: only a case in error can be retried")
        if uow.session.get(CaseState, case_id) is None:
            raise Conflict(f"Case {case_id} failed before it started: there is no step to run again")
        runtime = load_runtime(ctx, uow, case)
        failed = runtime.failed_elements()
        if not failed:
            raise Conflict(f"Case {case_id} has no failed step to run again")
        audit.record(case, "case_retried", actor, {"error": case.error, "elements": failed})
        case.status, case.error = "running", ""
        error = run_step(uow, case, actor, runtime.retry_failed)
        return commit_step(ctx, uow, case, runtime, actor, error,
                           "The case changed while it was being retried; reload and try again")


def cancel_case(ctx: EngineContext, actor: Actor, case_id: int, reason: str) -> CaseView:
    """End a running case or one in error for good, with the reason given: its open tasks leave
    every inbox and its timers and message waits are dropped; its history stays as it was."""
    _check_admin(actor)
    reason = required_text(reason, "reason", MAX_REASON, "Give the reason for cancelling the case")
    with ctx.unit_of_work() as uow:
        visibility.readable_case(uow.session, actor, case_id)
        case = locked_case(uow.session, case_id)
        if case.status not in CANCELLABLE:
            raise Conflict(f"Case {case_id} is {case.status}: only a running case or one in error can be cancelled")
        audit.record(case, "case_cancelled", actor, {"reason": reason, "status": case.status})
        case.status, case.next_due_at, case.completed_at, case.updated_at = "cancelled", None, utcnow(), utcnow()
        uow.session.execute(delete(WorkItem).where(WorkItem.case_id == case_id))
        uow.session.execute(delete(MessageWait).where(MessageWait.case_id == case_id))
        uow.session.flush()
        view = case_view(uow, case)
        uow.commit()
    return view
