"""Serving with several processes (gunicorn), for machines with more than one core."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _ServiceFlowServer(BaseApplication):
    """Gunicorn configured in code; each worker builds its own app after the fork."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        from web import create_app

        return create_app()


def serve_forked(host: str, port: int, workers: int, threads: int) -> None:
    _ServiceFlowServer({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": None,
        "loglevel": "warning",
        "timeout": 60,
    }).run()
