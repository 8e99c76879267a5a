"""Signed checkpoints at scale: one over every case in the benchmark's database (100,000 open
inbox cases and more in a full run), through the real service, in the benchmark process."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROUNDS = 3


def checkpoint_workload(url: str, rounds: int = ROUNDS) -> dict[str, Any]:
    """``rounds`` checkpoints (each signs every case's head and stores its leaves and file), then
    verifying the latest (signature and leaves → root, what ``audit verify`` starts from) and one
    case's inclusion proof (what its audit pack carries), each timed on its own."""
    from engine.audit.checkpoints import checkpointed_heads
    from engine.audit.signing import signing_key
    from engine.config import AuditSettings, Settings
    from engine.context import build_context
    from engine.persistence.models import Case
    from engine.services.checkpoints import case_inclusion, make_checkpoint

    with tempfile.TemporaryDirectory(prefix="bench-checkpoints-") as tmp:
        audit = AuditSettings(key_file=Path(tmp) / "key.pem", create_key=True, checkpoint_dir=Path(tmp) / "files")
        ctx = build_context(Settings(database_url=url, secret_key="bench-checkpoints", audit=audit))
        try:
            with ctx.unit_of_work(readonly=True) as uow:
                cases = uow.session.scalar(select(func.count()).select_from(Case)) or 0
                first_case = uow.session.scalar(select(func.min(Case.id)))  # the longest path
            seconds = []
            for _ in range(rounds):
                began = time.perf_counter()
                made = make_checkpoint(ctx)
                seconds.append(time.perf_counter() - began)
                if made.tree_size != cases:
                    raise AssertionError(f"checkpoint over {made.tree_size} cases, expected {cases}")
            public = signing_key(audit).public_key()
            with ctx.unit_of_work(readonly=True) as uow:
                began = time.perf_counter()
                heads = checkpointed_heads(uow.session, public)
                verify_s = time.perf_counter() - began
                began = time.perf_counter()
                inclusion = case_inclusion(uow.session, first_case)
                proof_s = time.perf_counter() - began
            if len(heads) != cases or inclusion is None:
                raise AssertionError("the latest checkpoint does not hold every case")
        finally:
            ctx.database.dispose()
    return {"cases": cases, "rounds": rounds, "checkpoint_s": seconds, "median_s": statistics.median(seconds),
            "max_s": max(seconds), "verify_latest_s": verify_s, "inclusion_proof_s": proof_s,
            "proof_length": len(inclusion.proof)}
