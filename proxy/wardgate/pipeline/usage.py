"""Each tenant's spend: read before a request is judged (`input.usage`), counted after, never on the hot path.

Tokens an answer reports are also charged to the tenant's per-minute token window (limits/rate.py), if it has one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wardgate.limits import RateLimiter, UsageStore, UsageUnavailable
from wardgate.pipeline.context import RequestContext

__all__ = ["UsageMeter"]

logger = logging.getLogger(__name__)


def _tenant(ctx: RequestContext) -> str:
    return str(ctx.identity.get("tenant") or "")


class UsageMeter:
    def __init__(self, store: UsageStore | None, *, fail_closed: bool, rate: RateLimiter | None = None) -> None:
        self._store, self.fail_closed, self.rate = store, fail_closed, rate
        self._counting: set[asyncio.Task[None]] = set()

    async def policy_input(self, ctx: RequestContext) -> dict[str, Any]:
        """`{"usage": ...}` for the policy input (empty without a store); raises `UsageUnavailable` when unread."""
        if self._store is None:
            return {}
        return {"usage": (await self._store.today(_tenant(ctx))).to_input()}

    def spend(self, ctx: RequestContext, *, tokens: int = 0, requests: int = 0) -> None:
        """Count in the background: the answer never waits for the usage store."""
        counted = self._store is not None and (tokens or requests)
        if not counted and not (self.rate is not None and tokens):
            return
        task = asyncio.get_running_loop().create_task(self._add(ctx, tokens, requests), name="wardgate-usage")
        self._counting.add(task)
        task.add_done_callback(self._counting.discard)

    async def _add(self, ctx: RequestContext, tokens: int, requests: int) -> None:
        try:
            if self._store is not None:
                await self._store.add(_tenant(ctx), tokens=tokens, requests=requests)
            if self.rate is not None and tokens:
                await self.rate.spend_tokens(ctx.identity, tokens)
        except UsageUnavailable as exc:
            logger.warning("usage not counted (%d tokens, %d requests): %s", tokens, requests, exc)
