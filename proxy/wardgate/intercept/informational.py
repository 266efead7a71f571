"""HTTP/1 informational answers (`103 Early Hints`, a stray `100 Continue`) skipped on the way to the real answer.

mitmproxy 12's HTTP/1 client takes any status line for the final answer: a 103 became the flow's response (no body),
the answer after it was dropped as unexpected data, and the client was left with the 103, waiting for an answer that
never came. Its HTTP/2 client already swallows informational answers (its comment: "103 Early Hints is not
mission-critical"); this makes the HTTP/1 client do the same, so the final answer is the one judged and sent. A 101
is not informational here: it changes the protocol, and the addon refuses one the request did not ask for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator
from typing import Any

from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import ErrorCode, ResponseProtocolError

__all__ = ["MAX_INFORMATIONAL", "install_informational_skipping"]

# An upstream that sends informational answers without end never answers: past this many in front of one answer it
# is a protocol error (a 502 for the client), so a stream of 103s cannot hold the flow forever.
MAX_INFORMATIONAL = 16
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (1(?!01)\d\d)[ \r\n]")
_read_headers = _http1.Http1Client.read_headers


def _read_headers_past_informational(
    self: _http1.Http1Client, event: events.ConnectionEvent
) -> Generator[Any, Any, None]:
    if isinstance(event, events.DataReceived) and self.request is not None and self.stream_id is not None:
        while match := _STATUS_LINE.match(bytes(self.buf)[:16]):
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
            yield commands.Log(f"Skipping an informational answer ({match.group(1).decode()})", logging.DEBUG)
    yield from _read_headers(self, event)


def install_informational_skipping() -> None:
    _http1.Http1Client.read_headers = _read_headers_past_informational  # type: ignore[method-assign]
