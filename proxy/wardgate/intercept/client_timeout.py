"""A request must arrive whole in time: from its first byte, an HTTP/1 client has `client_timeout_s` to send its head
and body, else it gets a JSON 408 `request_timeout` (audited) and its connection is closed.

mitmproxy's only limit on a client is its inactivity timer, which every byte resets: a client dripping a head or a
body a byte at a time held its connection (and a body's buffer) for as long as it liked, and bytes that are no HTTP
at all (an SSH banner through a decrypted tunnel) waited unanswered and unaudited for the idle timeout. The deadline
starts with a request's first byte, so an idle keep-alive connection between requests is left to the idle timer.

An HTTP/2 stream's request must arrive whole within the same limit from its head, else the stream gets the JSON 408
(audited) and the connection's other streams go on: a client kept a hundred streams' bodies unfinished, its
connection alive by PINGs, for as long as it liked (an outside review).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import HttpStream, _http1, _http2
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import (
    ErrorCode,
    RequestEndOfMessage,
    RequestHeaders,
    RequestProtocolError,
    ResponseEndOfMessage,
    ResponseProtocolError,
)

from wardgate.intercept.error_pages import refuse_stream, tagged_for
from wardgate.intercept.head_limits import dropped, in_state
from wardgate.intercept.stream_events import HandleEvent, wrap_stream_events

__all__ = ["REQUEST_TIMED_OUT", "install_client_timeout"]

REQUEST_TIMED_OUT = "the request did not arrive whole in time"
_DEADLINE = "_wardgate_request_deadline"
_BEGAN = "_wardgate_request_began"
_STREAM_DEADLINES = "_wardgate_stream_deadlines"  # on an Http2Server: stream id -> when its request must be whole
_LATE = ErrorCode.GENERIC_CLIENT_ERROR
_handle_event = _http1.Http1Server._handle_event
type ConnectionHandler = Callable[[Any, events.Event], Generator[commands.Command, Any, None]]
_timeout_s = 60.0


def _reading_a_request(self: _http1.Http1Server) -> bool:
    """Whether a request has begun and is not whole yet: a head in part (empty lines before its request line, which
    the reader drops as they come, included), or a body still to come."""
    began = bool(self.buf) or getattr(self, _BEGAN, False)
    return (in_state(self, "read_headers") and began) or in_state(self, "read_body")


class _Deadline(commands.RequestWakeup):
    """A request's deadline (mitmproxy wakes the layer that asked when its delay is over)."""


def _timed(self: _http1.Http1Server, event: events.Event) -> Generator[commands.Command, Any, None]:
    pending = getattr(self, _DEADLINE, None)
    if isinstance(event, events.Wakeup) and isinstance(event.command, _Deadline):
        # A request that arrived whole in time leaves its deadline to fire later: mitmproxy's readers take no
        # wake-up (an unexpected event is an assertion), so only the pending one is acted on.
        if event.command is pending:
            setattr(self, _DEADLINE, None)
            if _reading_a_request(self):
                yield from _refuse(self)
        return
    if isinstance(event, events.DataReceived) and in_state(self, "read_headers"):
        # A client dripping empty lines (skipped, intercept/informational.py) left nothing buffered: it began all the
        # same (an outside review held a connection so).
        setattr(self, _BEGAN, True)
    yield from _handle_event(self, event)
    if not _reading_a_request(self):
        setattr(self, _DEADLINE, None)  # whole (or given up): a late wake-up finds another command, or none
        setattr(self, _BEGAN, False)
    elif pending is None:
        wakeup = _Deadline(_timeout_s)
        setattr(self, _DEADLINE, wakeup)
        yield wakeup


def _refuse(self: _http1.Http1Server) -> Generator[commands.Command, Any, None]:
    # A request whose head was read has a flow: its answer names the flow's decision, which the addon's error hook
    # audits (as `request_timeout`); a head in part is audited by the error page itself.
    message = REQUEST_TIMED_OUT if self.request is None else tagged_for(self.request, REQUEST_TIMED_OUT)
    yield commands.SendData(self.conn, _http1.make_error_response(408, message))
    yield commands.CloseConnection(self.conn)
    if self.request is not None and self.stream_id is not None:  # the flow ends with the error its hook audits
        yield ReceiveHttp(RequestProtocolError(self.stream_id, REQUEST_TIMED_OUT, ErrorCode.GENERIC_CLIENT_ERROR))
    dropped(self)  # what it had sent goes too


def _streams_timed(handle: ConnectionHandler) -> ConnectionHandler:
    """Around Http2Server._handle_event: each stream's request must be whole within the limit from its head; one
    wake-up per connection, at the earliest deadline. (A wake-up per stream kept each stream, its flow and its body
    alive until it fired, long after the answer: an outside review held 290 MB with thirty finished requests.) A late
    stream gets an error from its client's side that its stream turns into the 408 (below)."""

    def handle_event(self: _http2.Http2Server, event: events.Event) -> Generator[commands.Command, Any, None]:
        deadlines: dict[int, float] = self.__dict__.setdefault(_STREAM_DEADLINES, {})
        if isinstance(event, events.Wakeup) and isinstance(event.command, _Deadline):
            if event.command is getattr(self, _DEADLINE, None):
                setattr(self, _DEADLINE, None)
                now = time.monotonic()
                for stream_id, due in list(deadlines.items()):
                    if due <= now:
                        del deadlines[stream_id]
                        yield ReceiveHttp(ResponseProtocolError(stream_id, REQUEST_TIMED_OUT, _LATE))
                yield from _next_deadline(self, deadlines)
            return
        for command in handle(self, event):
            if isinstance(command, ReceiveHttp):
                if isinstance(command.event, RequestHeaders) and not command.event.end_stream:
                    deadlines[command.event.stream_id] = time.monotonic() + _timeout_s
                elif isinstance(command.event, RequestEndOfMessage | RequestProtocolError):
                    deadlines.pop(command.event.stream_id, None)  # whole, or given up by its client
            yield command
        if isinstance(event, ResponseProtocolError | ResponseEndOfMessage):
            deadlines.pop(event.stream_id, None)  # answered, or ended on our side
        yield from _next_deadline(self, deadlines)

    return handle_event


def _next_deadline(self: _http2.Http2Server, deadlines: dict[int, float]) -> Generator[commands.Command, Any, None]:
    if deadlines and getattr(self, _DEADLINE, None) is None:
        wakeup = _Deadline(max(0.0, min(deadlines.values()) - time.monotonic()))
        setattr(self, _DEADLINE, wakeup)
        yield wakeup


def _late_stream(inner: HandleEvent, self: HttpStream, event: events.Event) -> Generator[commands.Command, Any, None]:
    """Around HttpStream.handle_event: the late stream's error (above) becomes Wardgate's JSON 408, audited."""
    if isinstance(event, ResponseProtocolError) and event.code is _LATE and event.message == REQUEST_TIMED_OUT:
        yield from refuse_stream(inner, self, 408, REQUEST_TIMED_OUT)
        return
    yield from inner(self, event)


def install_client_timeout(timeout_s: float) -> None:
    global _timeout_s
    _timeout_s = timeout_s
    _http1.Http1Server._handle_event = _timed  # type: ignore[method-assign,assignment]
    if not getattr(_http2.Http2Server._handle_event, _STREAM_DEADLINES, False):
        timed = _streams_timed(_http2.Http2Server._handle_event)
        setattr(timed, _STREAM_DEADLINES, True)
        _http2.Http2Server._handle_event = timed  # type: ignore[method-assign,assignment]
    wrap_stream_events(_late_stream)
