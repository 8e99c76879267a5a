"""A minimal keep-alive JSON client for the API, timing each request.

``http.client`` rather than ``requests``: one persistent connection per client thread with no
pooling or retry logic of its own, so the measured time is the server's plus one socket round trip.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any


class ApiError(RuntimeError):
    """The API answered with an unexpected status: a benchmark must not count failed requests."""


class ApiClient:
    """One keep-alive HTTP/1.1 connection authenticated with a bearer token."""

    def __init__(self, port: int, token: str, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(host, port, timeout=120)

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> tuple[Any, float]:
        """The decoded JSON answer and the seconds from sending the request to its last byte."""
        payload = None if body is None else json.dumps(body)
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            raise
        elapsed = time.perf_counter() - started
        if response.status != expect:
            raise ApiError(f"{method} {path} answered {response.status}, expected {expect}: {raw[:500]!r}")
        return json.loads(raw), elapsed

    def close(self) -> None:
        self.conn.close()
