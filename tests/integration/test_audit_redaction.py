"""The audit trail, the logs and the exported spans never hold a secret or personal data, wherever a caller or an
upstream puts it: found values are redacted from every field of a flow's events (model, tool names and ids, object
keys, messages), messages quote chosen values only when they are short words, paths keep only route words, and the
caller's `tracestate` is neither exported nor put back over the judged header. Each case is an outside review's."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest

from tests.conftest import AUTH
from tests.integration.helpers import audit_events, policy_copy, wait_for_events
from wardgate.testing import FakeUpstream

AWS = "AKIAZ7Q3XK2M6PLW4RTY"  # unlike tests.conftest.AWS_KEY: its own canary
AWS_NO_DIGITS = "AKIAQWERTYUIOPASDFGH"
GITHUB = "ghp_Zq8VbN3kLm9RtYx2Wc5Hj7Pd4Fs6Ga1Ke0Uo"
EMAIL = "canary.person@example.com"
SSN = "219-09-9998"
NAME = "Zebulon_Quarterfield"
CANARIES = (AWS, AWS_NO_DIGITS, GITHUB, EMAIL, SSN, NAME)
QUIET = {"injection": {"enabled": False}}


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}], **extra}


@pytest.fixture(scope="module")
def proxy(start_proxy, upstream, receiver):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    return start_proxy({"upstream": upstream.url, "scanners": QUIET}, env=env)


def leaks(proxy, receiver) -> list[str]:
    """Where a canary (in any case) turned up: the audit file, the proxy's log lines, the exported spans."""
    places = {
        "audit": proxy.audit_file.read_text(),
        "log": "\n".join(proxy.output),
        "spans": "\n".join(
            f"{s.name} {s.trace_state} {s.status_message} {json.dumps(s.attributes, default=str)}"
            for s in receiver.spans
        ),
    }
    return [
        f"{canary} in {place}"
        for canary in CANARIES
        for place, text in places.items()
        if canary.lower() in text.lower()
    ]


def post(proxy, path: str, body: Any = None, *, headers: dict[str, str] | None = None, raw: bytes | None = None):
    content = raw if raw is not None else json.dumps(body if body is not None else chat()).encode()
    return httpx.post(
        proxy.url + path, content=content, headers={**AUTH, "content-type": "application/json", **(headers or {})}
    )


CASES = [
    ("model holds a key", "/v1/chat/completions", chat(model=AWS), None, None),
    ("model holds an e-mail", "/v1/chat/completions", chat(model=f"gpt-4o {EMAIL}"), None, None),
    (
        "model in the path",
        f"/v1beta/models/{GITHUB}:generateContent",
        {"contents": [{"parts": [{"text": "hi"}]}]},
        None,
        None,
    ),
    (
        "tool name",
        "/v1/chat/completions",
        chat(tools=[{"type": "function", "function": {"name": AWS, "parameters": {"type": "object"}}}]),
        None,
        None,
    ),
    ("object key", "/v1/chat/completions", chat(metadata={EMAIL: "x"}), None, None),
    (
        "duplicate key",
        "/v1/chat/completions",
        None,
        None,
        b'{"model": "gpt-4o-mini", "messages": [], "' + EMAIL.encode() + b'": 1, "' + EMAIL.encode() + b'": 2}',
    ),
    ("content encoding", "/v1/chat/completions", None, {"content-encoding": AWS}, b"x"),
    ("upgrade", "/v1/chat/completions", chat(), {"upgrade": AWS, "connection": "upgrade"}, None),
    ("key without digits in the path", f"/v1/chat/completions/{AWS_NO_DIGITS}", chat(), None, None),
    ("number in the path", f"/v1/{SSN}/chat/completions", chat(), None, None),
    ("percent-encoded key in the path", "/v1/" + AWS.replace("X", "%58") + "/chat/completions", chat(), None, None),
    ("tracestate", "/v1/chat/completions", chat(), {"tracestate": f"vendor={AWS}"}, None),
    # A second outside round: identifiers are read for secrets only, so personal data in them is never found.
    ("model glued to an e-mail", "/v1/chat/completions", chat(model=f"gpt-4o_{EMAIL}"), None, None),
    ("model is a number", "/v1/chat/completions", chat(model=SSN), None, None),
    (
        "tool named with a number",
        "/v1/chat/completions",
        chat(tools=[{"type": "function", "function": {"name": f"lookup_{SSN}", "parameters": {"type": "object"}}}]),
        None,
        None,
    ),
    ("upgrade names a person", "/v1/chat/completions", chat(), {"upgrade": NAME, "connection": "upgrade"}, None),
]


@pytest.mark.parametrize(("path", "body", "headers", "raw"), [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_a_canary_the_caller_chose_never_reaches_the_trail_logs_or_spans(proxy, receiver, path, body, headers, raw):
    before = len(audit_events(proxy.audit_file))
    response = post(proxy, path, body, headers=headers, raw=raw)
    assert response.status_code < 500, response.text  # judged: allowed, refused or masked, never broken
    assert wait_for_events(proxy.audit_file, lambda e: True, count=before + 1)
    time.sleep(0.5)  # the spans are exported every 100 ms
    assert leaks(proxy, receiver) == []


def test_a_tool_call_named_with_a_key_is_redacted_from_every_event_of_its_flow(start_proxy):
    """The answer's tool call (name and id) is judged in the answer and again as a call: neither event quotes it."""
    with FakeUpstream(tool_call=(AWS, ['{"q": 1}'])) as calling:
        proxy = start_proxy({"upstream": calling.url, "scanners": QUIET})
        body = chat(stream=True, tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}])
        with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30) as answer:
            answer.read()
        events = wait_for_events(proxy.audit_file, lambda e: e["phase"] in ("response", "tool_call"))
    assert events
    for line in proxy.audit_file.read_text().splitlines():
        assert AWS not in line, line


def test_a_masked_tracestate_is_not_put_back_from_the_span_context(start_proxy, tmp_path, upstream):
    """With secrets masked (not denied), the judged `tracestate` goes upstream: the span context that carried the
    caller's value wrote it back over the mask when Wardgate's `traceparent` was set."""
    policies = policy_copy(tmp_path, secrets={"request": "mask", "response": "mask"})
    proxy = start_proxy({"upstream": upstream.url, "scanners": QUIET}, policies=policies)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = post(proxy, "/v1/chat/completions", headers={"tracestate": f"vendor={AWS}", "traceparent": traceparent})
    assert response.status_code == 200, response.text
    sent = {key.lower(): value for key, value in upstream.headers[-1].items()}
    assert AWS not in sent.get("tracestate", "")
    assert sent["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")  # the caller's trace is joined


def test_mitmproxys_message_quoting_a_bad_chunk_header_stays_out_of_logs_and_spans(proxy, receiver):
    """A client's bad chunk header: mitmproxy's message quotes its bytes; the log and the span status get `<bytes>`."""
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: {AUTH['authorization']}\r\n"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
        client.sendall(f"{head}content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{AWS}\r\n".encode())
        client.recv(65536)
    wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "malformed_request")
    time.sleep(0.5)
    assert leaks(proxy, receiver) == []


def test_a_short_word_is_still_named_in_its_refusal(proxy):
    """Short words are still quoted: the message stays useful to the operator."""
    response = post(proxy, "/v1/chat/completions", headers={"content-encoding": "x-custom"}, raw=b"x")
    assert response.status_code in (400, 415)
    assert "'x-custom'" in response.json()["error"]["message"]


def test_a_method_that_is_none_of_https_is_refused_and_never_quoted(proxy, receiver, upstream):
    """A second outside round: any token was a method (`AKIA… /v1/chat/completions`), forwarded as it came and
    quoted by the audit, the access log and the span name."""
    before = len(upstream.received)
    response = httpx.request(AWS, proxy.url + "/v1/chat/completions", json=chat(), headers=AUTH)
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")
    assert len(upstream.received) == before
    time.sleep(0.5)
    assert leaks(proxy, receiver) == []
