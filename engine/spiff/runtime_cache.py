"""Live workflow instances kept between requests, keyed by case and guarded by its lock version.

Deserializing a long case costs time proportional to its history; a cached instance costs
nothing. An entry is *taken* out while a transaction works on it, so two requests never share
one mutable workflow, and it is valid only for the lock version it was saved at: a case changed
by another process (or another worker) simply misses and is read from the database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class RuntimeCache:
    """A small thread-safe LRU of (lock_version, runtime) per case id."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, case_id: int, lock_version: int) -> Any | None:
        """Remove and return the runtime saved at ``lock_version``, or None."""
        with self._lock:
            entry = self._entries.pop(case_id, None)
        if entry is None or entry[0] != lock_version:
            return None
        return entry[1]

    def put(self, case_id: int, lock_version: int, runtime: Any) -> None:
        """Keep a runtime that matches what was just committed at ``lock_version``."""
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[case_id] = (lock_version, runtime)
            self._entries.move_to_end(case_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
