"""The SSE parser: any re-chunking of a stream yields the same events, and raw bytes survive untouched."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wardgate.formats.sse import SseEvent, SseParser, encode_event

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


def parse(chunks: list[bytes]) -> list[SseEvent]:
    parser = SseParser()
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
    for stream in (OPENAI, ANTHROPIC_CRLF, OPENAI + b"data: unterminated"):
        assert b"".join(event.raw for event in parse([stream])) == stream


@st.composite
def chunkings(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_chunking_yields_the_same_events(data):
    for stream in (OPENAI, ANTHROPIC_CRLF):
        assert parse(data.draw(chunkings(stream))) == parse([stream])


def test_encode_round_trips():
    encoded = encode_event("error", '{"a":1}\n{"b":2}')
    [event] = parse([encoded])
    assert (event.event, event.data) == ("error", '{"a":1}\n{"b":2}')
