"""Requests still arriving (their heads and bodies) are bounded together, per HTTP/2 connection and for the process.

mitmproxy acknowledges every byte at once (no backpressure) and holds a request's body until it is whole, and
`max_body_bytes` bounds one request: a client with a hundred HTTP/2 streams of 15 MB bodies it never finished held
1.7 GB (an outside review), and many connections, HTTP/1 or HTTP/2, each with an unfinished body, can hold as much.
Past `connection_limit` bytes held for an HTTP/2 connection's unfinished requests, the stream whose bytes went past
gets a JSON 413 `body_too_large`; past `process_limit` bytes held for every unfinished request of the process, the
request whose bytes went past gets a JSON 503 `overloaded` with Retry-After (the proxy is full, not the client at
fault): each is audited, and its bytes are let go. (How long a body may take is intercept/client_timeout.py's.)
"""

from __future__ import annotations

import weakref
from collections.abc import Generator
from typing import Any

from mitmproxy.connection import Client
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import DropStream, HttpStream, SendHttp
from mitmproxy.proxy.layers.http._events import (
    RequestData,
    RequestEndOfMessage,
    RequestHeaders,
    ResponseProtocolError,
)

from wardgate.intercept.error_pages import refuse_stream
from wardgate.intercept.stream_events import HandleEvent, wrap_stream_events

__all__ = ["PROXY_FULL", "TOO_MUCH_AT_ONCE", "full", "install_stream_buffer_limits"]

TOO_MUCH_AT_ONCE = "the request bodies this connection is sending at once are larger than this proxy holds"
PROXY_FULL = "Wardgate holds as many unfinished request bodies as it may; retry shortly"
_HELD = "_wardgate_body_bytes_held"  # on a stream: its request's head and body bytes so far (a _Held), until whole
_MULTIPLEXED = "_wardgate_multiplexed"
_REFUSED = "_wardgate_refused_as_too_much"
_held_by: weakref.WeakKeyDictionary[Client, int] = weakref.WeakKeyDictionary()
_READING = (HttpStream.state_wait_for_request_headers, HttpStream.state_consume_request_body)


class _Limits:
    connection = 0
    process = 0
    held = 0  # by every unfinished request of the process


class _Held:
    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0


def _release(held: _Held) -> None:
    """The process no longer holds these bytes: let go of, or (a stream mitmproxy dropped with no further event for
    it) collected with its stream."""
    _Limits.held -= held.bytes
    held.bytes = 0


def _let_go(stream: HttpStream) -> None:
    if (held := getattr(stream, _HELD, None)) is not None:
        delattr(stream, _HELD)
        client = stream.context.client
        _held_by[client] = _held_by.get(client, 0) - held.bytes
        _release(held)


def _still_reading(stream: HttpStream) -> bool:
    """Whether mitmproxy still reads the stream's request (its head, or a body it buffers); not once the request is
    whole (its body moved into the flow) or given up (its hard cap, an error)."""
    return getattr(stream.client_state, "__func__", None) in _READING


def _bounded(inner: HandleEvent, self: HttpStream, event: events.Event) -> Generator[commands.Command, Any, None]:
    """Around HttpStream.handle_event, as events arrive (ahead of a pending hook's queue, which holds them too)."""
    if isinstance(event, RequestHeaders):
        fresh = _Held()
        weakref.finalize(self, _release, fresh)  # a last resort: every way a stream ends is looked for below
        setattr(self, _HELD, fresh)
        setattr(self, _MULTIPLEXED, not event.request.http_version.startswith("HTTP/1"))
        yield from _passed_on(inner, self, event)  # the stream has its flow now, which a refusal needs
        # A head counts as much as a body (an outside review held 83 MB in header-only HTTP/2 streams).
        head = len(event.request.path) + sum(len(name) + len(value) for name, value in event.request.headers.fields)
        yield from _counted(inner, self, head)
        return
    if isinstance(event, RequestData):
        if getattr(self, _HELD, None) is not None:
            yield from _counted(inner, self, len(event.data))
        if getattr(self, _REFUSED, False):
            return  # this data, or data sent after its refusal, before mitmproxy dropped the stream
    elif isinstance(event, RequestEndOfMessage) and getattr(self, _REFUSED, False):
        return
    yield from _passed_on(inner, self, event)


def _counted(inner: HandleEvent, self: HttpStream, size: int) -> Generator[commands.Command, Any, None]:
    """Count `size` more bytes held for the stream's request; past a limit, refuse it (and let its bytes go)."""
    held: _Held | None = getattr(self, _HELD, None)
    if held is None:  # let go already (refused, or no longer read)
        return
    client = self.context.client
    held.bytes += size
    _held_by[client] = _held_by.get(client, 0) + size
    _Limits.held += size
    if getattr(self, _MULTIPLEXED, False) and _held_by[client] > _Limits.connection:
        refusal = (413, TOO_MUCH_AT_ONCE)
    elif _Limits.held > _Limits.process:
        refusal = (503, PROXY_FULL)
    else:
        return
    _let_go(self)
    setattr(self, _REFUSED, True)
    yield from refuse_stream(inner, self, *refusal)


def _passed_on(inner: HandleEvent, self: HttpStream, event: events.Event) -> Generator[commands.Command, Any, None]:
    for command in inner(self, event):
        # An exchange that failed (a refusal on the way out: a deadline's 408 included) or is over wants no more of
        # its request: an outside review leaked the bytes of streams refused so, until everyone got 503.
        if isinstance(command, DropStream) or (
            isinstance(command, SendHttp) and isinstance(command.event, ResponseProtocolError)
        ):
            _let_go(self)
        yield command
    if not _still_reading(self):
        _let_go(self)


def full() -> bool:
    """Whether the process holds as many unfinished request bodies as it may (readiness says saturated)."""
    return _Limits.held >= _Limits.process


def install_stream_buffer_limits(*, connection: int, process: int) -> None:
    """`connection`: the bytes an HTTP/2 connection's unfinished request bodies may hold together; `process`: those
    of every unfinished request of the process."""
    _Limits.connection, _Limits.process = connection, process
    wrap_stream_events(_bounded)
