"""A forwarded request body always carries its own length (intercept/framing.py)."""

from __future__ import annotations

import pytest
from mitmproxy import http

from wardgate.intercept.framing import frame_body, request_line_problem


def request(method: str, body: bytes, version: str = "HTTP/2.0", **headers: str) -> http.Request:
    made = http.Request.make(method, "https://api.example.com/v1/x", body, {})
    made.headers.clear()  # make() adds a content-length: the client's own fields only
    for name, value in headers.items():
        made.headers.add(name.replace("_", "-"), value)
    made.http_version = version
    return made


@pytest.mark.parametrize(
    ("method", "body", "headers", "length"),
    [
        ("GET", b"POST /v1/chat HTTP/1.1\r\n\r\n", {}, ["26"]),  # HTTP/2 needs no length: HTTP/1 does
        ("POST", b"", {}, ["0"]),  # an empty POST still says so (411 Length Required otherwise)
        ("GET", b"", {}, []),  # a GET without a body is left as it came
        ("POST", b"hello", {"content_length": "2"}, ["5"]),  # a length that is not the body's
        ("POST", b"hello", {"content_length": "5"}, ["5"]),
        ("POST", b"hello", {"transfer_encoding": "chunked"}, ["5"]),  # HTTP/2 has no transfer coding
    ],
)
def test_an_http2_body_leaves_with_its_own_length(method, body, headers, length):
    forwarded = request(method, body, **headers)
    frame_body(forwarded)
    assert forwarded.headers.get_all("content-length") == length
    assert "transfer-encoding" not in forwarded.headers


def test_two_lengths_become_the_bodys_one():
    forwarded = request("POST", b"hello")
    forwarded.headers.add("content-length", "5")
    forwarded.headers.add("content-length", "50")
    frame_body(forwarded)
    assert forwarded.headers.get_all("content-length") == ["5"]


def test_an_http1_chunked_body_stays_chunked():
    forwarded = request("POST", b"hello", "HTTP/1.1", transfer_encoding="chunked")
    frame_body(forwarded)
    assert (forwarded.headers.get("transfer-encoding"), forwarded.headers.get("content-length")) == ("chunked", None)


@pytest.mark.parametrize(
    ("method", "path", "refused"),
    [
        ("POST", "/v1/chat/completions?x=1", False),
        ("OPTIONS", "*", False),
        ("M-SEARCH", "/", False),
        ("POST /v1/chat/completions HTTP/1.1\tx", "/v1/models", True),
        ("GET", "/v1/models HTTP/1.1", True),
        ("GET", "/v1/models\x00", True),
        ("GET", "/v1/\x7fmodels", True),
        ("POST", "/v1/chat/completions\xa0", True),  # http.server reads \xa0 and \x85 as spaces
        ("POST", "/v1/chat/completions\udc85", True),  # a raw byte, as mitmproxy decodes it
        ("GET", "/v1/files/%E2%82%AC?q=a|b", False),
    ],
)
def test_a_request_line_an_http1_upstream_could_read_otherwise_is_named(method, path, refused):
    made = http.Request.make("GET", "https://api.example.com/", b"", {})
    made.method, made.path = method, path
    assert (request_line_problem(made) is not None) == refused


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("GET", {"x_http_method_override": "POST"}, True),
        ("PUT", {"X_HTTP_Method": "post"}, True),
        ("PATCH", {"x_method_override": "POST"}, True),
        ("POST", {"x_http_method_override": "post"}, False),  # names the method it is
        ("POST", {"x_http_method_override": ""}, False),
        ("POST", {"x_http_method_override": "POST, post"}, False),
        ("POST", {"x_http_method_override": "POST, DELETE"}, True),
        ("POST", {}, False),
    ],
)
def test_a_method_override_naming_another_method_is_refused(method, headers, refused):
    """Found by an outside review: a GET with `x-http-method-override: POST` was judged as a GET."""
    assert (request_line_problem(request(method, b"", **headers)) is not None) == refused


def test_a_method_override_spelled_with_underscores_is_refused_too():
    made = request("GET", b"")
    made.headers.add("X_HTTP_Method_Override", "POST")  # WSGI servers read `_` and `-` alike
    assert request_line_problem(made) is not None
