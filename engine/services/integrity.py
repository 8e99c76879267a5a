"""Verifying case histories as a use case: one case for a reader, every case for the worker and
``serviceflow audit verify``, with the failures kept for lists and mailed to admins and auditors.

The verdicts come from ``engine.audit.verify``, checked against the chain heads the latest signed
checkpoint vouches for when every case is verified (``engine.services.checkpoints.signed_heads``;
callers may pass others in ``checkpoints``): without them a history re-hashed end to end by
someone with database access would still pass. One case read on its own (its page, its history,
the API's verdict) is checked against its own head in the latest checkpoint that covers it
(``engine.audit.checkpoints.case_head``: one indexed query, the signature verified once per
process), since loading a checkpoint's every leaf per page would cost seconds at 100,000 cases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import notifications as notices
from engine.audit import verify
from engine.audit.checkpoints import CheckpointInvalid, SignedHead, case_head
from engine.audit.signing import signing_key
from engine.audit.verify import CheckpointHeads, Verdict
from engine.context import EngineContext
from engine.errors import NotFound
from engine.persistence.models import Case, CaseEvent, CaseIntegrityFailure, OutboxMessage, User
from engine.persistence.uow import UnitOfWork
from engine.services import visibility
from engine.services.actors import Actor
from engine.services.checkpoints import signed_heads
from engine.services.notifications import _gettext, _wants_mail
from engine.time.clock import utcnow

log = logging.getLogger("serviceflow.audit")

INTEGRITY_FAILED = "integrity_failed"


@dataclass(frozen=True)
class VerifyRun:
    """What a verification of many cases found: how many were checked, and each failure."""

    checked: int
    failures: list[Verdict] = field(default_factory=list)
    newly_failed: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


# What a single case was checked against (``CaseIntegrity.coverage``).
COVERED = "covered"  # its head in the latest signed checkpoint covering it
NOT_COVERED = "not_covered"  # no checkpoint covers it yet: it started after the latest one
NO_KEY = "no_key"  # this process has no key to check checkpoints with (it checks the chain alone)
INVALID = "invalid"  # the checkpoint that covers it does not verify itself


@dataclass(frozen=True)
class CaseIntegrity:
    """The verdict on one case as its readers see it, and what it was checked against: readers are
    told whether a signed checkpoint vouched for the history or only the chain did, since only a
    checkpoint catches a history re-hashed end to end."""

    verdict: Verdict
    coverage: str
    checkpoint: SignedHead | None = None  # the head it was checked against, when ``COVERED``


def check_case(ctx: EngineContext, session: Session, case: Case, events: list[CaseEvent]) -> CaseIntegrity:
    """The verdict on a case already read (its events in order), checked against the latest
    signed checkpoint that covers it."""
    stored = verify.stored_case(session, case)
    if not ctx.settings.audit.has_key:
        return CaseIntegrity(verify.verify_events(stored, events), NO_KEY)
    try:
        head = case_head(session, case.id, signing_key(ctx.settings.audit).public_key())
    except CheckpointInvalid as exc:
        log.warning("case %s: %s", case.id, exc.message)
        return CaseIntegrity(verify.checkpoint_invalid(verify.verify_events(stored, events), exc.checkpoint), INVALID)
    if head is None:
        return CaseIntegrity(verify.verify_events(stored, events), NOT_COVERED)
    return CaseIntegrity(verify.verify_events(stored, events, (head.event_count, head.last_event_hash)), COVERED, head)


def verify_case(ctx: EngineContext, actor: Actor, case_id: int) -> CaseIntegrity:
    """The verdict on one case for someone who may read it (NotFound otherwise)."""
    with ctx.unit_of_work(readonly=True) as uow:
        case = visibility.readable_case(uow.session, actor, case_id)
        events = list(uow.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                          .order_by(CaseEvent.seq)))
        return check_case(ctx, uow.session, case, events)


def failed_case_ids(uow: UnitOfWork, case_ids: Iterable[int]) -> set[int]:
    """Which of ``case_ids`` failed their last verification (one query for a page of cases)."""
    ids = list(case_ids)
    if not ids:
        return set()
    return set(uow.session.scalars(select(CaseIntegrityFailure.case_id).where(CaseIntegrityFailure.case_id.in_(ids))))


def verify_all(ctx: EngineContext, case_ids: Iterable[int] | None = None, checkpoints: CheckpointHeads | None = None,
               on_failure: Callable[[Verdict], None] | None = None, processes: int = 1) -> VerifyRun:
    """Verify every case (or those given), keep the failures, and mail admins and auditors about
    the cases that fail and did not fail before (so a known failure is not mailed every hour).
    ``processes`` > 1 shares every case out to that many processes (the command does; the worker
    verifies in the background with one)."""
    failures: list[Verdict] = []
    passed: list[int] = []
    wanted = set(case_ids) if case_ids is not None else None
    with ctx.unit_of_work(readonly=True) as uow:
        if wanted:
            missing = wanted - set(uow.session.scalars(select(Case.id).where(Case.id.in_(wanted))))
            if missing:
                raise NotFound(f"No case {', '.join(str(i) for i in sorted(missing))}")
        checked = 0
        if checkpoints is None:
            checkpoints = signed_heads(ctx, uow.session)
        verdicts = verify.verify_in_processes(ctx.settings.database_url, checkpoints, processes) \
            if wanted is None and processes > 1 else verify.verify_cases(uow.session, wanted, checkpoints)
        for verdict in verdicts:
            checked += 1
            if verdict.ok:
                passed.append(verdict.case_id)
            else:
                failures.append(verdict)
                if on_failure is not None:
                    on_failure(verdict)
    with ctx.unit_of_work() as uow:
        known = {row.case_id: row for row in uow.session.scalars(select(CaseIntegrityFailure))}
        newly = [v for v in failures if v.case_id not in known or known[v.case_id].broken_seq != v.broken_seq
                 or known[v.case_id].code != v.code]
        recovered = [case_id for case_id in passed if case_id in known]
        if recovered:
            uow.session.execute(delete(CaseIntegrityFailure).where(CaseIntegrityFailure.case_id.in_(recovered)))
        now = utcnow()
        for verdict in newly:
            row = known.get(verdict.case_id) or CaseIntegrityFailure(case_id=verdict.case_id)
            row.checked_at, row.broken_seq, row.code, row.reason = now, verdict.broken_seq, verdict.code, verdict.reason
            uow.session.add(row)
        _queue_failure_mail(ctx, uow, newly)
        uow.commit()
    return VerifyRun(checked, failures, newly)


def _queue_failure_mail(ctx: EngineContext, uow: UnitOfWork, failures: list[Verdict]) -> None:
    """One message per admin and auditor who wants mail, in their language, listing the cases."""
    if not failures:
        return
    users = uow.session.scalars(select(User).where(*_wants_mail(), User.is_admin.is_(True) | User.is_auditor.is_(True))
                                .order_by(User.username))
    mail = ctx.settings.mail
    for user in users:
        gettext = _gettext(mail.catalogs, user.locale or "en")
        message = notices.integrity_failure_mail(
            [(v.case_id, v.broken_seq, v.code, v.describe(gettext)) for v in failures], mail.base_url, gettext)
        uow.session.add(OutboxMessage(kind=INTEGRITY_FAILED, recipient_id=user.id, to_address=user.email,
                                      subject=message.subject, body=message.body, case_id=failures[0].case_id,
                                      task_id=None, status="queued", created_at=utcnow(), error=""))
