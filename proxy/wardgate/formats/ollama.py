"""Ollama's native chat (`POST …/api/chat`): OpenAI-shaped tools, calls whose arguments are objects, and answers
streamed as JSON Lines by default (judged whole, line by line, like a JSON array of answers)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from wardgate.formats.base import CHAT_FIELDS, CHAT_OBJECTS, expect, keep_tools, refusal_text, refuse_folded_keys
from wardgate.formats.generic_json import string_leaves
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, Source, ToolCall

__all__ = ["OllamaChat"]

_ROLES: dict[str, Role] = {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
_TEXTS = ("content", "thinking")
_ANSWER_OBJECTS = (("*",), ("*", "message"), ("*", "message", "tool_calls", "*"),
                   ("*", "message", "tool_calls", "*", "function"))  # fmt: skip
_ANSWER_FIELDS = CHAT_FIELDS | {"message", "done"}  # a message's texts: what it says, and a thinking model's reasoning


class OllamaChat:
    name = "ollama.chat"
    provider = "ollama"
    endpoint: EndpointKind = "chat"

    def matches(self, method: str, path: str) -> bool:
        return method == "POST" and path.endswith("/api/chat")

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        body = expect(body, dict, "body")
        refuse_folded_keys(body, CHAT_OBJECTS, CHAT_FIELDS)
        segments: list[Segment] = []
        for index, message in enumerate(expect(body.get("messages") or [], list, "messages")):
            message = expect(message, dict, f"messages.{index}")
            role = _ROLES.get(str(message.get("role")), "unknown")
            source: Source = "tool_result" if role == "tool" else "prompt"
            at: JsonPath = ("messages", index)
            segments += [Segment(role, source, message[key], (*at, key)) for key in _TEXTS if _is_text(message, key)]
            for position, function, _ in _calls(at, message):
                arguments = (*at, "tool_calls", position, "function", "arguments")
                segments += [
                    Segment("assistant", "prompt", text, (*arguments, *leaf))
                    for leaf, text in string_leaves(function.get("arguments"), ())
                ]
        model = body.get("model") if isinstance(body.get("model"), str) else None
        # Ollama streams unless told not to.
        tools = body.get("tools")
        names = tuple(filter(None, map(_function_name, tools))) if isinstance(tools, list) else ()
        return Exchange(self.provider, self.endpoint, model, body.get("stream") is not False, segments, names)

    def parse_response(self, body: Any) -> Exchange:
        """One answer, or the lines of a streamed one (a list)."""
        # Go clients (ollama/api) read `Tool_Calls` as `tool_calls` too.
        refuse_folded_keys(body if isinstance(body, list) else [body], _ANSWER_OBJECTS, _ANSWER_FIELDS)
        segments = [
            Segment("assistant", "response", message[key], (*at, key))
            for at, message in _messages(body)
            for key in _TEXTS
            if _is_text(message, key)
        ]
        calls = tuple(call for at, message in _messages(body) for _, _, call in _calls(at, message))
        return Exchange(self.provider, self.endpoint, None, isinstance(body, list), segments, tool_calls=calls)

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        return keep_tools(body, denied, _function_name)

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        for at, message in _messages(body):
            calls = message.get("tool_calls")
            if not isinstance(calls, list):
                continue
            kept = [call for index, call in enumerate(calls) if _call_id(at, index, call) not in denied]
            if len(kept) == len(calls):
                continue
            message["tool_calls"] = kept
            if not kept:
                del message["tool_calls"]
            text = message.get("content")
            message["content"] = "\n".join(filter(None, [text if isinstance(text, str) else "", refusal_text(denied)]))
        return body


def _function_name(tool: Any) -> str | None:
    """Ollama reads a tool's `function.name`, whatever its `type` says (a `custom` object beside it is not read: an
    outside review's finding, where the chat rule named the tool by it)."""
    function = tool.get("function") if isinstance(tool, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    return name if isinstance(name, str) else None


def _is_text(message: Mapping[str, Any], key: str) -> bool:
    return isinstance(message.get(key), str)


def _messages(body: Any) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    lines = enumerate(body) if isinstance(body, list) else [(None, body)]
    for line, answer in lines:
        message = answer.get("message") if isinstance(answer, Mapping) else None
        if isinstance(message, dict):
            yield (() if line is None else (line,)) + ("message",), message


def _call_id(at: JsonPath, index: int, call: Any) -> str:
    """A call's id, or its place (`3.message.tool_calls.0`): Ollama's calls often carry none."""
    given = call.get("id") if isinstance(call, Mapping) else None
    return given if isinstance(given, str) else ".".join(map(str, (*at, "tool_calls", index)))


def _calls(at: JsonPath, message: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any], ToolCall]]:
    """(index, function object, call) of each named call of a message."""
    calls = message.get("tool_calls")
    for index, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            arguments = function.get("arguments")
            text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
            yield index, function, ToolCall(_call_id(at, index, call), function["name"], text)
