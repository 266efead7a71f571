"""Provider wire formats ↔ `Exchange`. A new format is one module plus one line in `ADAPTERS`."""

from __future__ import annotations

from wardgate.formats.anthropic_messages import AnthropicMessages
from wardgate.formats.base import FormatAdapter, MalformedBody, TooComplex, apply_rewrites
from wardgate.formats.bedrock import BedrockConverse
from wardgate.formats.bedrock_invoke import BedrockInvoke, VertexRawPredict
from wardgate.formats.cohere import CohereChat
from wardgate.formats.errors import error_body
from wardgate.formats.gemini import GeminiGenerateContent
from wardgate.formats.generic_json import parse_unparsed, with_every_leaf
from wardgate.formats.ollama import OllamaChat
from wardgate.formats.openai_chat import OpenAIChat
from wardgate.formats.openai_responses import OpenAIResponses
from wardgate.formats.target import TARGET_BREAK, route_path

__all__ = [
    "ADAPTERS",
    "FormatAdapter",
    "MalformedBody",
    "TooComplex",
    "adapter_for",
    "apply_rewrites",
    "error_body",
    "parse_unparsed",
    "provider_for",
    "with_every_leaf",
]

ADAPTERS: tuple[FormatAdapter, ...] = (
    OpenAIChat(),
    OpenAIResponses(),
    AnthropicMessages(),
    GeminiGenerateContent(),
    OllamaChat(),
    BedrockConverse(),
    BedrockInvoke(),
    VertexRawPredict(),
    CohereChat(),
)


def adapter_for(method: str, path: str) -> FormatAdapter | None:
    """The adapter for a request line; `path` may carry a query string."""
    bare = route_path(path)
    return next((adapter for adapter in ADAPTERS if adapter.matches(method, bare)), None)


def provider_for(host: str, path: str) -> str:
    """Whose error shape a client on this host expects when no adapter matched. A target refused for a space, a
    control or a raw byte in it is read up to that character: `/v1/messages\tx` is still an Anthropic client's."""
    path = TARGET_BREAK.split(path, maxsplit=1)[0]
    adapter = adapter_for("POST", path)
    if adapter is not None:
        return adapter.provider
    if "generativelanguage" in host or "aiplatform" in host:
        return "google"
    if "bedrock" in host:
        return "bedrock"
    if "cohere" in host:
        return "cohere"
    return "anthropic" if "anthropic" in host else "openai"
