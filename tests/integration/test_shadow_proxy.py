"""Shadow mode through the real proxy: decisions computed, audited with `"enforced": false` and counted as would-be
denials while traffic passes unchanged; Wardgate's own fail-closed refusals stay enforced."""

from __future__ import annotations

import httpx
import openai

from tests.conftest import AUTH, AWS_KEY, OPENAI_KEY, free_port, write_policy
from tests.integration.helpers import event_for, wait_for_events

QUIET = {"scanners": {"injection": {"enabled": False}, "pii": {"enabled": False}}}
SHADOW = {"WARDGATE_ENFORCEMENT": "shadow"}


def chat(proxy, text: str, model: str = "gpt-4o-mini", **extra) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)


def metrics(proxy) -> str:
    return httpx.get(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=10).text


def test_a_shadowed_deny_is_audited_and_counted_but_the_request_passes_unchanged(start_proxy, upstream):
    proxy = start_proxy({"upstream": upstream.url, **QUIET}, env=SHADOW)
    text = f"deploy with {AWS_KEY} today"
    response = chat(proxy, text)
    assert response.status_code == 200
    assert upstream.received[-1]["messages"][0]["content"] == text  # neither refused nor masked
    assert response.json()["choices"][0]["message"]["content"] == text  # the echoed answer is not masked either
    decision_id = response.headers["x-wardgate-decision-id"]
    event = event_for(proxy.audit_file, decision_id)
    assert event["enforced"] is False
    assert (event["result"]["allow"], event["result"]["code"]) == (False, "secret_detected")
    assert event["masked"] == []
    assert event_for(proxy.audit_file, decision_id, "response")["enforced"] is False
    clean = chat(proxy, "hello")
    assert event_for(proxy.audit_file, clean.headers["x-wardgate-decision-id"])["enforced"] is True
    exposition = metrics(proxy)
    assert 'wardgate_decisions_total{code="secret_detected",outcome="shadow_deny",phase="request"} 1.0' in exposition
    assert 'outcome="deny"' not in exposition


def test_a_shadowed_stream_is_neither_stopped_nor_masked(start_proxy, upstream):
    proxy = start_proxy({"upstream": upstream.url, **QUIET}, env=SHADOW)
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    text = f"the key is {AWS_KEY} ok"
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], stream=True
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == text
    [event] = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "response" and e.get("streamed"))
    assert event["enforced"] is False
    assert "secret" in event["result"]["mask"]  # the default policy masks secrets in answers
    assert event["streamed"]["stopped"] is False


def test_faults_stay_fail_closed_in_shadow_mode(start_proxy, upstream):
    dead_opa = {"engine": "opa", "opa_url": f"http://127.0.0.1:{free_port()}", "timeout_ms": 300}
    proxy = start_proxy({"upstream": upstream.url, **QUIET, "policy": dead_opa}, env=SHADOW)
    refused = chat(proxy, "hello")
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "policy_engine_error")
    assert event_for(proxy.audit_file, refused.headers["x-wardgate-decision-id"])["enforced"] is True

    no_audit = start_proxy({"upstream": upstream.url, **QUIET, "audit": {"file": "/dev/full"}}, env=SHADOW)
    refused = chat(no_audit, "hello")
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "audit_unavailable")


ROLLOUT = """package wardgate

default decision := {"allow": true}

decision := {"allow": false, "reasons": [{"code": "trial_rule", "message": "a rule on trial"}], "shadow": true} if {
	input.phase == "request"
	input.request.model == "gpt-trial"
}

decision := {"allow": false, "reasons": [{"code": "old_rule", "message": "an enforced rule"}]} if {
	input.phase == "request"
	input.request.model == "gpt-old"
}

decision := {"allow": true, "mask": ["secret"], "shadow": true} if {
	input.phase == "request"
	input.request.model == "gpt-mask-trial"
}
"""


def test_one_rule_rolls_out_in_shadow_while_the_rest_is_enforced(start_proxy, upstream, tmp_path):
    proxy = start_proxy({"upstream": upstream.url, **QUIET}, policies=write_policy(tmp_path, ROLLOUT))
    trial = chat(proxy, "hello", model="gpt-trial")
    assert trial.status_code == 200
    event = event_for(proxy.audit_file, trial.headers["x-wardgate-decision-id"])
    assert (event["enforced"], event["result"]["code"]) == (False, "trial_rule")

    old = chat(proxy, "hello", model="gpt-old")
    assert (old.status_code, old.json()["error"]["code"]) == (403, "old_rule")
    assert event_for(proxy.audit_file, old.headers["x-wardgate-decision-id"])["enforced"] is True

    text = f"use {AWS_KEY}"
    masked_on_trial = chat(proxy, text, model="gpt-mask-trial")
    assert masked_on_trial.status_code == 200
    assert upstream.received[-1]["messages"][0]["content"] == text  # the mask is recorded, not applied
    event = event_for(proxy.audit_file, masked_on_trial.headers["x-wardgate-decision-id"])
    assert (event["enforced"], event["result"]["mask"], event["masked"]) == (False, ["secret"], [])
    assert 'outcome="shadow_mask"' in metrics(proxy)
