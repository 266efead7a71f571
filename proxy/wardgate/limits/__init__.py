"""Usage accounting for budgets: tokens and requests per tenant per UTC day, in memory or in Redis."""

from wardgate.limits.store import MemoryUsageStore, RedisUsageStore, Usage, UsageStore, UsageUnavailable, build_usage
from wardgate.limits.tokens import TokenCount

__all__ = [
    "MemoryUsageStore",
    "RedisUsageStore",
    "TokenCount",
    "Usage",
    "UsageStore",
    "UsageUnavailable",
    "build_usage",
]
