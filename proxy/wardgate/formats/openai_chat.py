"""OpenAI Chat Completions (`POST …/chat/completions`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wardgate.formats.base import (
    CHAT_FIELDS,
    CHAT_OBJECTS,
    call_id,
    called_function,
    expect,
    keep_tools,
    model_and_stream,
    refusal_text,
    refuse_folded_keys,
    text_parts,
    tool_name,
    tool_names,
)
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, Source, ToolCall

__all__ = ["OpenAIChat"]

_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
_TEXT_PARTS = frozenset({"text"})
_LEGACY_CALL_ID = "function_call"  # a legacy `function_call` has no id of its own: one per message


class OpenAIChat:
    name = "openai.chat"
    provider = "openai"
    endpoint: EndpointKind = "chat"

    def matches(self, method: str, path: str) -> bool:
        # Mistral's agents take the same body and answer the same shape (its SDK runs their tool calls).
        return method == "POST" and path.endswith(("/chat/completions", "/agents/completions"))

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        body = expect(body, dict, "body")
        refuse_folded_keys(body, CHAT_OBJECTS, CHAT_FIELDS)
        messages = expect(body.get("messages"), list, "messages")
        segments = [seg for index, message in enumerate(messages) for seg in self._message(message, index)]
        model, stream = model_and_stream(body)
        return Exchange(self.provider, "chat", model, stream, segments, tool_names(body))

    def parse_response(self, body: Any) -> Exchange:
        body = expect(body, dict, "body")
        segments: list[Segment] = []
        for index, choice in enumerate(body.get("choices") or []):
            message = choice.get("message") if isinstance(choice, Mapping) else None
            if isinstance(message, Mapping):
                path = ("choices", index, "message")
                segments += text_parts(message.get("content"), (*path, "content"), "assistant", "response", _TEXT_PARTS)
                segments += _tool_call_arguments(message, path, "response")
        model, _ = model_and_stream(body)
        return Exchange(self.provider, "chat", model, False, segments, tool_calls=tuple(_calls(body)))

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        removed = keep_tools(body, denied, _function_name)
        # The legacy `functions` / `function_call` pair is the same offer under older names.
        functions = body.get("functions")
        if isinstance(functions, list):
            removed += [name for tool in functions if (name := tool_name(tool)) in denied and name is not None]
            body["functions"] = [tool for tool in functions if tool_name(tool) not in denied]
            forced = body.get("function_call")
            if isinstance(forced, Mapping) and forced.get("name") in denied:
                body["function_call"] = "auto"
            if not body["functions"]:
                del body["functions"]
                body.pop("function_call", None)
        return removed

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        for choice in body.get("choices") or []:
            message = choice.get("message") if isinstance(choice, Mapping) else None
            if (
                isinstance(message, dict)
                and _LEGACY_CALL_ID in denied
                and isinstance(message.get("function_call"), Mapping)
            ):
                message.pop("function_call")
                choice["finish_reason"] = "stop"
                message["content"] = "\n".join(filter(None, [message.get("content"), refusal_text(denied)]))
            if not isinstance(message, dict) or not message.get("tool_calls"):
                continue
            calls = message["tool_calls"]
            kept = [call for call in calls if not (isinstance(call, Mapping) and call_id(call) in denied)]
            if len(kept) == len(calls):
                continue
            if kept:
                message["tool_calls"] = kept
            else:
                message.pop("tool_calls")
                choice["finish_reason"] = "stop"
            message["content"] = "\n".join(filter(None, [message.get("content"), refusal_text(denied)]))
        return body

    def _message(self, message: Any, index: int) -> Iterator[Segment]:
        message = expect(message, dict, f"messages.{index}")
        role = _ROLES.get(str(message.get("role")), "unknown")
        source: Source = "tool_result" if role == "tool" else "prompt"
        yield from text_parts(message.get("content"), ("messages", index, "content"), role, source, _TEXT_PARTS)
        yield from _tool_call_arguments(message, ("messages", index), "prompt")


def _function_name(tool: Any) -> str | None:
    called = called_function(tool)
    return called[0].get("name") if called is not None else None


def _calls(body: Mapping[str, Any]) -> Iterator[ToolCall]:
    for choice in body.get("choices") or []:
        message = choice.get("message") if isinstance(choice, Mapping) else None
        legacy = message.get("function_call") if isinstance(message, Mapping) else None
        if isinstance(legacy, Mapping) and isinstance(legacy.get("name"), str):
            yield ToolCall(_LEGACY_CALL_ID, legacy["name"], str(legacy.get("arguments") or ""))
        for call in (message.get("tool_calls") or []) if isinstance(message, Mapping) else []:
            called = called_function(call)
            if called is not None and isinstance(called[0].get("name"), str):
                function, _, argument = called
                yield ToolCall(call_id(call), function["name"], str(function.get(argument) or ""))


def _tool_call_arguments(message: Mapping[str, Any], path: JsonPath, source: Source) -> Iterator[Segment]:
    for index, call in enumerate(message.get("tool_calls") or []):
        called = called_function(call)
        if called is not None and isinstance(called[0].get(called[2]), str):
            function, key, argument = called
            yield Segment("assistant", source, function[argument], (*path, "tool_calls", index, key, argument))
