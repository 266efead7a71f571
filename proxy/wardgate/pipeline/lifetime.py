"""A request's judgement lives no longer than its client: when the client hangs up, the judgement is cancelled.

mitmproxy tells an addon nothing while its `request` hook is pending (the connection's close waits in a queue until
the hook is done), so the caller hands in a check of its own (intercept/: the client connection can no longer be
read) and it is polled here. Cancelling the judgement cancels its scans, whose queued work is then dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["ClientGone", "until_gone"]

ClientGone = Callable[[], bool]
# How often the client is looked at: a hung-up client's work stops within this and one batch.
POLL_S = 0.05
# How long a cancelled judgement may take to unwind (its scans only need to see the cancellation).
_UNWIND_S = 1.0


async def until_gone[T](judgement: Awaitable[T], gone: ClientGone | None) -> tuple[T | None, bool]:
    """(the judgement's result, False), or (None, True) once `gone()` says the client left (the judgement cancelled).
    If this is cancelled itself (a shutdown), the judgement is cancelled with it."""
    task = asyncio.ensure_future(judgement)
    try:
        while gone is not None:
            done, _ = await asyncio.wait({task}, timeout=POLL_S)
            if done:
                break
            if gone():
                task.cancel()
                await asyncio.wait({task}, timeout=_UNWIND_S)
                return None, True
        return await task, False
    except asyncio.CancelledError:
        task.cancel()
        raise
