"""The SSE parser: any re-chunking of a stream yields the same events, and raw bytes survive untouched."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardgate.formats.sse import SseEvent, SseEventTooLarge, SseParser, encode_event

OPENAI = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n'
    b": keep-alive comment\n\n"
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"lo \xc3\xa9"}}]}\n\n'
    b"data: [DONE]\n\n"
)
ANTHROPIC_CRLF = (
    b'event: message_start\r\ndata: {"type":"message_start"}\r\n\r\n'
    b'event: content_block_delta\r\ndata: {"type":"content_block_delta",\r\ndata: "index":0}\r\n\r\n'
    b"event: ping\rdata: {}\r\r"
)
# A byte-order mark, then every line a client ignores but still receives: the parser hands them over for judging.
FRAMING = b"\xef\xbb\xbfevent: first\nevent: second\nid: 7\n: a comment\nretry: 10\nx-note: hi\nno colon\ndata: {}\n\n"


def parse(chunks: list[bytes], limit: int | None = None) -> list[SseEvent]:
    parser = SseParser(limit)
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


def test_fields_comments_and_multiline_data():
    events = parse([ANTHROPIC_CRLF])
    assert [(e.event, e.data) for e in events] == [
        ("message_start", '{"type":"message_start"}'),
        ("content_block_delta", '{"type":"content_block_delta",\n"index":0}'),
        ("ping", "{}"),
    ]
    comment = parse([OPENAI])[1]
    assert (comment.data, comment.raw) == (None, b": keep-alive comment\n\n")


def test_raw_bytes_reassemble_the_stream_exactly():
    for stream in (OPENAI, ANTHROPIC_CRLF, FRAMING, OPENAI + b"data: unterminated"):
        assert b"".join(event.raw for event in parse([stream])) == stream


@st.composite
def chunkings(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_chunking_yields_the_same_events(data):
    for stream in (OPENAI, ANTHROPIC_CRLF, FRAMING):
        assert parse(data.draw(chunkings(stream))) == parse([stream])


def test_encode_round_trips():
    encoded = encode_event("error", '{"a":1}\n{"b":2}')
    [event] = parse([encoded])
    assert (event.event, event.data) == ("error", '{"a":1}\n{"b":2}')


def test_a_leading_byte_order_mark_is_skipped_once_even_split_over_chunks():
    events = parse([b"\xef", b"\xbb", b"\xbfdata: 1\n\n\xef\xbb\xbfdata: 2\n\n"])
    assert [(e.data, e.others) for e in events] == [("1", ()), (None, ("\ufeffdata: 2",))]
    assert events[0].raw == b"\xef\xbb\xbfdata: 1\n\n"  # passed on as it came


def test_every_text_besides_the_data_is_kept_for_judging():
    [event] = parse([FRAMING])
    assert (event.event, event.id, event.data) == ("second", "7", "{}")
    assert event.others == ("first\n: a comment\nretry: 10\nx-note: hi\nno colon",)  # one text: judged together


@pytest.mark.parametrize("chunk", [1024, 1 << 20])
def test_an_event_past_the_limit_is_refused_with_the_events_before_it(chunk):
    stream = b"data: small\n\n" + b"data: " + b"x" * 5000 + b"\n\n"
    with pytest.raises(SseEventTooLarge) as refused:
        parse([stream[start : start + chunk] for start in range(0, len(stream), chunk)], limit=4096)
    assert [event.data for event in refused.value.events] in ([], ["small"])
    assert [event.data for event in parse([stream], limit=5100)] == ["small", "x" * 5000]


def test_a_long_line_in_small_chunks_parses_in_linear_time():
    """A 768 KB line in 1 KB chunks took 13 s when every chunk rescanned the line from its start."""
    stream = b"data: " + b"x" * (768 * 1024) + b"\n\n"
    started = time.perf_counter()
    [event] = parse([stream[start : start + 1024] for start in range(0, len(stream), 1024)])
    assert time.perf_counter() - started < 1.0
    assert len(event.data or "") == 768 * 1024


def test_encode_carries_the_name_and_id_and_nothing_when_empty():
    assert encode_event("e", None, "9") == b"event: e\nid: 9\n\n"
    assert encode_event(None, None) == b""


def test_an_event_of_millions_of_comment_lines_costs_its_size_in_memory():
    """An outside review's finding: each comment line was a string of its own (8 MiB of `:a` lines, +186 MB)."""
    import tracemalloc

    flood = b":a\n" * (2 * 1024 * 1024 // 3) + b"data: {}\n\n"
    tracemalloc.start()
    [event] = SseParser(max_event_bytes=16 * 1024 * 1024).feed(flood)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * len(flood), f"peak {peak / 2**20:.0f} MiB for {len(flood) / 2**20:.0f} MiB"
    assert event.data == "{}"
    assert len(event.others) == 1
