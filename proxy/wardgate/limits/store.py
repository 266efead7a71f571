"""Where usage is counted: per process (`memory`) or shared by every replica (`redis`).

Counters are keyed by tenant and UTC day; a Redis key expires two days after its day began, so nothing needs
cleaning. Reads and writes that fail raise `UsageUnavailable`; the proxy decides what that means
(`limits.fail_closed`).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from wardgate.config import LimitsSettings

__all__ = ["MemoryUsageStore", "RedisUsageStore", "Usage", "UsageStore", "UsageUnavailable", "build_usage"]

Clock = Callable[[], datetime.datetime]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class UsageUnavailable(Exception):
    """The usage store could not be read or written."""


@dataclasses.dataclass(frozen=True, slots=True)
class Usage:
    day: str
    tokens: int = 0
    requests: int = 0

    def to_input(self) -> dict[str, object]:
        """`input.usage` in the policy input."""
        return {"day": self.day, "tokens_today": self.tokens, "requests_today": self.requests}


class UsageStore(Protocol):
    async def today(self, tenant: str) -> Usage: ...

    async def add(self, tenant: str, *, tokens: int = 0, requests: int = 0) -> None: ...

    async def close(self) -> None: ...


class MemoryUsageStore:
    """One process's counts: right for a single replica, an undercount when replicas share a budget."""

    def __init__(self, clock: Clock = _utc_now) -> None:
        self._clock = clock
        # Only today's counts are kept (called on the event loop only, so no lock).
        self._day = ""
        self._counts: dict[str, tuple[int, int]] = {}

    def _today(self) -> str:
        day = self._clock().date().isoformat()
        if day != self._day:
            self._day, self._counts = day, {}
        return day

    async def today(self, tenant: str) -> Usage:
        day = self._today()
        tokens, requests = self._counts.get(tenant, (0, 0))
        return Usage(day, tokens, requests)

    async def add(self, tenant: str, *, tokens: int = 0, requests: int = 0) -> None:
        self._today()
        old_tokens, old_requests = self._counts.get(tenant, (0, 0))
        self._counts[tenant] = (old_tokens + tokens, old_requests + requests)

    async def close(self) -> None:
        return None


class RedisUsageStore:
    """Counts in one Redis hash per tenant and day (HINCRBY is atomic, so replicas never lose an update)."""

    _TTL_SECONDS = 2 * 24 * 3600

    def __init__(self, url: str, *, prefix: str, timeout: float, clock: Clock = _utc_now) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._prefix, self._clock = prefix, clock

    def _key(self, tenant: str) -> tuple[str, str]:
        day = self._clock().date().isoformat()
        return day, f"{self._prefix}:usage:{day}:{tenant}"

    async def today(self, tenant: str) -> Usage:
        day, key = self._key(tenant)
        try:
            tokens, requests = await self._redis.hmget(key, ["tokens", "requests"])
        except (RedisError, OSError) as exc:
            raise UsageUnavailable(f"redis: {exc}") from exc
        return Usage(day, int(tokens or 0), int(requests or 0))

    async def add(self, tenant: str, *, tokens: int = 0, requests: int = 0) -> None:
        _, key = self._key(tenant)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(key, "tokens", tokens)
                pipe.hincrby(key, "requests", requests)
                pipe.expire(key, self._TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise UsageUnavailable(f"redis: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()


def build_usage(settings: LimitsSettings) -> UsageStore | None:
    if settings.usage == "off":
        return None
    if settings.usage == "memory":
        return MemoryUsageStore()
    assert settings.redis_url is not None  # the settings validator requires it
    return RedisUsageStore(settings.redis_url, prefix=settings.key_prefix, timeout=settings.timeout_ms / 1000)
