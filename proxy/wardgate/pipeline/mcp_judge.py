"""Judge MCP results: `tools/list` filtered by policy, tool results and resources scanned (indirect injection).

Each message is judged on the caller's thread with the sync scanners (the injection classifier included), so the
same code serves a JSON answer (run on a worker thread) and messages inside an SSE stream (mitmproxy's stream
callable is synchronous).
"""

from __future__ import annotations

import json
from typing import Any

from wardgate.formats.base import apply_rewrites
from wardgate.formats.mcp import filter_tools, jsonrpc_error, parse_mcp_result
from wardgate.formats.sse import SseParser, encode_event
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard

__all__ = ["McpStream", "judge_mcp_message"]


def judge_mcp_message(guard: Guard, ctx: RequestContext, message: Any) -> Any:
    """The message to pass on: as it was, filtered, masked, or replaced by a JSON-RPC error."""
    if not isinstance(message, dict) or "result" not in message:
        return message
    method = ctx.mcp_methods.get(str(message.get("id")))
    exchange = parse_mcp_result(message, method)
    if method == "tools/list":
        verdict = guard.judge_blocking(ctx, "response", exchange)
        if verdict.decision.allow:
            filter_tools(message, set(verdict.decision.tools.deny))
            return message
    elif exchange.segments:
        verdict = guard.judge_blocking(ctx, "tool_result", exchange)
        if verdict.decision.allow:
            return apply_rewrites(message, verdict.rewrites)
    else:
        return message
    reason = verdict.decision.reasons[0] if verdict.decision.reasons else None
    return jsonrpc_error(message.get("id"), verdict.decision.code, reason.message if reason else "denied by policy")


class McpStream:
    """The stream callable for an MCP SSE answer: every event is a whole JSON-RPC message, judged as it passes."""

    def __init__(self, guard: Guard, ctx: RequestContext) -> None:
        self._guard, self._ctx = guard, ctx
        self._parser = SseParser()

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        events = self._parser.feed(chunk) if chunk else self._parser.close()
        out = b"".join(self._event(event.raw, event.event, event.data) for event in events)
        return out if out else []

    def _event(self, raw: bytes, name: str | None, data: str | None) -> bytes:
        if not data:
            return raw
        try:
            message, copy = json.loads(data), json.loads(data)  # judging may change its message in place
        except ValueError:
            return raw
        judged = judge_mcp_message(self._guard, self._ctx, copy)
        return raw if judged == message else encode_event(name, json.dumps(judged, ensure_ascii=False))
