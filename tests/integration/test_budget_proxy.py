"""Budgets through the real proxy: usage counted from the provider's reports, shared by replicas through Redis.

The example policy `policies/examples/budget` is installed as an extension: a tenant past its daily tokens gets
429 `budget_exceeded`. Replica B denies on tokens only replica A saw, which is what the Redis store is for.
"""

from __future__ import annotations

import shutil
import time

import anthropic
import httpx
import pytest
import redis

from tests.conftest import ANTHROPIC_KEY, AUTH, POLICIES, free_port
from tests.integration.helpers import event_for, policy_copy

# The classifier scores prompts; these tests are about counting.
QUIET = {"scanners": {"injection": {"enabled": False}, "pii": {"enabled": False}}, "audit": {"record_input": True}}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def budget_policies(tmp_path_factory):
    policies = policy_copy(tmp_path_factory.mktemp("budget"), budgets={"default": {"tokens_per_day": 1}})
    extensions = policies / "wardgate" / "extensions"
    extensions.mkdir(exist_ok=True)
    shutil.copy(POLICIES / "examples" / "budget" / "budget.rego", extensions / "budget.rego")
    return policies


def start(start_proxy, upstream, policies, limits):
    return start_proxy({"upstream": upstream.url, "limits": limits, **QUIET}, policies=policies)


def tokens_counted(redis_url: str, prefix: str, at_least: int) -> int:
    """Counting runs after the answer is sent: wait for it."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 10
    while True:
        keys = client.keys(f"{prefix}:usage:*:default")
        tokens = int(client.hget(keys[0], "tokens") or 0) if keys else 0
        if tokens >= at_least or time.monotonic() > deadline:
            return tokens
        time.sleep(0.05)


def test_a_replica_denies_on_tokens_another_replica_counted(start_proxy, upstream, budget_policies, redis_url):
    limits = {"usage": "redis", "redis_url": redis_url, "key_prefix": "shared"}
    replica_a = start(start_proxy, upstream, budget_policies, limits)
    replica_b = start(start_proxy, upstream, budget_policies, limits)

    first = httpx.post(replica_a.url + "/v1/chat/completions", json=CHAT, headers=AUTH)
    assert first.status_code == 200
    reported = first.json()["usage"]["prompt_tokens"] + first.json()["usage"]["completion_tokens"]
    assert tokens_counted(redis_url, "shared", reported) == reported

    denied = httpx.post(replica_b.url + "/v1/chat/completions", json=CHAT, headers=AUTH)
    assert denied.status_code == 429
    assert denied.json()["error"]["code"] == "budget_exceeded"
    assert 0 < int(denied.headers["retry-after"]) <= 86400  # the budget day ends at UTC midnight
    event = event_for(replica_b.audit_file, denied.headers["x-wardgate-decision-id"])
    assert event["input"]["usage"]["tokens_today"] == reported
    assert event["input"]["usage"]["requests_today"] == 1


def test_streamed_answers_are_counted_from_their_usage_events(start_proxy, upstream, budget_policies, redis_url):
    proxy = start(start_proxy, upstream, budget_policies, {"usage": "redis", "redis_url": redis_url, "key_prefix": "s"})
    client = anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0)
    with client.messages.stream(
        model="claude-3-5-haiku-latest", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_message()
    reported = final.usage.input_tokens + final.usage.output_tokens
    assert tokens_counted(redis_url, "s", reported) == reported


def test_memory_usage_counts_within_one_process(start_proxy, upstream, budget_policies):
    proxy = start(start_proxy, upstream, budget_policies, {"usage": "memory"})
    assert httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, headers=AUTH).status_code == 200
    deadline = time.monotonic() + 10
    while (status := httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, headers=AUTH).status_code) == 200:
        assert time.monotonic() < deadline, "the second request was never judged over budget"
        time.sleep(0.05)
    assert status == 429


@pytest.mark.parametrize("fail_closed", [True, False])
def test_unreachable_usage_store_fails_closed_only_when_configured(start_proxy, upstream, budget_policies, fail_closed):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    limits = {"usage": "redis", "redis_url": dead, "timeout_ms": 200, "fail_closed": fail_closed}
    proxy = start(start_proxy, upstream, budget_policies, limits)
    response = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, headers=AUTH)
    if fail_closed:
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "usage_unavailable"
        event = event_for(proxy.audit_file, response.headers["x-wardgate-decision-id"])
        assert event["result"]["source"] == "fail_closed"
    else:
        # Judged without usage: the budget rule has nothing to compare, the request goes through, and its policy
        # input (recorded in its audit event) says the usage was unavailable.
        assert response.status_code == 200
        event = event_for(proxy.audit_file, response.headers["x-wardgate-decision-id"])
        assert event["input"]["usage_unavailable"] is True
