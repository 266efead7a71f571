"""Latency percentiles shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(call: Callable[[], object], iterations: int) -> dict[str, float]:
    """p50/p99 wall time of `call` in ms, after one warm-up call."""
    call()
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))] * 1000, 2),
    }
