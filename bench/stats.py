"""Medians and percentiles (nearest rank), without numpy."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def spread(values: Sequence[float]) -> dict[str, float]:
    """``{"median", "min", "max"}`` of repeated measurements."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank ``pct`` percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float] | None:
    """p50, p99 and max of latency samples in ms, or ``None`` without samples."""
    if not samples_ms:
        return None
    return {
        "p50": percentile(samples_ms, 50),
        "p99": percentile(samples_ms, 99),
        "max": max(samples_ms),
        "samples": len(samples_ms),
    }
