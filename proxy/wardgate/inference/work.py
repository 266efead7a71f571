"""How much scan work runs on worker threads right now: what `wardgate_scan_work_inflight` reports.

Work for a request that is gone (refused, timed out, its client hung up) must stop within one batch; this gauge is
how that is seen from outside. Process-wide, like the worker pools it counts.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["SCAN_WORK", "WorkGauge"]


class WorkGauge:
    """A thread-safe count of work units (a model batch, a text slice through Presidio) running now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    @property
    def running(self) -> int:
        return self._running

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1


SCAN_WORK = WorkGauge()
