"""A buffered MCP answer sent as SSE (`streaming.mcp_post_answers: buffer`) is judged off the event loop, event by
event, and rewritten only when judged so; only the media type makes it SSE."""

from __future__ import annotations

import json
import threading

from wardgate.models import Finding
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Verdict
from wardgate.pipeline.response import ResponseJudge
from wardgate.policy import Decision

SECRET = "AKIAABCDEFGHIJKLMNOP"


class ThreadRecordingGuard:
    """Denies any message that holds SECRET; records the thread each judgement ran on."""

    scan_timeout = 5.0

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def scan_blocking(self, segments, *, tool):
        return [], None

    def judge_blocking(self, ctx, phase, exchange) -> Verdict:
        self.threads.append(threading.current_thread())
        if any(SECRET in segment.text for segment in exchange.segments):
            finding = Finding("secrets", "aws", 1.0, 0, 0, len(SECRET))
            return Verdict(Decision.deny("secret_detected", "a key", status=403), [finding], {})
        return Verdict(Decision(allow=True, status=200), [], {})


def event(message: dict) -> bytes:
    return f"event: message\ndata: {json.dumps(message)}\n\n".encode()


def result(text: str) -> dict:
    return {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}]}}


async def judged(body: bytes) -> tuple[bytes | None, ThreadRecordingGuard]:
    guard = ThreadRecordingGuard()
    ctx = RequestContext("POST", "tools.internal", "/mcp", "mcp", {"subject": "svc"})
    ctx.endpoint, ctx.mcp_methods = "mcp", {"7": "tools/call"}
    outcome = await ResponseJudge(guard, max_bytes=1 << 20).judge(ctx, "POST", "/mcp", body, "text/event-stream")
    assert outcome.refusal is None
    return outcome.body, guard


async def test_a_clean_sse_answer_passes_unchanged_and_is_judged_on_a_worker_thread():
    progress = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1, "message": "half"}}
    body, guard = await judged(event(progress) + event(result("sunny")))
    assert body is None  # unchanged: the upstream's bytes go out
    assert len(guard.threads) == 2
    assert threading.main_thread() not in guard.threads


async def test_a_denied_message_in_an_sse_answer_becomes_the_callers_json_rpc_error():
    body, _ = await judged(event(result(f"the key is {SECRET}")))
    assert body is not None
    assert SECRET not in body.decode()
    data = json.loads(body.decode().split("data: ", 1)[1])
    assert data["id"] == 7
    assert data["error"]["data"]["wardgate"] == "secret_detected"


async def test_json_that_merely_mentions_event_stream_in_its_content_type_is_judged_as_json():
    guard = ThreadRecordingGuard()
    ctx = RequestContext("POST", "tools.internal", "/mcp", "mcp", {"subject": "svc"})
    ctx.endpoint, ctx.mcp_methods = "mcp", {"7": "tools/call"}
    body = json.dumps(result(f"the key is {SECRET}")).encode()
    judge = ResponseJudge(guard, max_bytes=1 << 20)
    outcome = await judge.judge(ctx, "POST", "/mcp", body, 'application/json; profile="text/event-stream"')
    assert outcome.body is not None
    assert SECRET not in outcome.body.decode()
