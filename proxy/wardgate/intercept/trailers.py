"""HTTP/1 trailer fields, kept on the message instead of crashing the connection.

mitmproxy 12's HTTP/1 reader raises NotImplementedError when a chunked body ends in trailer fields: the connection's
handler dies, the client gets no answer and no hook (so no audit event) runs. This wraps the reader so the trailers
land on the request or response as `trailers`, as HTTP/2's do, and the addon decides: a request to an inspected
host that carries them is refused (their fields would reach the upstream unjudged), an inspected answer's are
dropped.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import h11
from mitmproxy import http
from mitmproxy.proxy.layers.http import _http1

__all__ = ["install_trailer_reader"]

_read_body = _http1.Http1Connection.read_body


class _TrailerKeeper:
    """An h11 body reader whose end of message carries no trailers: they go onto `message` instead."""

    def __init__(self, reader: Any, message: http.Message) -> None:
        self._reader, self._message = reader, message

    def __call__(self, buf: Any) -> Any:
        return self._kept(self._reader(buf))

    def read_eof(self) -> Any:
        return self._kept(self._reader.read_eof())

    def _kept(self, event: Any) -> Any:
        if isinstance(event, h11.EndOfMessage) and event.headers:
            self._message.trailers = http.Headers(list(event.headers))
            return h11.EndOfMessage()
        return event


def _read_body_keeping_trailers(self: _http1.Http1Connection, event: Any) -> Generator[Any, Any, None]:
    if not isinstance(self.body_reader, _TrailerKeeper):
        message = self.request if isinstance(self, _http1.Http1Server) else self.response
        if message is not None:
            # mitmproxy types the attribute as h11's reader classes; the keeper reads exactly like them.
            self.body_reader = _TrailerKeeper(self.body_reader, message)  # type: ignore[assignment]
    yield from _read_body(self, event)


def install_trailer_reader() -> None:
    _http1.Http1Connection.read_body = _read_body_keeping_trailers  # type: ignore[method-assign]
