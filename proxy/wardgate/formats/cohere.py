"""Cohere's v2 chat (`POST …/v2/chat`): OpenAI-shaped tools and calls, content as a string or typed parts, a
`tool_plan` the model writes before its calls, tool results that may be documents."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wardgate.formats.base import (
    call_id,
    called_function,
    expect,
    keep_tools,
    model_and_stream,
    refusal_text,
    tool_names,
)
from wardgate.formats.generic_json import string_leaves
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, Source, ToolCall

__all__ = ["CohereChat", "is_cohere_chat"]

_ROLES: dict[str, Role] = {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
# A content part's texts: what it says, and a reasoning model's thinking (the SDK hands both to the client).
_PART_TEXTS = {"text": "text", "thinking": "thinking"}


def is_cohere_chat(method: str, path: str) -> bool:
    return method == "POST" and path.rstrip("/").endswith("/v2/chat")


class CohereChat:
    name = "cohere.chat"
    provider = "cohere"
    endpoint: EndpointKind = "chat"

    def matches(self, method: str, path: str) -> bool:
        return is_cohere_chat(method, path)

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        body = expect(body, dict, "body")
        segments: list[Segment] = []
        for index, message in enumerate(expect(body.get("messages"), list, "messages")):
            message = expect(message, dict, f"messages.{index}")
            role = _ROLES.get(str(message.get("role")), "unknown")
            source: Source = "tool_result" if role == "tool" else "prompt"
            segments += _message_texts(message, ("messages", index), role, source)
        model, stream = model_and_stream(body)
        return Exchange(self.provider, self.endpoint, model, stream, segments, tool_names(body))

    def parse_response(self, body: Any) -> Exchange:
        body = expect(body, dict, "body")
        message = body.get("message")
        if not isinstance(message, Mapping):
            return Exchange(self.provider, self.endpoint, None, False, [])
        segments = list(_message_texts(message, ("message",), "assistant", "response"))
        model, _ = model_and_stream(body)
        return Exchange(self.provider, self.endpoint, model, False, segments, tool_calls=tuple(_calls(message)))

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        # `tool_choice` is REQUIRED or NONE: it names no tool.
        return keep_tools(body, denied, _function_name)

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        message = body.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("tool_calls"), list):
            return body
        kept = [call for call in message["tool_calls"] if not (isinstance(call, Mapping) and call_id(call) in denied)]
        if len(kept) == len(message["tool_calls"]):
            return body
        if kept:
            message["tool_calls"] = kept
        else:
            message.pop("tool_calls")
            body["finish_reason"] = "COMPLETE"
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}] if content else []
        message["content"] = [*parts, {"type": "text", "text": refusal_text(denied)}]
        return body


def _function_name(tool: Any) -> str | None:
    called = called_function(tool)
    return called[0].get("name") if called is not None else None


def _calls(message: Mapping[str, Any]) -> Iterator[ToolCall]:
    for call in _list(message.get("tool_calls")):
        called = called_function(call)
        if called is not None and isinstance(called[0].get("name"), str):
            function, _, argument = called
            yield ToolCall(call_id(call), function["name"], str(function.get(argument) or ""))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _message_texts(message: Mapping[str, Any], at: JsonPath, role: Role, source: Source) -> Iterator[Segment]:
    """A message's content (a string, or text / thinking / document parts), its tool plan and its calls' arguments.
    A document part (a tool's result, or a file the user gives) is judged string by string."""
    content = message.get("content")
    if isinstance(content, str):
        yield Segment(role, source, content, (*at, "content"))
    for index, part in enumerate(_list(content)):
        if not isinstance(part, Mapping):
            continue
        key = _PART_TEXTS.get(str(part.get("type")))
        if key is not None and isinstance(part.get(key), str):
            yield Segment(role, source, part[key], (*at, "content", index, key))
        elif part.get("type") == "document" and isinstance(document := part.get("document"), Mapping):
            place: JsonPath = (*at, "content", index, "document", "data")
            for leaf, text in string_leaves(document.get("data"), ()):
                yield Segment(role, source, text, (*place, *leaf))
    if isinstance(message.get("tool_plan"), str):
        yield Segment(role, source, message["tool_plan"], (*at, "tool_plan"))
    calls_source: Source = "response" if source == "response" else "prompt"
    for index, call in enumerate(_list(message.get("tool_calls"))):
        called = called_function(call)
        if called is not None and isinstance(called[0].get(called[2]), str):
            function, key, argument = called
            yield Segment("assistant", calls_source, function[argument], (*at, "tool_calls", index, key, argument))
