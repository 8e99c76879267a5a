"""Open cases for the inbox workload: a real seed through the use cases, then SQL copies of it.

Starting 100,000 cases one by one would take most of the time budget, and what the inbox reads
does not depend on how a row got there. So ~1,000 cases are started with ``start_case`` (the use
case the API calls, in this process, on the same database), and those rows of ``cases``,
``case_states``, ``work_items`` and ``case_events`` are copied with ``INSERT … SELECT`` under new
ids until the target count of open cases is reached: the same columns and values the app wrote,
with the case id, the task id (also inside the stored workflow state) and the title renumbered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text

from bench.server import FORMS, WORKFLOWS
from bench.workloads import LIFECYCLE

SEED_USER = "sales1"
SEED_DEPARTMENT = "sales"


def start_cases(url: str, count: int) -> list[int]:
    """``count`` lifecycle cases started through ``engine.services.cases.start_case``, as sales1;
    each waits at Step 1 in the sales inbox. Returns their ids, ascending."""
    from engine.config import Settings
    from engine.context import build_context
    from engine.services.cases import start_case
    from engine.services.users import find_actor

    settings = Settings(database_url=url, secret_key="bench-seed", workflows_dir=WORKFLOWS, forms_dir=FORMS,
                        runtime_cache_size=0)
    ctx = build_context(settings)
    try:
        actor = find_actor(ctx, SEED_USER)
        return sorted(
            start_case(ctx, actor, LIFECYCLE, {"customer": f"Bench customer {n % 100}"}).id for n in range(count)
        )
    finally:
        ctx.database.dispose()


def _new_task_id(column: str, dialect: str) -> str:
    """A copy's task id: the original's first 24 characters and the copy number as the last 12
    digits, so it stays a UUID string, is unique per (task, copy), and is computable in SQL."""
    if dialect == "postgresql":
        return f"substr({column}, 1, 24) || lpad(CAST(k.j AS TEXT), 12, '0')"
    return f"substr({column}, 1, 24) || substr('000000000000' || k.j, -12)"


def _copy_statements(dialect: str, shift: int) -> list[str]:
    """INSERT … SELECT per table, crossing the template rows with the copy numbers in ``bench_copies``."""
    new_case = f"c.id + k.j * {shift}"
    task = _new_task_id("w.id", dialect)
    in_template = "BETWEEN :first AND :last"
    return [
        "INSERT INTO cases (id, process_version_id, process_id, title, customer, status, outcome, error, data,"
        " lock_version, event_count, last_event_hash, created_by_id, created_at, updated_at, completed_at,"
        f" next_due_at) SELECT {new_case}, c.process_version_id, c.process_id,"
        f" REPLACE(c.title, '#' || CAST(c.id AS TEXT), '#' || CAST({new_case} AS TEXT)), c.customer, c.status,"
        " c.outcome, c.error, c.data, c.lock_version, c.event_count, c.last_event_hash, c.created_by_id,"
        " c.created_at, c.updated_at, c.completed_at, c.next_due_at"
        f" FROM cases c CROSS JOIN bench_copies k WHERE c.id {in_template}",
        f"INSERT INTO case_states (case_id, state) SELECT {new_case}, REPLACE(s.state, w.id, {task})"
        " FROM case_states s JOIN cases c ON c.id = s.case_id JOIN work_items w ON w.case_id = c.id"
        f" CROSS JOIN bench_copies k WHERE c.id {in_template}",
        "INSERT INTO work_items (id, case_id, process_id, element_id, title, case_title, customer, lane,"
        f" department_id, assignee_id, form, priority, due_at, created_at) SELECT {task}, {new_case},"
        f" w.process_id, w.element_id, w.title, REPLACE(w.case_title, '#' || CAST(c.id AS TEXT),"
        f" '#' || CAST({new_case} AS TEXT)), w.customer, w.lane, w.department_id, w.assignee_id, w.form,"
        " w.priority, w.due_at, w.created_at FROM work_items w JOIN cases c ON c.id = w.case_id"
        f" CROSS JOIN bench_copies k WHERE c.id {in_template}",
        "INSERT INTO case_events (case_id, seq, type, at, actor_id, actor, task_id, element_id, data,"
        f" version_hash, prev_hash, hash) SELECT {new_case}, e.seq, e.type, e.at, e.actor_id, e.actor,"
        f" {_new_task_id('e.task_id', dialect)}, e.element_id, e.data, e.version_hash, e.prev_hash, e.hash"
        f" FROM case_events e JOIN cases c ON c.id = e.case_id CROSS JOIN bench_copies k WHERE c.id {in_template}",
    ]


@dataclass
class InboxSeeder:
    """Grows the number of open sales cases by copying the template cases; copy ``j`` adds
    ``j * shift`` to every id, and ``shift`` is the highest case id when seeding began, so ids
    of different copies (and of the app's own cases) can never collide."""

    url: str
    template: list[int]
    next_copy: int = 1
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = create_engine(self.url, connect_args={"timeout": 60} if self.is_sqlite else {})
        with self.engine.connect() as conn:
            top = conn.scalar(text("SELECT max(id) FROM cases"))
        if top != self.template[-1] or self.open_items() != len(self.template):
            raise RuntimeError("the seed cases must be the newest cases and the only open sales tasks")

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def open_items(self) -> int:
        """Open tasks in the sales inbox: one per open seeded (or copied) case."""
        with self.engine.connect() as conn:
            query = text("SELECT count(*) FROM work_items WHERE department_id = :d")
            return int(conn.scalar(query, {"d": SEED_DEPARTMENT}) or 0)

    def _copy(self, conn: Connection, copies: range, last_template_id: int) -> None:
        conn.execute(text("CREATE TEMPORARY TABLE IF NOT EXISTS bench_copies (j INTEGER PRIMARY KEY)"))
        conn.execute(text("DELETE FROM bench_copies"))
        conn.execute(text("INSERT INTO bench_copies (j) VALUES (:j)"), [{"j": j} for j in copies])
        params: dict[str, Any] = {"first": self.template[0], "last": last_template_id}
        for statement in _copy_statements(self.engine.dialect.name, self.template[-1]):
            conn.execute(text(statement), params)

    def grow_to(self, target: int) -> None:
        """Copy whole template sets, then part of one, until ``target`` sales tasks are open."""
        full, rest = divmod(target - self.open_items(), len(self.template))
        with self.engine.begin() as conn:
            if full > 0:
                self._copy(conn, range(self.next_copy, self.next_copy + full), self.template[-1])
                self.next_copy += full
            if rest > 0:
                self._copy(conn, range(self.next_copy, self.next_copy + 1), self.template[rest - 1])
                self.next_copy += 1
            if not self.is_sqlite:
                self._advance_sequences(conn)
        if not self.is_sqlite:
            with self.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        if self.open_items() != target:
            raise RuntimeError(f"seeding reached {self.open_items()} open tasks, not {target}")

    @staticmethod
    def _advance_sequences(conn: Connection) -> None:
        """Explicit ids do not move PostgreSQL's sequences; without this the app's next case would
        collide with a copy."""
        for table in ("cases", "case_events"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))

    def close(self) -> None:
        self.engine.dispose()
