"""Every request leaves Wardgate framed and with a request line an HTTP/1 upstream reads one way only.

HTTP/2 and HTTP/3 frame a body themselves, so their clients may leave `content-length` out. mitmproxy 12 forwards
such a request to an HTTP/1 upstream with a head that names no length and the body after it: the upstream reads a
request without a body, then the body as the next request on its connection. A client could so send an upstream a
second request (`POST /v1/chat/completions` with any prompt) inside the body of one Wardgate judged as something
else (a `GET /v1/models`), and the upstream's answer to it would wait on that connection for whichever request came
next. A body Wardgate forwards (it holds every request body whole) now always carries its own length, and only it:
a declared length that is not the body's, or a transfer coding in a protocol that has none, is replaced.

HTTP/2 also carries the method and the target as fields, which mitmproxy writes into the HTTP/1 request line as they
are: a `:method` of `POST /v1/chat/completions HTTP/1.1\tx` with a `:path` of `/v1/models` was judged as a request
for `/v1/models` and reached the upstream as a line a lenient parser reads as the chat; a raw `\xa0` after
`/v1/chat/completions` hid the route from Wardgate (no tool policy) while Python's http.server read it as a space.
A method that is not a token, or a target that is not visible ASCII, is refused.
"""

from __future__ import annotations

import re

from mitmproxy import http

from wardgate.formats.target import TARGET_BREAK

__all__ = ["FOLDED_FIELD", "frame_body", "request_line_problem"]

FOLDED_FIELD = "a header field is folded over more than one line (obs-fold)"

# Headers some frameworks read as the request's method (Rails, Express's method-override, ASP.NET, Google's APIs):
# `GET` or `PUT` with `x-http-method-override: POST` was judged as the GET it said it was (an outside review).
_METHOD_OVERRIDES = ("x-http-method-override", "x-http-method", "x-method-override")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 §5.6.2: what a method is made of

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


def request_line_problem(request: http.Request) -> str | None:
    """Why the request's method, target or a header field cannot go on as it is (into an HTTP/1 request line, a
    field line), or None."""
    if not _TOKEN.fullmatch(request.method):
        return "the request's method is not an HTTP token"
    if TARGET_BREAK.search(request.path):
        return "the request's target holds a character that is not visible ASCII (a space, a control, a raw byte)"
    for name, value in request.headers.fields:
        if b"\n" in value or b"\r" in value:
            # A folded field (obs-fold) goes on folded: a server that reads the next line as a field of its own
            # would see a header no one judged as one. RFC 9112 §5.2 lets a proxy reject it (an outside review).
            return FOLDED_FIELD
        header = name.decode("latin-1").lower().replace("_", "-")  # WSGI servers read `_` and `-` alike
        if header not in _METHOD_OVERRIDES:
            continue
        named = {method.strip().upper() for method in value.decode("latin-1").split(",")} - {""}
        if named - {request.method}:
            return f"the request names another method in {header}, which some servers obey"
    return None
