"""What the HTTP/1 readers do before mitmproxy's own work (intercept/head_limits.py)."""

from __future__ import annotations

import re

import pytest
from mitmproxy.proxy import commands
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import RequestData, RequestEndOfMessage

from wardgate.intercept.framing import FOLDED_FIELD
from wardgate.intercept.head_limits import TOO_MANY_FIELDS, _in_one_piece, _looked_at_first
from wardgate.pipeline.headers import MAX_HEADER_FIELDS

REQUEST_LINE = b"POST /v1/chat/completions HTTP/1.1"


def parser_never_called(lines: list[bytes]):
    raise AssertionError(f"parsed {len(lines)} lines")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ([b"a:b"] * (MAX_HEADER_FIELDS + 1), TOO_MANY_FIELDS),  # 26,000 such fields cost 72 ms to parse and refuse
        ([b"x-a: b", *[b" c"] * 10], FOLDED_FIELD),  # folds are joined by concatenation: quadratic
        ([b"x-a: b", b"\tc"], FOLDED_FIELD),
    ],
    ids=["too many fields", "folded", "folded by a tab"],
)
def test_a_head_the_checks_would_refuse_is_refused_before_mitmproxy_parses_it(fields, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        _looked_at_first(parser_never_called)([REQUEST_LINE, *fields])


def test_a_head_the_checks_accept_is_parsed_as_before():
    lines = [REQUEST_LINE, b"host: x", *[b"x-a: b"] * (MAX_HEADER_FIELDS - 1)]
    assert _looked_at_first(len)(lines) == MAX_HEADER_FIELDS + 1


def test_the_data_of_the_chunks_read_at_once_goes_on_as_one_piece():
    """A body of 1-byte chunks was an event per byte through every layer of the stream (15 µs a chunk)."""
    closing = commands.CloseConnection(None)  # type: ignore[arg-type]

    def read_body(self, event):
        yield from (ReceiveHttp(RequestData(1, bytes([byte]))) for byte in b"hello")
        yield closing
        yield ReceiveHttp(RequestData(1, b"!"))
        yield ReceiveHttp(RequestEndOfMessage(1))

    out = list(_in_one_piece(read_body)(None, None))
    assert [type(c.event) if isinstance(c, ReceiveHttp) else c for c in out] == [
        RequestData, closing, RequestData, RequestEndOfMessage,
    ]  # fmt: skip
    assert (out[0].event.data, out[2].event.data) == (b"hello", b"!")
