"""Amazon Bedrock's Converse API (`POST …/model/{modelId}/converse` and `/converse-stream`): content blocks, tool
specs in `toolConfig`, calls as `toolUse` blocks whose input is an object. The model is named by the path."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from wardgate.formats.base import expect, keep_tools, refusal_text, tool_name, tool_names
from wardgate.formats.generic_json import string_leaves
from wardgate.formats.target import bedrock_operation, route_path
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, ToolCall

__all__ = ["BedrockConverse", "spec_names"]


def spec_names(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The tools `toolConfig` offers (Converse, and Nova's InvokeModel body)."""
    config = body.get("toolConfig")
    tools = config.get("tools") if isinstance(config, Mapping) else None
    return tuple(name for tool in tools if (name := _spec_name(tool))) if isinstance(tools, list) else ()


def _spec_name(tool: Any) -> str | None:
    spec = tool.get("toolSpec") if isinstance(tool, Mapping) else None
    name = spec.get("name") if isinstance(spec, Mapping) else None
    return name if isinstance(name, str) else None


class BedrockConverse:
    name = "bedrock.converse"
    provider = "bedrock"
    endpoint: EndpointKind = "converse"

    def matches(self, method: str, path: str) -> bool:
        return method == "POST" and bedrock_operation(path) in ("converse", "converse-stream")

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        body = expect(body, dict, "body")
        segments = [
            Segment("system", "prompt", block["text"], ("system", index, "text"))
            for index, block in enumerate(expect(body.get("system") or [], list, "system"))
            if isinstance(block, Mapping) and isinstance(block.get("text"), str)
        ]
        for index, message in enumerate(expect(body.get("messages") or [], list, "messages")):
            message = expect(message, dict, f"messages.{index}")
            role: Role = "assistant" if message.get("role") == "assistant" else "user"
            at = ("messages", index, "content")
            segments += self._blocks(expect(message.get("content") or [], list, ".".join(map(str, at))), at, role)
        names = spec_names(body) + tool_names(_model_fields(body))
        stream = bedrock_operation(route_path(path)) == "converse-stream"
        return Exchange(self.provider, self.endpoint, None, stream, segments, names)

    def parse_response(self, body: Any) -> Exchange:
        body = expect(body, dict, "body")
        segments = [
            Segment("assistant", "response", block["text"], (*at, "text"))
            for at, block in _output_blocks(body)
            if isinstance(block.get("text"), str)
        ]
        calls = tuple(call for _, _, call in _calls(body))
        return Exchange(self.provider, self.endpoint, None, False, segments, tool_calls=calls)

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        fields = _model_fields(body)
        removed = keep_tools(fields, denied, tool_name, auto={"type": "auto"}) if isinstance(fields, dict) else []
        config = body.get("toolConfig")
        tools = config.get("tools") if isinstance(config, dict) else None
        if not isinstance(config, dict) or not isinstance(tools, list):
            return removed
        specs = [name for tool in tools if (name := _spec_name(tool)) is not None and name in denied]
        if not specs:
            return removed
        config["tools"] = [tool for tool in tools if _spec_name(tool) not in denied]
        choice = config.get("toolChoice")
        forced = choice.get("tool") if isinstance(choice, Mapping) else None
        if isinstance(forced, Mapping) and forced.get("name") in denied:
            config["toolChoice"] = {"auto": {}}
        if not any(_spec_name(tool) for tool in config["tools"]):  # a cache point alone offers nothing
            del body["toolConfig"]
        return removed + specs

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        refused = {index for _, index, call in _calls(body) if call.id in denied}
        if refused:
            message = body["output"]["message"]  # where the calls were found
            message["content"] = [block for i, block in enumerate(message["content"]) if i not in refused]
            message["content"].append({"text": refusal_text(denied)})
            if not any(isinstance(block, Mapping) and "toolUse" in block for block in message["content"]):
                body["stopReason"] = "end_turn"
        return body

    def _blocks(self, content: list[Any], path: JsonPath, role: Role) -> Iterator[Segment]:
        for index, block in enumerate(content):
            at = (*path, index)
            if not isinstance(block, Mapping):
                continue
            if isinstance(block.get("text"), str):
                yield Segment(role, "prompt", block["text"], (*at, "text"))
            use = block.get("toolUse")
            if isinstance(use, Mapping):  # the model's earlier call: its own words
                for leaf, text in string_leaves(use.get("input"), ()):
                    yield Segment("assistant", "prompt", text, (*at, "toolUse", "input", *leaf))
            result = block.get("toolResult")
            if isinstance(result, Mapping):
                for leaf, text in string_leaves(result.get("content"), ()):
                    yield Segment("tool", "tool_result", text, (*at, "toolResult", "content", *leaf))


def _model_fields(body: Mapping[str, Any]) -> Any:
    """`additionalModelRequestFields`: what Bedrock passes to the model as it is. Claude's computer-use and other
    Anthropic-defined tools are offered there, in Anthropic's shape (an outside review's finding)."""
    fields = body.get("additionalModelRequestFields")
    return fields if isinstance(fields, dict) else {}


def _output_blocks(body: Mapping[str, Any]) -> Iterator[tuple[JsonPath, Mapping[str, Any]]]:
    output = body.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    for index, block in enumerate(content if isinstance(content, list) else []):
        if isinstance(block, Mapping):
            yield ("output", "message", "content", index), block


def _calls(body: Mapping[str, Any]) -> Iterator[tuple[JsonPath, int, ToolCall]]:
    for at, block in _output_blocks(body):
        use = block.get("toolUse")
        if isinstance(use, Mapping) and isinstance(use.get("name"), str):
            given = use.get("toolUseId")
            call_id = given if isinstance(given, str) else ".".join(map(str, at))
            yield at, int(at[-1]), ToolCall(call_id, use["name"], json.dumps(use.get("input") or {}))
