"""Every request body leaves Wardgate framed, whatever protocol it arrived in.

HTTP/2 and HTTP/3 frame a body themselves, so their clients may leave `content-length` out. mitmproxy 12 forwards
such a request to an HTTP/1 upstream with a head that names no length and the body after it: the upstream reads a
request without a body, then the body as the next request on its connection. A client could so send an upstream a
second request (`POST /v1/chat/completions` with any prompt) inside the body of one Wardgate judged as something
else (a `GET /v1/models`), and the upstream's answer to it would wait on that connection for whichever request came
next. A body Wardgate forwards (it holds every request body whole) now always carries its own length, and only it:
a declared length that is not the body's, or a transfer coding in a protocol that has none, is replaced.
"""

from __future__ import annotations

from mitmproxy import http

__all__ = ["frame_body"]

# Methods whose body an HTTP/1 server expects a length for even when it is empty (411 Length Required otherwise).
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))


def frame_body(request: http.Request) -> None:
    """Make the head say how long the body Wardgate holds is, the way an HTTP/1 upstream reads it."""
    body = request.raw_content
    if body is None:  # streamed: not a request Wardgate forwards (it holds bodies whole)
        return
    if "transfer-encoding" in request.headers:
        if request.http_version.startswith("HTTP/1"):
            return  # read chunked, and sent chunked again
        # HTTP/2 and 3 forbid the field (RFC 9113 §8.2.2); an HTTP/1 upstream would read the raw body as chunks.
        del request.headers["transfer-encoding"]
    needs_length = body or request.method.upper() in _BODY_METHODS or "content-length" in request.headers
    # A length that is not the body's: h2 refuses one today; if one ever arrives, the body's own replaces it.
    if needs_length and request.headers.get_all("content-length") != [str(len(body))]:
        request.headers["content-length"] = str(len(body))
