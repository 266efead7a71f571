"""Cohere's v2 chat (`POST …/v2/chat`): OpenAI-shaped tools and calls, content as a string or typed parts, a
`tool_plan` the model writes before its calls, tool results that may be documents."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wardgate.formats.base import (
    AmbiguousBody,
    as_list,
    call_id,
    expect,
    keep_tools,
    model_and_stream,
    refusal_text,
    tool_name,
    tool_names,
)
from wardgate.formats.generic_json import string_leaves
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, Source, ToolCall

__all__ = ["CohereChat", "call_function", "is_cohere_chat"]

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
        return keep_tools(body, denied, tool_name)

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        message = body.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("tool_calls"), list):
            return body
        kept = [call for call in message["tool_calls"] if call_id(call) not in denied]
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


def call_function(call: Any) -> Mapping[str, Any]:
    """A Cohere call's function. Cohere has no other kind of call, and its SDK reads `function` whatever else the
    call says: a call of another `type`, one with a `custom` object beside it (judged as that, a review's finding),
    or no function object, is refused."""
    if not isinstance(call, Mapping) or call.get("type", "function") != "function" or "custom" in call:
        raise AmbiguousBody("a Cohere tool call that is not one function call")
    function = call.get("function")
    if not isinstance(function, Mapping):
        raise AmbiguousBody("a Cohere tool call without a function object")
    if function.get("arguments") is not None and not isinstance(function["arguments"], str):
        raise AmbiguousBody("a Cohere tool call's arguments are not a JSON string")  # judged as what text?
    return function


def _call_list(message: Mapping[str, Any]) -> list[Any]:
    """A message's calls: a list (lenient clients take a lone object for one call, which was never judged)."""
    calls = message.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        raise AmbiguousBody("`tool_calls` must be an array")
    return calls or []


def _calls(message: Mapping[str, Any]) -> Iterator[ToolCall]:
    for call in _call_list(message):
        function = call_function(call)
        if not isinstance(function.get("name"), str):
            raise AmbiguousBody("a Cohere tool call without a name")
        yield ToolCall(call_id(call), function["name"], str(function.get("arguments") or ""))


def _message_texts(message: Mapping[str, Any], at: JsonPath, role: Role, source: Source) -> Iterator[Segment]:
    """A message's content (a string, or text / thinking / document parts), its tool plan and its calls' arguments.
    A document part (a tool's result, or a file the user gives) is judged string by string."""
    content = message.get("content")
    if isinstance(content, str):
        yield Segment(role, source, content, (*at, "content"))
    for index, part in enumerate(as_list(content)):
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
    for index, call in enumerate(_call_list(message)):
        arguments = call_function(call).get("arguments")
        if isinstance(arguments, str):
            yield Segment("assistant", calls_source, arguments, (*at, "tool_calls", index, "function", "arguments"))
