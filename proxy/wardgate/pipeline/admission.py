"""Admission control: a bounded number of requests in the scanning stage and a short bounded queue before it.

Past the queue a request is refused at once (503 `overloaded` with Retry-After) instead of waiting for a scan
budget it would never get: under overload the accepted requests still finish in time (goodput stays at capacity),
and the first request after the load is served at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

__all__ = ["Admission", "Overloaded"]


class Overloaded(Exception):
    """No scanning slot within the queue's bounds."""


class Admission:
    def __init__(self, *, concurrent: int, queue: int, wait_s: float) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._queue, self._wait_s = queue, wait_s
        self.concurrent = concurrent
        self.waiting = 0
        self.active = 0

    @property
    def saturated(self) -> bool:
        """Every slot busy and the queue full: what /readyz reports so the pod is routed around."""
        return self.active >= self.concurrent and self.waiting >= self._queue

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked() and self.waiting >= self._queue:
            raise Overloaded(f"{self.active} requests scanning and {self.waiting} waiting")
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self._wait_s)
        except TimeoutError:
            raise Overloaded(f"no scanning slot within {self._wait_s:g} s") from None
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._slots.release()
