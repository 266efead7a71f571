"""Review-2 probes on the stream guard (scratch)."""
from __future__ import annotations

import fnmatch
import json
import time

from wardgate.formats.sse import SseParser
from wardgate.formats.streams import AnthropicStream, OpenAIChatStream, OpenAIResponsesStream
from wardgate.pipeline.stream import StreamGuard, WindowVerdict
from wardgate.pipeline.vault import Vault
from wardgate.policy import Decision

ALLOW = Decision(allow=True, status=200)


class ToolJudge:
    def __init__(self, deny=("shell_*",)):
        self.deny = deny
        self.tools = []
        self.full_tools = []

    def window(self, text, context, *, tool):
        self.tools.append(tool)
        if tool is not None and any(fnmatch.fnmatchcase(tool, p) for p in self.deny):
            return WindowVerdict(Decision.deny("tool_denied", "no"), text, 0)
        return WindowVerdict(ALLOW, text)

    def full(self, text, *, tool, repeated=False):
        self.full_tools.append(tool)
        return WindowVerdict(ALLOW, text)


def sse(events, done=True):
    out = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return out + (b"data: [DONE]\n\n" if done else b"")


def chunk(delta, index=0, finish=None, cid="c"):
    return {"id": cid, "object": "chat.completion.chunk", "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def run(fmt, stream, judge=None, pieces=None):
    judge = judge or ToolJudge()
    guard = StreamGuard(fmt, judge, Vault())
    outs = []
    for p in (pieces or [stream]):
        outs.append(guard.feed(p))
    outs.append(guard.finish())
    return b"".join(outs), guard, judge, outs


def test_openai_node_last_wins_name():
    # openai-node ChatCompletionStream: `if (fn?.name) tool_call.function.name = fn.name` (last name wins)
    s = sse([
        chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "x", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "shell_exec", "arguments": "{\"cmd\":\"rm -rf /\"}"}}]}),
        chunk({}, finish="tool_calls"),
    ])
    out, guard, judge, _ = run(OpenAIChatStream(), s)
    print("tools judged:", judge.tools, "stopped:", guard.stopped)
    assert guard.stopped is not None, out


def test_function_and_custom_both_present():
    s = sse([
        chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "custom", "function": {"name": "get_time"},
                               "custom": {"name": "shell_exec", "input": "rm -rf /"}}]}),
        chunk({}, finish="tool_calls"),
    ])
    out, guard, judge, _ = run(OpenAIChatStream(), s)
    print("tools judged:", judge.tools, "stopped:", guard.stopped)
    assert guard.stopped is not None, out


def test_responses_name_changes_in_done_and_completed():
    added = {"type": "function_call", "id": "fc", "call_id": "c1", "name": "get_time", "arguments": ""}
    item = {**added, "name": "shell_exec", "arguments": "{\"cmd\":\"rm -rf /\"}"}
    s = sse([
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": "fc", "delta": item["arguments"]},
        {"type": "response.function_call_arguments.done", "output_index": 0, "item_id": "fc", "arguments": item["arguments"]},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"id": "r", "output": [item]}},
    ], done=False)
    out, guard, judge, _ = run(OpenAIResponsesStream(), s)
    print("tools judged:", judge.tools, "full:", judge.full_tools, "stopped:", guard.stopped)
    assert guard.stopped is not None


def test_responses_custom_name_only_in_done():
    added = {"type": "custom_tool_call", "id": "ct", "call_id": "c1", "input": ""}
    item = {**added, "name": "shell_exec", "input": "rm -rf /"}
    s = sse([
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        {"type": "response.custom_tool_call_input.delta", "output_index": 0, "item_id": "ct", "delta": "rm -rf /"},
        {"type": "response.custom_tool_call_input.done", "output_index": 0, "item_id": "ct", "input": "rm -rf /"},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"id": "r", "output": [item]}},
    ], done=False)
    out, guard, judge, _ = run(OpenAIResponsesStream(), s)
    print("tools judged:", judge.tools, "full:", judge.full_tools, "stopped:", guard.stopped)
    assert guard.stopped is not None


def test_held_start_blocks_other_choice_text_unbounded():
    events = [chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_time"}}]}, index=0)]
    n = 20000
    events += [chunk({"content": "hello world "}, index=1) for _ in range(n)]
    events += [chunk({}, index=0, finish="tool_calls"), chunk({}, index=1, finish="stop")]
    s = sse(events)
    pieces = [s[i:i + 4096] for i in range(0, len(s), 4096)]
    t = time.time()
    out, guard, judge, outs = run(OpenAIChatStream(), s, pieces=pieces)
    dt = time.time() - t
    released_before_end = sum(len(o) for o in outs[:-2])
    print(f"stream {len(s)} B, released before last piece {released_before_end} B, time {dt:.2f}s")
    assert out == s
    assert released_before_end > len(s) // 2


def test_many_name_only_deltas_cost():
    for n in (2000, 4000, 8000):
        events = [chunk({"tool_calls": [{"index": 0, "function": {"name": "a"}}]}, cid=f"c{i}") for i in range(n)]
        events.append(chunk({}, finish="tool_calls"))
        s = sse(events)
        pieces = [s[i:i + 4096] for i in range(0, len(s), 4096)]
        t = time.time()
        out, guard, judge, outs = run(OpenAIChatStream(), s, pieces=pieces)
        print(n, f"{time.time() - t:.2f}s", "name len", len(judge.tools[-1] or ""))


def test_honest_streams_pass_byte_for_byte():
    chat = sse([
        chunk({"role": "assistant", "content": "Let me check."}),
        chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_time", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"tz\":"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"UTC\"}"}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "c2", "type": "custom", "custom": {"name": "grep", "input": ""}}]}),
        chunk({"tool_calls": [{"index": 1, "custom": {"input": "foo"}}]}),
        chunk({}, finish="tool_calls"),
    ])
    out, guard, judge, _ = run(OpenAIChatStream(), chat)
    print("chat tools", judge.tools)
    assert out == chat and guard.stopped is None
    def ev(e):
        return b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode())
    anth = b"".join(ev(e) for e in [
        {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "get_time", "input": {}}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "done"}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}},
        {"type": "message_stop"}])
    out, guard, judge, _ = run(AnthropicStream(), anth)
    print("anth tools", judge.tools)
    assert out == anth and guard.stopped is None
