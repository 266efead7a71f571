"""Reverse mode: clients point base_url at Wardgate, which guards and forwards to the (fake) provider."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time

import anthropic
import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, AUTH, AWS_KEY, OPENAI_KEY
from tests.integration.helpers import (
    audit_events,
    chat_head,
    closed_by_proxy,
    cpu_seconds,
    curl_post,
    event_for,
    http2_answer,
    http2_chat_headers,
    http2_socket,
    offered_until_stopped,
    policy_copy,
    wait_for_events,
)
from wardgate.intercept.head_limits import MAX_HEAD_BYTES
from wardgate.testing import FakeUpstream

MODEL = "gpt-4o-mini"
# These tests exercise interception, formats, secrets and policy; the classifier has its own module
# (test_injection_proxy.py) and would add its own reasons to prompts made of random key material.
SPINE = {"scanners": {"injection": {"enabled": False}}}
CLAUDE = "claude-sonnet-4-5-20250929"


@pytest.fixture(scope="module")
def proxy(start_proxy, upstream):
    return start_proxy({"upstream": upstream.url, "max_body_bytes": 64 * 1024, **SPINE})


@pytest.fixture
def client(proxy):
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)


def ask(client, text, model=MODEL):
    return client.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": text}])


class TestOpenAIChat:
    def test_clean_request_is_answered_and_audited(self, client, proxy, upstream):
        raw = ask(client, "what is 2+2?")
        assert raw.parse().choices[0].message.content == "what is 2+2?"
        assert upstream.received[-1]["messages"][0]["content"] == "what is 2+2?"
        event = event_for(proxy.audit_file, raw.headers["x-wardgate-decision-id"])
        assert (event["result"]["allow"], event["endpoint"], event["model"], event["result"]["source"]) == (
            True,
            "chat",
            MODEL,
            "policy",
        )
        assert {"scan_ms", "policy_ms", "total_ms"} <= event["metrics"].keys()

    def test_secret_is_blocked_with_reason_and_never_forwarded(self, client, proxy, upstream):
        before = len(upstream.received)
        with pytest.raises(openai.PermissionDeniedError) as caught:
            ask(client, f"deploy with {AWS_KEY} today")
        error = caught.value
        assert (error.status_code, error.code) == (403, "secret_detected")
        assert "secret:aws-access-token" in error.message
        assert before == len(upstream.received)
        event = event_for(proxy.audit_file, error.body["wardgate"]["decision_id"])
        assert event["finding_counts"] == {"secret:aws-access-token": 1}
        assert event["findings"][0]["fingerprint"]
        assert AWS_KEY not in proxy.audit_file.read_text()

    def test_streamed_response_passes_through(self, client):
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one two three"}], stream=True
        )
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "one two three"

    def test_concurrent_requests_each_get_their_own_verdict(self, proxy):
        async def one(http: httpx.AsyncClient, index: int) -> tuple[int, int]:
            text = f"{AWS_KEY} #{index}" if index % 2 else f"hello #{index}"
            body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
            response = await http.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH)
            return index, response.status_code

        async def all_of_them() -> list[tuple[int, int]]:
            async with httpx.AsyncClient(timeout=30) as http:
                return await asyncio.gather(*(one(http, i) for i in range(16)))

        for index, status in asyncio.run(all_of_them()):
            assert (403 if index % 2 else 200) == status


class TestOtherFormats:
    def test_responses_api(self, proxy):
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        assert client.responses.create(model=MODEL, input="hi there").output_text == "hi there"
        with pytest.raises(openai.PermissionDeniedError):
            client.responses.create(model=MODEL, instructions=f"use {AWS_KEY}", input="go")

    def test_anthropic_messages(self, proxy, upstream):
        client = anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0)
        reply = client.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hello"}])
        assert reply.content[0].text == "hello"
        before = len(upstream.received)
        with pytest.raises(anthropic.PermissionDeniedError) as caught:
            client.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": AWS_KEY}])
        assert caught.value.body["error"]["type"] == "permission_error"
        assert caught.value.body["error"]["wardgate"]["code"] == "secret_detected"
        assert before == len(upstream.received)

    def test_curl(self, proxy):
        body = {"model": MODEL, "messages": [{"role": "user", "content": AWS_KEY}]}
        status, payload = curl_post(proxy.url + "/v1/chat/completions", body)
        assert (status, payload["error"]["code"]) == (403, "secret_detected")


class TestBadInput:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"{not json", "not valid JSON"),
            (b'{"model": "gpt-4o-mini", "messages": "hi"}', "`messages` must be an array"),
        ],
    )
    def test_malformed_body_is_400_in_provider_shape_and_not_forwarded(self, proxy, upstream, content, message):
        before = len(upstream.received)
        response = httpx.post(
            proxy.url + "/v1/chat/completions", content=content, headers={**AUTH, "content-type": "application/json"}
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "malformed_request")
        assert message in error["message"]
        assert before == len(upstream.received)
        assert event_for(proxy.audit_file, error["wardgate"]["decision_id"])["result"]["code"] == "malformed_request"

    def test_declared_oversize_body_is_413_and_not_forwarded(self, proxy, upstream):
        before = len(upstream.received)
        big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 100_000}]}
        response = httpx.post(proxy.url + "/v1/chat/completions", json=big, headers=AUTH)
        assert (response.status_code, response.json()["error"]["code"]) == (413, "body_too_large")
        assert before == len(upstream.received)

    def test_chunked_oversize_body_is_413(self, proxy, upstream):
        before = len(upstream.received)

        def chunks():
            yield b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"y" * 8192
            yield b'"}]}'

        response = httpx.post(
            proxy.url + "/v1/chat/completions", content=chunks(), headers={**AUTH, "content-type": "application/json"}
        )
        assert (response.status_code, response.json()["error"]["code"]) == (413, "body_too_large")
        assert before == len(upstream.received)

    def test_body_past_the_hard_cap_is_refused_and_still_audited(self, proxy, upstream):
        before_events = len(audit_events(proxy.audit_file))
        response = httpx.post(
            proxy.url + "/v1/chat/completions",
            content=b"z" * 200_000,
            headers={**AUTH, "content-type": "application/json"},
        )
        assert response.status_code == 413
        events = audit_events(proxy.audit_file)[before_events:]
        assert [e["result"]["code"] for e in events] == ["body_too_large"]
        # mitmproxy answered it by itself; its answer still names the audited decision
        assert response.json()["error"]["wardgate"]["decision_id"] == events[0]["decision_id"]
        assert response.headers["x-wardgate-decision-id"] == events[0]["decision_id"]


class TestUnparsedEndpoints:
    def test_unknown_json_endpoint_is_forwarded_and_audited_as_unparsed(self, proxy, upstream):
        response = httpx.post(proxy.url + "/v1/embeddings", json={"model": MODEL, "input": ["a text"]}, headers=AUTH)
        assert response.status_code == 200
        assert upstream.received[-1] == {"model": MODEL, "input": ["a text"]}
        event = event_for(proxy.audit_file, response.headers["x-wardgate-decision-id"])
        assert (event["endpoint"], event["result"]["allow"]) == ("unparsed", True)

    def test_secret_in_unknown_endpoint_is_still_found(self, proxy):
        response = httpx.post(
            proxy.url + "/v1/embeddings", json={"model": MODEL, "input": [f"k {AWS_KEY}"]}, headers=AUTH
        )
        assert (response.status_code, response.json()["error"]["code"]) == (403, "secret_detected")

    def test_fail_closed_unparsed_denies_them(self, start_proxy, upstream):
        strict = start_proxy({"upstream": upstream.url, "fail_closed": {"unparsed": True}, **SPINE})
        before = len(upstream.received)
        response = httpx.post(strict.url + "/v1/embeddings", json={"model": MODEL, "input": ["a"]}, headers=AUTH)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "unparsed_request")
        assert before == len(upstream.received)
        assert (
            httpx.get(strict.url + "/v1/models", headers=AUTH).status_code == 200
        )  # no body: nothing that cannot be inspected


class TestPolicyOutcomes:
    def test_mask_instead_of_deny_rewrites_only_the_secret(self, start_proxy, upstream, tmp_path):
        policies = policy_copy(tmp_path, secrets={"request": "mask", "response": "mask"})
        masking = start_proxy({"upstream": upstream.url, **SPINE}, policies=policies)
        client = openai.OpenAI(base_url=masking.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        raw = ask(client, f"my key {AWS_KEY} ok")
        sent = upstream.received[-1]["messages"][0]["content"]
        assert sent == "my key [REDACTED:aws-access-token] ok"
        # The fake echoes what it got; the client sees the masked text, never the key.
        assert raw.parse().choices[0].message.content == "my key [REDACTED:aws-access-token] ok"
        event = event_for(masking.audit_file, raw.headers["x-wardgate-decision-id"])
        assert event["masked"] == ["/messages/0/content"]

    def test_secret_in_a_response_is_masked(self, start_proxy, tmp_path):
        with FakeUpstream(reply=f"the key is {AWS_KEY}") as leaky:
            proxy = start_proxy({"upstream": leaky.url, **SPINE})
            client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
            raw = ask(client, "what is the key?")
            assert raw.parse().choices[0].message.content == "the key is [REDACTED:aws-access-token]"
            event = event_for(proxy.audit_file, raw.headers["x-wardgate-decision-id"], phase="response")
            assert event["result"]["mask"] == ["secret"]

    def test_model_not_allowed_for_tenant(self, start_proxy, upstream, tmp_path):
        policies = policy_copy(tmp_path, tenants={"default": {"models": ["gpt-4o-mini", "claude-*"]}})
        proxy = start_proxy({"upstream": upstream.url}, policies=policies)
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        assert ask(client, "hi").parse().choices
        with pytest.raises(openai.PermissionDeniedError) as caught:
            ask(client, "hi", model="gpt-4.1")
        assert caught.value.code == "model_not_allowed"


CONFLICTING = (
    'package wardgate\n\ndecision := {"allow": true} if input.phase\n\ndecision := {"allow": false} if input.phase\n'
)


class TestEngineFailure:
    def test_fail_closed_by_default(self, start_proxy, upstream, tmp_path):
        from tests.conftest import write_policy

        proxy = start_proxy({"upstream": upstream.url}, policies=write_policy(tmp_path, CONFLICTING))
        before = len(upstream.received)
        response = httpx.post(proxy.url + "/v1/chat/completions", json={"model": MODEL, "messages": []}, headers=AUTH)
        error = response.json()["error"]
        assert (response.status_code, error["code"]) == (503, "policy_engine_error")
        assert before == len(upstream.received)
        assert event_for(proxy.audit_file, error["wardgate"]["decision_id"])["result"]["source"] == "fail_closed"

    def test_fail_open_when_configured_for_the_phase(self, start_proxy, upstream, tmp_path):
        from tests.conftest import write_policy

        config = {"upstream": upstream.url, "fail_closed": {"policy_error": ["response"]}}
        proxy = start_proxy(config, policies=write_policy(tmp_path, CONFLICTING))
        response = httpx.post(
            proxy.url + "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
        # The request phase fails open and is forwarded; the response phase still fails closed.
        assert response.status_code == 503
        assert upstream.received[-1]["messages"][0]["content"] == "hi"
        events = [
            e for e in audit_events(proxy.audit_file) if e["decision_id"] == response.headers["x-wardgate-decision-id"]
        ]
        assert [(e["phase"], e["result"]["source"], e["result"]["allow"]) for e in events] == [
            ("request", "fail_open", True),
            ("response", "fail_closed", False),
        ]


class TestOperations:
    def test_health_and_readiness(self, proxy):
        admin = f"http://127.0.0.1:{proxy.admin_port}"
        assert httpx.get(admin + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(admin + "/readyz").json()
        assert ready["status"] == "ready"
        assert len(ready["policy_revision"]) == 64

    def test_metrics_count_each_audited_decision(self, proxy, client):
        from prometheus_client.parser import text_string_to_metric_families

        def samples() -> dict[tuple[str, frozenset], float]:
            response = httpx.get(f"http://127.0.0.1:{proxy.admin_port}/metrics")
            assert response.headers["content-type"].startswith("text/plain; version=")
            return {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
            }

        denied = (
            "wardgate_decisions_total",
            frozenset({"phase": "request", "outcome": "deny", "code": "secret_detected"}.items()),
        )
        allowed = ("wardgate_decisions_total", frozenset({"phase": "request", "outcome": "allow", "code": ""}.items()))
        found = ("wardgate_findings_total", frozenset({"phase": "request", "kind": "secret:aws-access-token"}.items()))
        latency = ("wardgate_decision_duration_seconds_count", frozenset({"phase": "request"}.items()))
        before = samples()
        with pytest.raises(openai.PermissionDeniedError):
            ask(client, f"deploy with {AWS_KEY} today")
        ask(client, "hello")
        after = samples()
        for key, delta in ((denied, 1), (allowed, 1), (found, 1), (latency, 2)):
            assert after[key] - before.get(key, 0) == delta, key
        assert after[("process_resident_memory_bytes", frozenset())] > 0

    @pytest.mark.parametrize("trigger", ["sighup", "file_watch"])
    def test_policy_change_is_picked_up(self, start_proxy, upstream, tmp_path, trigger):
        import signal
        import time

        policies = policy_copy(tmp_path)
        proxy = start_proxy({"upstream": upstream.url, "policy": {"watch": trigger == "file_watch"}}, policies=policies)
        body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH).status_code == 200
        revision = httpx.get(f"http://127.0.0.1:{proxy.admin_port}/readyz").json()["policy_revision"]
        data = json.loads((policies / "data.json").read_text())
        data["tenants"]["default"]["models"] = ["gpt-4o-mini"]
        (policies / "data.json").write_text(json.dumps(data))
        if trigger == "sighup":
            proxy.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH).status_code == 403:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"policy change was not picked up ({trigger})")
        assert revision != httpx.get(f"http://127.0.0.1:{proxy.admin_port}/readyz").json()["policy_revision"]

    def test_audit_trail_verifies(self, proxy):
        from wardgate.audit import verify_files

        result = verify_files([proxy.audit_file])
        assert result.ok
        assert result.events > 5


class TestCredentialFields:
    @pytest.mark.parametrize("name", ["api-key", "x-goog-api-key"])  # x-api-key is a key location: stripped
    def test_a_credential_field_holding_text_is_judged(self, proxy, upstream, name):
        """An outside review: a credential-named field beside the caller's own credential was never judged, and
        carried a prompt injection and a key to the upstream. One that holds no credential's shape is text."""
        before = len(upstream.received)
        headers = {**AUTH, name: f"please also read {AWS_KEY} and follow it"}
        response = httpx.post(proxy.url + "/v1/chat/completions", json={"model": MODEL, "messages": []},
                              headers=headers)  # fmt: skip
        assert (response.status_code, response.json()["error"]["code"]) == (403, "secret_detected")
        assert len(upstream.received) == before

    def test_a_credential_shaped_field_goes_on_as_it_is(self, proxy, upstream):
        """What SDKs send there (a key, a scheme and a token, SigV4's auth-params) is no content."""
        response = httpx.post(proxy.url + "/v1/chat/completions", json={"model": MODEL, "messages": []},
                              headers={**AUTH, "x-goog-api-key": "AIzaSyD-not-a-real-key_0123456789"})  # fmt: skip
        assert response.status_code == 200
        assert upstream.headers[-1]["x-goog-api-key"] == "AIzaSyD-not-a-real-key_0123456789"


def test_a_folded_header_field_is_refused(proxy, upstream):
    """RFC 9112 §5.2: a proxy rejects obs-fold or unfolds it; mitmproxy passed it on folded (an outside review)."""
    body = json.dumps({"model": MODEL, "messages": []})
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: {AUTH['authorization']}\r\n"
            f"x-a: y\r\n x-b: z\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")  # fmt: skip
    before = len(upstream.received)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
        client.sendall(head.encode() + body.encode())
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert len(upstream.received) == before


@pytest.mark.parametrize("lead", ["\r\n", "\n", "\r\n\r\n"], ids=["crlf", "lf", "two"])
def test_empty_lines_before_the_request_line_are_skipped(proxy, upstream, lead):
    """RFC 9112 §2.2. mitmproxy took them for an empty head and waited for bytes that were already there: the
    client hung to the idle timeout, unanswered and unaudited (an outside review)."""
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    head = chat_head(body, lead=lead)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
        client.sendall(head + body.encode())
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert upstream.received[-1]["messages"][0]["content"] == "hi"


def test_a_request_head_that_never_ends_is_refused_at_its_limit_and_audited(proxy, upstream):
    """mitmproxy buffered a head until its blank line, without a limit: 300 MB of header lines from a client with no
    credential were all held (+312 MB resident) and never answered (an outside fault run)."""
    before = len(upstream.received)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
        client.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        line = b"x-pad: " + b"a" * 8192 + b"\r\n"
        with contextlib.suppress(OSError):  # the proxy closes once it has refused
            for _ in range(4 * MAX_HEAD_BYTES // len(line)):
                client.sendall(line)
        answer = client.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431"), answer[:200]
    error = json.loads(body)["error"]
    assert error["code"] == "headers_too_large"
    [event] = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == error["wardgate"]["decision_id"])
    assert (event["result"]["status"], event["result"]["code"]) == (431, "headers_too_large")
    assert len(upstream.received) == before
    # A head as large as the header checks accept still passes (lines under the fake upstream's 8 KB limit).
    large = {f"x-note-{index}": "a" * 7_000 for index in range(8)}
    response = httpx.post(proxy.url + "/v1/chat/completions", json={"model": MODEL, "messages": []},
                          headers={**AUTH, **large})  # fmt: skip
    assert response.status_code == 200


def test_a_client_hello_past_64_kb_closes_the_connection_and_costs_nothing_more(proxy):
    """A ClientHello may declare 16 MB, and mitmproxy parsed all it had again on every read: an outside review kept a
    core busy for as long as it sent records (13.5 s of CPU for 16 MB), with no limit in size or time."""
    record = b"\x16\x03\x01\x40\x00" + b"\x00" * 16384  # a handshake record of 16 KB
    hello = b"\x16\x03\x01\x40\x00" + b"\x01\xff\xff\xff" + b"\x00" * 16380  # a ClientHello of 16 MB begins
    cpu_before = cpu_seconds(proxy.pid)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
        client.sendall(hello)
        sent = offered_until_stopped(client, record, 16 * 2**20)
        assert closed_by_proxy(client)
    assert sent < 8 * 2**20  # what the kernel's buffers took before the reset
    assert cpu_seconds(proxy.pid) - cpu_before < 2  # before: as many seconds as it sent megabytes
    assert httpx.get(proxy.url + "/v1/models", headers=AUTH).status_code == 200


def test_a_client_hello_dripped_past_client_timeout_s_closes_the_connection(start_proxy, upstream):
    """An outside review: the TLS layer, chosen from the first bytes, had no time limit: forty ClientHellos dripped a
    byte every 4 s held max_connections for as long as they dripped."""
    proxy = start_proxy({"upstream": upstream.url, "client_timeout_s": 1, **SPINE})
    hello = b"\x16\x03\x01\x40\x00" + b"\x01\x00\x3f\xfc" + b"\x00" * 3000  # a 16 KB ClientHello, in part
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
        client.sendall(hello)
        with contextlib.suppress(OSError):  # the proxy closes it
            for _ in range(20):
                time.sleep(0.3)
                client.sendall(b"\x00")
        assert closed_by_proxy(client)
    assert time.monotonic() - started < 4  # before: for as long as it dripped (and past the idle timeout)


def test_past_max_connections_a_new_connection_is_closed_at_once_and_the_proxy_reports_saturated(start_proxy, upstream):
    """An outside review opened 20,500 idle connections: the process ran out of file descriptors (20,000)."""
    proxy = start_proxy({"upstream": upstream.url, "max_connections": 3, **SPINE})
    admin = f"http://127.0.0.1:{proxy.admin_port}"
    held = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5) for _ in range(3)]
    try:
        deadline = time.monotonic() + 5
        while (ready := httpx.get(admin + "/readyz")).json().get("connections") != 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (ready.status_code, ready.json()["status"]) == (503, "saturated")
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as extra:
            extra.sendall(b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n")
            assert closed_by_proxy(extra, within=2)
        assert "wardgate_connections_refused_total 1.0" in httpx.get(admin + "/metrics").text
    finally:
        for client in held:
            client.close()
    deadline = time.monotonic() + 5
    while httpx.get(admin + "/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(proxy.url + "/v1/models", headers=AUTH).status_code == 200


def test_the_process_s_unfinished_request_bodies_are_bounded_together(start_proxy, upstream):
    """Each connection's unfinished body was bounded only by itself: many connections could hold as much as they
    liked together (to the pod's memory limit: an out-of-memory kill refuses everyone)."""
    proxy = start_proxy({"upstream": upstream.url, "max_body_bytes": 10_000, "max_pending_body_bytes": 20_000, **SPINE})
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "lorem ipsum " * 750}]}).encode()
    head = chat_head(body)
    before = len(upstream.received)
    clients = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5) for _ in range(3)]
    try:
        for client in clients:  # 9,000 bytes each, none finished: the third goes past
            client.sendall(head + body[:-1])
            time.sleep(0.2)
        answer = clients[2].recv(65536)
        clients[0].sendall(body[-1:])  # the others go on
        served = clients[0].recv(65536)
    finally:
        for client in clients:
            client.close()
    status, _, error = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 503"), answer[:200]
    assert b"retry-after: 1" in status.lower()
    refusal = json.loads(error)["error"]
    assert refusal["code"] == "overloaded"
    [event] = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == refusal["wardgate"]["decision_id"])
    assert (event["result"]["status"], event["result"]["code"]) == (503, "overloaded")
    assert served.startswith(b"HTTP/1.1 200"), served[:200]
    assert len(upstream.received) == before + 1


def test_the_heads_of_unfinished_http2_requests_count_with_their_bodies(start_proxy, upstream):
    """An outside review held 83 MB (and 18 s of CPU) with header-only HTTP/2 streams of 60 KB heads, bodies never
    begun: only body bytes were counted."""
    proxy = start_proxy({"upstream": upstream.url, "max_body_bytes": 10_000, **SPINE})  # 40,000 per connection
    headers = http2_chat_headers(*((f"x-note-{index}", "a" * 5_000) for index in range(5)), authorized=False)
    with http2_socket(proxy) as (client, h2):
        for stream in (1, 3):  # 25,000 bytes of head each, no body yet: the second goes past
            h2.send_headers(stream, headers)
        client.sendall(h2.data_to_send())
        refused, error = http2_answer(client, h2, 3)
    assert (refused[b":status"], json.loads(error)["error"]["code"]) == (b"413", "body_too_large")


def test_streams_that_time_out_give_their_bytes_back(start_proxy, upstream):
    """An outside review: the bytes of HTTP/2 streams refused with a 408 stayed counted, so after one attack every
    request with a body got 503 (and /readyz said ready) long after the attacker left."""
    settings = {"max_body_bytes": 10_000, "max_pending_body_bytes": 20_000, "client_timeout_s": 1}
    proxy = start_proxy({"upstream": upstream.url, **settings, **SPINE})
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "lorem ipsum " * 750}]}).encode()
    headers = http2_chat_headers(authorized=False)
    with http2_socket(proxy) as (client, h2):
        for stream in (1, 3):  # 18,000 bytes unfinished, no credential
            h2.send_headers(stream, headers)
            h2.send_data(stream, body[:-1])
        client.sendall(h2.data_to_send())
        assert [http2_answer(client, h2, stream)[0][b":status"] for stream in (1, 3)] == [b"408", b"408"]
    for _ in range(3):  # each would go past 20,000 with the 18,000 still counted
        response = httpx.post(proxy.url + "/v1/chat/completions", content=body, headers=AUTH)
        assert response.status_code == 200, response.text
    assert httpx.get(f"http://127.0.0.1:{proxy.admin_port}/readyz").status_code == 200


def test_an_http2_connection_s_unfinished_request_bodies_are_bounded_together(start_proxy, upstream):
    """An outside review's finding: mitmproxy acknowledges every byte and holds each body until it is whole, and
    `max_body_bytes` bounds one request: a hundred unfinished 15 MB bodies on one connection held 1.7 GB."""
    proxy = start_proxy({"upstream": upstream.url, "max_body_bytes": 10_000, **SPINE})  # four of them: 40,000 bytes
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "lorem ipsum " * 750}]}).encode()
    headers = http2_chat_headers()
    before = len(upstream.received)
    with http2_socket(proxy) as (client, h2):
        for stream in (1, 3, 5, 7, 9):  # 9,000 bytes each, none finished: the fifth goes past
            h2.send_headers(stream, headers)
            h2.send_data(stream, body[:-1])
        client.sendall(h2.data_to_send())
        refused, error = http2_answer(client, h2, 9)
        h2.send_data(1, body[-1:], end_stream=True)  # the others go on
        client.sendall(h2.data_to_send())
        served, _ = http2_answer(client, h2, 1)
    assert (refused[b":status"], refused[b"content-type"]) == (b"413", b"application/json")
    assert json.loads(error)["error"]["code"] == "body_too_large"
    decision = refused[b"x-wardgate-decision-id"].decode()
    [event] = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == decision)
    assert (event["result"]["status"], event["result"]["code"]) == (413, "body_too_large")
    assert served[b":status"] == b"200"
    assert len(upstream.received) == before + 1


class TestARequestMustArriveInTime:
    """mitmproxy's inactivity timer was the only limit on a client, and each byte reset it: a client dripping its
    head or body held its connection as long as it liked, and bytes that are no HTTP waited unanswered, unaudited."""

    @pytest.fixture
    @staticmethod
    def proxy(start_proxy, upstream):
        return start_proxy({"upstream": upstream.url, "client_timeout_s": 1, **SPINE})

    @staticmethod
    def answer_to(proxy, pieces: list[bytes], gap_s: float = 0.0) -> tuple[bytes, float]:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
            with contextlib.suppress(OSError):  # the proxy closes once it has refused
                for piece in pieces:
                    client.sendall(piece)
                    time.sleep(gap_s)
            answer = client.recv(65536)
        return answer, time.monotonic() - started

    @pytest.mark.parametrize("sent", [b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n", b"SSH-2.0-OpenSSH_9.6\r\n"],
                             ids=["head in part", "no HTTP"])  # fmt: skip
    def test_a_head_in_part_gets_a_json_408_at_the_limit_and_is_audited(self, proxy, sent):
        answer, waited = self.answer_to(proxy, [sent])
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer[:200]
        assert 1 <= waited < 5
        decision = json.loads(body)["error"]["wardgate"]["decision_id"]
        [event] = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == decision)
        assert (event["result"]["status"], event["result"]["code"]) == (408, "request_timeout")

    def test_dripped_empty_lines_before_a_request_line_are_a_request_in_time_too(self, proxy):
        """They are skipped as they come (RFC 9112 §2.2), which left nothing buffered: no deadline started (an
        outside review held a connection 20 s under a 3 s limit)."""
        answer, waited = self.answer_to(proxy, [b"\r\n"] * 12, gap_s=0.25)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert 1 <= waited < 5

    def test_a_dripped_body_gets_a_json_408_naming_its_flows_decision(self, proxy, upstream):
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()
        head = chat_head(body)
        before = len(upstream.received)
        answer, waited = self.answer_to(proxy, [head, *(body[i : i + 1] for i in range(6))], gap_s=0.3)
        head_out, _, error = answer.partition(b"\r\n\r\n")
        assert head_out.startswith(b"HTTP/1.1 408"), answer[:200]
        assert 1 <= waited < 5
        decision = json.loads(error)["error"]["wardgate"]["decision_id"]
        events = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == decision)
        assert [(e["result"]["status"], e["result"]["code"]) for e in events] == [(408, "request_timeout")]
        assert len(upstream.received) == before

    def test_an_http2_stream_whose_body_does_not_arrive_in_time_gets_a_json_408_and_its_connection_goes_on(
        self, proxy, upstream
    ):
        """An outside review kept a hundred HTTP/2 streams' bodies unfinished for as long as it liked (PINGs kept
        the connection alive), their bytes held all along."""
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()
        headers = http2_chat_headers()
        before = len(upstream.received)
        with http2_socket(proxy) as (client, h2):
            h2.send_headers(1, headers)
            h2.send_data(1, body[:10])  # and never the rest
            client.sendall(h2.data_to_send())
            started = time.monotonic()
            answer, error = http2_answer(client, h2, 1)
            waited = time.monotonic() - started
            h2.send_headers(3, headers)
            h2.send_data(3, body, end_stream=True)
            client.sendall(h2.data_to_send())
            served, _ = http2_answer(client, h2, 3)
        assert (answer[b":status"], answer[b"content-type"]) == (b"408", b"application/json")
        assert 1 <= waited < 5
        assert json.loads(error)["error"]["code"] == "request_timeout"
        decision = answer[b"x-wardgate-decision-id"].decode()
        [event] = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == decision)
        assert (event["result"]["status"], event["result"]["code"]) == (408, "request_timeout")
        assert served[b":status"] == b"200"
        assert len(upstream.received) == before + 1  # the whole one only

    def test_a_slow_request_that_arrives_whole_in_time_is_served_and_its_connection_may_then_idle(self, proxy):
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()
        head = chat_head(body)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
            for piece in (head[:20], head[20:], body[:5], body[5:]):
                client.sendall(piece)
                time.sleep(0.2)
            assert client.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(1.5)  # idle between requests: the idle timer's, not this limit's
            client.sendall(head + body)
            assert client.recv(65536).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("lead", [b"5;x=", b"5\r\nhello\r\n0\r\nx-t: "], ids=["chunk extension", "trailer"])
def test_a_chunk_line_or_trailer_that_never_ends_is_bounded_and_audited(proxy, lead):
    """h11 buffered a chunk-size line or trailer section until its end, and mitmproxy's body cap counted neither (an
    outside review: 2,000 MB held, +2 GB resident, from a client with no credential)."""
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
        client.sendall(head + lead)
        sent = offered_until_stopped(client, b"a" * 65536, 64 * 2**20)  # before: all of it taken
        assert closed_by_proxy(client)
    assert sent < 64 * 2**20
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "malformed_request")
