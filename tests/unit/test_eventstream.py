"""AWS's binary event stream (Bedrock's converse-stream): read in any chunking, judged, written back valid."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_gemini_format import ToolJudge
from tests.unit.test_stream_guard import Judge
from wardgate.formats.eventstream import EventStreamParser, encode_message
from wardgate.formats.sse import SseEventTooLarge
from wardgate.formats.streams import BedrockConverseStream, BedrockInvokeStream, stream_format_for
from wardgate.pipeline.stream import StreamGuard
from wardgate.pipeline.vault import Vault


def event(kind: str, payload: dict) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(payload))


def text_stream(*pieces: str) -> bytes:
    deltas = [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}) for piece in pieces]
    return b"".join([event("messageStart", {"role": "assistant"}), *deltas,
                     event("contentBlockStop", {"contentBlockIndex": 0}),
                     event("messageStop", {"stopReason": "end_turn"})])  # fmt: skip


def messages(raw: bytes) -> list[tuple[str | None, dict]]:
    parser = EventStreamParser()
    parsed = parser.feed(raw) + parser.close()
    assert not any(e.unknown for e in parsed)
    return [(e.event, json.loads(e.data or "null")) for e in parsed]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=60), max_size=20))
def test_any_chunking_gives_the_same_messages(cuts):
    raw = text_stream("Hello ", "there")
    parser, events, at = EventStreamParser(), [], 0
    for cut in cuts:
        events += parser.feed(raw[at : at + cut])
        at += cut
    events += parser.feed(raw[at:]) + parser.close()
    assert [e.raw for e in events] == [e.raw for e in EventStreamParser().feed(raw)]
    assert [e.event for e in events] == ["messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop",
                                         "messageStop"]  # fmt: skip


def test_a_message_that_does_not_hold_together_cannot_be_judged():
    good = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}})
    flipped = good[:-5] + bytes([good[-5] ^ 1]) + good[-4:]
    assert EventStreamParser().feed(flipped)[0].unknown
    one = b"\x0b:event-type\x07\x00\x01a"
    assert not EventStreamParser().feed(frame(one, b"{}"))[0].unknown
    assert EventStreamParser().feed(frame(one + b"\x0b:event-type\x07\x00\x01b", b"{}"))[0].unknown  # botocore refuses
    assert EventStreamParser().close() == []
    cut = EventStreamParser()
    assert cut.feed(good[:20]) == []
    assert cut.close()[0].unknown
    with pytest.raises(SseEventTooLarge):
        EventStreamParser(max_event_bytes=16).feed(good)


def frame(headers: bytes, payload: bytes) -> bytes:
    """A message from raw header bytes, both checksums right."""
    prelude = struct.pack(">II", 12 + len(headers) + len(payload) + 4, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def guard() -> StreamGuard:
    return StreamGuard(BedrockConverseStream(), Judge(), Vault())


def test_a_clean_stream_passes_byte_for_byte_and_a_masked_one_is_written_back_valid():
    assert isinstance(stream_format_for("/model/anthropic.claude-3-haiku-v1:0/converse-stream"), BedrockConverseStream)
    clean = text_stream("Hello ", "there")
    g = guard()
    assert g.feed(clean) + g.finish() == clean
    g = guard()
    out = g.feed(text_stream("the key is SECRET", "123 ok")) + g.finish()
    texts = [p["delta"]["text"] for kind, p in messages(out) if kind == "contentBlockDelta"]
    assert "".join(texts) == "the key is [REDACTED] ok"


def test_a_call_is_held_and_judged_and_a_refusal_is_an_exception_message():
    start = event("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}})
    delta = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"c": "FORBIDDEN"}'}}})
    stop = event("contentBlockStop", {"contentBlockIndex": 0})
    g = guard()
    assert g.feed(start + delta) == b""  # held until the call is whole
    out = g.feed(stop) + g.finish()
    assert b"FORBIDDEN" not in out
    [(kind, payload)] = messages(out)
    assert kind == "validationException"
    assert payload["wardgate"]["code"] == "secret_detected"


def chunk(inner: dict) -> bytes:
    return event("chunk", {"bytes": base64.b64encode(json.dumps(inner).encode()).decode()})


def claude_chunks(*texts: str) -> bytes:
    events = [{"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": []}},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}} for t in texts),
              {"type": "content_block_stop", "index": 0}, {"type": "message_stop"}]  # fmt: skip
    return b"".join(chunk(e) for e in events)


def inner_texts(raw: bytes) -> str:
    out = ""
    for kind, payload in messages(raw):
        if kind == "chunk":
            inner = json.loads(base64.b64decode(payload["bytes"]))
            out += (inner.get("delta") or {}).get("text", "")
    return out


def test_an_invoke_stream_s_chunks_are_judged_as_the_model_s_events():
    path = "/model/us.anthropic.claude-sonnet-4-v1:0/invoke-with-response-stream"
    assert isinstance(stream_format_for(path), BedrockInvokeStream)
    clean = claude_chunks("Hello ", "there")
    g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
    assert g.feed(clean) + g.finish() == clean
    g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
    assert inner_texts(g.feed(claude_chunks("key SECRET", "123 ok")) + g.finish()) == "key [REDACTED] ok"
    call = [{"type": "content_block_start", "index": 0,
             "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}},
            {"type": "content_block_delta", "index": 0,
             "delta": {"type": "input_json_delta", "partial_json": '{"c": "FORBIDDEN"}'}},
            {"type": "content_block_stop", "index": 0}]  # fmt: skip
    g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
    out = g.feed(b"".join(chunk(e) for e in call)) + g.finish()
    assert [kind for kind, _ in messages(out)] == ["validationException"]
    titan = chunk({"outputText": "the key is SECRET"}) + chunk({"outputText": "123 and more"})
    g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
    out = g.feed(titan) + g.finish()
    assert b"SECRET" not in b"".join(base64.b64decode(p["bytes"]) for _, p in messages(out))
    broken = event("chunk", {"bytes": "not base64!"})
    g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
    assert [kind for kind, _ in messages(g.feed(broken) + g.finish())] == ["validationException"]
    # An outside review's finding: a chunk nested 200,000 deep raised RecursionError out of the parser.
    deep = encode_message({":message-type": "event", ":event-type": "chunk"}, "[" * 200_000 + "]" * 200_000)
    g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
    assert [kind for kind, _ in messages(g.feed(deep) + g.finish())] == ["validationException"]
    assert g.stopped is not None
    assert g.stopped.code == "stream_unreadable"


def test_an_invoke_stream_event_that_is_no_chunk_stops_the_stream_and_an_exception_passes():
    """botocore drops an event of another type than `chunk`; read by its shape as the model's event, it shifted the
    blocks Wardgate judged against the ones the SDK built (an outside review moved a call's start there)."""
    start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
    out = g.feed(event("zzchunk", start)) + g.finish()
    assert [kind for kind, _ in messages(out)] == ["validationException"]
    assert g.stopped is not None
    assert g.stopped.code == "stream_unreadable"
    throttled = encode_message({":exception-type": "throttlingException", ":content-type": "application/json",
                                ":message-type": "exception"}, json.dumps({"message": "slow down"}))  # fmt: skip
    g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
    assert g.feed(throttled) + g.finish() == throttled
    # botocore reads an error by its exact message type: `exceptionally` beside `:event-type: chunk` is a chunk.
    block = {"type": "tool_use", "id": "t", "name": "shell_exec", "input": {"cmd": "rm -rf /"}}
    body = json.dumps({"bytes": base64.b64encode(json.dumps(
        {"type": "content_block_start", "index": 0, "content_block": block}).encode()).decode()})  # fmt: skip
    odd = encode_message({":event-type": "chunk", ":message-type": "exceptionally"}, body)
    judge = ToolJudge()
    g = StreamGuard(BedrockInvokeStream(), judge, Vault())
    g.feed(odd + chunk({"type": "content_block_stop", "index": 0})) + g.finish()
    assert [name for name, _ in judge.calls] == ["shell_exec"]
    assert g.stopped is not None


def test_a_message_is_named_as_botocore_names_it():
    """A fourth review's finding: an `:exception-type` beside `:event-type: chunk` renamed an event for Wardgate only,
    and the guard judged a call's start as an opaque string."""
    headers = {":event-type": "contentBlockStart", ":message-type": "event", ":exception-type": "zz"}
    [parsed] = EventStreamParser().feed(encode_message(headers, "{}"))
    assert parsed.event == "contentBlockStart"
    error = {":message-type": "error", ":error-code": "Oops", ":error-message": "leaked"}
    [parsed] = EventStreamParser().feed(encode_message(error, ""))
    assert (parsed.event, parsed.others) == ("Oops", (":message-type: error", ":error-message: leaked"))
    byte_array = b"\x0e:error-message\x06\x00\x06leaked"
    [parsed] = EventStreamParser().feed(frame(b"\x0d:message-type\x07\x00\x05error" + byte_array, b""))
    assert ":error-message: leaked" in parsed.others  # a byte array's text is judged too


def test_nova_and_openai_shaped_invoke_streams_have_their_calls_judged():
    nova = [{"contentBlockStart": {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}}},
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"c": "FORBIDDEN"}'}}}},
            {"contentBlockStop": {"contentBlockIndex": 0}}]  # fmt: skip
    mistral = [{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c", "type": "function",
                "function": {"name": "f", "arguments": '{"c": "FORBIDDEN"}'}}]}}]},
               {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}]  # fmt: skip
    for events in (nova, mistral):
        g = StreamGuard(BedrockInvokeStream(), Judge(), Vault())
        out = messages(g.feed(b"".join(chunk(e) for e in events)) + g.finish())
        assert out[-1][0] == "validationException"  # after at most the clean part of the arguments, as in SSE
        assert b"FORBIDDEN" not in b"".join(base64.b64decode(p["bytes"]) for kind, p in out if kind == "chunk")


def test_every_shape_of_an_invoke_chunk_is_read():
    """A fifth review's finding: a `type` beside Nova's keys (or Bedrock's own invocation metrics beside them) hid
    Nova's call from the guard."""
    metrics = {"amazon-bedrock-invocationMetrics": {"inputTokenCount": 1}, "type": "ping"}
    start = {"toolUse": {"toolUseId": "t", "name": "shell_exec"}}
    nova = [{"contentBlockStart": {"contentBlockIndex": 0, "start": start}, **metrics},
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"c": "id"}'}}}, **metrics},
            {"contentBlockStop": {"contentBlockIndex": 0}, **metrics}]  # fmt: skip
    g = StreamGuard(BedrockInvokeStream(), ToolJudge(), Vault())  # denies a call to shell_exec by its name
    out = messages(g.feed(b"".join(chunk(e) for e in nova)) + g.finish())
    assert [kind for kind, _ in out] == ["validationException"]


def test_converse_blocks_come_one_after_another():
    """Strands appends every delta to the block that started last: a call started at 0, another at 1, then input
    for 0 was judged as the first call's and run as the second's (an outside review's finding)."""
    first = event(
        "contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "a", "name": "search"}}}
    )
    second = event(
        "contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "b", "name": "send"}}}
    )
    back = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"to": "x"}'}}})
    g = guard()
    out = g.feed(first + second + back) + g.finish()
    [(_, payload)] = messages(out)
    assert payload["wardgate"]["code"] == "stream_unreadable"
