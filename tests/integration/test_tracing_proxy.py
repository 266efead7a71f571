"""OpenTelemetry through the real proxy, exported by the SDK's OTLP/HTTP exporter to a real receiver that decodes
the protobuf: spans per stage, scanner and policy under the request span, the caller's trace joined, Wardgate's
upstream span passed on in `traceparent`, and the ids in audit events and log lines."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import AUTH, AWS_KEY
from tests.integration.helpers import event_for, log_lines

QUIET = {"scanners": {"injection": {"enabled": False}, "pii": {"enabled": False}}}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
SERVER, CLIENT = 2, 3  # OTLP's SpanKind numbers


@pytest.fixture(scope="module")
def proxy(start_proxy, upstream, receiver):
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,  # the exporter is chosen by the endpoint alone
        "OTEL_SERVICE_NAME": "wardgate-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    return start_proxy({"upstream": upstream.url, **QUIET}, env=env)


def test_the_callers_trace_is_joined_and_wardgates_span_goes_upstream(proxy, upstream, receiver):
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    response = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, headers={**AUTH, "traceparent": traceparent})
    assert response.status_code == 200
    spans = receiver.wait_for(CALLER_TRACE, "POST /v1/chat/completions")
    by_name = {span.name: span for span in spans}
    request = by_name["POST /v1/chat/completions"]
    assert (request.parent_span_id, request.kind, request.service) == (CALLER_SPAN, SERVER, "wardgate-under-test")
    assert request.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert request.attributes["gen_ai.provider.name"] == "openai"
    assert request.attributes["gen_ai.usage.input_tokens"] == 10
    assert request.attributes["http.response.status_code"] == 200
    for stage in ("wardgate.identify", "wardgate.rate_limit", "wardgate.read", "wardgate.judge", "wardgate.enforce"):
        assert by_name[stage].parent_span_id == request.span_id, stage
    scans = {span.parent_span_id for span in spans if span.name == "wardgate.scan secrets"}
    assert scans == {by_name["wardgate.judge"].span_id, by_name["wardgate.judge_response"].span_id}
    policies = [span for span in spans if span.name == "wardgate.policy"]
    assert {span.attributes["wardgate.phase"] for span in policies} == {"request", "response"}
    assert by_name["wardgate.judge_response"].parent_span_id == request.span_id

    upstream_span = next(span for span in spans if span.kind == CLIENT)
    assert upstream_span.parent_span_id == request.span_id
    sent = {k.lower(): v for k, v in upstream.headers[-1].items()}["traceparent"]
    assert sent == f"00-{CALLER_TRACE}-{upstream_span.span_id}-01"  # Wardgate's own span, not the caller's

    event = event_for(proxy.audit_file, response.headers["x-wardgate-decision-id"])
    assert (event["trace_id"], event["span_id"]) == (CALLER_TRACE, request.span_id)
    [access] = log_lines(proxy, event="access", decision_id=event["decision_id"])
    assert (access["trace_id"], access["span_id"]) == (CALLER_TRACE, request.span_id)
    assert (access["method"], access["path"], access["status"]) == ("POST", "/v1/chat/completions", 200)
    assert (access["tenant"], access["decision"]) == ("default", "allowed")
    assert access["duration_ms"] >= access["upstream_ms"] > 0


def test_without_a_traceparent_a_new_trace_and_refusals_are_traced_too(proxy, upstream, receiver):
    body = {**CHAT, "messages": [{"role": "user", "content": f"key {AWS_KEY}"}]}
    refused = httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH)
    assert refused.status_code == 403
    event = event_for(proxy.audit_file, refused.headers["x-wardgate-decision-id"])
    assert len(event["trace_id"]) == 32
    assert event["trace_id"] != CALLER_TRACE
    spans = receiver.wait_for(event["trace_id"], "POST /v1/chat/completions")
    request = next(span for span in spans if span.name == "POST /v1/chat/completions")
    assert request.parent_span_id == ""  # a root: the caller sent no trace
    assert request.attributes["wardgate.decision"] == "secret_detected"
    assert not [span for span in spans if span.kind == CLIENT]  # never forwarded
    judge = next(span for span in spans if span.name == "wardgate.judge")
    assert judge.attributes["wardgate.refused"] == "secret_detected"
    [access] = log_lines(proxy, event="access", decision_id=event["decision_id"])
    assert (access["status"], access["decision"], access["upstream_ms"]) == (403, "secret_detected", None)


def test_operational_log_lines_carry_the_trace(start_proxy, upstream, receiver):
    dead = "http://127.0.0.1:9"  # no OPA there: the engine's failure is logged while the request is handled
    proxy = start_proxy(
        {"upstream": upstream.url, **QUIET, "policy": {"engine": "opa", "opa_url": dead, "timeout_ms": 300}},
        env={"OTEL_TRACES_EXPORTER": "none"},
    )
    refused = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, headers=AUTH)
    event = event_for(proxy.audit_file, refused.headers["x-wardgate-decision-id"])
    assert log_lines(proxy, trace_id=event["trace_id"], event="access")
    # the engine's failure, logged while the request was handled, carries its trace too
    assert [line for line in log_lines(proxy, trace_id=event["trace_id"]) if line.get("event") != "access"]
