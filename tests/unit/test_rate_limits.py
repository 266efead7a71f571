"""The rate limiter on its own, with the real `limits` storages (memory, and a real redis-server)."""

from __future__ import annotations

import pytest

from tests.conftest import clear_of_minute_edge
from wardgate.config import LimitsSettings, load_settings
from wardgate.limits import UsageUnavailable, build_rate_limiter
from wardgate.limits.rate import RateCheck, _Window

ALICE = {"tenant": "acme", "subject": "alice"}
BOB = {"tenant": "acme", "subject": "bob"}


def limiter(**rate):
    clear_of_minute_edge(3)  # the checks that follow count within one minute
    built = build_rate_limiter(LimitsSettings(rate=rate))
    assert built is not None
    return built


async def test_requests_past_the_limit_are_refused_with_headers():
    rate = limiter(requests_per_minute=2)
    first, second, third = [await rate.check(ALICE) for _ in range(3)]
    assert first.allowed
    assert second.allowed
    assert not third.allowed
    assert third.exceeded == "requests"
    headers = third.headers()
    assert headers["x-ratelimit-limit-requests"] == headers["x-ratelimit-limit"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-reset"] == headers["retry-after"]
    assert first.headers()["x-ratelimit-remaining"] == "1"
    assert "retry-after" not in first.headers()


async def test_tenant_overrides_and_per_subject_keys():
    rate = limiter(requests_per_minute=1, per_subject=True, tenants={"acme": {"requests_per_minute": 2}})
    assert [(await rate.check(ALICE)).allowed for _ in range(3)] == [True, True, False]
    assert (await rate.check(BOB)).allowed  # a subject of its own
    assert [(await rate.check({"tenant": "other"})).allowed for _ in range(2)] == [True, False]


async def test_callers_whose_names_join_alike_have_windows_of_their_own():
    """An outside review: the limits library joins key parts with `/`, so (`team-a/ci`, `x`) and (`team-a`, `ci/x`)
    counted in one window and one caller's requests were another's 429."""
    rate = limiter(requests_per_minute=1, per_subject=True)
    assert (await rate.check({"tenant": "team-a/ci", "subject": "x"})).allowed
    assert (await rate.check({"tenant": "team-a", "subject": "ci/x"})).allowed


async def test_tokens_are_tested_before_and_charged_after():
    rate = limiter(tokens_per_minute=100)
    assert (await rate.check(ALICE)).allowed
    await rate.spend_tokens(ALICE, 60)
    check = await rate.check(ALICE)
    assert check.allowed
    assert check.tokens.remaining == 40
    await rate.spend_tokens(ALICE, 500)  # more than is left: the window is full
    refused = await rate.check(ALICE)
    assert not refused.allowed
    assert refused.exceeded == "tokens"
    assert refused.headers()["x-ratelimit-remaining-tokens"] == "0"
    assert "retry-after" in refused.headers()


def test_no_limit_configured_builds_nothing():
    assert build_rate_limiter(LimitsSettings()) is None


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("WARDGATE_LIMITS__RATE__REQUESTS_PER_MINUTE", "7")
    monkeypatch.setenv("WARDGATE_LIMITS__RATE__TENANTS", '{"acme": {"tokens_per_minute": 900}}')
    settings = load_settings(upstream="http://127.0.0.1:1")
    assert settings.limits.rate.for_tenant("acme").requests_per_minute == 7
    assert settings.limits.rate.for_tenant("acme").tokens_per_minute == 900


def test_headers_name_the_exceeded_limit():
    check = RateCheck(False, requests=_Window(10, 3, 2.5), tokens=_Window(1000, 0, 12.2), exceeded="tokens")
    headers = check.headers()
    assert headers["x-ratelimit-limit"] == "1000"
    assert headers["retry-after"] == "13"
    assert headers["x-ratelimit-reset-requests"] == "2.500s"


async def test_redis_storage_is_shared_between_limiters(redis_url):
    settings = LimitsSettings(usage="redis", redis_url=redis_url, key_prefix="unit", rate={"requests_per_minute": 2})
    one, two = build_rate_limiter(settings), build_rate_limiter(settings)
    clear_of_minute_edge(3)
    assert (await one.check(ALICE)).allowed
    assert (await two.check(ALICE)).allowed
    assert not (await one.check(ALICE)).allowed
    await one.close()
    await two.close()


async def test_unreachable_redis_is_unavailable():
    settings = LimitsSettings(
        usage="redis", redis_url="redis://127.0.0.1:1/0", timeout_ms=100, rate={"requests_per_minute": 2}
    )
    rate = build_rate_limiter(settings)
    with pytest.raises(UsageUnavailable):
        await rate.check(ALICE)
    await rate.close()
