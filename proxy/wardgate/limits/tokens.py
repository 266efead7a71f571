"""How many tokens an answer cost, read from the provider's own `usage` report (pure).

The shapes: OpenAI Chat `usage.{prompt,completion,total}_tokens` (a stream's last chunk, with
`stream_options.include_usage`), OpenAI Responses `usage.{input,output,total}_tokens` (streamed inside
`response.completed`), Anthropic `usage.{input,output}_tokens` plus cache tokens (a stream's `message_start` and
cumulative `message_delta`), Gemini `usageMetadata.{promptTokenCount,candidatesTokenCount,totalTokenCount}`
(cumulative per chunk). Streamed counts only grow, so the largest value seen per field is the answer's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["TokenCount"]

_INPUT = ("prompt_tokens", "input_tokens", "promptTokenCount", "cache_creation_input_tokens", "cache_read_input_tokens")
_OUTPUT = ("completion_tokens", "output_tokens", "candidatesTokenCount")
_TOTAL = ("total_tokens", "totalTokenCount")


def _reports(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = [document.get("usage"), document.get("usageMetadata")]
    for container in ("response", "message"):  # Responses' response.completed, Anthropic's message_start
        inner = document.get(container)
        if isinstance(inner, Mapping):
            found.append(inner.get("usage"))
    return [report for report in found if isinstance(report, Mapping)]


def _sum(report: Mapping[str, Any], fields: tuple[str, ...]) -> int:
    return sum(value for key in fields if isinstance(value := report.get(key), int) and not isinstance(value, bool))


@dataclasses.dataclass(slots=True)
class TokenCount:
    input: int = 0
    output: int = 0
    total: int = 0

    def observe(self, document: Any) -> None:
        """Take in one response body or stream event; documents without a usage report change nothing."""
        if not isinstance(document, Mapping):
            return
        for report in _reports(document):
            self.input = max(self.input, _sum(report, _INPUT))
            self.output = max(self.output, _sum(report, _OUTPUT))
            self.total = max(self.total, _sum(report, _TOTAL))

    @property
    def tokens(self) -> int:
        return max(self.total, self.input + self.output)
