"""Open cases for the inbox workload: a real seed through the use cases, then SQL copies of it.

Starting 100,000 cases one by one would take most of the time budget, and what the inbox reads
does not depend on how a row got there. So ~1,000 cases are started with ``start_case`` (the use
case the API calls, in this process, on the same database), and their rows of ``cases``,
``case_states``, ``case_tasks``, ``work_items``, ``case_events`` and ``case_participants`` are copied with
``INSERT … SELECT`` under new ids until the target count of open cases is reached: the columns
and values the app wrote, with the case id, the open task's id (also inside the stored workflow
state) and the ``#id`` in titles renumbered, so that a copied case can still be worked on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, inspect, text

from bench.server import FORMS, WORKFLOWS
from bench.workloads import LIFECYCLE

SEED_USER = "sales1"
SEED_DEPARTMENT = "sales"
COPIED_TABLES = ("cases", "case_states", "case_tasks", "work_items", "case_events", "case_participants")


def start_cases(url: str, count: int, process_id: str = LIFECYCLE, user: str = SEED_USER) -> list[int]:
    """``count`` cases started through ``engine.services.cases.start_case``, as ``user`` (one the
    process's start lane admits: sales1 for a lifecycle case, which waits at Step 1 in the sales
    inbox). Returns their ids, ascending."""
    from engine.config import Settings
    from engine.context import build_context
    from engine.services.cases import start_case
    from engine.services.users import find_actor

    settings = Settings(database_url=url, secret_key="bench-seed", workflows_dir=WORKFLOWS, forms_dir=FORMS,
                        runtime_cache_size=0)
    ctx = build_context(settings)
    try:
        actor = find_actor(ctx, user)
        data = [{"customer": f"Bench customer {n % 100}"} for n in range(count)]
        return sorted(start_case(ctx, actor, process_id, d).id for d in data)
    finally:
        ctx.database.dispose()


def _new_task_id(column: str, dialect: str) -> str:
    """A copy's task id: the original's first 24 characters and the copy number as the last 12
    digits, so it stays a UUID string, is unique per (task, copy), and is computable in SQL."""
    if dialect == "postgresql":
        return f"substr({column}, 1, 24) || lpad(CAST(k.j AS TEXT), 12, '0')"
    return f"substr({column}, 1, 24) || substr('000000000000' || k.j, -12)"


def _insert(table: str, alias: str, renumbered: dict[str, str], columns: list[str], joins: str) -> str:
    """One ``INSERT … SELECT`` of a table's template rows crossed with the copy numbers ``k.j``:
    the ``renumbered`` columns get new values, every other column of ``columns`` is copied."""
    copied = [c for c in columns if c not in renumbered]
    names = [*renumbered, *copied]
    values = [*renumbered.values(), *(f"{alias}.{c}" for c in copied)]
    return (f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)}"
            f" FROM {table} {alias} {joins} CROSS JOIN bench_copies k WHERE c.id BETWEEN :first AND :last")


def _copy_statements(dialect: str, shift: int, columns: dict[str, list[str]]) -> list[str]:
    """The copy statements in foreign-key order; copy ``k.j`` adds ``k.j * shift`` to case ids.
    ``columns`` is each table's columns as the database has them, so that a schema change is
    copied along rather than silently left at its default."""
    case = f"c.id + k.j * {shift}"
    task = _new_task_id("w.id", dialect)

    def title(column: str) -> str:
        return f"REPLACE({column}, '#' || CAST(c.id AS TEXT), '#' || CAST({case} AS TEXT))"

    def on_case(alias: str) -> str:
        return f"JOIN cases c ON c.id = {alias}.case_id"

    with_item = "JOIN work_items w ON w.case_id = c.id"
    event_columns = [c for c in columns["case_events"] if c != "id"]  # the database numbers events
    return [
        _insert("cases", "c", {"id": case, "title": title("c.title")}, columns["cases"], ""),
        _insert("case_states", "s", {"case_id": case, "state": f"REPLACE(s.state, w.id, {task})"},
                columns["case_states"], f"{on_case('s')} {with_item}"),
        _insert("case_tasks", "t", {
            "case_id": case, "task_id": f"CASE WHEN t.task_id = w.id THEN {task} ELSE t.task_id END",
            "state": f"REPLACE(t.state, w.id, {task})",
        }, columns["case_tasks"], f"{on_case('t')} {with_item}"),
        _insert("work_items", "w", {"id": task, "case_id": case, "case_title": title("w.case_title")},
                columns["work_items"], on_case("w")),
        _insert("case_events", "e", {"case_id": case, "task_id": _new_task_id("e.task_id", dialect)},
                event_columns, on_case("e")),
        _insert("case_participants", "p", {"case_id": case}, columns["case_participants"], on_case("p")),
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
        schema = inspect(conn)
        columns = {t: [c["name"] for c in schema.get_columns(t)] for t in COPIED_TABLES}
        for statement in _copy_statements(self.engine.dialect.name, self.template[-1], columns):
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
            self._vacuum_analyze()
        if self.open_items() != target:
            raise RuntimeError(f"seeding reached {self.open_items()} open tasks, not {target}")

    def _vacuum_analyze(self) -> None:
        """Fresh statistics for the planner, and the vacuum autovacuum would otherwise start on the
        new rows in the middle of the measurement (it cannot run inside a transaction)."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))

    @staticmethod
    def _advance_sequences(conn: Connection) -> None:
        """Explicit ids do not move PostgreSQL's sequences; without this the app's next case would
        collide with a copy."""
        for table in ("cases", "case_events"):
            top = f"(SELECT max(id) FROM {table})"
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})"))

    def close(self) -> None:
        self.engine.dispose()
