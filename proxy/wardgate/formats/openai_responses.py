"""OpenAI Responses (`POST …/responses`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from wardgate.formats.base import (
    MalformedBody,
    call_id,
    expect,
    keep_tools,
    model_and_stream,
    refusal_text,
    text_parts,
    tool_name,
    tool_names,
)
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, Source, ToolCall

__all__ = ["CALL_INPUTS", "CLIENT_RUN_CALLS", "OpenAIResponses", "client_run_inputs"]

_ROLES: dict[str, Role] = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_INPUT_TEXT = frozenset({"input_text", "output_text", "text"})
_OUTPUT_TEXT = frozenset({"output_text"})
# The items that call a tool, and the key of their input: a function's JSON arguments, a custom tool's free-form input.
CALL_INPUTS = {"function_call": "arguments", "custom_tool_call": "input"}
# Calls of hosted tools the client runs (the Agents SDK's shell, apply_patch, computer): named by the tool's type, as
# the request offers it, their input an object. They reached agents unjudged by the tool policy (an outside review).
CLIENT_RUN_CALLS = {
    "shell_call": ("shell", ("action",)),
    "local_shell_call": ("local_shell", ("action",)),
    "apply_patch_call": ("apply_patch", ("operation",)),
    # A computer call does not say whether its tool was offered as `computer` (GA) or `computer_use_preview`: the
    # policy reads both names as one tool. The GA tool batches `actions`, which the Agents SDK runs before `action`;
    # judged as the preview tool's `action` alone, a GA call typed a command past `tools.deny` (an outside review).
    "computer_call": ("computer", ("action", "actions")),
}
_RESULTS = frozenset({"function_call_output", "custom_tool_call_output"})


def client_run_inputs(item: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """A client-run call's tool name and the keys of its input it holds; None for any other item."""
    hosted = CLIENT_RUN_CALLS.get(str(item.get("type")))
    return None if hosted is None else (hosted[0], [key for key in hosted[1] if key in item])


class OpenAIResponses:
    name = "openai.responses"
    provider = "openai"
    endpoint: EndpointKind = "responses"

    def matches(self, method: str, path: str) -> bool:
        return method == "POST" and path.endswith("/responses")

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        body = expect(body, dict, "body")
        segments: list[Segment] = []
        if isinstance(body.get("instructions"), str):
            segments.append(Segment("system", "prompt", body["instructions"], ("instructions",)))
        items = body.get("input")
        if isinstance(items, str):
            segments.append(Segment("user", "prompt", items, ("input",)))
        elif isinstance(items, list):
            for index, item in enumerate(items):
                segments += self._item(expect(item, dict, f"input.{index}"), ("input", index), "prompt")
        elif items is not None:
            raise MalformedBody("`input` must be a string or an array of items")
        model, stream = model_and_stream(body)
        return Exchange(self.provider, "responses", model, stream, segments, tool_names(body))

    def parse_response(self, body: Any) -> Exchange:
        body = expect(body, dict, "body")
        segments: list[Segment] = []
        for index, item in enumerate(body.get("output") or []):
            if isinstance(item, Mapping):
                segments += self._item(item, ("output", index), "response")
        calls = [
            ToolCall(call_id(item, "call_id", "id"), item["name"], str(item.get(CALL_INPUTS[kind]) or ""))
            for item in body.get("output") or []
            if isinstance(item, Mapping)
            and isinstance(kind := item.get("type"), str)
            and kind in CALL_INPUTS
            and isinstance(item.get("name"), str)
        ]
        for item in body.get("output") or []:
            run = client_run_inputs(item) if isinstance(item, Mapping) else None
            if run is not None:  # each input key judged as the call's arguments (none: its name alone, `null`)
                inputs = [json.dumps(item[key]) for key in run[1]] or ["null"]
                calls += [ToolCall(call_id(item, "call_id", "id"), run[0], arguments) for arguments in inputs]
        model, _ = model_and_stream(body)
        return Exchange(self.provider, "responses", model, False, segments, tool_calls=tuple(calls))

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        return keep_tools(body, denied, tool_name)

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        output = body.get("output") or []

        def refused(item: Any) -> bool:
            if not isinstance(item, Mapping):
                return False
            kind = str(item.get("type"))
            return (kind in CALL_INPUTS or kind in CLIENT_RUN_CALLS) and call_id(item, "call_id", "id") in denied

        if any(refused(item) for item in output):
            text = {"type": "output_text", "text": refusal_text(denied), "annotations": []}
            note = {
                "type": "message",
                "id": "msg_wardgate",
                "status": "completed",
                "role": "assistant",
                "content": [text],
            }
            body["output"] = [item for item in output if not refused(item)] + [note]
        return body

    def _item(self, item: Mapping[str, Any], path: JsonPath, source: Source) -> Iterator[Segment]:
        kind = str(item.get("type", "message"))  # a type that is not a string names no kind read here
        if kind == "message":
            role = _ROLES.get(str(item.get("role")), "unknown")
            parts = _OUTPUT_TEXT if source == "response" else _INPUT_TEXT
            yield from text_parts(item.get("content"), (*path, "content"), role, source, parts)
        elif kind in _RESULTS and isinstance(item.get("output"), str):
            yield Segment("tool", "tool_result", item["output"], (*path, "output"))
        elif kind in CALL_INPUTS and isinstance(item.get(argument := CALL_INPUTS[kind]), str):
            yield Segment("assistant", source, item[argument], (*path, argument))
