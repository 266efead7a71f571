"""One time limit for a judgement that runs on a worker thread, where nothing can cancel it from outside.

A stream's chunk, or an MCP answer, is judged synchronously (intercept/off_loop_streams.py, pipeline/response.py):
an MCP event or answer may hold a batch of messages, each read by every scanner (twice when it has findings), so a
limit per scanner call bounds nothing. The judgement opens one budget (`budget`) for all of it; each synchronous
scanner stops its own long work when the budget is spent (`check`, or `spent` between forward passes), and the guard
checks it between scanners. A ContextVar carries it: set inside the worker's context, it reaches every call below
without each signature naming it. Outside a budget nothing is limited.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import NamedTuple

from wardgate.errors import ScannerError

__all__ = ["budget", "check", "spent"]


class _Budget(NamedTuple):
    ends: float  # time.monotonic()
    seconds: float


_UNLIMITED = _Budget(math.inf, math.inf)
_BUDGET: ContextVar[_Budget] = ContextVar("wardgate_scan_budget", default=_UNLIMITED)


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    """The judgement inside may take `seconds` (or what an enclosing budget has left, if less)."""
    ends = time.monotonic() + seconds
    token = _BUDGET.set(_Budget(ends, seconds) if ends < _BUDGET.get().ends else _BUDGET.get())
    try:
        yield
    finally:
        _BUDGET.reset(token)


def spent() -> bool:
    return time.monotonic() >= _BUDGET.get().ends


def check(scanner: str) -> None:
    """Raise the scan error a judgement past its budget ends in (the stream's fail-closed rule applies)."""
    if spent():
        raise ScannerError(f"{scanner}: the judgement's scan budget of {_BUDGET.get().seconds * 1000:.0f} ms is spent")
