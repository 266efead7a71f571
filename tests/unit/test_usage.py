"""Token counts from each provider's usage report, and the usage stores (a real redis-server for the shared one)."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from tests.conftest import free_port
from wardgate.config import LimitsSettings
from wardgate.limits import MemoryUsageStore, RedisUsageStore, TokenCount, UsageUnavailable, build_usage

OPENAI_CHAT = {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}}
OPENAI_RESPONSES_DONE = {
    "type": "response.completed",
    "response": {"usage": {"input_tokens": 9, "output_tokens": 5, "total_tokens": 14}},
}
ANTHROPIC_STREAM = [
    {"type": "message_start",
     "message": {"usage": {"input_tokens": 25, "cache_read_input_tokens": 100, "output_tokens": 1}}},
    {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 15}},
]  # fmt: skip
GEMINI_STREAM = [
    {"candidates": [], "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 2, "totalTokenCount": 10}},
    {"candidates": [], "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 7, "totalTokenCount": 15}},
]


def count(*documents) -> int:
    tokens = TokenCount()
    for document in documents:
        tokens.observe(document)
    return tokens.tokens


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ([OPENAI_CHAT], 42),
        ([{"choices": [{"delta": {"content": "a"}}]}, OPENAI_CHAT], 42),  # a stream's last chunk carries it
        ([{"type": "response.output_text.delta", "delta": "x"}, OPENAI_RESPONSES_DONE], 14),
        (ANTHROPIC_STREAM, 25 + 100 + 15),  # cached input counts; output is cumulative
        ([{"usage": {"input_tokens": 10, "output_tokens": 4}}], 14),
        (GEMINI_STREAM, 15),
        ([{"choices": []}, "[DONE]", None, {"usage": "n/a"}, {"usage": {"total_tokens": True}}], 0),
    ],
)
def test_tokens_from_each_providers_usage_report(documents, expected):
    assert count(*documents) == expected


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 11, 21, 23, 59, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now


def test_memory_store_counts_per_tenant_and_starts_each_day_at_zero():
    clock = Clock()
    store = MemoryUsageStore(clock)

    async def scenario() -> None:
        await store.add("acme", tokens=100, requests=1)
        await store.add("acme", tokens=50, requests=1)
        await store.add("globex", tokens=7, requests=1)
        usage = await store.today("acme")
        assert (usage.day, usage.tokens, usage.requests) == ("2026-11-21", 150, 2)
        assert usage.to_input() == {"day": "2026-11-21", "tokens_today": 150, "requests_today": 2}
        clock.now += datetime.timedelta(minutes=2)
        assert (await store.today("acme")).tokens == 0
        await store.add("acme", tokens=1)
        assert (await store.today("acme")).tokens == 1

    asyncio.run(scenario())


def test_redis_store_is_shared_by_replicas_and_loses_no_concurrent_update(redis_url):
    clock = Clock()

    async def scenario() -> None:
        # Two replicas of the proxy, each with its own connection, counting the same tenant at once.
        replicas = [RedisUsageStore(redis_url, prefix="t1", timeout=1, clock=clock) for _ in range(2)]
        await asyncio.gather(*(replica.add("acme", tokens=3, requests=1) for replica in replicas for _ in range(50)))
        for replica in replicas:
            usage = await replica.today("acme")
            assert (usage.tokens, usage.requests) == (300, 100)
        assert (await replicas[0].today("globex")).tokens == 0
        clock.now += datetime.timedelta(minutes=2)
        assert (await replicas[1].today("acme")).tokens == 0
        for replica in replicas:
            await replica.close()

    asyncio.run(scenario())


def test_redis_keys_expire_after_two_days(redis_url):
    import redis

    async def scenario() -> None:
        store = RedisUsageStore(redis_url, prefix="t2", timeout=1)
        await store.add("acme", tokens=1)
        await store.close()

    asyncio.run(scenario())
    client = redis.Redis.from_url(redis_url)
    (key,) = client.keys("t2:usage:*:acme")
    assert 2 * 24 * 3600 - 10 < client.ttl(key) <= 2 * 24 * 3600


def test_unreachable_redis_is_usage_unavailable_within_the_timeout():
    port = free_port()

    async def scenario() -> None:
        store = RedisUsageStore(f"redis://127.0.0.1:{port}/0", prefix="t3", timeout=0.2)
        with pytest.raises(UsageUnavailable, match="redis"):
            await store.today("acme")
        with pytest.raises(UsageUnavailable):
            await store.add("acme", tokens=1)
        await store.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=5))


@pytest.mark.parametrize(
    ("values", "message"),
    [({"usage": "redis"}, "needs redis_url"), ({"usage": "redis", "redis_url": "http://x"}, "redis://")],
)
def test_redis_settings_are_checked(values, message):
    with pytest.raises(ValueError, match=message):
        LimitsSettings(**values)


def test_build_usage_follows_the_settings(redis_url):
    assert build_usage(LimitsSettings(usage="off")) is None
    assert isinstance(build_usage(LimitsSettings()), MemoryUsageStore)
    assert isinstance(build_usage(LimitsSettings(usage="redis", redis_url=redis_url)), RedisUsageStore)
