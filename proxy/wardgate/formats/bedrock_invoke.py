"""Routes that take each model's own body, read by the body: Bedrock's InvokeModel (`POST …/model/{modelId}/invoke`,
`invoke-with-response-stream`) and Vertex AI's `rawPredict` / `streamRawPredict` for a partner model (Mistral, Llama).

The path cannot say which (a model id may be an ARN, an application inference profile names no model), so the
body does: Claude's Messages (`anthropic_version`), Nova's Converse-shaped body (`toolConfig`, `output`), the
OpenAI-shaped bodies of Mistral, Llama and DeepSeek (`messages`, `choices`); any other body is judged string by
string, its `tools` (Cohere's, by `name`) named and stripped all the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from wardgate.formats.anthropic_messages import AnthropicMessages
from wardgate.formats.base import AmbiguousBody, FormatAdapter, expect, keep_tools, tool_name, tool_names
from wardgate.formats.bedrock import BedrockConverse, spec_names
from wardgate.formats.generic_json import parse_unparsed
from wardgate.formats.openai_chat import OpenAIChat
from wardgate.formats.target import bedrock_operation, raw_predict, route_path
from wardgate.models import EndpointKind, Exchange

__all__ = ["BedrockInvoke", "VertexRawPredict"]


_ANTHROPIC, _CONVERSE, _CHAT = AnthropicMessages(), BedrockConverse(), OpenAIChat()


def _request_format(body: Mapping[str, Any]) -> FormatAdapter | None:
    if "anthropic_version" in body:
        return _ANTHROPIC
    if "toolConfig" in body or body.get("schemaVersion") == "messages-v1":
        return _CONVERSE
    if isinstance(body.get("messages"), list):
        return _CHAT
    return None


def _answer_format(body: Any) -> FormatAdapter | None:
    """The one shape an answer has. One with two (Nova's `output` beside a `content` list) is refused: a client reads
    it by the keys it knows, so a call in the shape Wardgate did not pick went out unjudged (a fifth review's
    finding)."""
    if not isinstance(body, Mapping):
        return None
    shapes = [
        adapter
        for adapter, present in (
            (_ANTHROPIC, body.get("type") == "message" or isinstance(body.get("content"), list)),
            (_CONVERSE, isinstance(body.get("output"), Mapping)),
            (_CHAT, isinstance(body.get("choices"), list)),
        )
        if present
    ]
    if len(shapes) > 1:
        raise AmbiguousBody("the answer has the shapes of more than one model's format")
    return shapes[0] if shapes else None


class _BodyShaped:
    name: str
    provider: str
    endpoint: EndpointKind = "unparsed"  # the body's own format's, once it is read

    def streams(self, route: str) -> bool | None:
        """Whether this route streams; None when the route is not this adapter's."""
        raise NotImplementedError

    def matches(self, method: str, path: str) -> bool:
        return method == "POST" and self.streams(path) is not None

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        body = expect(body, dict, "body")
        inner = _request_format(body)
        exchange = inner.parse_request(body) if inner is not None else parse_unparsed(body, self.provider)
        # Every shape's tools are named, whichever the body was read as: a `toolConfig` beside `anthropic_version`
        # is Nova's to read if the model is Nova.
        tools = tuple(dict.fromkeys((*exchange.tools, *tool_names(body), *spec_names(body))))
        exchange = dataclasses.replace(exchange, tools=tools)
        return dataclasses.replace(exchange, provider=self.provider, stream=bool(self.streams(route_path(path))))

    def parse_response(self, body: Any) -> Exchange:
        inner = _answer_format(body)
        exchange = inner.parse_response(body) if inner is not None else parse_unparsed(body, self.provider)
        return dataclasses.replace(exchange, provider=self.provider)

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        """The body's own format strips first (its forced choice falls back its way), then every other shape's tools
        go too (each pass leaves the others nothing to do when the body has one shape)."""
        inner = _request_format(body)
        removed = inner.strip_tools(body, denied) if inner is not None else []
        removed += keep_tools(body, denied, tool_name) + _CONVERSE.strip_tools(body, denied)
        return list(dict.fromkeys(removed))

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        inner = _answer_format(body)
        return inner.refuse_tool_calls(body, denied) if inner is not None else body


class BedrockInvoke(_BodyShaped):
    name = "bedrock.invoke"
    provider = "bedrock"

    def streams(self, route: str) -> bool | None:
        operation = bedrock_operation(route)
        if operation not in ("invoke", "invoke-with-response-stream"):
            return None
        return operation == "invoke-with-response-stream"


class VertexRawPredict(_BodyShaped):
    """A partner model on Vertex AI (Claude's route is the Anthropic adapter's, which comes first)."""

    name = "google.raw_predict"
    provider = "google"

    def streams(self, route: str) -> bool | None:
        found = raw_predict(route)
        return found[1] if found else None
