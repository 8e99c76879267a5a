"""The README's description of how each figure was taken, written from the run's own settings so
that the text can never disagree with the numbers beside it."""

from __future__ import annotations

from typing import Any


def _first_history(results: dict[str, Any]) -> dict[str, Any]:
    return next(iter(results["backends"].values()))["history"]


def _server_kind(cfg: dict[str, Any]) -> str:
    workers = cfg.get("server_workers", 1)
    if workers > 1:
        return (f"`serviceflow serve --workers {workers}` (gunicorn, {workers} processes × "
                f"{cfg['server_threads']} threads)")
    return f"`serviceflow serve` (one process: waitress, {cfg['server_threads']} threads)"


def _server_paragraph(results: dict[str, Any]) -> str:
    cfg = results["config"]
    return (
        f"Every HTTP figure is taken through the real server: {_server_kind(cfg)} started as a "
        "subprocess on 127.0.0.1 and a free port, with "
        "`SERVICEFLOW_WORKFLOWS=bench/workflows`, `SERVICEFLOW_FORMS=bench/workflows/forms` and a fresh "
        "database per backend (a temp SQLite file, or a new PostgreSQL database "
        "`serviceflow_bench_<random>` dropped afterwards), after `serviceflow setup --demo`; the client "
        "authenticates with a token from `serviceflow token create sales1`. Clients use keep-alive "
        "`http.client` connections from the benchmark process on the same machine, so client, server and "
        f"PostgreSQL share its {results['machine']['nproc']} cores. Latency is from sending a request to "
        "reading the last byte of its answer; every answer is checked (status, next task, final state). "
        f"Before each measured workload the benchmark waits ({cfg['quiet_wait_s']:.0f} s at most) for the "
        "machine's cores to be "
        "idle, since the machine is shared; the CPU table below shows who used the cores during each one. "
        "Before the history and each inbox measurement the database is also checkpointed (PostgreSQL "
        "`CHECKPOINT`, SQLite `PRAGMA wal_checkpoint(TRUNCATE)`) so that one workload's write-back does "
        "not land in the next one's figures."
    )


def _lifecycle_items(results: dict[str, Any]) -> list[str]:
    cfg = results["config"]
    return [
        f"1. **Lifecycle** — {cfg['lifecycle_cases']:,} cases of `bench_lifecycle` shared by "
        f"{cfg['concurrency']} client threads (one keep-alive connection each): `POST /api/v1/cases`, then "
        "`POST /api/v1/tasks/ID/complete` for Step 1..5 with valid data, each next task id taken from the "
        "answer's `open_tasks`; odd cases take the `amount > 50` branch. Throughput = cases / wall-clock "
        "time of the batch (after 3 warm-up cases); latency percentiles are over every task completion, so "
        f"they include queueing behind the other clients. Then {cfg['single_client_cases']} more cases with "
        "1 client, for the unloaded latency.",
        "   **Pure engine** — the same diagram in the benchmark process before any server runs, one thread, "
        f"median of {results['engine']['rounds']} rounds of {results['engine']['cases']:,} cases: "
        "`bundles_from_directory` + `parse_bundle`, "
        "`CaseRuntime.start(process, make_script_engine(), {})`, then at every step `CaseRuntime.restore` "
        "from the saved state, `complete`, and save again with `dump_delta()` (the skeleton and task rows "
        "the app stores, kept in a dict); no database, no HTTP.",
    ]


def _history_item(results: dict[str, Any]) -> str:
    cfg = results["config"]
    points = _first_history(results)["points"]
    windows = "; ".join(f"#{p}: #{w['from']}–#{w['to']}" for p, w in points.items())
    return (
        f"2. **History** — one `bench_loop` case whose task is completed {cfg['history_iterations']:,} times "
        "(again=true until the last) by one client. The figure at #N is the median of "
        f"{cfg['history_window']} consecutive completions around #N ({windows}; the very last completion, "
        "again=false, also ends the case). The server keeps the live "
        "workflow between requests (its runtime cache), as it does in production. Then the finished case is "
        "replayed once through `GET /api/v1/cases/ID/replay` as `auditor1` (its own token): every recorded "
        "step run again in a fresh workflow of the pinned version and compared with the record; the time is "
        "from sending the request to reading the verdict's last byte, and the verdict must be identical."
    )


def _inbox_item(results: dict[str, Any]) -> str:
    cfg = results["config"]
    sizes = ", ".join(f"{s:,}" for s in cfg["inbox_sizes"])
    return (
        f"3. **Inbox** — {cfg['inbox_requests']} sequential `GET /api/v1/inbox` (first page, default limit "
        f"100) as sales1 after 10 warm-up requests, with {sizes} open cases each waiting at Step 1 in the "
        "sales inbox (the only open tasks in the database). **Seeding:** the first "
        f"{cfg['inbox_seed']:,} cases are started through the real use case "
        "(`engine.services.cases.start_case`, in the benchmark process, on the same database); their rows "
        "in `cases`, `case_states`, `case_tasks`, `work_items` and `case_events` are then bulk-copied with "
        "SQL `INSERT … SELECT` under new ids until the target count is reached: the case id, the open "
        "task's id (also inside the stored workflow state) and the `#id` in titles are renumbered, every "
        "other column (including `created_at`) is copied as the app wrote it, and a copied case can be "
        "worked through the API like any other. The copies' event hash chains do not verify (the hash "
        "covers the case id); the inbox does not read them. PostgreSQL gets `VACUUM ANALYZE` after "
        "seeding (fresh statistics, and no autovacuum of the new rows during the measurement); SQLite gets "
        "nothing the app would not do itself."
    )


def _timers_item(results: dict[str, Any]) -> str:
    cfg = results["config"]
    counts = " and ".join(str(c) for c in cfg.get("timer_workers", (1,)))
    return (
        f"4. **Timers** — `serviceflow worker --poll 0.2` subprocesses ({counts} on PostgreSQL, 1 on "
        "SQLite, where one worker is the supported set-up) on the same database, after the server has "
        f"stopped. Each measurement gets its own {cfg.get('timer_cases', 0):,} cases of `bench_timer` "
        "(one production task with an interrupting boundary timer of PT1S; firing it ends the case), "
        "started through the real use case (`engine.services.cases.start_case`, in the benchmark "
        "process). While the workers start, the batch's `cases.next_due_at` is moved a day ahead; once "
        "every worker has logged that it polls (and the diagram's second has long passed, so the timers "
        "themselves are due), one `UPDATE` sets the batch's `next_due_at` a second in the past and the "
        "clock runs until no case of the batch is running (checked every 50 ms). Timers/s = cases / that "
        "time. Peak RSS is `VmHWM` of `/proc/PID/status` of each worker process, read before it is "
        "stopped (the largest is shown). Afterwards every case must have completed with exactly one "
        "`timer_fired` event, or the run fails."
    )


def _sandbox_item(results: dict[str, Any]) -> str:
    calls = results.get("sandbox", {}).get("calls", 0)
    return (
        f"5. **Sandbox** — in the benchmark process, one thread, the median of {calls:,} calls each: a "
        "gateway-style expression (`amount > 50 and category == \"quality\"`) and a three-line script over "
        "typical task data (7 variables, a list of 5 rows), once through the sandbox pool as every case "
        "runs them (JSON over a pipe to a sandbox process, its restricted evaluation, JSON back) and once "
        "as the same restricted code run in this process (`engine.sandbox.runner`, what a sandbox process "
        "does, without the isolation). Calls per lifecycle case are counted by the pool over 20 "
        "`bench_lifecycle` cases run in the engine; isolation cost per case = calls × (isolated − "
        "in-process) for the expression."
    )


def _checkpoint_item(results: dict[str, Any]) -> str:
    return (
        "6. **Checkpoints** — after the inbox workload, with the server stopped, in the benchmark process: "
        "`engine.services.checkpoints.make_checkpoint` three times on the same database (every case there: "
        "the inbox's open cases, the lifecycle and history cases), each reading every case's head, building "
        "the Merkle tree, signing its root with a fresh Ed25519 key, storing one leaf row per case and "
        "writing its file; the time of each call is measured and the median and slowest shown. Then "
        "`checkpointed_heads` (verify the latest signature and rebuild its root from the stored leaves) and "
        "`case_inclusion` for the oldest case (the proof its audit pack carries; leaf 0 has a full-length "
        "path), each once. The copied inbox cases' chains do not verify (see Inbox); a checkpoint reads only "
        "their heads."
    )


def _verify_item(results: dict[str, Any]) -> str:
    cases = results["config"].get("verify_cases", 0)
    return (
        f"7. **Audit verify** — `serviceflow audit verify` (one process per core) over {cases:,} case "
        "histories, on a database of its own per backend (after `serviceflow setup --demo`): 500 "
        "`bench_lifecycle` cases run through the real use cases in the benchmark process (started, Step 1 "
        "and Step 2 completed: six events each), then copied under new case ids: each copy's events "
        "re-chained in Python (the hash covers the case id) with its case row holding the new head, its "
        "stored workflow state copied unchanged by SQL. Every copy verifies like a case the app wrote; the "
        "run fails unless the command reports every case verified. The figure is the command's wall-clock "
        "time, start-up included; its CPU is counted as the benchmark's."
    )


def method_section(results: dict[str, Any]) -> list[str]:
    """The README's Method section, with this run's sizes filled in."""
    items = [_history_item(results), _inbox_item(results), _timers_item(results), _sandbox_item(results),
             _checkpoint_item(results)]
    if results["config"].get("verify_cases"):
        items.append(_verify_item(results))
    return ["## Method", "", _server_paragraph(results), "", *_lifecycle_items(results), *items]
