"""A compressed SSE body is decoded before it is judged; one that cannot be decoded is stopped, not passed."""

from __future__ import annotations

import gzip
import json
import tracemalloc

import brotli
import pytest
import zstandard
from mitmproxy import http

from tests.unit.test_stream_guard import Judge, chat_stream, client_text
from wardgate.formats.streams import OpenAIChatStream
from wardgate.intercept.responses import decoded_stream
from wardgate.pipeline.stream import StreamGuard
from wardgate.pipeline.vault import Vault


def run(headers: http.Headers, body: bytes) -> bytes:
    stream = decoded_stream(headers, StreamGuard(OpenAIChatStream(), Judge(), Vault()))
    out = [stream(body[i : i + 7]) for i in range(0, len(body), 7)] + [stream(b"")]
    return b"".join(piece if isinstance(piece, bytes) else b"".join(piece) for piece in out)


def test_a_gzip_stream_is_decoded_judged_and_sent_plain():
    plain = chat_stream(["The key", " SECRET", "123 is", " revoked."])
    headers = http.Headers(content_encoding="gzip", content_length="99")
    out = run(headers, gzip.compress(plain))
    assert client_text(out) == "The key [REDACTED] is revoked."
    assert "content-encoding" not in headers
    assert "content-length" not in headers


COMPRESS = {
    "gzip": gzip.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("encoding", ["br", "zstd"])
def test_brotli_and_zstd_streams_are_decoded_and_judged_too(encoding):
    """They used to be stopped as unreadable: an answer the client could read was refused."""
    events = chat_stream(["The key", " SECRET", "123 is", " revoked."])
    half = events.index(b"\n\n") + 2
    body = COMPRESS[encoding](events)
    if encoding == "zstd":  # a concatenation of frames is one body, as zstd readers decode it
        body = COMPRESS["zstd"](events[:half]) + COMPRESS["zstd"](events[half:])
    assert client_text(run(http.Headers(content_encoding=encoding), body)) == "The key [REDACTED] is revoked."


@pytest.mark.parametrize("encoding", ["compress", "gzip, br", "x-custom"])
def test_an_encoding_it_cannot_read_stops_the_stream(encoding):
    out = run(http.Headers(content_encoding=encoding), COMPRESS["gzip"](chat_stream(["hello"])))
    [event] = [line for line in out.decode().splitlines() if line.startswith("data: ")]
    assert json.loads(event[6:])["error"]["code"] == "stream_unreadable"


@pytest.mark.parametrize("encoding", ["br", "zstd"])
def test_bytes_that_are_not_what_the_label_says_stop_the_stream(encoding):
    out = run(http.Headers(content_encoding=encoding), chat_stream(["hello"]))
    assert b"hello" not in out
    assert b"stream_unreadable" in out


def test_a_zstd_frame_asking_for_a_window_past_http_s_limit_is_refused_not_allocated():
    """RFC 9659 holds HTTP's zstd to 8 MB windows; the frame header alone would have the decoder allocate 128 MB."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
    compressor = zstandard.ZstdCompressor(compression_params=params).compressobj()  # a stream: no size to fit
    body = compressor.compress(chat_stream(["hello"])) + compressor.flush()
    assert zstandard.get_frame_parameters(body).window_size == 2**27
    tracemalloc.start()
    try:
        out = run(http.Headers(content_encoding="zstd"), body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert b"stream_unreadable" in out
    assert peak < 4 * 2**20


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_a_compressed_event_past_the_limit_is_never_inflated_whole(encoding):
    bomb = COMPRESS[encoding](b'data: {"choices": [{"delta": {"content": "' + b"x" * (64 * 2**20))
    stream = decoded_stream(
        http.Headers(content_encoding=encoding),
        StreamGuard(OpenAIChatStream(), Judge(), Vault(), max_event_bytes=2**20),
    )
    tracemalloc.start()
    try:
        out = stream(bomb)  # a few KB that inflate to 64 MB, in one chunk
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [event] = [line for line in out.decode().splitlines() if line.startswith("data: ")]
    # Stopped at the event's limit, or (br, zstd: thousands of times smaller) at the ratio, past the same first MiB.
    assert json.loads(event[6:])["error"]["code"] in ("event_too_large", "stream_unreadable")
    assert peak < 8 * 2**20  # the event's limit and a step or two of inflated bytes, not 64 MB


def test_every_gzip_member_is_inflated_and_judged():
    events = chat_stream(["The key", " SECRET", "123 is", " revoked."])
    half = events.index(b"\n\n") + 2
    out = run(http.Headers(content_encoding="gzip"), gzip.compress(events[:half]) + gzip.compress(events[half:]))
    assert client_text(out) == "The key [REDACTED] is revoked."


def test_deflate_is_read_zlib_wrapped_as_the_rfc_has_it_or_raw_as_some_servers_send_it():
    """httpx and urllib3 read both; a stream Wardgate stopped as unreadable would be an answer the client could read."""
    import zlib

    plain = chat_stream(["The key", " SECRET", "123 is", " revoked."])
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        compressor = zlib.compressobj(wbits=wbits)
        deflated = compressor.compress(plain) + compressor.flush()
        stream = decoded_stream(
            http.Headers(content_encoding="deflate"), StreamGuard(OpenAIChatStream(), Judge(), Vault())
        )
        # The first byte alone tells nothing: it is held until the second arrives.
        out = [stream(deflated[:1]), *(stream(deflated[i : i + 5]) for i in range(1, len(deflated), 5)), stream(b"")]
        assert client_text(b"".join(p if isinstance(p, bytes) else b"".join(p) for p in out)) == (
            "The key [REDACTED] is revoked."
        )


def test_plain_text_labelled_compressed_is_stopped_as_unreadable():
    for encoding in ("gzip", "deflate"):
        out = run(http.Headers(content_encoding=encoding), chat_stream(["hello"]))
        assert b"hello" not in out
        assert b"stream_unreadable" in out


def test_data_after_a_deflate_stream_or_bytes_that_are_not_gzip_stop_the_stream():
    import zlib

    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    deflated = raw.compress(chat_stream(["hello"])) + raw.flush()
    for headers, body in (
        (http.Headers(content_encoding="deflate"), deflated + b"data: unjudged\n\n"),
        (http.Headers(content_encoding="gzip"), gzip.compress(chat_stream(["hello"])) + b"not gzip at all"),
    ):
        out = run(headers, body)
        assert b"unjudged" not in out
        assert b"stream_unreadable" in out


def test_a_stopped_compressed_stream_is_not_inflated_at_its_end():
    bomb = gzip.compress(b'data: {"choices": [{"delta": {"content": "' + b"x" * (64 * 2**20), compresslevel=9)
    stream = decoded_stream(
        http.Headers(content_encoding="gzip"),
        StreamGuard(OpenAIChatStream(), Judge(), Vault(), max_event_bytes=2**20),
    )
    stream(bomb)  # stopped at the event's limit, most of the chunk not inflated
    tracemalloc.start()
    try:
        stream(b"")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_a_stream_decoding_to_more_than_200_times_its_size_is_stopped(encoding):
    """Found by an outside review: 71 bytes of brotli became 7 MB of comments the judge took 10 s over (each step
    bounded, the whole not). Past its first MiB a stream may decode to 200 times what it sent."""
    comments = b": keep-alive\n\n" * 500_000  # 7 MB
    out = run(http.Headers(content_encoding=encoding), COMPRESS[encoding](comments))
    assert len(out) < 2 * 2**20
    [event] = [line for line in out.decode().splitlines() if line.startswith("data: ")]
    error = json.loads(event[6:])["error"]
    assert (error["code"], "more than 200 times its size" in error["message"]) == ("stream_unreadable", True)
    ordinary = chat_stream([f" token {n}" for n in range(20_000)])  # a long answer: ~20 times smaller compressed
    assert b"stream_unreadable" not in run(http.Headers(content_encoding=encoding), COMPRESS[encoding](ordinary))


def test_decoding_stops_when_the_judgements_budget_is_spent():
    """What a chunk decodes to may cost the judge more than any scan (comments are not scanned): the chunk's budget
    (scanners/deadline.py, opened by intercept/off_loop_streams.py) bounds decoding too."""
    from wardgate.scanners import deadline

    stream = decoded_stream(http.Headers(content_encoding="gzip"), StreamGuard(OpenAIChatStream(), Judge(), Vault()))
    with deadline.budget(0.0):
        out = stream(gzip.compress(chat_stream([f" token {n}" for n in range(20_000)])))
    [event] = [line for line in out.decode().splitlines() if line.startswith("data: ")][-1:]
    assert "budget" in json.loads(event[6:])["error"]["message"]  # the decoder's, or the guard's on its first event
