"""Usage accounting for budgets (per tenant per UTC day) and per-minute rate limits, in memory or in Redis."""

from wardgate.limits.rate import RateCheck, RateLimiter, build_rate_limiter
from wardgate.limits.store import MemoryUsageStore, RedisUsageStore, Usage, UsageStore, UsageUnavailable, build_usage
from wardgate.limits.tokens import TokenCount

__all__ = [
    "MemoryUsageStore",
    "RateCheck",
    "RateLimiter",
    "RedisUsageStore",
    "TokenCount",
    "Usage",
    "UsageStore",
    "UsageUnavailable",
    "build_rate_limiter",
    "build_usage",
]
