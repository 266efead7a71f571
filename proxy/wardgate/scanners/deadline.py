"""One time limit for a judgement that runs on a worker thread, where nothing can cancel it from outside.

A stream's chunk, or an MCP answer, is judged synchronously (intercept/off_loop_streams.py, pipeline/response.py):
an MCP event or answer may hold a batch of messages, each read by every scanner (twice when it has findings), so a
limit per scanner call bounds nothing. The judgement opens one budget (`budget`) for all of it; each synchronous
scanner stops its own long work when the budget is spent (`check`, or `spent` between forward passes), and the guard
checks it between scanners. A ContextVar carries it: set inside the worker's context, it reaches every call below
without each signature naming it. Outside a budget nothing is limited. A budget may also be given up before its time
(`abandoned`: the stream's client reset it), and then it is spent at once.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import NamedTuple

from wardgate.errors import ScannerError

__all__ = ["budget", "check", "spent"]


class _Budget(NamedTuple):
    ends: float  # time.monotonic()
    seconds: float
    abandoned: threading.Event | None = None


_UNLIMITED = _Budget(math.inf, math.inf)
_BUDGET: ContextVar[_Budget] = ContextVar("wardgate_scan_budget", default=_UNLIMITED)


@contextlib.contextmanager
def budget(seconds: float, abandoned: threading.Event | None = None) -> Iterator[None]:
    """The judgement inside may take `seconds` (or what an enclosing budget has left, if less), and ends at once when
    `abandoned` (or an enclosing budget's) is set."""
    outer = _BUDGET.get()
    ends = time.monotonic() + seconds
    chosen = _Budget(ends, seconds) if ends < outer.ends else outer
    token = _BUDGET.set(chosen._replace(abandoned=abandoned or outer.abandoned))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _abandoned(current: _Budget) -> bool:
    return current.abandoned is not None and current.abandoned.is_set()


def spent() -> bool:
    current = _BUDGET.get()
    return time.monotonic() >= current.ends or _abandoned(current)


def check(scanner: str) -> None:
    """Raise the scan error a judgement past its budget ends in (the stream's fail-closed rule applies)."""
    current = _BUDGET.get()
    if _abandoned(current):
        raise ScannerError(f"{scanner}: the judgement was given up (its client reset the stream)")
    if time.monotonic() >= current.ends:
        raise ScannerError(f"{scanner}: the judgement's scan budget of {current.seconds * 1000:.0f} ms is spent")
