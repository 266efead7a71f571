"""Per-minute rate limits (requests and tokens per tenant, optionally per subject) with the `limits` library.

Strategy: the sliding window counter. `limits` has no token bucket; of what it has, the moving window stores one
entry per unit of cost (an answer of 4,000 tokens would be 4,000 list entries in Redis) and the fixed window lets a
caller spend twice the rate across a window's edge. The sliding window counter keeps two counters per key whatever
the cost and weighs the previous minute by how much of it still overlaps the last 60 s.

Requests are counted when they are checked (`hit`); tokens are known only once the answer reports its usage, so
the bucket is tested before a request and charged afterwards (like budgets). A charge larger than what is left fills
the window: `limits` refuses a hit past the limit, so the overshoot itself is not carried into the next minute.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

from wardgate.config import LimitsSettings, RateLimit, RateSettings
from wardgate.limits.store import UsageUnavailable

__all__ = ["RateCheck", "RateLimiter", "build_rate_limiter"]


@dataclasses.dataclass(frozen=True, slots=True)
class _Window:
    """One limit's state after a check: what the response headers say about it."""

    limit: int
    remaining: int
    reset_s: float  # seconds until a unit is free again

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_s))


@dataclasses.dataclass(frozen=True, slots=True)
class RateCheck:
    """The outcome for one request: allowed or not, and the headers its response carries either way."""

    allowed: bool
    requests: _Window | None = None
    tokens: _Window | None = None
    exceeded: str | None = None  # "requests" or "tokens" when refused

    def headers(self) -> dict[str, str]:
        """OpenAI's `x-ratelimit-*-requests/-tokens`, plus the generic `X-RateLimit-*` for the deciding limit (the
        one exceeded, else the requests limit, else the tokens limit) and `Retry-After` when refused."""
        headers: dict[str, str] = {}
        for kind, window in (("requests", self.requests), ("tokens", self.tokens)):
            if window is not None:
                headers[f"x-ratelimit-limit-{kind}"] = str(window.limit)
                headers[f"x-ratelimit-remaining-{kind}"] = str(window.remaining)
                headers[f"x-ratelimit-reset-{kind}"] = f"{window.reset_s:.3f}s"  # OpenAI writes durations: "6m0s"
        deciding = {"requests": self.requests, "tokens": self.tokens}.get(self.exceeded or "") or (
            self.requests or self.tokens
        )
        if deciding is not None:
            headers["x-ratelimit-limit"] = str(deciding.limit)
            headers["x-ratelimit-remaining"] = str(deciding.remaining)
            headers["x-ratelimit-reset"] = str(deciding.retry_after)  # delta seconds, as in the IETF RateLimit draft
            if not self.allowed:
                headers["retry-after"] = str(deciding.retry_after)
        return headers


# What an unreachable or failing Redis raises through `limits` (its exceptions are not wrapped).
_STORAGE_ERRORS = (RedisError, OSError)


class RateLimiter:
    def __init__(self, settings: RateSettings, storage: Storage) -> None:
        self._settings = settings
        self._storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    def _keys(self, identity: Mapping[str, Any]) -> tuple[RateLimit, tuple[str, ...]]:
        tenant = str(identity.get("tenant") or "")
        names = (tenant, str(identity.get("subject") or "")) if self._settings.per_subject else (tenant,)
        # The limits library joins a key's parts with `/`: (`team-a/ci`, `x`) and (`team-a`, `ci/x`) were one window
        # (an outside review). Each part is quoted so that no two callers' keys meet.
        return self._settings.for_tenant(tenant), tuple(quote(name, safe="") for name in names)

    async def check(self, identity: Mapping[str, Any]) -> RateCheck | None:
        """Count one request and test the token window; None when no limit applies to this caller.

        Raises `UsageUnavailable` when the storage cannot be reached."""
        limit, keys = self._keys(identity)
        if not (limit.requests_per_minute or limit.tokens_per_minute):
            return None
        try:
            tokens = None
            if limit.tokens_per_minute:
                item = RateLimitItemPerMinute(limit.tokens_per_minute, namespace="tokens")
                tokens = await self._window(item, keys)
                if not await self._limiter.test(item, *keys):
                    return RateCheck(False, tokens=tokens, exceeded="tokens")
            if limit.requests_per_minute:
                item = RateLimitItemPerMinute(limit.requests_per_minute, namespace="requests")
                allowed = await self._limiter.hit(item, *keys)
                requests = await self._window(item, keys)
                if not allowed:
                    return RateCheck(False, requests=requests, tokens=tokens, exceeded="requests")
                return RateCheck(True, requests=requests, tokens=tokens)
            return RateCheck(True, tokens=tokens)
        except _STORAGE_ERRORS as exc:
            raise UsageUnavailable(f"rate limits: {exc}") from exc

    async def spend_tokens(self, identity: Mapping[str, Any], tokens: int) -> None:
        """Charge an answer's reported tokens (after the fact); raises `UsageUnavailable`."""
        limit, keys = self._keys(identity)
        if not limit.tokens_per_minute or tokens <= 0:
            return
        item = RateLimitItemPerMinute(limit.tokens_per_minute, namespace="tokens")
        try:
            remaining = (await self._limiter.get_window_stats(item, *keys)).remaining
            if remaining > 0:
                await self._limiter.hit(item, *keys, cost=min(tokens, remaining))
        except _STORAGE_ERRORS as exc:
            raise UsageUnavailable(f"rate limits: {exc}") from exc

    async def _window(self, item: RateLimitItemPerMinute, keys: tuple[str, ...]) -> _Window:
        stats = await self._limiter.get_window_stats(item, *keys)
        return _Window(item.amount, stats.remaining, max(stats.reset_time - time.time(), 0.0))

    async def close(self) -> None:
        if isinstance(self._storage, RedisStorage):
            # The storage has no close of its own; the redis-py client its bridge holds does (not in its type).
            client = getattr(self._storage.bridge, "storage", None)
            if client is not None:
                await client.aclose()


def _redis_uri(url: str) -> str:
    """`limits` names its async Redis storage `async+redis://` (`async+redis+unix://` for sockets)."""
    scheme, rest = url.split("://", 1)
    return f"async+{'redis+unix' if scheme == 'unix' else scheme}://{rest}"


def build_rate_limiter(settings: LimitsSettings) -> RateLimiter | None:
    """Counters where usage is kept: Redis (shared by replicas) or this process's memory."""
    if not settings.rate.enabled:
        return None
    storage: Storage
    if settings.usage == "redis":
        assert settings.redis_url is not None  # the settings validator requires it
        timeout = settings.timeout_ms / 1000
        storage = RedisStorage(
            _redis_uri(settings.redis_url),
            implementation="redispy",
            key_prefix=f"{settings.key_prefix}:rate",
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    else:
        storage = MemoryStorage()
    return RateLimiter(settings.rate, storage)
