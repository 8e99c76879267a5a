"""What someone with database access does to a case's history, for the tests that must catch it.

On PostgreSQL the events table refuses UPDATE and DELETE; the database's superuser gets past the
trigger by turning triggers off for the transaction (``session_replication_role``), as an
attacker holding the database would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, delete, select, text, update

from engine.audit import chain
from engine.context import EngineContext
from engine.persistence.models import Case, CaseEvent


@contextmanager
def as_database_owner(ctx: EngineContext) -> Iterator[Connection]:
    with ctx.database.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn


def edit_event(ctx: EngineContext, case_id: int, seq: int, **values: object) -> None:
    with as_database_owner(ctx) as conn:
        conn.execute(update(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq).values(**values))


def delete_event(ctx: EngineContext, case_id: int, seq: int) -> None:
    with as_database_owner(ctx) as conn:
        conn.execute(delete(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq))


def drop_newest_event(ctx: EngineContext, case_id: int) -> int:
    """Delete the case's newest event and make the case row name the one before as its head, as
    someone covering their tracks would: the chain and the case row then agree. The deleted
    event's seq."""
    with as_database_owner(ctx) as conn:
        newest = conn.execute(select(CaseEvent.seq).where(CaseEvent.case_id == case_id)
                              .order_by(CaseEvent.seq.desc()).limit(1)).scalar_one()
        conn.execute(delete(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == newest))
        head = conn.execute(select(CaseEvent.hash).where(CaseEvent.case_id == case_id,
                                                         CaseEvent.seq == newest - 1)).scalar_one()
        conn.execute(update(Case).where(Case.id == case_id).values(event_count=newest - 1, last_event_hash=head))
    return newest


def swap_events(ctx: EngineContext, case_id: int, first: int, second: int) -> None:
    """Exchange two events' places in the history (their sequence numbers)."""
    with as_database_owner(ctx) as conn:
        where = (CaseEvent.case_id == case_id)
        conn.execute(update(CaseEvent).where(where, CaseEvent.seq == first).values(seq=-1))
        conn.execute(update(CaseEvent).where(where, CaseEvent.seq == second).values(seq=first))
        conn.execute(update(CaseEvent).where(where, CaseEvent.seq == -1).values(seq=second))


def rehash_chain(ctx: EngineContext, case_id: int) -> None:
    """Recompute every hash of the case's chain and its head on the case row, as anyone with
    database access can: the chain alone then verifies again."""
    with as_database_owner(ctx) as conn:
        rows = conn.execute(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)).all()
        prev = chain.GENESIS
        for row in rows:
            event = CaseEvent(**{c.name: getattr(row, c.name) for c in CaseEvent.__table__.columns})
            event.prev_hash = prev
            prev = chain.event_hash(event)
            conn.execute(update(CaseEvent).where(CaseEvent.id == row.id).values(prev_hash=event.prev_hash, hash=prev))
        conn.execute(update(Case).where(Case.id == case_id).values(event_count=len(rows), last_event_hash=prev))


def edit_case(ctx: EngineContext, case_id: int, **values: object) -> None:
    with as_database_owner(ctx) as conn:
        conn.execute(update(Case).where(Case.id == case_id).values(**values))
