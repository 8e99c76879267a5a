"""One hash of a case's stored workflow state (skeleton and task rows), kept up to date per save.

The audit chain covers the stored state so that an edited ``case_states``/``case_tasks`` row is
caught. Hashing every task row at every save would make a step's cost grow with the case's
history, so the rows are combined by addition modulo 2**256 (a multiset hash): a save adds the
digests of the rows it writes and subtracts those of the rows it replaces or drops, and a
verifier recomputes the same sum from the rows it reads, in any order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

MODULUS = 1 << 256


def row_digest(task_id: str, workflow_key: str, state: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{task_id}\0{workflow_key}\0{state}".encode()).digest(), "big")


def rows_sum(rows: Iterable[tuple[str, str, str]]) -> int:
    return sum(row_digest(*row) for row in rows) % MODULUS


def state_hash(skeleton: str, rows_total: int) -> str:
    """The hash an event records: the skeleton's text and the sum of the rows' digests."""
    return hashlib.sha256(f"{skeleton}\0{rows_total:064x}".encode()).hexdigest()
