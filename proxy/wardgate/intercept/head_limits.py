"""HTTP/1 heads of bounded size, from clients and upstreams alike, and what a peer sends ahead of its turn.

mitmproxy's HTTP/1 layers buffer a message head until its blank line arrives, with no limit (its own comment: "FIXME:
protect against header size DoS"): one client with no credential sent 300 MB of header lines and Wardgate held them
all (+312 MB resident, no answer), and an upstream could do the same to every request forwarded to it. A head that
grows past `MAX_HEAD_BYTES` before its end is refused: a client gets a JSON 431 (audited, as every refusal of a
request no hook saw) and its connection is closed; an upstream's answer becomes a protocol error, so the client gets
the JSON 502 mitmproxy's error path writes and the flow is audited as an upstream fault. The same bound holds for
a chunk-size line or trailer section, and for what a peer sends ahead while its last message is answered.

Within the bound, a request head is looked at before mitmproxy parses it (in Python, line by line; a folded field by
concatenation, in quadratic time): more fields than the header checks accept is the 431 they would give, a folded
field the 400 (an outside review: 26,000 tiny fields cost 72 ms of CPU, 33,000 folds 105 ms, from a client with no
credential). And the data of a body's chunks read at once goes on as one piece, not one event per chunk (a body of
1-byte chunks cost 15 µs a chunk).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from typing import Any

from h11._receivebuffer import ReceiveBuffer
from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import ErrorCode, RequestData, ResponseData

from wardgate.intercept.framing import FOLDED_FIELD
from wardgate.pipeline.headers import MAX_HEADER_FIELDS, MAX_JUDGED_CHARS

__all__ = ["MAX_HEAD_BYTES", "TOO_MANY_FIELDS", "dropped", "in_state", "install_head_limits"]

# Room for the largest head the header checks accept (fields of 64 KB in all, 256 of them with their separators) and
# a request line as long again: a head past this is refused by them anyway, after costing its whole size.
MAX_HEAD_BYTES = 2 * MAX_JUDGED_CHARS + 8 * MAX_HEADER_FIELDS
_LIMITED = "wardgate_head_limited"
TOO_MANY_FIELDS = f"the request head has more than {MAX_HEADER_FIELDS} header fields"

type ReadHeaders = Callable[[Any, events.ConnectionEvent], Generator[commands.Command, Any, None]]


def in_state(connection: _http1.Http1Connection, state: str) -> bool:
    """Whether `connection` is in the state its method `state` handles (`read_headers`, `read_body`), as patched."""
    return getattr(connection.state, "__func__", None) is getattr(type(connection), state)


def _too_long(self: _http1.Http1Connection) -> bool:
    """Whether the connection is still reading a head (the reader left it there) and holds more than a head may."""
    return in_state(self, "read_headers") and len(self.buf) > MAX_HEAD_BYTES


def dropped(connection: _http1.Http1Connection) -> None:
    """The connection is done with: what it buffered goes (and a later close quotes none of it)."""
    connection.buf = ReceiveBuffer()
    connection.state = connection.done


def _ended(self: _http1.Http1Connection, message: str, code: ErrorCode) -> Generator[Any, Any, None]:
    """The connection is closed and the exchange under way ends as one the peer broke, with `message`."""
    assert self.stream_id is not None
    yield commands.CloseConnection(self.conn)
    yield ReceiveHttp(self.ReceiveProtocolError(self.stream_id, message, code))
    dropped(self)


def _limited_request_heads(read: ReadHeaders) -> ReadHeaders:
    def read_headers(self: _http1.Http1Server, event: events.ConnectionEvent) -> Generator[Any, Any, None]:
        yield from read(self, event)
        if _too_long(self):
            message = f"the request head is longer than {MAX_HEAD_BYTES} bytes"
            # Looked up at the call: intercept/error_pages.py makes it JSON, audited, in the provider's shape.
            yield commands.SendData(self.conn, _http1.make_error_response(431, message))
            yield commands.CloseConnection(self.conn)
            dropped(self)

    return _mark(read_headers)


def _limited_answer_heads(read: ReadHeaders) -> ReadHeaders:
    def read_headers(self: _http1.Http1Client, event: events.ConnectionEvent) -> Generator[Any, Any, None]:
        yield from read(self, event)
        if _too_long(self) and self.stream_id is not None:
            message = f"the upstream's answer head is longer than {MAX_HEAD_BYTES} bytes"
            yield from _ended(self, message, ErrorCode.GENERIC_SERVER_ERROR)

    return _mark(read_headers)


def _limited_waits(wait: ReadHeaders) -> ReadHeaders:
    """While a message is answered, mitmproxy keeps what the peer sends next (a pipelined request) for later, without
    limit: an outside review sent 1,500 MB behind a request whose answer was slow (+1.5 GB resident). Past what a
    head may hold, the connection is closed and the exchange under way ends as one the peer broke (no client
    pipelines bodies)."""

    def waiting(self: _http1.Http1Connection, event: events.ConnectionEvent) -> Generator[Any, Any, None]:
        yield from wait(self, event)
        if isinstance(event, events.DataReceived) and len(self.buf) > MAX_HEAD_BYTES and self.stream_id is not None:
            message = f"the peer sent more than {MAX_HEAD_BYTES} bytes ahead while its last message was answered"
            client = isinstance(self, _http1.Http1Server)
            code = ErrorCode.CLIENT_DISCONNECTED if client else ErrorCode.GENERIC_SERVER_ERROR
            yield from _ended(self, message, code)

    return _mark(waiting)


def _limited_body_lines(read_body: ReadHeaders) -> ReadHeaders:
    """h11 buffers a chunk-size line or a trailer section until its end, without limit, and mitmproxy's body cap
    counts neither (an outside review: 2,000 MB of chunk extension held, +2 GB resident, from a client with no
    credential). Body data is handed on as it comes, so a buffer past a head's limit is such a line: it ends the
    message as mitmproxy ends one that breaks HTTP's framing (a client's: audited 400; an upstream's: a JSON 502)."""

    def reading(self: _http1.Http1Connection, event: events.ConnectionEvent) -> Generator[Any, Any, None]:
        yield from read_body(self, event)
        if in_state(self, "read_body") and len(self.buf) > MAX_HEAD_BYTES and self.stream_id is not None:
            message = f"HTTP/1 protocol error: a chunk-size line or trailer section past {MAX_HEAD_BYTES} bytes"
            yield from _ended(self, message, self.ReceiveProtocolError.code)

    return _mark(reading)


def _looked_at_first(read_request_head: Callable[[list[bytes]], http.Request]) -> Callable[[list[bytes]], http.Request]:
    def read(lines: list[bytes]) -> http.Request:
        if len(lines) > MAX_HEADER_FIELDS + 1:  # the request line, then the fields
            raise ValueError(TOO_MANY_FIELDS)
        if any(line[:1] in (b" ", b"\t") for line in lines[1:]):
            raise ValueError(FOLDED_FIELD)
        return read_request_head(lines)

    return _mark(read)


def _in_one_piece(read_body: ReadHeaders) -> ReadHeaders:
    """The body data a read yields (a chunk's at a time) goes on as one piece: each piece is an event every layer of
    the stream handles."""

    def reading(self: _http1.Http1Connection, event: events.ConnectionEvent) -> Generator[Any, Any, None]:
        first: RequestData | ResponseData | None = None
        pieces: list[bytes] = []
        for command in read_body(self, event):
            if isinstance(command, ReceiveHttp) and isinstance(command.event, RequestData | ResponseData):
                first = first or command.event
                pieces.append(command.event.data)
                continue
            if first is not None:
                yield ReceiveHttp(dataclasses.replace(first, data=b"".join(pieces)))
                first, pieces = None, []
            yield command
        if first is not None:
            yield ReceiveHttp(dataclasses.replace(first, data=b"".join(pieces)))

    return _mark(reading)


def _mark[F: Callable[..., Any]](function: F) -> F:
    """`function` is one of these wrappers: installing them again wraps nothing twice."""
    setattr(function, _LIMITED, True)
    return function


def install_head_limits() -> None:
    """Wrap the HTTP/1 readers as they are now (other patches' included), once."""
    for layer, limited in ((_http1.Http1Server, _limited_request_heads), (_http1.Http1Client, _limited_answer_heads)):
        if not getattr(layer.read_headers, _LIMITED, False):
            layer.read_headers = limited(layer.read_headers)  # type: ignore[method-assign,assignment]
    if not getattr(http1.read_request_head, _LIMITED, False):
        # Looked up there at each call by mitmproxy's server layer.
        http1.read_request_head = _looked_at_first(http1.read_request_head)  # type: ignore[assignment]
    if not getattr(_http1.Http1Connection.read_body, _LIMITED, False):
        read_body = _in_one_piece(_http1.Http1Connection.read_body)
        _http1.Http1Connection.read_body = _limited_body_lines(read_body)  # type: ignore[method-assign,assignment]
    if not getattr(_http1.Http1Connection.wait, _LIMITED, False):
        _http1.Http1Connection.wait = _limited_waits(_http1.Http1Connection.wait)  # type: ignore[method-assign,assignment]
