"""The mitmproxy addon that hands each LLM request and response to the pipeline and enforces the verdict."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from mitmproxy import connection, http
from mitmproxy import ctx as mitmproxy_ctx
from mitmproxy.connection import ConnectionState
from mitmproxy.net.http import status_codes, url
from mitmproxy.proxy.mode_specs import TransparentMode

from wardgate.audit.redaction import METHODS, recorded_method, recorded_path, unquoted
from wardgate.config import Phase, StreamingSettings
from wardgate.errors import AuditError
from wardgate.formats import provider_for
from wardgate.formats.eventstream import is_aws_event_stream
from wardgate.formats.mcp import answer_read_as
from wardgate.formats.realtime import error_event as realtime_error_event
from wardgate.formats.sse import SSE, is_event_stream
from wardgate.formats.streams import GenericStream, stream_format_for
from wardgate.identity import ForwardIdentity
from wardgate.identity.forward import proxy_key
from wardgate.intercept.client_timeout import REQUEST_TIMED_OUT
from wardgate.intercept.error_pages import UPSTREAM_UNAVAILABLE, end_with_before_break, name_decision
from wardgate.intercept.framing import frame_body, request_line_problem
from wardgate.intercept.off_loop_streams import OffLoopStream, StreamChunk
from wardgate.intercept.responses import DECISION_HEADER, JudgedStream, decoded_stream, refusal
from wardgate.intercept.stream_buffers import PROXY_FULL, TOO_MUCH_AT_ONCE
from wardgate.intercept.stream_resets import client_reset
from wardgate.intercept.upstream_timeout import TIMED_OUT, UpstreamTimer
from wardgate.limits import TokenCount
from wardgate.pipeline import Guard, RequestContext, guarded_stream
from wardgate.pipeline.destination import Destination
from wardgate.pipeline.headers import header_block_problem, judge_response_headers
from wardgate.pipeline.mcp_judge import McpStream
from wardgate.pipeline.realtime import RealtimeSession
from wardgate.pipeline.request import MCP_SESSION_HEADER, IncomingRequest, Refuse, RequestPipeline, proxy_auth_required
from wardgate.pipeline.response import ResponseJudge
from wardgate.pipeline.usage import UsageMeter
from wardgate.policy import Decision
from wardgate.telemetry.access import finish_request
from wardgate.telemetry.tracing import RequestTrace, inner_span

__all__ = ["GuardAddon"]

logger = logging.getLogger(__name__)
_CONTEXT = "wardgate"  # keys in flow.metadata
_TRACE = "wardgate_trace"
_REFUSED = "wardgate_refused"
_ANSWERED = "wardgate_answered"  # the status of an error answer mitmproxy wrote itself
_STREAM = "wardgate_stream"
_REALTIME = "wardgate_realtime"
_IN_FLIGHT = "wardgate_in_flight"
_REALTIME_TOLD = "wardgate_realtime_told"
_REALTIME_RELEASE = "wardgate_realtime_release"  # by direction (from_client): the timer that sends held frames
# A frame held because its text could still grow into a finding waits this long for the frame that ends it (a
# client's `response.create`, the model's next delta, both usually milliseconds away), then goes out as it is.
_REALTIME_HOLD_S = 1.0
_REALTIME_RECHECK_S = 0.05  # a hold that ran out while a frame was judged is looked at again this soon
_HEADERS_DENIED = "wardgate_headers_denied"  # the answer's headers were denied (audited): refused in `response`
# Before the credential is checked (a body refused at the headers stage) nobody is known yet.
_UNRESOLVED: Mapping[str, Any] = {"subject": None, "tenant": None, "source": "unresolved", "authenticated": False}


def _destination(flow: http.HTTPFlow) -> Destination:
    request = flow.request
    # In a transparent listener the target is the original destination address, not a name the client chose.
    transparent = isinstance(flow.client_conn.proxy_mode, TransparentMode)
    return Destination(request.host, flow.client_conn.sni, request.host_header, target_named=not transparent)


def _client_gone(flow: http.HTTPFlow) -> bool:
    """The client hung up: its connection can no longer be read (mitmproxy marks that at once, though the close
    itself reaches the flow only after the pending hook), or it reset the flow's HTTP/2 stream."""
    return not flow.client_conn.state & ConnectionState.CAN_READ or client_reset(flow)


_BROKE_OFF = "the upstream broke off its answer"


def _logged(flow: http.HTTPFlow) -> str:
    """A flow's method and path as its log lines quote them (recorded: audit/redaction.py)."""
    ctx: RequestContext | None = flow.metadata.get(_CONTEXT)
    if ctx is not None:
        return f"{ctx.method} {ctx.path}"
    return f"{recorded_method(flow.request.method)} {recorded_path(flow.request.path)}"


def _upstream_timed_out(limit: str) -> Decision:
    """The refusal for a flow one of our upstream limits ended (intercept/upstream_timeout.py)."""
    what = {
        "connect": "accept the connection",
        "answer": "answer",
        "body": "send its whole answer",
        "stream": "send the rest of its answer",
    }[limit]
    return Decision.deny("upstream_timeout", f"the upstream did not {what} in time", status=504, source="fail_closed")


def _client_broke(flow: http.HTTPFlow, message: str) -> Decision | None:
    """When an exchange ended early by the client's doing, what it did: took too long to send its request, sent too
    much at once on an HTTP/2 connection, sent a body that is no HTTP (a bad chunk header: mitmproxy closes its
    connection), hung up (a body cut short included) or reset its stream. None: the upstream broke it."""
    if message == REQUEST_TIMED_OUT:  # intercept/client_timeout.py answered it (an HTTP/2 client stays connected)
        return Decision.deny("request_timeout", message, status=408)
    if message == TOO_MUCH_AT_ONCE:  # intercept/stream_buffers.py answered it
        return Decision.deny("body_too_large", message, status=413)
    if message == PROXY_FULL:  # the same, for the whole process (its client is not at fault)
        return Decision.deny("overloaded", message, status=503)
    if not _client_gone(flow):
        return None
    # mitmproxy's words quote the bytes it could not read: the decision (audited, and sent) says what happened.
    if message.startswith("HTTP/1 protocol error") and "peer closed connection" not in message:
        return Decision.deny("malformed_request", "the client's request broke HTTP's framing", status=400)
    return Decision.deny("client_closed", "the client closed its connection", status=499, source="fail_closed")


def _replace_body(message: http.Message, body: bytes) -> None:
    """A rewritten body is UTF-8 (formats/body.dump_body): a charset the original declared (UTF-16 or UTF-32, which
    Wardgate reads) would have its reader decode the new bytes as that, so the declaration says UTF-8 now."""
    media, *parameters = message.headers.get("content-type", "").split(";")
    kept = [parameter for parameter in parameters if parameter.split("=", 1)[0].strip().lower() != "charset"]
    if len(kept) < len(parameters):
        message.headers["content-type"] = ";".join([media, *kept, " charset=utf-8"])
    message.content = body


def _cancel_release(flow: http.HTTPFlow, from_client: bool) -> None:
    """Stop the timer that would send a Realtime direction's held frames."""
    if (timer := flow.metadata.get(_REALTIME_RELEASE, {}).pop(from_client, None)) is not None:
        timer.cancel()


def _incoming(flow: http.HTTPFlow, proxy_key: str | None) -> IncomingRequest:
    request = flow.request
    return IncomingRequest(
        method=request.method,
        path=request.path,
        headers=request.headers,
        query=list(request.query.items(multi=True)),
        body=request.raw_content or b"",
        destination=_destination(flow),
        peer_chain=[cert.to_cryptography() for cert in flow.client_conn.certificate_list],
        proxy_key=proxy_key,
    )


@contextmanager
def _active(flow: http.HTTPFlow) -> Iterator[None]:
    """The flow's request span as the current span for the length of a hook (each hook is a task of its own)."""
    request_trace: RequestTrace | None = flow.metadata.get(_TRACE)
    with request_trace.active() if request_trace is not None else nullcontext():
        yield


# What a hook that raised answers: exceptions are breakage, never a reason to forward (DESIGN §2).
_INTERNAL = ("internal_error", "Wardgate could not judge this {}", 500)
_AUDIT_DOWN = ("audit_unavailable", "the audit trail cannot be written, so nothing is forwarded", 503)

type _Hook = Callable[[GuardAddon, http.HTTPFlow], Awaitable[None]]


def _fails_closed(phase: Phase) -> Callable[[_Hook], _Hook]:
    """Any exception in the hook ends in an audited, provider-shaped refusal (mitmproxy would log and forward)."""

    def wrap(hook: _Hook) -> _Hook:
        @functools.wraps(hook)
        async def guarded(self: GuardAddon, flow: http.HTTPFlow) -> None:
            with _active(flow):
                try:
                    await hook(self, flow)
                except Exception as exc:
                    self._fault(flow, phase, exc)

        return guarded

    return wrap


class GuardAddon:
    """Judges requests (phase `request`) and non-streamed JSON responses (phase `response`).

    Any unexpected fault while judging becomes an audited 500 refusal: mitmproxy's own policy of
    logging an addon crash and forwarding the flow would be an inspection bypass.
    """

    def __init__(
        self,
        guard: Guard,
        pipeline: RequestPipeline,
        *,
        inspects: Callable[[str], bool],
        max_body_bytes: int,
        usage: UsageMeter,
        streaming: StreamingSettings | None = None,
        access_log: bool = True,
        forward: ForwardIdentity | None = None,
        upstream_timer: UpstreamTimer | None = None,
    ) -> None:
        """`pipeline` judges each request (pipeline/request.py); this addon translates flows and answers.

        `forward` (forward mode): the proxy credentials of each client connection name the caller.
        `upstream_timer`: each forwarded request's connect, answer and stream limits (intercept/upstream_timeout.py).
        """
        self._upstream_timer = upstream_timer
        self._access_log = access_log
        self._forward = forward
        self._proxy_keys: dict[str, str] = {}  # client connection id → the password of its CONNECT's credentials
        self._guard, self._pipeline = guard, pipeline
        self._streaming = streaming or StreamingSettings()
        self._responses = ResponseJudge(guard, max_bytes=2 * max_body_bytes, streaming=self._streaming)
        self._inspects = inspects
        self._max_body_bytes = max_body_bytes
        self._usage = usage
        self.in_flight = 0  # flows between their request headers and their end: what a shutdown drains
        self.idle = asyncio.Event()
        self.idle.set()

    def _context(self, flow: http.HTTPFlow) -> RequestContext:
        ctx = flow.metadata.get(_CONTEXT)
        if ctx is None:
            request = flow.request
            path, method = recorded_path(request.path), recorded_method(request.method)
            request_trace = RequestTrace(method, path, request.headers)
            ctx = RequestContext(
                method=method,
                host=request.host,
                path=path,
                provider=provider_for(request.pretty_host, request.path),
                identity=_UNRESOLVED,
                trace_id=request_trace.trace_id,
                span_id=request_trace.span_id,
            )
            flow.metadata[_CONTEXT], flow.metadata[_TRACE] = ctx, request_trace
            name_decision(request, ctx.provider, ctx.decision_id)  # in mitmproxy's own error answers too
        return ctx

    def _inspected(self, flow: http.HTTPFlow) -> bool:
        """Whether this flow is Wardgate's to judge: by the connection's destination (see pipeline/destination)."""
        return bool(flow.metadata.setdefault("wardgate_inspected", _destination(flow).inspected(self._inspects)))

    def http_connect(self, flow: http.HTTPFlow) -> None:
        """Forward mode: keep the tunnel's proxy credentials for the requests inside it; without any, a tunnel to an
        inspected host is refused with 407 when nothing else could name the caller."""
        if self._forward is None:
            return
        try:
            key = proxy_key(flow.request.headers.pop("proxy-authorization", None))
            if key is not None:
                self._proxy_keys[flow.client_conn.id] = key
            elif self._forward.needs_proxy_credentials and self._inspected(flow):
                self._refuse(flow, "request", proxy_auth_required("forward mode needs proxy credentials"))
        except Exception as exc:
            self._fault(flow, "request", exc)

    def client_disconnected(self, client: connection.Client) -> None:
        self._proxy_keys.pop(client.id, None)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        flow.metadata[_IN_FLIGHT] = True
        self.in_flight += 1
        self.idle.clear()
        try:
            if (problem := request_line_problem(flow.request)) is not None:  # any flow's (intercept/framing.py)
                self._refuse(flow, "request", Decision.deny("malformed_request", problem, status=400))
                return
            if not self._inspected(flow):
                # The proxy's credentials are the proxy's: a plain-HTTP request to another host carried the caller's
                # Wardgate key to it (an outside review).
                flow.request.headers.pop("proxy-authorization", None)
                return
            if flow.request.method not in METHODS:
                problem = "the request's method is none of HTTP's; only those reach an inspected host"
                self._refuse(flow, "request", Decision.deny("method_not_allowed", problem, status=405))
                return
            if (large := header_block_problem(flow.request.headers.fields)) is not None:  # before anything reads them
                self._refuse(flow, "request", Decision.deny("headers_too_large", large, status=431))
                return
            self._context(flow)  # the request's span starts here: every later hook runs under it
            declared = flow.request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_body_bytes:
                message = f"the request body is {declared} bytes; the limit is {self._max_body_bytes}"
                denial = Decision.deny("body_too_large", message, status=413)
                self._refuse(flow, "request", denial)
            elif (overloaded := self._pipeline.overloaded(_incoming(flow, self._proxy_key(flow)))) is not None:
                self._refuse(flow, "request", overloaded)
        except Exception as exc:
            self._fault(flow, "request", exc)

    @_fails_closed("request")
    async def request(self, flow: http.HTTPFlow) -> None:
        frame_body(flow.request)  # every flow's, judged or not (intercept/framing.py)
        if flow.response is not None or not self._inspected(flow):
            return
        if flow.request.trailers:
            # Fields after the body (HTTP/1 chunked or HTTP/2): nothing an LLM API reads, and they would reach the
            # upstream unjudged (intercept/trailers.py keeps HTTP/1's from crashing the connection).
            message = "the request ends in trailer fields, which Wardgate does not forward"
            self._refuse(flow, "request", Decision.deny("trailers_refused", message, status=400))
            return
        await self._judge_request(flow)

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        """A Realtime socket whose upgrade was judged gets its frame judge; any other socket gets none, and each of
        its frames is dropped (`websocket_message`)."""
        ctx = flow.metadata.get(_CONTEXT)
        if self._inspected(flow) and ctx is not None and not flow.metadata.get(_REFUSED):
            flow.metadata[_REALTIME] = RealtimeSession(
                self._guard,
                ctx,
                client_audio=self._streaming.realtime_client_audio,
                hold_s=_REALTIME_HOLD_S,
            )

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        if not self._inspected(flow) or flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        if message.injected:
            return  # Wardgate's own error event to the client
        session: RealtimeSession | None = flow.metadata.get(_REALTIME)
        try:
            if session is None:
                message.drop()
                return
            outcome = await session.judge(message.text if message.is_text else None, from_client=message.from_client)
        except Exception as exc:
            logger.error("guard failed on a WebSocket frame to %s", flow.request.host, exc_info=exc)
            message.drop()
            if session is not None and session.stopped is None:
                session.stopped = Decision.deny("internal_error", "Wardgate could not judge a frame", status=500)
                self._tell_client(flow, session.stopped)
            return
        if outcome.action == "hold":
            message.drop()
            self._release_held(flow, session, message.from_client)  # those whose hold ran out while this was judged
        elif outcome.released:
            # Held frames go first; this one is sent after them (as an injected frame too, to keep the order).
            message.drop()
            _cancel_release(flow, message.from_client)
            for frame in (*outcome.released, outcome.text):
                self._send_frame(flow, to_client=not message.from_client, frame=frame.encode())
        elif outcome.action == "rewrite":
            message.text = outcome.text
        elif outcome.action == "stop":
            message.drop()
            assert outcome.decision is not None
            self._tell_client(flow, outcome.decision)

    def _release_held(self, flow: http.HTTPFlow, session: RealtimeSession, from_client: bool) -> None:
        """Send the frames whose hold has run out, and wake up when the next one's does. Not while a frame is being
        judged: sent then, they would follow it (mitmproxy queues an injected frame behind the pending hook), or go
        out after it stopped the session."""
        _cancel_release(flow, from_client)
        releases: dict[bool, asyncio.TimerHandle] = flow.metadata.setdefault(_REALTIME_RELEASE, {})
        if flow.websocket is None or flow.websocket.timestamp_end is not None:
            return
        loop = asyncio.get_running_loop()
        if session.busy():  # its verdict may stop the session: look again once it is out
            releases[from_client] = loop.call_later(_REALTIME_RECHECK_S, self._release_held, flow, session, from_client)
            return
        for frame in session.release(from_client=from_client, due=time.monotonic()):
            self._send_frame(flow, to_client=not from_client, frame=frame.encode())
        if (due := session.next_release(from_client=from_client)) is not None:
            delay = max(0.0, due - time.monotonic())
            releases[from_client] = loop.call_later(delay, self._release_held, flow, session, from_client)

    @staticmethod
    def _send_frame(flow: http.HTTPFlow, *, to_client: bool, frame: bytes) -> None:
        mitmproxy_ctx.master.commands.call("inject.websocket", flow, to_client, frame, True)

    @staticmethod
    def _tell_client(flow: http.HTTPFlow, decision: Decision) -> None:
        """The Realtime error event, sent to the client once; nothing passes on this socket afterwards."""
        if flow.metadata.get(_REALTIME_TOLD):
            return
        flow.metadata[_REALTIME_TOLD] = True
        reason = decision.reasons[0].message if decision.reasons else decision.code
        ctx: RequestContext | None = flow.metadata.get(_CONTEXT)
        event = realtime_error_event(decision.code, f"Wardgate: {reason}", ctx.decision_id if ctx else None)
        GuardAddon._send_frame(flow, to_client=True, frame=event)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        try:
            with _active(flow):
                self._guard_response_headers(flow)
        except Exception as exc:
            # The answer is buffered instead and replaced by the refusal in `response`.
            logger.exception("guard failed on the response headers of %s", _logged(flow))
            flow.metadata["wardgate_fault"] = exc
            if flow.response is not None:
                flow.response.stream = False
        if self._upstream_timer is not None:
            # A body of declared length is whole at the upstream already: its slowness is a stall. An answer of no
            # declared length that Wardgate buffers may be a stream (Ollama's JSON Lines, a Gemini JSON array, an MCP
            # SSE answer) and take its time (a second outside review: a 3 s Ollama stream got a 504 under a 1 s
            # limit): like a guarded stream, it may not go quiet for `answer_s`.
            response, timer = flow.response, self._upstream_timer
            if response is not None and not response.stream:  # buffered
                (timer.body if "content-length" in response.headers else timer.stream)(flow)
            elif response is not None and isinstance(response.stream, OffLoopStream):
                timer.stream(flow)
            else:
                timer.stop(flow)

    def _guard_response_headers(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        ctx = flow.metadata.get(_CONTEXT)
        if ctx is not None:
            # The upstream's reason phrase is text clients show (httpx and requests put it in their errors): the
            # status's standard phrase replaces it (an outside review passed a key in it).
            flow.response.reason = status_codes.RESPONSES.get(flow.response.status_code, "")
        if ctx is not None and not flow.metadata.get(_REFUSED):
            # Before Wardgate adds its own headers, and before a stream sends them with its first bytes.
            denied = judge_response_headers(self._guard, ctx, flow.response.headers, ctx.provider)
            if denied is not None:
                flow.metadata[_HEADERS_DENIED] = denied
                flow.response.stream = False
                return
        if ctx is not None:
            flow.response.headers[DECISION_HEADER] = ctx.decision_id
            flow.response.headers.update(ctx.response_headers)
        if ctx is not None and ctx.endpoint == "mcp":
            self._bind_mcp_session(flow, ctx)
        content_type = flow.response.headers.get("content-type", "")
        route_format = stream_format_for(flow.request.path)
        # MCP clients read an answer as events unless it says JSON: a POST's (its body was JSON-RPC), and the session
        # stream a GET asks for (`Accept: text/event-stream`, or a session id), which the TypeScript SDK reads as SSE
        # whatever its type (an outside review: text/plain carried a sampling injection and a denied tool).
        request = flow.request
        mcp_get = (
            request.method == "GET"
            and route_format is None
            and (
                MCP_SESSION_HEADER in request.headers
                or "text/event-stream" in request.headers.get("accept", "").lower()
            )
        )
        # (A legacy session's POST is answered on its GET stream: clients do not read the POST's answer.)
        mcp_answer = ctx is not None and ((ctx.endpoint == "mcp" and not ctx.in_session) or mcp_get)
        aws = is_aws_event_stream(content_type) and route_format is not None and route_format.framing is not SSE
        events = is_event_stream(content_type) or (mcp_answer and answer_read_as(content_type) == "events")
        if not events and not aws:  # Bedrock's converse-stream: AWS's binary event stream
            return
        buffered = self._streaming.mcp_post_answers == "buffer" and flow.request.method == "POST"
        if ctx is not None and ctx.endpoint == "mcp" and buffered:
            # Judged on a worker thread like a JSON answer (ResponseJudge), not in the stream hook on the loop.
            flow.response.stream = False
            return
        if ctx is not None and ctx.endpoint not in ("mcp", "unparsed") and route_format is None:
            # A format that never answers in SSE (Ollama's JSON Lines, Bedrock's Converse) labelled as SSE: its
            # clients read the bytes as the format's, so they are judged as that (an outside review: the calls went
            # out through the generic stream, judged as text).
            flow.response.stream = False
            return
        if not flow.metadata.get(_REFUSED) and ctx is not None:
            # A judged stream may come out shorter (stopped) or longer (masked) than the upstream's declared length:
            # the client gets it chunked, or it would wait for bytes that never come or lose the ones past the length.
            # Chunked also when the upstream's body ends at its close: a stream mitmproxy's timer or a reset breaks
            # off then reads to the client as one that broke, not as a whole answer (an outside review's finding).
            flow.response.headers.pop("content-length", None)
            if flow.request.http_version == "HTTP/1.1":
                flow.response.headers["transfer-encoding"] = "chunked"
                flow.response.http_version = "HTTP/1.1"  # an HTTP/1.0 upstream's status line would void chunking
        if ctx is not None and ctx.endpoint == "mcp" and not flow.metadata.get(_REFUSED):
            mcp = McpStream(self._guard, ctx, max_event_bytes=self._streaming.max_event_bytes)
            flow.response.stream = self._judged(flow, mcp)
            return
        if ctx is not None and flow.request.method == "GET" and route_format is None:
            # Maybe a legacy MCP session stream (its answers are judged once its endpoint event names the session).
            legacy = McpStream(
                self._guard, ctx, self._pipeline.legacy_sessions, max_event_bytes=self._streaming.max_event_bytes
            )
            flow.response.stream = self._judged(flow, legacy)
            return
        # Never buffered (that would break time-to-first-token): guarded window by window, or passed through
        # when nothing of ours is in it (a host we do not inspect, a refused request, streaming turned off).
        if ctx is None or flow.metadata.get(_REFUSED) or not self._streaming.enabled:
            flow.response.stream = True
            return
        guard, judge = guarded_stream(
            self._guard, ctx, route_format or GenericStream(ctx.provider, ctx.path), self._streaming
        )
        flow.metadata[_STREAM] = (guard, judge, flow.metadata[_TRACE].child("wardgate.stream"))
        flow.response.stream = self._judged(flow, guard)

    def _judged(self, flow: http.HTTPFlow, stream: JudgedStream) -> OffLoopStream:
        """The response's stream callable: decoded, judged chunk by chunk off the loop, each within the budget."""
        assert flow.response is not None
        decoded = decoded_stream(flow.response.headers, stream)
        mcp = isinstance(stream, McpStream)
        return OffLoopStream(decoded, stream, budget_s=self._guard.scan_timeout, tool_results=mcp)

    async def wardgate_stream_chunk(self, chunk: StreamChunk) -> None:
        """A chunk of a judged stream (intercept/off_loop_streams.py): judged on a worker thread."""
        chunk.out = await chunk.stream.judge(chunk.data)

    async def response(self, flow: http.HTTPFlow) -> None:
        try:
            await self._response(flow)
            self._finish(flow)
        finally:
            self._landed(flow)

    def _landed(self, flow: http.HTTPFlow) -> None:
        if self._upstream_timer is not None:
            self._upstream_timer.stop(flow)
        if flow.metadata.pop(_IN_FLIGHT, False):
            self.in_flight -= 1
            if not self.in_flight:
                self.idle.set()

    @_fails_closed("response")
    async def _response(self, flow: http.HTTPFlow) -> None:
        if (request_trace := flow.metadata.get(_TRACE)) is not None:
            request_trace.end_upstream(flow.response.status_code if flow.response else None)
        if flow.response is not None and flow.response.trailers and self._inspected(flow):
            flow.response.trailers = None  # fields after the answer's body are never judged: never passed on
        self._close_stream(flow)
        if (fault := flow.metadata.pop("wardgate_fault", None)) is not None:
            raise fault
        response = flow.response
        ctx = flow.metadata.get(_CONTEXT)
        if ctx is not None and (denied := flow.metadata.pop(_HEADERS_DENIED, None)) is not None:
            if not denied.audited:
                self._refuse(flow, "response", denied.refusal)
                return
            flow.metadata[_REFUSED] = True
            flow.response = refusal(ctx, denied.refusal)
            return
        if ctx is None or response is None or flow.metadata.get(_REFUSED):
            return
        if (limit := flow.metadata.get(TIMED_OUT)) and not response.stream:
            # An answer read until its connection closes ends when our limit closes that connection: cut short.
            self._refuse(flow, "response", _upstream_timed_out(limit))
            return
        if response.status_code == 101 and flow.websocket is None:
            # Only a judged Realtime upgrade may switch protocols: any other 101 would turn the connection into a
            # raw tunnel that nothing judges, both ways.
            message = "the upstream switched protocols on a request that was not a judged WebSocket upgrade"
            self._refuse(
                flow, "response", Decision.deny("upstream_protocol", message, status=502, source="fail_closed")
            )
            return
        if response.stream:
            return
        with inner_span("wardgate.judge_response"):
            await self._judge_response(flow, ctx)

    def error(self, flow: http.HTTPFlow) -> None:
        self._landed(flow)
        try:
            self._error(flow)
        finally:
            self._finish(flow)

    def _error(self, flow: http.HTTPFlow) -> None:
        try:
            # A client or upstream that hung up mid-stream: audit what was released, as a stream that broke off.
            self._close_stream(flow, broken=flow.error.msg if flow.error else "the connection broke off")
            # mitmproxy's hard body cap answers by itself; make sure the refusal is audited all the same.
            message = flow.error.msg if flow.error else ""
            if flow.metadata.get(_REFUSED) or not self._inspected(flow):
                return
            if "body_size_limit" in message:
                if message.startswith("Response"):  # the answer's body: it never reached the client, which got a 502
                    denial = Decision.deny("response_too_large", message, status=502, source="fail_closed")
                    self._answered_for_mitmproxy(flow, "response", denial)
                else:
                    denial = Decision.deny("body_too_large", message, status=413)
                    self._answered_for_mitmproxy(flow, "request", denial)
            elif (
                _CONTEXT in flow.metadata
                and (limit := flow.metadata.get(TIMED_OUT))
                and (flow.response is None or not flow.response.stream)
            ):
                # Our own limit ended it (intercept/upstream_timeout.py): the client got a 504.
                self._answered_for_mitmproxy(flow, "response", _upstream_timed_out(limit))
            elif _CONTEXT in flow.metadata and (flow.response is None or not flow.response.stream):
                # The upstream could not be reached, or broke off before its answer was whole (a short body, a
                # framing error): the client gets mitmproxy's 502 (as JSON, intercept/error_pages.py); the audit
                # trail gets the reason. (A broken stream was audited above, as the stream it was.) Unless the
                # client broke it: a body cut short or badly framed, or a client that left while it waited.
                whole = flow.request.timestamp_end is not None  # else the client broke its own request
                # mitmproxy's words quote the upstream's bytes (a bad chunk header's): the audit gets Wardgate's.
                logger.debug("the answer to %s broke off: %s", _logged(flow), unquoted(message))
                denial = _client_broke(flow, message) or Decision.deny(
                    "upstream_unavailable", UPSTREAM_UNAVAILABLE, status=502, source="fail_closed"
                )
                self._answered_for_mitmproxy(flow, "response" if whole else "request", denial)
        except Exception:
            logger.exception("could not audit the failed flow %s", _logged(flow))

    def _answered_for_mitmproxy(self, flow: http.HTTPFlow, phase: Phase, denial: Decision) -> None:
        """Audit the refusal mitmproxy answers (or, for a client that left, would have), and keep its status for the
        access log: the flow has no response of its own."""
        flow.metadata[_ANSWERED] = denial.status
        self._guard.refuse(self._context(flow), phase, denial)

    def _bind_mcp_session(self, flow: http.HTTPFlow, ctx: RequestContext) -> None:
        assert flow.response is not None
        session = flow.response.headers.get(MCP_SESSION_HEADER)
        sessions = self._pipeline.mcp_sessions
        if session and session not in sessions:
            sessions[session] = ctx.caller

    def _close_stream(self, flow: http.HTTPFlow, *, broken: str | None = None) -> None:
        """Write a guarded stream's audit event, once (the stream ended, was stopped, or broke off)."""
        if (stream := flow.metadata.pop(_STREAM, None)) is not None:
            guard, judge, span = stream
            if broken is not None and guard.stopped is None and not guard.completed:
                logger.debug("the stream of %s broke off: %s", _logged(flow), unquoted(broken))
                client_gone = _client_broke(flow, broken)
                guard.stopped = (
                    self._went_quiet(flow)
                    or client_gone
                    # mitmproxy's words quote the upstream's bytes (a key in a bad chunk header reached the client
                    # in the error event, and the audit: an outside review): the operator's log keeps them.
                    or Decision.deny("upstream_incomplete", _BROKE_OFF, status=502, source="fail_closed")
                )
                if client_gone is None:  # the client is there to read why its stream ends
                    end_with_before_break(flow.request, guard.break_event(guard.stopped))
            try:
                judge.close(
                    released_bytes=guard.released_bytes, unparsed_events=guard.unparsed_events, stopped=guard.stopped
                )
            finally:
                span.set_attributes({"wardgate.released_bytes": guard.released_bytes,
                                     "wardgate.stopped": guard.stopped is not None})  # fmt: skip
                span.end()
            self._spent(flow, guard.tokens)

    @staticmethod
    def _went_quiet(flow: http.HTTPFlow) -> Decision | None:
        """A stream the upstream timer ended: its upstream sent nothing for upstream_timeout_s in the middle of it
        (intercept/upstream_timeout.py). Not a client that left, nor an upstream that broke it off."""
        stream = flow.response.stream if flow.response is not None else None
        if not isinstance(stream, OffLoopStream) or stream.quiet_too_long is None:
            return None
        return Decision.deny("upstream_timeout", stream.quiet_too_long, status=504, source="fail_closed")

    def _spent(self, flow: http.HTTPFlow, spent: TokenCount) -> None:
        """An answer's reported usage: counted for budgets and rate limits, and on the request span."""
        self._usage.spend(self._context(flow), tokens=spent.tokens)
        if spent.tokens and (request_trace := flow.metadata.get(_TRACE)) is not None:
            request_trace.span.set_attributes(
                {"gen_ai.usage.input_tokens": spent.input, "gen_ai.usage.output_tokens": spent.output}
            )

    def _finish(self, flow: http.HTTPFlow) -> None:
        """End the request's span and write its access-log line (once: after `response`, or `error`)."""
        request_trace: RequestTrace | None = flow.metadata.pop(_TRACE, None)
        ctx: RequestContext | None = flow.metadata.get(_CONTEXT)
        if request_trace is not None and ctx is not None:
            status = flow.response.status_code if flow.response is not None else flow.metadata.get(_ANSWERED)
            error = unquoted(flow.error.msg) if flow.error else None  # a span exports it
            finish_request(request_trace, ctx, status, error, log=self._access_log)

    def _proxy_key(self, flow: http.HTTPFlow) -> str | None:
        """Forward mode's proxy credentials: on a plain-HTTP request itself, on its tunnel's CONNECT otherwise."""
        own = flow.request.headers.get("proxy-authorization")
        return proxy_key(own) if own is not None else self._proxy_keys.get(flow.client_conn.id)

    async def _judge_request(self, flow: http.HTTPFlow) -> None:
        ctx = self._context(flow)
        key = self._proxy_key(flow)
        flow.request.headers.pop("proxy-authorization", None)
        outcome = await self._pipeline.run(ctx, _incoming(flow, key), functools.partial(_client_gone, flow))
        if isinstance(outcome, Refuse):
            flow.metadata[_REFUSED] = True
            flow.response = refusal(ctx, outcome.decision)
            return
        request = flow.request
        if request.authority and not request.is_http2:
            # An absolute-form target (`POST http://anything/path`) would reach the upstream as written, and only its
            # path was judged: the connection already names the server, so it goes on in origin form.
            request.authority = ""
        if outcome.bare:
            # Nothing of the caller's goes on, its Host (or HTTP/2 :authority) included: the server's own name.
            for name in {name.lower() for name in request.headers}:
                del request.headers[name]
            request.host_header = url.hostport(request.scheme, _destination(flow).server(), request.port)
        if outcome.path is not None:
            request.path = outcome.path
        if outcome.body is not None:
            _replace_body(request, outcome.body)
        if outcome.query is not None:
            request.query = outcome.query
        request.headers.update(outcome.headers)
        # Wardgate's upstream span goes on in the trace: its traceparent replaces the caller's.
        flow.metadata[_TRACE].start_upstream(request.headers, request.pretty_host)
        if self._upstream_timer is not None:
            self._upstream_timer.start(flow)

    async def _judge_response(self, flow: http.HTTPFlow, ctx: RequestContext) -> None:
        assert flow.response is not None
        response = flow.response
        headers = response.headers
        outcome = await self._responses.judge(
            ctx, flow.request.method, flow.request.path, response.raw_content or b"",
            headers.get("content-type", ""), headers.get("content-encoding", ""),
        )  # fmt: skip
        self._spent(flow, outcome.spent)
        if outcome.refusal is not None:
            if outcome.audited:
                flow.metadata[_REFUSED] = True
                flow.response = refusal(ctx, outcome.refusal)
            else:
                self._refuse(flow, "response", outcome.refusal)
        elif outcome.body is not None:
            # Wardgate decoded the answer to judge it: it goes out plain (a stacked encoding may not be re-encodable).
            headers.pop("content-encoding", None)
            _replace_body(response, outcome.body)

    def _refuse(self, flow: http.HTTPFlow, phase: Phase, decision: Decision) -> None:
        """Answer, then audit, a refusal made outside `Guard.judge`. Never raises: the answer is set first."""
        flow.metadata[_REFUSED] = True
        try:
            ctx = self._context(flow)
            flow.response = refusal(ctx, decision)
            self._guard.refuse(ctx, phase, decision)
        except Exception as exc:
            self._fault(flow, phase, exc, audit=False)

    def _fault(self, flow: http.HTTPFlow, phase: Phase, exc: Exception, *, audit: bool = True) -> None:
        """Breakage (ours, the audit sink's, anything's) on a flow: a provider-shaped refusal, audited if possible."""
        audit_down = isinstance(exc, AuditError)
        if audit_down:
            logger.error("refusing %s: %s", _logged(flow), exc)
        else:
            logger.error("guard failed on %s", _logged(flow), exc_info=exc)
        code, message, status = _AUDIT_DOWN if audit_down else _INTERNAL
        decision = Decision.deny(code, message.format(phase), status=status, source="fail_closed")
        flow.metadata[_REFUSED] = True
        try:
            ctx = self._context(flow)
            flow.response = refusal(ctx, decision)
        except Exception:
            body = {"error": {"message": f"Wardgate: {message.format(phase)}", "type": "server_error", "code": code}}
            flow.response = http.Response.make(status, json.dumps(body).encode(), {"content-type": "application/json"})
            return
        if audit and not audit_down:
            try:
                self._guard.refuse(ctx, phase, decision)
            except Exception as again:
                logger.error("the refusal of %s could not be audited: %s", ctx.decision_id, again)
                flow.response = refusal(ctx, Decision.deny(*_AUDIT_DOWN[:2], status=503, source="fail_closed"))
