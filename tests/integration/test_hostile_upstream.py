"""Upstreams that fail: unreachable, reset before answering, cut off mid-stream. The client always gets JSON or a
provider error event, never an HTML page or a stream that looks complete; the audit trail records the failure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
import time
from typing import Any

import anthropic
import httpx
import pytest
from aiohttp import web
from h2.errors import ErrorCodes
from h2.events import ResponseReceived

from tests.conftest import ANTHROPIC_KEY, AUTH, AWS_KEY, free_port
from tests.integration.helpers import (
    chat_head,
    closed_by_proxy,
    cpu_seconds,
    http2_context,
    http2_socket,
    log_lines,
    offered_until_stopped,
    policy_copy,
    wait_for_events,
)
from tests.tls import self_signed
from wardgate.intercept.head_limits import MAX_HEAD_BYTES
from wardgate.testing._server import BackgroundServer

SPINE = {"scanners": {"injection": {"enabled": False}}}
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def start_proxy(start_proxy):
    """The module's factory, whose proxies stop with the test that started them: this module starts about fifty,
    each holding its models (~550 MB), and kept to the module's end they filled a 24 GB machine (a proxy then took
    more than a minute to start)."""
    started = []

    def start(*args, **kwargs):
        started.append(start_proxy(*args, **kwargs))
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


class RawUpstream:
    """A TCP server that answers every connection with fixed bytes (a list: written apart, `gap_s` between), then
    closes (or resets) it; with no answer, it holds each connection open and never says anything (until closed).
    With `tls`, each connection is TLS (with that server context) before anything else."""

    def __init__(
        self,
        answer: bytes | list[bytes] | None,
        *,
        reset: bool = False,
        hold: bool = False,
        tls: ssl.SSLContext | None = None,
        gap_s: float = 0.05,
    ) -> None:
        self.port = free_port()
        self._answer, self._reset, self._hold, self._tls, self._gap_s = answer, reset, hold, tls, gap_s
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            if self._answer is None:
                self._held.append(conn)
                continue
            conn.recv(65536)
            try:
                for index, piece in enumerate([self._answer] if isinstance(self._answer, bytes) else self._answer):
                    time.sleep(self._gap_s if index else 0)
                    conn.sendall(piece)
            except OSError:  # the proxy gave up on it (a timeout): nothing more to say
                conn.close()
                continue
            if self._hold:  # answered in part, then silent
                self._held.append(conn)
                continue
            if self._reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()

    def close(self) -> None:
        self._server.close()
        for conn in self._held:
            conn.close()


def post_through(
    start_proxy, answer: bytes | list[bytes], *, reset: bool = False, body: dict[str, Any] = BODY
) -> tuple[Any, httpx.Response]:
    """A proxy in front of a raw upstream that answers `answer`, and one chat request through it."""
    upstream = RawUpstream(answer, reset=reset)
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", **SPINE})
        return proxy, httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)
    finally:
        upstream.close()


def timed_chat(start_proxy, config: dict[str, Any]) -> tuple[Any, httpx.Response, float]:
    """A proxy with `config` (scanners off), one chat request through it, and how long its answer took."""
    proxy = start_proxy({**config, **SPINE})
    started = time.monotonic()
    response = httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30)
    return proxy, response, time.monotonic() - started


def assert_upstream_timeout(proxy, response: httpx.Response, waited: float) -> list[dict[str, Any]]:
    """The client got a JSON 504 `upstream_timeout` at the 1 s limit (not at the idle timeout); its audit events."""
    assert (response.status_code, response.headers["content-type"]) == (504, "application/json")
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert 1 <= waited < 5
    return wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "upstream_timeout")


def test_an_unreachable_upstream_is_a_json_502_and_audited(start_proxy):
    proxy = start_proxy({"upstream": f"http://127.0.0.1:{free_port()}", **SPINE})
    response = httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "upstream_unavailable"
    [event] = wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "upstream_unavailable")
    # mitmproxy's own answer names the decision its audit event has, as Wardgate's refusals do
    assert response.headers["x-wardgate-decision-id"] == event["decision_id"]
    assert response.json()["error"]["wardgate"] == {"decision_id": event["decision_id"]}
    [access] = log_lines(proxy, event="access", decision_id=event["decision_id"])
    assert access["status"] == 502  # the answer mitmproxy wrote, as the client got it


def test_mitmproxys_own_error_answer_comes_in_the_providers_shape(start_proxy):
    """An Anthropic client reading an upstream failure gets Anthropic's error object, as for Wardgate's refusals."""
    proxy = start_proxy({"upstream": f"http://127.0.0.1:{free_port()}", **SPINE})
    message = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
    client = anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(**message)
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "api_error"
    decision = caught.value.response.headers["x-wardgate-decision-id"]
    assert caught.value.body["error"]["wardgate"] == {"code": "upstream_unavailable", "decision_id": decision}
    assert wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == decision)


def test_an_upstream_that_resets_before_answering_is_a_json_502(start_proxy):
    _, response = post_through(start_proxy, b"", reset=True)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"


@pytest.mark.parametrize(
    ("length", "reset"), [(False, False), (True, False), (True, True)], ids=["closed", "content-length", "reset"]
)
def test_a_stream_cut_off_mid_way_ends_with_an_error_event(start_proxy, length, reset):
    """Whether the upstream ends its body early at its close, breaks the transfer (a body shorter than it declared)
    or resets the connection, the client reads the provider's error event before its stream ends (an outside fault
    run found the broken ones merely stopping)."""
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    events = f"data: {json.dumps(chunk)}\n\n".encode()
    framing = f"content-length: {len(events) + 500}\r\n" if length else ""  # promises more than it sends
    head = f"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{framing}\r\n".encode()
    upstream = RawUpstream([head, events], reset=reset)
    received = b""
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", **SPINE})
        body = {**BODY, "stream": True}
        with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30) as answer:
            try:
                for piece in answer.iter_bytes():
                    received += piece
            except httpx.HTTPError:
                pass  # a truncated body is acceptable; a clean-looking end is not
    finally:
        upstream.close()
    text = received.decode()
    assert "Hel" in text
    assert "upstream_incomplete" in text
    assert text.index("Hel") < text.index("upstream_incomplete")
    stopped = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "response" and e["stream"])
    assert stopped[-1]["result"]["code"] == "upstream_incomplete"


def test_a_client_that_hangs_up_mid_stream_is_audited_as_gone_not_as_an_upstream_fault(start_proxy):
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
    upstream = RawUpstream([head, f"data: {json.dumps(chunk)}\n\n".encode()], hold=True)  # then silent
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", **SPINE})
        body = {**BODY, "stream": True}
        with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30) as answer:
            assert b"Hel" in next(answer.iter_bytes())
        stopped = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "response" and e["stream"])
    finally:
        upstream.close()
    assert [event["result"]["code"] for event in stopped] == ["client_closed"]


@pytest.mark.parametrize("chunked", [False, True], ids=["read-to-close", "chunked"])
def test_an_upstream_that_goes_quiet_mid_stream_ends_the_stream_with_a_timeout_error_event(start_proxy, chunked):
    """An outside review: mitmproxy's inactivity timer closes the client's side of a stream whose upstream went
    quiet, and the stream was audited as a client that left (499); a later fault run: the client got no error event,
    only a close, at the inactivity timeout. Now upstream_timeout_s of silence ends it with the provider's error event
    (before idle_timeout_s), audited as a 504."""
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    event = f"data: {json.dumps(chunk)}\n\n".encode()
    # Cut off, a body read to the close reads as ended, a chunked one as broken: both end as timed out.
    framing, body = (
        (b"transfer-encoding: chunked\r\n", b"%x\r\n%s\r\n" % (len(event), event)) if chunked else (b"", event)
    )
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n" + framing + b"\r\n"
    upstream = RawUpstream([head, body], hold=True)  # then silent
    received = b""
    try:
        config = {"upstream": f"http://127.0.0.1:{upstream.port}", "upstream_timeout_s": 1, "idle_timeout_s": 30}
        proxy = start_proxy({**config, **SPINE})
        body = {**BODY, "stream": True}
        started = time.monotonic()
        with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30) as answer:
            try:
                for piece in answer.iter_bytes():
                    received += piece
            except httpx.HTTPError:
                pass  # a truncated body is acceptable; a stream without the error event is not
        waited = time.monotonic() - started
        stopped = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "response" and e["stream"])
    finally:
        upstream.close()
    text = received.decode()
    assert text.index("Hel") < text.index('"code": "upstream_timeout"')
    assert waited < 10  # the stream's limit, not the connection's inactivity timer
    assert [(event["result"]["code"], event["result"]["status"]) for event in stopped] == [("upstream_timeout", 504)]


def test_a_slow_stream_whose_gaps_stay_under_the_limit_is_whole(start_proxy):
    """The limit is on silence, not on the stream's length: eight events 0.4 s apart under a 1 s limit."""
    chunks = [
        {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f"w{i} "}}]}
        for i in range(8)
    ]
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
    events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks] + [b"data: [DONE]\n\n"]
    upstream = RawUpstream([head, *events], gap_s=0.4)
    try:
        config = {"upstream": f"http://127.0.0.1:{upstream.port}", "upstream_timeout_s": 1}
        proxy = start_proxy({**config, **SPINE})
        with httpx.stream(
            "POST", proxy.url + "/v1/chat/completions", json={**BODY, "stream": True}, headers=AUTH, timeout=30
        ) as answer:
            text = answer.read().decode()
    finally:
        upstream.close()
    assert "w7 " in text
    assert "[DONE]" in text
    assert "error" not in text


def test_anthropic_sdk_raises_when_the_upstream_goes_quiet_mid_stream(start_proxy):
    """What an SDK user sees: the stream raises the provider's error (not a network error after minutes)."""
    start = {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "c",
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": 1, "output_tokens": 0}}}  # fmt: skip
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}
    events = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in (start, block, delta))
    upstream = RawUpstream([b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n", events], hold=True)
    try:
        config = {"upstream": f"http://127.0.0.1:{upstream.port}", "upstream_timeout_s": 1}
        proxy = start_proxy({**config, **SPINE})
        client = anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0, timeout=30)
        texts = []
        with (
            pytest.raises(anthropic.APIStatusError) as raised,
            client.messages.stream(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s,
        ):
            texts.extend(s.text_stream)
    finally:
        upstream.close()
    assert texts == ["Hel"]
    assert "upstream_timeout" in str(raised.value.body)


@pytest.mark.parametrize(
    ("framing", "sent", "code"),
    [
        ("content-length: 400", b'{"model": "gpt-4o-mini", "messages": [', "client_closed"),
        ("transfer-encoding: chunked", b'5\r\n{"a":\r\n', "client_closed"),
        ("transfer-encoding: chunked", b"zz\r\nhello\r\n", "malformed_request"),
    ],
    ids=["length-cut-short", "chunked-cut-short", "bad-chunk-header"],
)
def test_a_request_body_the_client_breaks_is_audited_as_the_clients(start_proxy, framing, sent, code):
    """Not as an unreachable upstream (the upstream was never asked): what the client did, in the request phase."""
    proxy = start_proxy({"upstream": f"http://127.0.0.1:{free_port()}", **SPINE})
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: {AUTH['authorization']}\r\n"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
        client.sendall(f"{head}content-type: application/json\r\n{framing}\r\n\r\n".encode() + sent)
        if code == "client_closed":
            time.sleep(0.2)
            client.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            client.recv(65536)
    [event] = wait_for_events(proxy.audit_file, lambda e: True)
    assert (event["phase"], event["result"]["code"]) == ("request", code)
    [access] = log_lines(proxy, event="access", decision_id=event["decision_id"])
    assert access["status"] == event["result"]["status"]


@pytest.mark.parametrize("upgrade", ["tcp", "websocket"])
def test_an_upstream_that_switches_protocols_on_its_own_is_refused(start_proxy, upgrade):
    """A 101 to a request that asked for no upgrade would make the connection a raw tunnel, judged by nothing."""
    head = f"HTTP/1.1 101 Switching Protocols\r\nupgrade: {upgrade}\r\nconnection: upgrade\r\n\r\n".encode()
    proxy, response = post_through(start_proxy, head + b"server says AKIAZ3MSJV4WWNKWW5FG")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_protocol"
    assert "AKIA" not in response.text
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "upstream_protocol")


class TricklingUpstream(BackgroundServer):
    """Answers every POST with an SSE body (or `content_type`) written piece by piece, each flushed as a chunk of its
    own."""

    def __init__(
        self,
        pieces: list[bytes],
        pause: float,
        content_type: str = "text/event-stream",
        *,
        by_path: dict[str, list[bytes]] | None = None,
    ) -> None:
        """`by_path`: other pieces for the POSTs to these paths."""
        super().__init__()
        self._pieces, self._pause, self._content_type = pieces, pause, content_type
        self._by_path = by_path or {}
        self.cut_off = threading.Event()  # a write found the connection gone before the last piece

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self._answer)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": self._content_type})
        await response.prepare(request)
        try:
            for piece in self._by_path.get(request.path, self._pieces):
                await response.write(piece)
                await asyncio.sleep(self._pause)
            await response.write_eof()
        except ConnectionError:
            self.cut_off.set()
        return response


def trickled(line: bytes, size: int = 1024) -> list[bytes]:
    return [line[start : start + size] for start in range(0, len(line), size)]


def long_delta(chars: int) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "x" * chars}}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


def test_a_long_line_in_small_chunks_streams_in_linear_time(start_proxy):
    """768 KB in 1 KB chunks: the parser once rescanned the line from its start on every chunk (13 s of CPU)."""
    with TricklingUpstream([*trickled(long_delta(768 * 1024)), b"data: [DONE]\n\n"], pause=0.001) as upstream:
        proxy = start_proxy({"upstream": upstream.url, **SPINE})
        started = time.perf_counter()
        body = {**BODY, "stream": True}
        response = httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=60)
        elapsed = time.perf_counter() - started
    assert response.text.count("x") >= 768 * 1024
    assert response.text.endswith("data: [DONE]\n\n")
    assert elapsed < 30, elapsed  # linear: ~1-2 s here; quadratic parsing or scanning took minutes


def test_an_event_past_max_event_bytes_ends_the_stream_with_an_audited_error(start_proxy):
    pieces = [long_delta(10), *trickled(long_delta(200 * 1024)), b"data: [DONE]\n\n"]
    with TricklingUpstream(pieces, pause=0) as upstream:
        proxy = start_proxy({"upstream": upstream.url, "streaming": {"max_event_bytes": 128 * 1024}, **SPINE})
        body = {**BODY, "stream": True}
        response = httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=60)
    *passed, last = [line for line in response.text.split("\n") if line.startswith("data: ")]
    assert [json.loads(line[6:])["choices"][0]["delta"]["content"] for line in passed] == ["x" * 10]
    assert json.loads(last[6:])["error"]["code"] == "event_too_large"
    decision = response.headers["x-wardgate-decision-id"]
    [event] = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == decision and e["phase"] == "response")
    assert (event["result"]["code"], event["streamed"]["stopped"]) == ("event_too_large", True)


def test_a_stopped_stream_ends_for_the_client_at_once_and_its_upstream_is_cut_off(start_proxy):
    """A stopped stream used to read its upstream to the end, passing nothing: the client waited for the end of the
    body and the upstream went on generating (and billing)."""
    big, rest = trickled(long_delta(200 * 1024), 16 * 1024), [long_delta(10)] * 400
    with TricklingUpstream([long_delta(10), *big, *rest, b"data: [DONE]\n\n"], pause=0.05) as upstream:  # ~21 s
        proxy = start_proxy({"upstream": upstream.url, "streaming": {"max_event_bytes": 128 * 1024}, **SPINE})
        started = time.monotonic()
        body = {**BODY, "stream": True}
        response = httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=60)
        elapsed = time.monotonic() - started
        assert upstream.cut_off.wait(10)
    assert "event_too_large" in response.text
    assert elapsed < 8, elapsed  # stopped after ~9 pieces (~0.5 s); the 400 after them are not awaited
    decision = response.headers["x-wardgate-decision-id"]
    [event] = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == decision and e["phase"] == "response")
    assert (event["result"]["code"], event["streamed"]["stopped"]) == ("event_too_large", True)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_an_answer_ending_in_trailers_reaches_the_client_without_them(start_proxy, stream):
    """mitmproxy's HTTP/1 reader once raised on trailer fields: the client got nothing. Now they are dropped."""
    if stream:
        chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
        body, kind = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode(), "text/event-stream"
    else:
        answer = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": "Hi"}}]}
        body, kind = json.dumps(answer).encode(), "application/json"
    head = f"HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ntransfer-encoding: chunked\r\n\r\n".encode()
    answer = head + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\nx-note: trailing\r\n\r\n"
    _, response = post_through(start_proxy, answer, body={**BODY, "stream": stream})
    assert (response.status_code, response.content) == (200, body)


def test_an_mcp_event_past_max_event_bytes_ends_the_stream_with_an_audited_json_rpc_error(start_proxy):
    result = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": "x" * 200 * 1024}]}}
    with TricklingUpstream(trickled(f"event: message\ndata: {json.dumps(result)}\n\n".encode()), pause=0) as upstream:
        proxy = start_proxy({"upstream": upstream.url, "streaming": {"max_event_bytes": 128 * 1024}, **SPINE})
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "lookup", "arguments": {}}}
        response = httpx.post(proxy.url + "/mcp", json=call, headers=AUTH, timeout=60)
    [line] = [line for line in response.text.split("\n") if line.startswith("data: ")]
    error = json.loads(line[6:])
    assert (error["id"], error["error"]["data"]["wardgate"]) == (7, "event_too_large")
    decision = response.headers["x-wardgate-decision-id"]
    assert wait_for_events(
        proxy.audit_file, lambda e: e["decision_id"] == decision and e["result"]["code"] == "event_too_large"
    )


def test_an_mcp_tool_result_too_long_to_judge_in_time_is_refused_in_time(start_proxy):
    """A tool result inside an MCP stream is judged on a worker thread that nothing cancels: ~1 MB of prose held one
    for minutes (the injection model's passes over every window). Each scanner now stops at the scanners' budget."""
    text = " ".join(f"Shipment {i} reached the northern depot on time and was signed for." for i in range(12_000))
    result = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}]}}
    with TricklingUpstream(trickled(f"event: message\ndata: {json.dumps(result)}\n\n".encode(), 64 * 1024), 0) as up:
        proxy = start_proxy({"upstream": up.url, "scanners": {"timeout_ms": 500}})
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "lookup", "arguments": {}}}
        started = time.monotonic()
        response = httpx.post(proxy.url + "/mcp", json=call, headers=AUTH, timeout=120)
        waited = time.monotonic() - started
    [line] = [line for line in response.text.split("\n") if line.startswith("data: ")]
    error = json.loads(line[6:])
    assert (error["id"], error["error"]["data"]["wardgate"]) == (7, "scanner_error")
    assert waited < 20  # the budget twice (a scan, and the decision's scan), normalising ~850 KB, one pass each
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "scanner_error")


def test_an_http2_client_that_resets_its_stream_while_a_chunk_is_judged_stops_the_judgement(start_proxy):
    """Found by an outside red-team run: an HTTP/2 client that reset its stream while a chunk of its answer was
    judged was noticed when that judgement ended, a whole scan budget later (mitmproxy queues the reset behind the
    hook). The reset now gives the judgement up at its scanners' next check of their budget."""
    text = " ".join(f"Shipment {i} reached the northern depot on time and was signed for." for i in range(12_000))
    result = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}]}}
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "lookup", "arguments": {}}}
    with TricklingUpstream(trickled(f"event: message\ndata: {json.dumps(result)}\n\n".encode(), 64 * 1024), 0) as up:
        # The budget far past the test's waits: only the reset can end this judgement in time.
        proxy = start_proxy({"upstream": up.url, "scanners": {"timeout_ms": 120_000}, "deadline_s": 180})
        with http2_socket(proxy) as (client, h2):
            headers = [(":method", "POST"), (":scheme", "https"), (":authority", "127.0.0.1"), (":path", "/mcp"),
                       ("content-type", "application/json"), ("accept", "application/json, text/event-stream"),
                       ("authorization", AUTH["authorization"])]  # fmt: skip
            h2.send_headers(1, headers)
            h2.send_data(1, json.dumps(call).encode(), end_stream=True)
            client.sendall(h2.data_to_send())
            answer: dict[bytes, bytes] = {}
            while not answer:  # the answer's head: its stream is being judged from here on
                for event in h2.receive_data(client.recv(65536)):
                    if isinstance(event, ResponseReceived):
                        answer = dict(event.headers)
                client.sendall(h2.data_to_send())
            assert answer[b":status"] == b"200"
            time.sleep(2.0)  # the event is whole: its ~850 KB tool result is being judged (minutes of passes)
            busy = cpu_seconds(proxy.pid)
            time.sleep(0.5)
            assert cpu_seconds(proxy.pid) - busy > 0.2  # the judgement is running
            h2.reset_stream(1, ErrorCodes.CANCEL)
            client.sendall(h2.data_to_send())
            reset = time.monotonic()
            decision = answer[b"x-wardgate-decision-id"].decode()
            answered = ("response", "tool_result")  # the stream's event, not the call's (`tool_call`)
            events = wait_for_events(
                proxy.audit_file, lambda e: e["decision_id"] == decision and e["phase"] in answered, timeout=10
            )
            assert events, "the stream's audit event waited for the judgement's end"
            assert time.monotonic() - reset < 5  # it was the budget: two minutes
            assert events[0]["result"]["allow"] is False
    quiet = cpu_seconds(proxy.pid)
    time.sleep(1.0)
    assert cpu_seconds(proxy.pid) - quiet < 0.3  # no judgement left running


def test_a_model_s_answer_stream_is_not_held_behind_slow_mcp_judgements(start_proxy):
    """Found reading the code: every judged stream of the process shared one pool of eight threads, so eight MCP
    tool results under judgement (the injection model over each, up to the scan budget) held every model answer
    stream until one of them ended. MCP streams now have threads of their own."""
    text = " ".join(f"Shipment {i} reached the northern depot on time and was signed for." for i in range(12_000))
    result = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}]}}
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "lookup", "arguments": {}}}
    answer = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Done."}}]}
    chat = [f"data: {json.dumps(answer)}\n\n".encode(), b"data: [DONE]\n\n"]
    mcp = trickled(f"event: message\ndata: {json.dumps(result)}\n\n".encode(), 64 * 1024)
    with TricklingUpstream(mcp, 0, by_path={"/v1/chat/completions": chat}) as up:
        # The budget far past the test's waits: the tool results are still being judged when the chat is sent.
        proxy = start_proxy({"upstream": up.url, "scanners": {"timeout_ms": 120_000}, "deadline_s": 180})

        def call_the_tool() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the proxy stops under it at the test's end
                httpx.post(proxy.url + "/mcp", json=call, headers=AUTH, timeout=60)

        callers = [threading.Thread(target=call_the_tool, daemon=True) for _ in range(8)]
        for caller in callers:
            caller.start()
        time.sleep(4.0)  # every tool result is whole and under judgement (minutes of passes each)
        busy = cpu_seconds(proxy.pid)
        time.sleep(0.5)
        assert cpu_seconds(proxy.pid) - busy > 0.2
        started = time.monotonic()
        response = httpx.post(proxy.url + "/v1/chat/completions", json={**BODY, "stream": True}, headers=AUTH,
                              timeout=60)  # fmt: skip
        waited = time.monotonic() - started
        assert waited < 15  # it waited for a free thread: a tool result's whole judgement (up to the 120 s budget)
        assert all(caller.is_alive() for caller in callers)  # the tool results were still being judged
        proxy.stop()
    assert response.status_code == 200
    assert "Done." in response.text
    assert "[DONE]" in response.text


@pytest.mark.parametrize("answer", ["sse", "json"])
def test_an_mcp_answer_batching_many_tool_results_is_judged_within_one_budget(start_proxy, answer):
    """Found by an outside review: the budget was per scanner call, and an answer batching 40 results (each read by
    every scanner) took the budget 40 times over. A chunk's or an answer's judgement now has one budget for all."""
    text = " ".join(f"call 555-01{i % 100:02d} or write to desk{i}@example.com about order {i}" for i in range(400))
    batch = json.dumps([{"jsonrpc": "2.0", "id": n, "result": {"content": [{"type": "text", "text": text}]}}
                        for n in range(40)])  # fmt: skip
    if answer == "sse":
        upstream = TricklingUpstream([f"event: message\ndata: {batch}\n\n".encode()], 0)
    else:
        upstream = TricklingUpstream([batch.encode()], 0, content_type="application/json")
    with upstream:
        proxy = start_proxy({"upstream": upstream.url, "scanners": {"timeout_ms": 1000}})
        calls = [
            {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": "lookup", "arguments": {}}}
            for n in range(40)
        ]
        started = time.monotonic()
        response = httpx.post(proxy.url + "/mcp", json=calls, headers=AUTH, timeout=300)
        waited = time.monotonic() - started
    assert "desk1@example.com" not in response.text  # nothing of it passed unjudged
    assert waited < 15  # one budget, and the scanner call running at its end; it was over a minute
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "scanner_error")


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd", "compress"])
def test_an_mcp_stream_compressed_against_our_ask_is_judged_or_stopped(start_proxy, encoding):
    """Wardgate asks for `identity`; an MCP server that compresses its SSE answer anyway once had it passed as it
    came: no event could be read in it, and the client inflated a tool result no one had judged. An encoding
    Wardgate cannot read (`compress`) stops the stream; br and zstd, once stopped too, are read."""
    import gzip

    import brotli
    import zstandard

    result = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": f"key: {AWS_KEY}"}]}}
    events = f"event: message\ndata: {json.dumps(result)}\n\n".encode()
    compress = {"br": brotli.compress, "zstd": zstandard.ZstdCompressor().compress}.get(encoding, gzip.compress)
    body = compress(events)
    head = f"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: {encoding}\r\n"
    head += f"content-length: {len(body)}\r\n\r\n"
    upstream = RawUpstream(head.encode() + body)
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", **SPINE})
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "lookup", "arguments": {}}}
        response = httpx.post(proxy.url + "/mcp", json=call, headers=AUTH, timeout=30)
    finally:
        upstream.close()
    assert AWS_KEY not in response.text
    [line] = [line for line in response.text.split("\n") if line.startswith("data: ")]
    error = json.loads(line[6:])
    code = "stream_unreadable" if encoding == "compress" else "secret_detected"
    assert (error["id"], error["error"]["data"]["wardgate"]) == (7, code)
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == code)


def chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


def leaked_event(text: str, *, duplicate: bool = False) -> bytes:
    delta = f'"content": "{text}", "content": "ok"' if duplicate else f'"content": "{text}"'
    return f'data: {{"id": "c", "choices": [{{"index": 0, "delta": {{{delta}}}}}]}}\n\ndata: [DONE]\n\n'.encode()


@pytest.mark.parametrize(
    ("framing", "stream"),
    [
        ("transfer-encoding: gzip, chunked", True),  # mitmproxy undoes the chunking, the client the gzip
        ("content-type: text/event-stream; charset=utf-16", True),  # the client decodes UTF-16
        ("content-type: application/json; charset=utf-7", False),  # requests' .json() decodes UTF-7
    ],
    ids=["transfer-coding", "utf-16-stream", "utf-7-json"],
)
def test_an_answer_the_client_would_decode_otherwise_than_wardgate_reads_it_is_refused(start_proxy, framing, stream):
    """Found by an outside red team: each of these put the key in the client's hands while Wardgate read bytes in
    which no scanner could see it."""
    import gzip

    if framing.startswith("transfer-encoding"):
        head, body = "content-type: text/event-stream\r\n" + framing, chunked(gzip.compress(leaked_event(AWS_KEY)))
    elif stream:
        head, body = (
            framing + "\r\ntransfer-encoding: chunked",
            chunked(leaked_event(AWS_KEY).decode().encode("utf-16")),
        )
    else:
        answer = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": AWS_KEY}}]}
        encoded = json.dumps(answer).encode("utf-7")
        head, body = f"{framing}\r\ncontent-length: {len(encoded)}", encoded
    proxy, response = post_through(
        start_proxy, f"HTTP/1.1 200 OK\r\n{head}\r\n\r\n".encode() + body, body={**BODY, "stream": stream}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (502, "response_unreadable")
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "response_unreadable")


def test_a_key_in_the_first_of_two_duplicate_keys_of_an_event_is_judged(start_proxy):
    """A client whose parser keeps the first value would read the key; Wardgate once read only the last."""
    answer = chunked(leaked_event(AWS_KEY, duplicate=True))
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    _, response = post_through(start_proxy, head + answer, body={**BODY, "stream": True})
    assert response.status_code == 200
    assert AWS_KEY not in response.text


@pytest.mark.parametrize("label", ["deflate-zlib", "deflate-raw", "gzip-but-plain", "deflate-but-plain"])
def test_a_stream_is_read_as_its_client_reads_it_whatever_its_content_encoding_claims(start_proxy, label):
    """RFC 9110's deflate is zlib-wrapped and some servers send it raw: clients read both, so Wardgate reads both
    and judges them. Bytes that are not what their label says are stopped as unreadable, audited as such."""
    import zlib

    encoding, kind = label.split("-")[0], label.split("-")[-1]
    events = leaked_event(AWS_KEY)
    if kind == "plain":
        sent = events
    else:
        compressor = zlib.compressobj(wbits=zlib.MAX_WBITS if kind == "zlib" else -zlib.MAX_WBITS)
        sent = compressor.compress(events) + compressor.flush()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: {encoding}\r\n"
    answer = head.encode() + b"transfer-encoding: chunked\r\n\r\n" + chunked(sent)
    proxy, response = post_through(start_proxy, answer, body={**BODY, "stream": True})
    assert response.status_code == 200
    assert AWS_KEY not in response.text
    if kind == "plain":
        assert "stream_unreadable" in response.text
        assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "stream_unreadable")
    else:
        assert "[DONE]" in response.text
        assert "stream_unreadable" not in response.text


EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nlink: </app.css>; rel=preload\r\n\r\n"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("written", ["together", "apart"])
def test_informational_answers_are_skipped_and_the_answer_after_them_judged(start_proxy, stream, written):
    """mitmproxy's HTTP/1 client took a 103 for the answer: the client got the 103 and waited for an answer that
    never came. Now the final answer is the one judged and sent (a 100 the request never asked for too)."""
    if stream:
        head, body = "content-type: text/event-stream\r\ntransfer-encoding: chunked", chunked(leaked_event(AWS_KEY))
    else:
        answer = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": AWS_KEY}}]}
        body = json.dumps(answer).encode()
        head = f"content-type: application/json\r\ncontent-length: {len(body)}"
    final = f"HTTP/1.1 200 OK\r\n{head}\r\n\r\n".encode() + body
    informational = EARLY_HINTS + b"HTTP/1.1 100 Continue\r\n\r\n"
    pieces = [informational + final] if written == "together" else [EARLY_HINTS[:20], EARLY_HINTS[20:], final]
    proxy, response = post_through(start_proxy, pieces, body={**BODY, "stream": stream})
    assert response.status_code == 200, response.text
    assert AWS_KEY not in response.text
    assert "[DONE]" in response.text if stream else response.json()["id"] == "c"
    assert wait_for_events(proxy.audit_file, lambda e: e["phase"] == "response" and e["result"]["status"] == 200)


def test_an_upstream_that_sends_only_informational_answers_is_a_json_502(start_proxy):
    proxy, response = post_through(start_proxy, EARLY_HINTS * 40)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["status"] == 502)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize(
    "head",
    [None, b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>", b"HTTP/1.1 200 OK\r\nserver: x"],
    ids=["nothing", "part of a 103", "part of a 200"],
)
def test_an_upstream_that_never_answers_is_a_json_504_and_audited(start_proxy, tmp_path, head, tls):
    """Silent from the start, or after part of an answer's head, over TCP or TLS. Found by an outside review: the
    answer timer's line, read as the last header value of an unfinished head, completed it (a 103 was skipped, a 200
    began), and the flow waited on; a TLS upstream's layer took the line for a bad record, and the flow hung."""
    config: dict[str, Any] = {"upstream_timeout_s": 1}
    context = None
    if tls:
        cert, key = self_signed(tmp_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        config["upstream_ca"] = str(cert)
    upstream = RawUpstream(None, tls=context) if head is None else RawUpstream([head], hold=True, tls=context)
    try:
        config["upstream"] = f"{'https' if tls else 'http'}://127.0.0.1:{upstream.port}"
        proxy, response, waited = timed_chat(start_proxy, config)
    finally:
        upstream.close()
    assert assert_upstream_timeout(proxy, response, waited)


@pytest.mark.parametrize("drip", [False, True], ids=["cut-off-then-silent", "a-byte-at-a-time"])
def test_a_buffered_answer_whose_body_does_not_arrive_whole_in_time_is_a_json_504(start_proxy, drip):
    """An outside review's findings: after its head, a body cut off then silent got the client a bare close at the
    idle timeout, and one dripped a byte at a time never timed out (each byte restarted the idle timer)."""
    body = json.dumps(
        {
            "id": "c",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, how are you today?"}}],
        }
    ).encode()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
    pieces = [head, *(body[i : i + 1] for i in range(len(body)))] if drip else [head + body[:20]]
    _, event = answer_cut_off(start_proxy, pieces)
    assert "whole answer" in event["result"]["reasons"][0]["message"]


def answer_cut_off(start_proxy, pieces: list[bytes]) -> tuple[Any, dict[str, Any]]:
    """A proxy (1 s upstream limit) in front of an upstream that answers `pieces` then goes silent, one chat through
    it: the client got the JSON 504 at the limit, naming its audit event; (the proxy, that event)."""
    upstream = RawUpstream(pieces, hold=True)
    try:
        config = {"upstream": f"http://127.0.0.1:{upstream.port}", "upstream_timeout_s": 1, "idle_timeout_s": 30}
        proxy, response, waited = timed_chat(start_proxy, config)
    finally:
        upstream.close()
    [event] = assert_upstream_timeout(proxy, response, waited)
    assert response.headers["x-wardgate-decision-id"] == event["decision_id"]
    return proxy, event


@pytest.mark.parametrize("framing", ["chunked", "until-close"])
def test_a_buffered_answer_of_no_declared_length_that_goes_quiet_is_a_json_504(start_proxy, framing):
    """An outside review's finding: an answer of no declared length cut off then silent held its client until the
    idle timeout, which then audited the upstream's fault as the client's (499 client_closed)."""
    part = b'{"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message"'
    if framing == "chunked":
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        pieces = [head, b"%x\r\n%s\r\n" % (len(part), part)]
    else:
        pieces = [b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n", part]
    proxy, event = answer_cut_off(start_proxy, pieces)
    assert event["result"]["reasons"][0]["message"] == "the upstream did not send the rest of its answer in time"
    assert not wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "client_closed", timeout=0.5)


def test_a_buffered_stream_of_no_declared_length_may_take_longer_than_the_answer_limit(start_proxy):
    """A second outside review's finding: Ollama's JSON Lines stream, which Wardgate buffers, got a 504 once it took
    longer than `upstream_timeout_s` after its head; its lines keep it alive, as a stream's do."""
    lines = [json.dumps({"model": "llama3", "message": {"role": "assistant", "content": f"w{n} "}, "done": False})
             for n in range(40)] + [json.dumps({"model": "llama3", "message": {"role": "assistant", "content": ""},
                                               "done": True})]  # fmt: skip
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n"
    chunks = [b"%x\r\n%s\n\r\n" % (len(line) + 1, line.encode()) for line in lines]
    upstream = RawUpstream([head, *chunks, b"0\r\n\r\n"])  # 50 ms apart: ~2 s
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", "upstream_timeout_s": 1, **SPINE})
        body = {"model": "llama3", "messages": [{"role": "user", "content": "hi"}]}
        response = httpx.post(proxy.url + "/api/chat", json=body, headers=AUTH, timeout=30)
    finally:
        upstream.close()
    assert response.status_code == 200, response.text
    assert len(response.text.splitlines()) == 41


def test_an_upstream_that_never_finishes_its_tls_handshake_is_a_504(start_proxy):
    """Found by an outside review: a connection open over TCP but stalled in its TLS handshake was not looked for as
    still opening, and the client waited for the idle timeout's close (a bare close, no answer)."""
    upstream = RawUpstream(None)  # accepts, and never answers the ClientHello
    try:
        config = {"upstream": f"https://127.0.0.1:{upstream.port}", "upstream_connect_timeout_s": 1}
        proxy, response, waited = timed_chat(start_proxy, config)
    finally:
        upstream.close()
    assert (response.status_code, response.json()["error"]["code"]) == (504, "upstream_timeout")
    assert 1 <= waited < 5
    [event] = wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "upstream_timeout")
    assert response.headers["x-wardgate-decision-id"] == event["decision_id"]


def test_an_upstream_quoting_the_timeout_mark_is_no_timeout(start_proxy):
    """mitmproxy's refusal of an answer quotes it; the error page's mark is random, so no upstream can make a 502 of
    its own read as our 504."""
    proxy, response = post_through(start_proxy, b"WARDGATE-UPSTREAM-TIMEOUT\r\n\r\n")
    assert (response.status_code, response.json()["error"]["code"]) == (502, "upstream_unavailable")
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "upstream_unavailable")


def test_an_upstream_that_never_accepts_the_connection_is_a_504(start_proxy):
    # A listener whose accept queue is full: the kernel drops the proxy's SYNs and its connect hangs.
    full = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = full.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        config = {"upstream": f"http://127.0.0.1:{port}", "upstream_connect_timeout_s": 1}
        proxy, response, waited = timed_chat(start_proxy, config)
    finally:
        for sock in (*fillers, full):
            sock.close()
    assert (response.status_code, response.json()["error"]["code"]) == (504, "upstream_timeout")
    assert 1 <= waited < 5
    event = wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "upstream_timeout")[-1]
    assert "accept the connection" in event["result"]["reasons"][0]["message"]


@pytest.mark.parametrize(
    "answer",
    [
        b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"id": "short"',
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5\r\n"
        b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    ids=["short body", "length and chunked"],
)
def test_an_answer_that_breaks_its_own_framing_is_a_json_502_and_audited(start_proxy, answer):
    proxy, response = post_through(start_proxy, answer)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "upstream_unavailable")


def test_an_answer_past_the_body_cap_is_a_502_audited_as_the_response_it_was(start_proxy):
    upstream = RawUpstream(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n")
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", "max_body_bytes": 4096, **SPINE})
        response = httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30)
    finally:
        upstream.close()
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    events = wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "response_too_large")
    assert [(e["phase"], e["result"]["status"]) for e in events] == [("response", 502)]


def http2_client(proxy) -> httpx.Client:
    return httpx.Client(http1=False, http2=True, verify=http2_context(proxy), headers=AUTH, timeout=30)


def test_an_http2_client_gets_json_not_mitmproxys_html_page(start_proxy):
    """mitmproxy's HTTP/2 layer writes its error answers itself, as text/html: an HTTP/2 client gets the JSON an
    HTTP/1 one gets, with the decision id of its audit event, for an unreachable upstream and for a timed-out one."""
    silent = RawUpstream(None)
    try:
        for upstream, status, code in [
            (f"http://127.0.0.1:{free_port()}", 502, "upstream_unavailable"),
            (f"http://127.0.0.1:{silent.port}", 504, "upstream_timeout"),
        ]:
            proxy = start_proxy({"upstream": upstream, "upstream_timeout_s": 1, **SPINE})
            with http2_client(proxy) as client:
                response = client.post(proxy.url.replace("http://", "https://") + "/v1/chat/completions", json=BODY)
            assert (response.http_version, response.status_code) == ("HTTP/2", status)
            assert response.headers["content-type"] == "application/json"
            [event] = wait_for_events(proxy.audit_file, lambda e, code=code: e["result"]["code"] == code)
            assert response.headers["x-wardgate-decision-id"] == event["decision_id"]
            error = response.json()["error"]
            assert (error["code"], error["wardgate"]) == (code, {"decision_id": event["decision_id"]})
    finally:
        silent.close()


async def test_streams_of_an_http2_client_waiting_for_one_attempt_all_time_out_as_504s(start_proxy):
    """mitmproxy gives an HTTP/2 client's streams one connection attempt to the upstream; when the first stream's
    timer ends it, the others waiting for it got a 502 as if the upstream had failed them otherwise."""
    upstream = RawUpstream(None)  # accepts, and never answers the ClientHello
    try:
        config = {"upstream": f"https://127.0.0.1:{upstream.port}", "upstream_connect_timeout_s": 1.5, **SPINE}
        proxy = start_proxy(config)
        url = proxy.url.replace("http://", "https://") + "/v1/chat/completions"
        verify = http2_context(proxy)
        async with httpx.AsyncClient(http1=False, http2=True, verify=verify, headers=AUTH, timeout=30) as client:

            async def post(after: float) -> httpx.Response:
                await asyncio.sleep(after)
                return await client.post(url, json=BODY)

            first, second = await asyncio.gather(post(0), post(0.5))
    finally:
        upstream.close()
    for response in (first, second):
        assert (response.http_version, response.status_code) == ("HTTP/2", 504)
        assert response.json()["error"]["code"] == "upstream_timeout"
    events = wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "upstream_timeout")
    assert {first.headers["x-wardgate-decision-id"], second.headers["x-wardgate-decision-id"]} == {
        event["decision_id"] for event in events
    }


def test_an_answer_with_thousands_of_header_fields_is_a_json_502_and_audited(start_proxy):
    fields = "".join(f"x-h{index}: v\r\n" for index in range(5_000)).encode()
    proxy, response = post_through(
        start_proxy, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + fields + b"content-length: 2\r\n\r\n{}"
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "response_unreadable"
    assert "header fields" in response.json()["error"]["message"]
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "response_unreadable")


_MCP_TOOLS = [{"name": name, "description": "d", "inputSchema": {"type": "object"}} for name in ("add", "shell_exec")]


def mcp_answer_through(start_proxy, tmp_path, content_type: str, body: str, *, get: bool = False):
    """(the proxy, what the client got) for a tools/list (a POST, or the session stream a GET asks for) answered
    with `body` as `content_type`, under a policy that denies `shell_*`."""
    encoded = body.encode()
    upstream = RawUpstream(
        f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {len(encoded)}\r\n\r\n".encode() + encoded
    )
    try:
        policies = policy_copy(tmp_path, tools={"deny": ["shell_*"]})
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", **SPINE}, policies=policies)
        if get:
            return proxy, httpx.get(proxy.url + "/mcp", headers={**AUTH, "accept": "text/event-stream"}, timeout=30)
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        return proxy, httpx.post(proxy.url + "/mcp", json=request, headers=AUTH, timeout=30)
    finally:
        upstream.close()


@pytest.mark.parametrize(
    ("content_type", "read_as_events", "get"),
    [("text/event-stream2", True, False), ("text/plain", True, False), ("application/json", False, False),
     ("text/plain", True, True)],
)  # fmt: skip
def test_an_mcp_answer_is_judged_as_its_clients_read_it_whatever_its_content_type(
    start_proxy, tmp_path, content_type, read_as_events, get
):
    """MCP SDKs read an answer as events unless it says JSON, and the TypeScript SDK reads the session stream a GET
    asks for as SSE whatever its type: judged as plain text, a near-miss type carried a denied tool to the agent (an
    outside review)."""
    message = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"tools": _MCP_TOOLS}})
    body = f"event: message\ndata: {message}\n\n" if read_as_events else message
    _, answer = mcp_answer_through(start_proxy, tmp_path, content_type, body, get=get)
    assert answer.status_code == 200
    assert "add" in answer.text
    assert "shell_exec" not in answer.text


def test_an_mcp_event_with_a_key_twice_is_refused(start_proxy, tmp_path):
    """The SDKs keep a repeated key's last value: judged as one text, a tools/list so spelled skipped the tool filter
    and the poisoning rules (an outside review)."""
    data = '{"jsonrpc": "2.0", "id": 1, "result": {"tools": []}, "result": ' + json.dumps({"tools": _MCP_TOOLS}) + "}"
    proxy, answer = mcp_answer_through(start_proxy, tmp_path, "text/event-stream", f"event: message\ndata: {data}\n\n")
    assert "shell_exec" not in answer.text
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "stream_unreadable")


def test_a_json_rpc_message_on_a_provider_s_route_is_refused(start_proxy):
    """Read as the provider's request, an MCP tools/call at /api/chat skipped the tool policy; read as MCP, a
    provider's request would skip its tool stripping (an outside review)."""
    upstream = RawUpstream(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", **SPINE})
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "shell_exec", "arguments": {}}}
        answer = httpx.post(proxy.url + "/api/chat", json=call, headers=AUTH, timeout=30)
    finally:
        upstream.close()
    assert answer.status_code == 400
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "malformed_request")


def test_an_upstream_answer_head_that_never_ends_is_a_json_502_at_its_limit(start_proxy):
    """mitmproxy buffered an answer's head until its blank line, without a limit (its own FIXME): an upstream could
    grow the proxy's memory with every request forwarded to it, and the client waited for the upstream timeout."""
    endless = b"HTTP/1.1 200 OK\r\n" + (b"x-pad: " + b"a" * 8192 + b"\r\n") * (2 * MAX_HEAD_BYTES // 8192)
    upstream = RawUpstream(endless, hold=True)
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", **SPINE})
        started = time.monotonic()
        response = httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30)
    finally:
        upstream.close()
    assert (response.status_code, response.headers["content-type"]) == (502, "application/json")
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert time.monotonic() - started < 10
    assert wait_for_events(proxy.audit_file, lambda e: e["result"]["status"] == 502)


def test_bytes_a_client_sends_ahead_while_its_request_is_answered_are_bounded(start_proxy):
    """mitmproxy kept whatever a client sent behind a request whose answer was pending, without limit (an outside
    review: 100 MB kept in 0.1 s, +98 MB resident): past what a head may hold, the connection is closed and read no
    more, and the pending exchange is audited as broken by the client."""
    upstream = RawUpstream(None)  # never answers: the request stays pending
    try:
        proxy = start_proxy({"upstream": f"http://127.0.0.1:{upstream.port}", **SPINE})
        body = json.dumps(BODY).encode()
        head = chat_head(body)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
            client.sendall(head + body)
            time.sleep(0.5)
            sent = offered_until_stopped(client, b"x" * 65536, 64 * 2**20)  # before: all of it taken in a second
            # Closed, not merely read no more (mitmproxy's reader, told to stop while it waited to hand over data,
            # left the socket open: intercept/connection_ends.py).
            assert closed_by_proxy(client)
        assert sent < 64 * 2**20
        assert wait_for_events(proxy.audit_file, lambda e: e["result"]["status"] == 499)
    finally:
        upstream.close()
