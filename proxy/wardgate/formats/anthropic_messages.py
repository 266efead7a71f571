"""Anthropic Messages (`POST …/v1/messages`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from wardgate.formats.base import (
    MalformedBody,
    expect,
    keep_tools,
    model_and_stream,
    refusal_text,
    text_parts,
    tool_name,
    tool_names,
)
from wardgate.formats.target import raw_predict
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, ToolCall

__all__ = ["AnthropicMessages", "on_cloud_route"]

_TEXT = frozenset({"text"})


def on_cloud_route(path: str) -> bool:
    """Whether a route is Claude's on Vertex AI (`publishers/anthropic/models/{model}:rawPredict`, and
    `:streamRawPredict`, SSE): the same Messages body, its model in the path. (On Bedrock, formats/bedrock_invoke.py
    reads it by its body.)"""
    found = raw_predict(path)
    return found is not None and found[0] == "anthropic"


class AnthropicMessages:
    name = "anthropic.messages"
    provider = "anthropic"
    endpoint: EndpointKind = "messages"

    def matches(self, method: str, path: str) -> bool:
        return method == "POST" and (path.endswith("/v1/messages") or on_cloud_route(path))

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        body = expect(body, dict, "body")
        segments = list(text_parts(body.get("system"), ("system",), "system", "prompt", _TEXT))
        for index, message in enumerate(expect(body.get("messages"), list, "messages")):
            message = expect(message, dict, f"messages.{index}")
            role: Role = "assistant" if message.get("role") == "assistant" else "user"
            segments += self._content(message.get("content"), ("messages", index, "content"), role)
        model, stream = model_and_stream(body)
        return Exchange(self.provider, "messages", model, stream, segments, tool_names(body))

    def parse_response(self, body: Any) -> Exchange:
        body = expect(body, dict, "body")
        segments = list(text_parts(body.get("content") or [], ("content",), "assistant", "response", _TEXT))
        model, _ = model_and_stream(body)
        calls = tuple(call for _, call in _calls(body))
        return Exchange(self.provider, "messages", model, False, segments, tool_calls=calls)

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        return keep_tools(body, denied, tool_name, auto={"type": "auto"})

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        content = body.get("content") or []
        refused = {index for index, call in _calls(body) if call.id in denied}
        kept = [block for index, block in enumerate(content) if index not in refused]
        if refused:
            kept.append({"type": "text", "text": refusal_text(denied)})
            body["content"] = kept
            if not any(isinstance(b, Mapping) and b.get("type") == "tool_use" for b in kept):
                body["stop_reason"] = "end_turn"
        return body

    def _content(self, content: Any, path: JsonPath, role: Role) -> Iterator[Segment]:
        if isinstance(content, str):
            yield from text_parts(content, path, role, "prompt", _TEXT)
            return
        if not isinstance(content, list):
            raise MalformedBody(f"`{'.'.join(map(str, path))}` must be a string or an array of content blocks")
        for index, block in enumerate(content):
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                yield Segment(role, "prompt", block["text"], (*path, index, "text"))
            elif block.get("type") == "tool_result":
                yield from text_parts(block.get("content"), (*path, index, "content"), "tool", "tool_result", _TEXT)


def _calls(body: Mapping[str, Any]) -> Iterator[tuple[int, ToolCall]]:
    """(index in `content`, call) of each `tool_use` block: one without a string id is named by its place, on both
    sides (a call with no id, or `"id": 7`, was judged under one id and refused under another: an outside review's
    finding, where the refused call went out)."""
    content = body.get("content")
    for index, block in enumerate(content if isinstance(content, list) else []):
        if isinstance(block, Mapping) and block.get("type") == "tool_use" and isinstance(block.get("name"), str):
            given = block.get("id")
            call_id = given if isinstance(given, str) else f"content.{index}"
            yield index, ToolCall(call_id, block["name"], json.dumps(block.get("input") or {}))
