"""Rate limits through the real proxy: 429 `rate_limited` with the headers SDKs read, shared by replicas in Redis."""

from __future__ import annotations

import time
from types import SimpleNamespace

import httpx
import openai
import pytest

from tests.conftest import AUTH, OPENAI_KEY, clear_of_minute_edge
from tests.integration.helpers import audit_events, event_for

QUIET = {"scanners": {"injection": {"enabled": False}, "pii": {"enabled": False}}}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def post(proxy):
    return httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, headers=AUTH)


def test_past_the_limit_a_provider_shaped_429_that_is_audited_and_never_forwarded(start_proxy, upstream):
    proxy = start_proxy({"upstream": upstream.url, **QUIET, "limits": {"rate": {"requests_per_minute": 2}}})
    clear_of_minute_edge(10)
    before = len(upstream.received)
    allowed = [post(proxy) for _ in range(2)]
    assert [r.status_code for r in allowed] == [200, 200]
    assert allowed[0].headers["x-ratelimit-limit-requests"] == "2"
    assert [r.headers["x-ratelimit-remaining-requests"] for r in allowed] == ["1", "0"]
    assert "retry-after" not in allowed[0].headers

    denied = post(proxy)
    assert denied.status_code == 429
    assert denied.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(denied.headers["retry-after"]) <= 60
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-reset-requests"):
        assert name in denied.headers
    assert denied.headers["x-ratelimit-remaining"] == "0"
    assert len(upstream.received) == before + 2  # the third never left
    decision_id = denied.headers["x-wardgate-decision-id"]
    event = event_for(proxy.audit_file, decision_id)
    assert event["result"]["code"] == "rate_limited"
    assert event["result"]["status"] == 429
    assert [e for e in audit_events(proxy.audit_file) if e["decision_id"] == decision_id] == [event]  # one event
    metrics = httpx.get(f"http://127.0.0.1:{proxy.admin_port}/metrics").text
    assert 'wardgate_decisions_total{code="rate_limited",outcome="deny",phase="request"} 1.0' in metrics


def test_the_openai_sdk_waits_as_retry_after_says(start_proxy, upstream, monkeypatch):
    """max_retries=2: three attempts, each retry after the proxy's Retry-After (the SDK honours up to 60 s)."""
    proxy = start_proxy({"upstream": upstream.url, **QUIET}, env={"WARDGATE_LIMITS__RATE__REQUESTS_PER_MINUTE": "1"})
    clear_of_minute_edge(10)
    assert post(proxy).status_code == 200
    slept: list[float] = []
    # The SDK's own retry loop runs for real; only its sleep is recorded instead of waited out (in its module alone).
    monkeypatch.setattr(openai._base_client, "time", SimpleNamespace(sleep=slept.append, time=time.time))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=2)
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(**CHAT)
    retry_after = int(raised.value.response.headers["retry-after"])
    assert len(slept) == 2
    assert all(retry_after - 1 <= delay <= 60 and delay >= 1 for delay in slept)
    denials = [e for e in audit_events(proxy.audit_file) if e["result"]["code"] == "rate_limited"]
    assert len(denials) == 3


def test_tokens_per_minute_counts_the_answers_reported_usage(start_proxy, upstream):
    # The fake upstream reports 10 prompt tokens + one per word of the answer ("hello"): 11 per call.
    proxy = start_proxy({"upstream": upstream.url, **QUIET, "limits": {"rate": {"tokens_per_minute": 15}}})
    clear_of_minute_edge(12)
    first = post(proxy)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == "15"
    deadline = time.monotonic() + 10
    while (response := post(proxy)).status_code == 200:  # counted after the answer went out
        assert time.monotonic() < deadline, "the token window never filled"
        time.sleep(0.05)
    assert response.status_code == 429
    assert response.headers["x-ratelimit-remaining-tokens"] == "0"
    assert response.headers["x-ratelimit-limit"] == "15"


def test_two_replicas_on_one_redis_share_the_window(start_proxy, upstream, redis_url):
    limits = {"usage": "redis", "redis_url": redis_url, "key_prefix": "rate-shared", "rate": {"requests_per_minute": 3}}
    replica_a = start_proxy({"upstream": upstream.url, **QUIET, "limits": limits})
    replica_b = start_proxy({"upstream": upstream.url, **QUIET, "limits": limits})
    clear_of_minute_edge(10)
    statuses = [post(replica).status_code for replica in (replica_a, replica_b, replica_a)]
    assert statuses == [200, 200, 200]
    denied = post(replica_b)
    assert denied.status_code == 429
    assert denied.json()["error"]["code"] == "rate_limited"
