"""Logprob tokens and their bytes are channels of their own: clients join them into the answer's text again, so a key
the text masked must not go out there in pieces (an outside review's finding)."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.test_stream_guard import ALLOW, Judge
from wardgate.formats.base import apply_rewrites, drop_stale_logprobs
from wardgate.formats.generic_json import with_every_leaf
from wardgate.formats.sse import SseParser
from wardgate.formats.streams import GeminiStream, OpenAIChatStream, OpenAIResponsesStream, StreamFormat
from wardgate.models import Exchange
from wardgate.pipeline.stream import StreamGuard, WindowVerdict
from wardgate.pipeline.vault import Vault

PIECES = ["Your key is ", "SEC", "RET", "12", "3", " ok."]


def entry(token: str) -> dict[str, Any]:
    return {"token": token, "logprob": -0.1, "bytes": list(token.encode()), "top_logprobs": [
        {"token": token, "logprob": -0.1, "bytes": list(token.encode())}]}  # fmt: skip


def sse(events: list[Any]) -> bytes:
    return b"".join(f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode() for event in events)


def guarded(stream_format: StreamFormat, stream: bytes) -> list[Any]:
    guard = StreamGuard(stream_format, Judge(), Vault())
    out = b"".join(guard.feed(stream[i : i + 7]) for i in range(0, len(stream), 7)) + guard.finish()
    parser = SseParser()
    return [json.loads(e.data) for e in parser.feed(out) + parser.close() if e.data and e.data != "[DONE]"]


def tokens(entries: list[dict[str, Any]]) -> tuple[str, str]:
    return "".join(e["token"] for e in entries), bytes(b for e in entries for b in e["bytes"]).decode()


def test_chat_stream_logprob_tokens_and_bytes_are_masked_like_the_text():
    chunks = [
        {"id": "c", "choices": [{"index": 0, "delta": {"content": piece}, "logprobs": {"content": [entry(piece)]}}]}
        for piece in PIECES
    ]
    out = guarded(OpenAIChatStream(), sse([*chunks, {"id": "c", "choices": [{"index": 0, "delta": {},
                                                     "finish_reason": "stop"}]}, "[DONE]"]))  # fmt: skip
    entries = [e for event in out for c in event["choices"] for e in (c.get("logprobs") or {}).get("content", [])]
    text = "".join(c["delta"].get("content") or "" for event in out for c in event["choices"])
    assert text == "Your key is [REDACTED] ok."
    assert tokens(entries) == (text, text)


def test_chat_stream_content_given_as_a_list_of_parts_is_the_choice_text():
    chunks = [{"choices": [{"index": 0, "delta": {"content": [{"type": "text", "text": piece}]}}]} for piece in PIECES]
    out = guarded(OpenAIChatStream(), sse([*chunks, "[DONE]"]))
    text = "".join(p["text"] for event in out for c in event["choices"] for p in c["delta"]["content"])
    assert text == "Your key is [REDACTED] ok."


def test_responses_stream_logprobs_in_deltas_and_in_the_summary_events():
    at = {"output_index": 0, "content_index": 0, "item_id": "msg_1"}
    deltas = [{"type": "response.output_text.delta", **at, "delta": p, "logprobs": [entry(p)]} for p in PIECES]
    whole = "".join(PIECES)
    done = {"type": "response.output_text.done", **at, "text": whole, "logprobs": [entry(p) for p in PIECES]}
    part = {"type": "output_text", "text": whole, "logprobs": [entry(p) for p in PIECES]}
    item = {"type": "message", "id": "msg_1", "role": "assistant", "content": [part]}
    completed = {"type": "response.completed", "response": {"id": "r", "output": [item]}}
    added = {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}}
    part_added = {"type": "response.content_part.added", **at, "part": {"type": "output_text", "text": ""}}
    out = guarded(OpenAIResponsesStream(), sse([added, part_added, *deltas, done, completed]))
    masked = "Your key is [REDACTED] ok."
    assert tokens([e for event in out[2 : 2 + len(PIECES)] for e in event["logprobs"]]) == (masked,) * 2
    assert tokens(out[-2]["logprobs"]) == (masked,) * 2
    assert tokens(out[-1]["response"]["output"][0]["content"][0]["logprobs"]) == (masked,) * 2


def test_gemini_stream_chosen_candidates_are_masked():
    def event(piece: str) -> dict[str, Any]:
        result = {"chosenCandidates": [{"token": piece, "logProbability": -0.1}]}
        return {"candidates": [{"index": 0, "content": {"parts": [{"text": piece}]}, "logprobsResult": result}]}

    out = guarded(GeminiStream(), sse([event(p) for p in PIECES]))
    results = [event["candidates"][0]["logprobsResult"] for event in out]
    assert "".join(c["token"] for r in results for c in r["chosenCandidates"]) == "Your key is [REDACTED] ok."


def test_logprob_tokens_do_not_take_the_text_s_place_as_its_context():
    """A review's finding: logprob channels wrote into the context the text's next window is judged with, so what
    a context rule needs before a window (`password is` before `hunter2`) was no longer there."""

    class ContextJudge(Judge):
        def window(self, text: str, context: str, *, tool: str | None, own: str | None = None) -> WindowVerdict:
            if context.endswith("password is ") and text.startswith("hunter2"):
                return WindowVerdict(ALLOW, text.replace("hunter2", "[MASKED]"))
            return super().window(text, context, tool=tool)

    pieces = ["The password is ", "hunter2 ok"]  # the first window ends at a space: released, then context
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": p}, "logprobs": {"content": [entry("x")]}}]} for p in pieces
    ]
    guard = StreamGuard(OpenAIChatStream(), ContextJudge(), Vault())
    out = guard.feed(sse([*chunks, "[DONE]"])) + guard.finish()
    assert b"hunter2" not in out


def test_an_answer_s_byte_lists_are_judged_and_rewritten_as_their_text():
    body = {"choices": [{"logprobs": {"content": [entry("SECRET123"), {"token": "x", "bytes": ["65"]}]}}]}
    leaves = {
        segment.path: segment.text
        for segment in with_every_leaf(Exchange("openai", "chat", "m", False, []), body).segments
    }
    path = ("choices", 0, "logprobs", "content", 0, "bytes", "$bytes")
    assert leaves[path] == "SECRET123"
    assert ("choices", 0, "logprobs", "content", 1, "bytes", "$bytes") not in leaves  # not byte values
    rewritten = apply_rewrites(body, {path: "[REDACTED]"})
    assert bytes(rewritten["choices"][0]["logprobs"]["content"][0]["bytes"]) == b"[REDACTED]"


def test_legacy_completion_stream_tokens_are_masked_like_the_text():
    """An outside review: `logprobs.tokens` (strings) of `/v1/completions` streams went out unread."""
    events = [{"choices": [{"index": 0, "text": p, "logprobs": {"tokens": [p], "token_logprobs": [-0.1]}}]}
              for p in PIECES]  # fmt: skip
    out = guarded(OpenAIChatStream(), sse([*events, "[DONE]"]))
    tokens = "".join(t for e in out for c in e["choices"] for t in c["logprobs"]["tokens"])
    assert tokens == "Your key is [REDACTED] ok."


def test_an_object_key_holding_what_the_policy_masks_stops_the_stream():
    """An outside review: object keys in stream events were never read (a key as a `top_logprobs` alternative)."""
    event = {"choices": [{"index": 0, "text": "Hi", "logprobs": {"top_logprobs": [{"SECRET123 x": -0.1}]}}]}
    out = guarded(OpenAIChatStream(), sse([event, "[DONE]"]))
    assert out == [out[-1]]
    assert out[-1]["error"]["code"] == "mask_unsupported"


def test_byte_values_are_read_as_javascript_reads_them():
    """Floats and values past 255 (`Uint8Array` truncates them, modulo 256) spelled a key no one read."""
    spelled = [float(b) for b in b"SECRET"] + [b + 256 for b in b"123"]
    body = {"choices": [{"logprobs": {"content": [{"token": "x", "bytes": spelled}]}}]}
    exchange = with_every_leaf(Exchange("openai", "chat", "m", False, []), body)
    assert {segment.text for segment in exchange.segments} >= {"SECRET123"}


def test_a_json_key_spelt_like_a_marker_is_rewritten_as_the_string_it_holds():
    """A review's finding: a real `$bytes` key took the byte-list branch (500, or a string forwarded as numbers)."""
    body = {"metadata": {"$bytes": "SECRET123"}, "$bytes": "SECRET123", "$decoded": {"x": 1}}
    rewritten = apply_rewrites(body, {("metadata", "$bytes"): "[REDACTED]", ("$bytes",): "[REDACTED]"})
    assert rewritten["metadata"]["$bytes"] == rewritten["$bytes"] == "[REDACTED]"


def test_a_rewritten_answer_drops_the_logprobs_of_the_text_it_changed():
    """A buffered answer's tokens spell what the text masked (a name split over tokens is no name to NER)."""
    body = {"choices": [
        {"message": {"content": "Hi <PERSON_1>"}, "logprobs": {"content": [entry("Hi"), entry(" Maria")]}},
        {"message": {"content": "Untouched"}, "logprobs": {"content": [entry("Untouched")]}}],
        "output": [{"content": [{"text": "<PERSON_1>", "logprobs": [entry("Maria")]}]}]}  # fmt: skip
    rewritten = [("choices", 0, "message", "content"), ("output", 0, "content", 0, "text")]
    drop_stale_logprobs(body, rewritten)
    assert body["choices"][0]["logprobs"] is None
    assert body["choices"][1]["logprobs"]["content"][0]["token"] == "Untouched"
    assert body["output"][0]["content"][0]["logprobs"] == []
