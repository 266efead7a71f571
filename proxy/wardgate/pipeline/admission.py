"""Admission control: a bounded number of requests in the scanning stage and a short bounded queue before it.

Past the queue a request is refused at once (503 `overloaded` with Retry-After) instead of waiting for a scan
budget it would never get: under overload the accepted requests still finish in time (goodput stays at capacity),
and the first request after the load is served at once.

The queue's real bound is time, not places: a request is refused on arrival when the queue ahead of it would not
drain within `wait_s` at the rate it has been measured to drain (seconds per place, learned from the waits
themselves, so event-loop delays and CPU spent outside the slots count too). Under sustained overload refusals are
then answered at once instead of after `wait_s` in the queue, while a burst that drains in time waits and is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator

__all__ = ["Admission", "Overloaded"]

# Weight of the newest wait in the moving average of seconds per queue place: ~the last 10 waits decide.
_SMOOTHING = 0.2
# A rate measured longer ago than this says nothing about the load now: the next burst is bounded by places only.
_STALE_S = 10.0
# While refusing (a refusal in the last _REFUSING_S), a request is queued only if it drains within half of `wait_s`:
# the estimate lags a rise in load by ~10 waits, and one admitted on a stale estimate that then times out costs
# `wait_s` for its refusal. A burst on a pod that was not refusing gets the whole `wait_s`.
_REFUSING_HEADROOM = 0.5
_REFUSING_S = 5.0


class Overloaded(Exception):
    """No scanning slot within the queue's bounds."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class Admission:
    def __init__(self, *, concurrent: int, queue: int, wait_s: float) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._queue, self._wait_s = queue, wait_s
        self.concurrent = concurrent
        self.waiting = 0
        self.active = 0
        self.place_s: float | None = None  # moving average of the wait per queue place ahead; None until measured
        self._measured_at = -math.inf
        self._refused_at = -math.inf

    @property
    def saturated(self) -> bool:
        """The next request would be refused: what /readyz reports so the pod is routed around."""
        return self._slots.locked() and self._refusal() is not None

    def drain_s(self, ahead: int) -> float:
        """Expected wait for a slot behind `ahead` queued requests, at the measured rate (0 when not measured)."""
        if not self._slots.locked() or self.place_s is None or time.monotonic() - self._measured_at > _STALE_S:
            return 0.0
        return (ahead + 1) * self.place_s

    def refuse_now(self) -> Overloaded | None:
        """The refusal a request arriving now gets without queueing (counted as one), or None if it would queue."""
        if self._slots.locked() and (reason := self._refusal()) is not None:
            return self._refused(reason)
        return None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if (refused := self.refuse_now()) is not None:
            raise refused
        queued, ahead = self._slots.locked(), self.waiting
        self.waiting += 1
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._slots.acquire(), self._wait_s)
        except TimeoutError:
            self._measured(self._wait_s, ahead)  # at least this slow: the estimate rises
            raise self._refused(f"no scanning slot within {self._wait_s:g} s") from None
        finally:
            self.waiting -= 1
        if queued:
            self._measured(time.monotonic() - started, ahead)
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._slots.release()

    def _refusal(self) -> str | None:
        """Why a request arriving now, with every slot busy, would not be queued; None when it would."""
        if self.waiting >= self._queue:
            return f"{self.active} requests scanning and {self.waiting} waiting"
        if self.waiting == 0:
            return None  # one request always queues: it re-measures the rate, or an old estimate would refuse forever
        refusing = time.monotonic() - self._refused_at < _REFUSING_S
        bound = self._wait_s * (_REFUSING_HEADROOM if refusing else 1.0)
        if (expected := self.drain_s(self.waiting)) > bound:
            return f"{self.waiting} waiting would take ~{expected:.1f} s to drain"
        return None

    def _measured(self, waited_s: float, ahead: int) -> None:
        sample, now = waited_s / (ahead + 1), time.monotonic()
        stale = now - self._measured_at > _STALE_S  # a forgotten rate is not averaged back in
        self.place_s = sample if self.place_s is None or stale else self.place_s + _SMOOTHING * (sample - self.place_s)
        self._measured_at = now

    def _refused(self, reason: str) -> Overloaded:
        self._refused_at = time.monotonic()
        # When the queue as it stands now will have drained: the earliest a retry can expect a slot. Every queued
        # request leaves within wait_s (served or refused), so never more than that.
        drained = min(math.ceil(self._wait_s), math.ceil(self.drain_s(self.waiting)))
        return Overloaded(reason, max(1.0, drained))
