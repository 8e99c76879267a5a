"""The case history: append-only events, hash-chained."""
