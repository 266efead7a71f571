"""HTTP/1 lines that come before what they precede, skipped: informational answers (`103 Early Hints`, a stray
`100 Continue`) on the way to the real answer, and empty lines before a request line.

mitmproxy 12's HTTP/1 client takes any status line for the final answer: a 103 became the flow's response (no body),
the answer after it was dropped as unexpected data, and the client was left with the 103, waiting for an answer that
never came. Its HTTP/2 client already swallows informational answers (its comment: "103 Early Hints is not
mission-critical"); this makes the HTTP/1 client do the same, so the final answer is the one judged and sent. A 101
is not informational here: it changes the protocol, and the addon refuses one the request did not ask for.

RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the request line. mitmproxy's HTTP/1
server took it for an empty head and waited for more bytes, though the whole request was already there: a client
that sent a CRLF first (after a previous request's body, as some do) hung until the idle timeout, unanswered and
unaudited (an outside review).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from h11._receivebuffer import ReceiveBuffer
from mitmproxy.net.http.http1 import read
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import ErrorCode, ResponseProtocolError

__all__ = ["MAX_INFORMATIONAL", "install_empty_line_skipping", "install_informational_skipping"]

# An upstream that sends informational answers without end never answers: past this many in front of one answer it
# is a protocol error (a 502 for the client), so a stream of 103s cannot hold the flow forever.
MAX_INFORMATIONAL = 16
_MAX_STATUS_LINE = 8192  # a first line longer than this is not looked at here: mitmproxy's reader takes it as it is
_read_headers = _http1.Http1Client.read_headers
_read_request_headers = _http1.Http1Server.read_headers


def _informational_status(buf: ReceiveBuffer) -> int | None:
    """The status of the answer head at the start of `buf` if it is informational (1xx but 101), read from its first
    line exactly as mitmproxy's reader will read it (any spelling it accepts: `HTTP/1.1  103`, `0103`, `1_03`).
    h11's buffer is read in place: copying it on every read would make a trickled head quadratic."""
    data = buf._data
    end = data.find(b"\n", 0, _MAX_STATUS_LINE)
    if end < 0:
        return None
    line = bytes(data[:end])
    try:
        _, status, _ = read._read_response_line(line[:-1] if line.endswith(b"\r") else line)
    except ValueError:
        return None
    return status if 100 <= status < 200 and status != 101 else None


def _read_headers_past_informational(
    self: _http1.Http1Client, event: events.ConnectionEvent
) -> Generator[Any, Any, None]:
    if isinstance(event, events.DataReceived) and self.request is not None and self.stream_id is not None:
        while (status := _informational_status(self.buf)) is not None:
            if self.buf.maybe_extract_lines() is None:
                return  # the informational head is not complete yet: wait for the rest of it
            skipped = getattr(self, "_wardgate_informational", (None, 0))
            count = skipped[1] + 1 if skipped[0] == self.stream_id else 1
            self._wardgate_informational = (self.stream_id, count)  # type: ignore[attr-defined]
            if count > MAX_INFORMATIONAL:
                yield commands.CloseConnection(self.conn)
                message = f"the upstream sent more than {MAX_INFORMATIONAL} informational answers"
                yield ReceiveHttp(ResponseProtocolError(self.stream_id, message, ErrorCode.GENERIC_SERVER_ERROR))
                return
            yield commands.Log(f"Skipping an informational answer ({status})", logging.DEBUG)
    yield from _read_headers(self, event)


def _read_request_headers_past_empty_lines(
    self: _http1.Http1Server, event: events.ConnectionEvent
) -> Generator[Any, Any, None]:
    if isinstance(event, events.DataReceived):
        while self.buf._data[:1] == b"\n" or self.buf._data[:2] == b"\r\n":
            self.buf.maybe_extract_lines()  # one empty line: it returns [] and drops it
        if not self.buf:
            return  # empty lines only, so far: the request line is still to come
    yield from _read_request_headers(self, event)


def install_empty_line_skipping() -> None:
    _http1.Http1Server.read_headers = _read_request_headers_past_empty_lines  # type: ignore[method-assign]


def install_informational_skipping() -> None:
    _http1.Http1Client.read_headers = _read_headers_past_informational  # type: ignore[method-assign]
