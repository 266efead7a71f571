"""Request bodies still arriving are bounded together, per HTTP/2 connection and for the whole process.

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
from mitmproxy.proxy.layers.http import HttpStream
from mitmproxy.proxy.layers.http._events import (
    RequestData,
    RequestEndOfMessage,
    RequestHeaders,
    RequestProtocolError,
    ResponseProtocolError,
)

from wardgate.intercept.error_pages import refuse_stream
from wardgate.intercept.stream_events import HandleEvent, wrap_stream_events

__all__ = ["PROXY_FULL", "TOO_MUCH_AT_ONCE", "install_stream_buffer_limits"]

TOO_MUCH_AT_ONCE = "the request bodies this connection is sending at once are larger than this proxy holds"
PROXY_FULL = "Wardgate holds as many unfinished request bodies as it may; retry shortly"
_HELD = "_wardgate_body_bytes_held"  # on a stream: its request body's bytes so far (a _Held), until it is whole
_MULTIPLEXED = "_wardgate_multiplexed"
_REFUSED = "_wardgate_refused_as_too_much"
_held_by: weakref.WeakKeyDictionary[Client, int] = weakref.WeakKeyDictionary()


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


def _bounded(inner: HandleEvent, self: HttpStream, event: events.Event) -> Generator[commands.Command, Any, None]:
    """Around HttpStream.handle_event, as events arrive (ahead of a pending hook's queue, which holds them too)."""
    if isinstance(event, RequestHeaders):
        fresh = _Held()
        weakref.finalize(self, _release, fresh)
        setattr(self, _HELD, fresh)
        setattr(self, _MULTIPLEXED, not event.request.http_version.startswith("HTTP/1"))
    elif isinstance(event, RequestData) and (held := getattr(self, _HELD, None)) is not None:
        client, size = self.context.client, len(event.data)
        held.bytes += size
        _held_by[client] = _held_by.get(client, 0) + size
        _Limits.held += size
        refusal = None
        if getattr(self, _MULTIPLEXED, False) and _held_by[client] > _Limits.connection:
            refusal = (413, TOO_MUCH_AT_ONCE)
        elif _Limits.held > _Limits.process:
            refusal = (503, PROXY_FULL)
        if refusal is not None:
            _let_go(self)
            setattr(self, _REFUSED, True)
            yield from refuse_stream(inner, self, *refusal)
            return
    elif isinstance(event, (RequestEndOfMessage, RequestProtocolError, ResponseProtocolError)):
        _let_go(self)
    if getattr(self, _REFUSED, False) and isinstance(event, (RequestData, RequestEndOfMessage)):
        return  # sent after its refusal, before mitmproxy dropped the stream
    yield from inner(self, event)


def install_stream_buffer_limits(*, connection: int, process: int) -> None:
    """`connection`: the bytes an HTTP/2 connection's unfinished request bodies may hold together; `process`: those
    of every unfinished request of the process."""
    _Limits.connection, _Limits.process = connection, process
    wrap_stream_events(_bounded)
