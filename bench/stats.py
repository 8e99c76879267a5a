"""Summary statistics of latency samples, in one place so every workload reports them alike."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile with linear interpolation between closest ranks (numpy's default),
    so that a p95 of 200 samples is not just the 10th-worst sample."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(samples_s: Sequence[float]) -> dict[str, float | int]:
    """Median, p95, min and max in milliseconds of samples taken in seconds."""
    return {
        "n": len(samples_s),
        "median_ms": statistics.median(samples_s) * 1000,
        "p95_ms": percentile(samples_s, 95) * 1000,
        "min_ms": min(samples_s) * 1000,
        "max_ms": max(samples_s) * 1000,
    }
