"""The addon in-process, with mitmproxy's own test flows: every exception path ends in a provider-shaped refusal.

The pipeline and guard are stand-ins here (they have their own tests): what is under test is the translation
of flows and the rule that no fault, ours or the audit sink's, ever lets a flow through.
"""

from __future__ import annotations

import json
import threading

import pytest
from mitmproxy import http
from mitmproxy.connection import ConnectionState
from mitmproxy.test import taddons, tflow, tutils

from wardgate.config import StreamingSettings
from wardgate.errors import AuditError
from wardgate.intercept.addon import GuardAddon
from wardgate.intercept.off_loop_streams import OffLoopStream, StreamChunk
from wardgate.pipeline.guard import Verdict
from wardgate.pipeline.mcp_judge import McpStream
from wardgate.pipeline.request import Forward, Refuse
from wardgate.pipeline.usage import UsageMeter
from wardgate.policy import Decision

BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode()


class StandInGuard:
    scan_timeout = 5.0

    def __init__(self, *, audit_fails: bool = False) -> None:
        self.refused: list[tuple[str, str]] = []
        self.scan_threads: set[int] = set()
        self._audit_fails = audit_fails

    def scan_blocking(self, segments, *, tool):
        self.scan_threads.add(threading.get_ident())
        return [], None  # nothing is found

    def judge_blocking(self, ctx, phase, exchange):
        self.scan_threads.add(threading.get_ident())
        return Verdict(Decision(allow=True, status=200), [], {})

    def refuse(self, ctx, phase, decision):
        if self._audit_fails:
            raise AuditError("cannot write the audit trail: [Errno 28] No space left on device")
        self.refused.append((phase, decision.code))


class StandInPipeline:
    def __init__(self, outcome=None, error: Exception | None = None, overloaded: Decision | None = None) -> None:
        self._outcome, self._error, self._overloaded = outcome, error, overloaded
        self.mcp_sessions: dict = {}
        self.legacy_sessions = None

    def overloaded(self, request):
        return self._overloaded

    async def run(self, ctx, request, client_gone=None):
        self.client_gone = client_gone
        if self._error is not None:
            raise self._error
        return self._outcome


def addon(pipeline, guard=None, *, inspects=lambda host: True) -> GuardAddon:
    return GuardAddon(guard or StandInGuard(), pipeline, inspects=inspects, max_body_bytes=1024,
                      usage=UsageMeter(None, fail_closed=False))  # fmt: skip


def chat_flow(*headers: tuple[bytes, bytes]) -> http.HTTPFlow:
    all_headers = http.Headers(((b"content-type", b"application/json"), *headers))
    req = tutils.treq(method=b"POST", host="api.openai.com", port=443, scheme=b"https", path=b"/v1/chat/completions",
                      headers=all_headers, content=BODY)  # fmt: skip
    return tflow.tflow(req=req)


def error_of(flow: http.HTTPFlow) -> tuple[int, str]:
    assert flow.response is not None
    return flow.response.status_code, json.loads(flow.response.content)["error"]["code"]


async def test_a_bug_in_the_pipeline_is_an_audited_500_not_a_forward():
    guard = StandInGuard()
    under_test = addon(StandInPipeline(error=RuntimeError("boom")), guard)
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
    assert error_of(flow) == (500, "internal_error")
    assert guard.refused == [("request", "internal_error")]


async def test_the_pipeline_is_told_when_the_client_can_no_longer_be_read():
    pipeline = StandInPipeline(outcome=Forward())
    under_test = addon(pipeline)
    flow = chat_flow()
    flow.client_conn.state = ConnectionState.OPEN
    with taddons.context(under_test):
        await under_test.request(flow)
    assert pipeline.client_gone() is False
    flow.client_conn.state = ConnectionState.CAN_WRITE  # mitmproxy read the client's EOF
    assert pipeline.client_gone() is True


async def test_an_audit_failure_anywhere_is_a_503_audit_unavailable():
    under_test = addon(StandInPipeline(error=AuditError("disk full")))
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
    assert error_of(flow) == (503, "audit_unavailable")


async def test_a_refusal_whose_audit_fails_becomes_audit_unavailable():
    under_test = addon(StandInPipeline(error=RuntimeError("boom")), StandInGuard(audit_fails=True))
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
    assert error_of(flow) == (503, "audit_unavailable")


async def test_a_refusal_from_the_pipeline_is_answered_in_the_provider_shape():
    decision = Decision.deny("secret_detected", "the request contains a secret", status=403)
    under_test = addon(StandInPipeline(Refuse(decision, audited=True)))
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
    assert error_of(flow) == (403, "secret_detected")
    assert flow.response is not None
    assert flow.response.headers["x-wardgate-decision-id"]


async def test_a_forward_applies_the_body_query_and_headers():
    forward = Forward(body=b'{"masked": true}', query=[("a", "b")], headers={"accept-encoding": "identity"})
    under_test = addon(StandInPipeline(forward))
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
    assert flow.response is None
    assert (flow.request.content, flow.request.query["a"], flow.request.headers["accept-encoding"]) == (
        b'{"masked": true}', "b", "identity")  # fmt: skip


@pytest.mark.parametrize("http_version", ["HTTP/1.1", "HTTP/2.0"])
async def test_a_bare_forward_keeps_none_of_the_callers_headers_not_even_host(http_version):
    headers = {"accept-encoding": "identity", "content-type": "application/json"}
    under_test = addon(StandInPipeline(Forward(body=b'{"id": 1}', headers=headers, bare=True)))
    flow = chat_flow()
    flow.client_conn.sni = None
    flow.request.http_version = http_version
    # The Host the caller wrote is judged as text: one that was refused (it held a secret) must not go on.
    flow.request.host_header = "AKIAZ3MSJV4WWNKWW5FG.api.test"
    flow.request.headers.update({"x-smuggled": "data", "content-encoding": "gzip", "cookie": "a=b"})
    flow.request.headers["content-type"] = "application/json; note=AKIAZ3MSJV4WWNKWW5FG"
    with taddons.context(under_test):
        await under_test.request(flow)
    assert flow.response is None
    assert flow.request.host_header == "api.openai.com"
    own = {"accept-encoding", "content-length", "content-type"} | ({"host"} if http_version == "HTTP/1.1" else set())
    assert {name.lower() for name in flow.request.headers} == own
    assert flow.request.headers["content-type"] == "application/json"
    assert (flow.request.content, flow.request.headers["content-length"]) == (b'{"id": 1}', "9")


async def test_a_bare_forward_names_the_server_by_its_tls_name_not_the_address_it_was_sent_to():
    """Transparent mode: the connection's target is an IP address, which a virtual-hosted server cannot route."""
    under_test = addon(StandInPipeline(Forward(body=b"{}", bare=True)))
    flow = chat_flow()
    flow.request.host, flow.client_conn.sni = "104.18.32.7", "mcp.example.com"
    with taddons.context(under_test):
        await under_test.request(flow)
    assert flow.request.host_header == "mcp.example.com"


@pytest.mark.parametrize("bare", [False, True])
async def test_an_absolute_form_target_goes_on_in_origin_form(bare):
    """Only the path was judged: the authority of `POST http://AKIA...example/path` must not reach the upstream."""
    under_test = addon(StandInPipeline(Forward(bare=bare)))
    flow = chat_flow()
    flow.request.authority = "akiaz3msjv4wwnkww5fg.ssn-123-45-6789.example"
    with taddons.context(under_test):
        await under_test.request(flow)
    assert flow.request.authority == ""
    assert "akiaz3" not in bytes(http1_head(flow.request)).decode()


def http1_head(request: http.Request) -> bytes:
    from mitmproxy.net.http.http1.assemble import assemble_request_head

    return assemble_request_head(request)


async def test_a_fault_on_the_response_headers_buffers_and_refuses_the_answer():
    under_test = addon(StandInPipeline(Forward()))
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
        flow.response = tutils.tresp(headers=http.Headers(((b"content-type", b"text/event-stream"),)))
        under_test._streaming = None  # a bug: the stream setup raises
        under_test.responseheaders(flow)
        assert flow.response.stream is False
        await under_test.response(flow)
    assert error_of(flow) == (500, "internal_error")


@pytest.mark.parametrize(("setting", "buffered"), [("stream", False), ("buffer", True)])
async def test_an_mcp_post_answered_as_sse_is_judged_as_it_streams_unless_set_to_buffer(setting, buffered):
    under_test = addon(StandInPipeline(Forward()))
    under_test._streaming = StreamingSettings(mcp_post_answers=setting)
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
        under_test._context(flow).endpoint = "mcp"
        content_type = b"Text/Event-Stream; charset=utf-8"  # the media type, however it is spelled
        flow.response = tutils.tresp(headers=http.Headers(((b"content-type", content_type),)))
        under_test.responseheaders(flow)
    # Buffered: judged on a worker thread (ResponseJudge). Streamed: judged event by event as it streams, through the
    # `wardgate_stream_chunk` hook (intercept/off_loop_streams.py), on a worker thread too.
    assert (flow.response.stream is False) is buffered
    streamed = flow.response.stream
    assert (isinstance(streamed, OffLoopStream) and isinstance(streamed.stream, McpStream)) is not buffered


async def test_a_streamed_chunk_is_judged_on_a_worker_thread_and_sent_as_judged():
    guard = StandInGuard()
    under_test = addon(StandInPipeline(Forward()), guard)
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
        under_test._context(flow).endpoint = "mcp"
        flow.response = tutils.tresp(headers=http.Headers(content_type="text/event-stream"))
        under_test.responseheaders(flow)
        event = b'event: message\ndata: {"jsonrpc": "2.0", "id": 1, "result": {"content": []}}\n\n'
        chunk = StreamChunk(flow.response.stream, event)
        guard.scan_threads.clear()  # the response headers were judged on the loop
        await under_test.wardgate_stream_chunk(chunk)
    assert chunk.out == [event]
    assert guard.scan_threads
    assert threading.get_ident() not in guard.scan_threads


def test_a_declared_oversize_body_is_refused_before_it_is_read():
    guard = StandInGuard()
    under_test = addon(StandInPipeline(Forward()), guard)
    flow = chat_flow((b"content-length", b"999999"))
    with taddons.context(under_test):
        under_test.requestheaders(flow)
    assert error_of(flow) == (413, "body_too_large")
    assert guard.refused == [("request", "body_too_large")]


async def test_at_capacity_a_request_is_refused_on_its_headers_before_its_body_is_judged():
    guard = StandInGuard()
    busy = Decision.deny("overloaded", "at capacity", status=503).model_copy(update={"headers": {"retry-after": "1"}})
    under_test = addon(StandInPipeline(error=RuntimeError("must not run"), overloaded=busy), guard)
    flow = chat_flow()
    with taddons.context(under_test):
        under_test.requestheaders(flow)
        await under_test.request(flow)
    assert error_of(flow) == (503, "overloaded")
    assert flow.response.headers["retry-after"] == "1"
    assert guard.refused == [("request", "overloaded")]


async def test_a_host_that_is_not_inspected_is_left_alone():
    under_test = addon(StandInPipeline(error=RuntimeError("must not run")), inspects=lambda host: False)
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
    assert flow.response is None


async def test_request_trailers_are_refused_and_an_answer_s_dropped():
    """HTTP/2 hands trailers over as mitmproxy's HTTP/1 reader now does (intercept/trailers.py)."""
    guard = StandInGuard()
    under_test = addon(StandInPipeline(error=RuntimeError("must not run")), guard)
    flow = chat_flow()
    flow.request.trailers = http.Headers(((b"x-note", b"smuggled"),))
    with taddons.context(under_test):
        await under_test.request(flow)
    assert error_of(flow) == (400, "trailers_refused")
    assert guard.refused == [("request", "trailers_refused")]

    under_test = addon(StandInPipeline(Forward()))
    flow = chat_flow()
    with taddons.context(under_test):
        await under_test.request(flow)
        flow.response = tutils.tresp(trailers=http.Headers(((b"x-note", b"leak"),)))
        flow.response.stream = True  # judged on its way (not under test here)
        await under_test.response(flow)
    assert flow.response.trailers is None
