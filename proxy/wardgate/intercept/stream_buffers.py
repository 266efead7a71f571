"""The request bodies an HTTP/2 connection has still arriving are bounded together: past `limit` bytes held for its
unfinished requests, the stream whose bytes went past gets a JSON 413 `body_too_large` (audited) and its bytes are
let go; the connection's other streams go on.

mitmproxy acknowledges every byte at once (no backpressure) and holds a request's body until it is whole, and
`max_body_bytes` bounds one request: a client with a hundred streams of 15 MB bodies it never finished held 1.7 GB
(an outside review). An HTTP/1 connection has one request at a time, bounded by itself. (How long a body may take is
intercept/client_timeout.py's.)
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

__all__ = ["TOO_MUCH_AT_ONCE", "install_stream_buffer_limit"]

TOO_MUCH_AT_ONCE = "the request bodies this connection is sending at once are larger than this proxy holds"
_HELD = "_wardgate_body_bytes_held"  # on a multiplexed stream: its request body's bytes so far, until it is whole
_REFUSED = "_wardgate_refused_as_too_much"
_held_by: weakref.WeakKeyDictionary[Client, int] = weakref.WeakKeyDictionary()
_limit = 0


def _let_go(stream: HttpStream) -> None:
    if (held := getattr(stream, _HELD, None)) is not None:
        delattr(stream, _HELD)
        client = stream.context.client
        _held_by[client] = _held_by.get(client, 0) - held


def _bounded(inner: HandleEvent, self: HttpStream, event: events.Event) -> Generator[commands.Command, Any, None]:
    """Around HttpStream.handle_event, as events arrive (ahead of a pending hook's queue, which holds them too)."""
    if isinstance(event, RequestHeaders) and not event.request.http_version.startswith("HTTP/1"):
        setattr(self, _HELD, 0)
    elif isinstance(event, RequestData) and (held := getattr(self, _HELD, None)) is not None:
        client = self.context.client
        setattr(self, _HELD, held + len(event.data))
        _held_by[client] = _held_by.get(client, 0) + len(event.data)
        if _held_by[client] > _limit:
            _let_go(self)
            setattr(self, _REFUSED, True)
            yield from refuse_stream(inner, self, 413, TOO_MUCH_AT_ONCE)
            return
    elif isinstance(event, (RequestEndOfMessage, RequestProtocolError, ResponseProtocolError)):
        _let_go(self)
    if getattr(self, _REFUSED, False) and isinstance(event, (RequestData, RequestEndOfMessage)):
        return  # sent after its refusal, before mitmproxy dropped the stream
    yield from inner(self, event)


def install_stream_buffer_limit(limit: int) -> None:
    """`limit`: the bytes an HTTP/2 connection's unfinished request bodies may hold together."""
    global _limit
    _limit = limit
    wrap_stream_events(_bounded)
