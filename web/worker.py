"""``serviceflow worker``: the process that runs time-driven work (due timers) beside the web server.

Run one per host or as many as you like against one PostgreSQL (they claim cases with row
locks); on SQLite run exactly one. SIGTERM and SIGINT stop it between two cases, so stopping it
never leaves a transaction half done (and a killed worker loses nothing either: see
``engine.services.scheduler``).
"""

from __future__ import annotations

import logging
import signal
import threading

from engine.context import build_context
from engine.services.scheduler import run_worker


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, _frame: object) -> None:
        logging.getLogger("serviceflow.worker").info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)


def main(poll_seconds: float, batch: int) -> int:
    """Run the worker until a stop signal arrives; exit status 0 on a clean stop."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    _stop_on_signals(stop)
    ctx = build_context()
    try:
        run_worker(ctx, stop, poll_seconds=poll_seconds, batch=batch)
    finally:
        ctx.database.dispose()
    return 0
