"""The contracts every stage shares (DESIGN §3): `Exchange`, `Segment`, `Finding`.

Adapters in `wardgate.formats` build an `Exchange` from wire bytes; scanners read its segments and
return findings; nothing here knows about HTTP or Rego.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Literal

__all__ = ["EndpointKind", "Exchange", "Finding", "JsonPath", "Role", "Segment", "Source", "ToolCall"]

Role = Literal["system", "user", "assistant", "tool", "unknown"]
# metadata: a structural field's one-token value outside the messages (`model`, `role`, `type`), or a header's name.
# header: an HTTP header's value (pipeline/headers.py).
# "parameter": a query-string key or value (read for secrets, injection and patterned personal data, not by NER).
Source = Literal[
    "prompt", "tool_result", "document", "response", "tool_call", "tool_definition", "metadata", "header", "parameter"
]
EndpointKind = Literal["chat", "responses", "messages", "generate_content", "converse", "mcp", "unparsed"]
JsonPath = tuple[str | int, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Segment:
    """One piece of text in a request or response, with the JSON path that holds it."""

    role: Role
    source: Source
    text: str
    path: JsonPath
    # Set on a file no scanner can read (an image, a PDF, one the provider fetches): its type, for the policy.
    opaque_media: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool the model asks to call (or an agent calls over MCP): its name and its arguments as sent (JSON text)."""

    id: str
    name: str
    arguments: str

    def to_input(self, source: str) -> dict[str, object]:
        """The policy's view: arguments parsed when they are JSON (null and `arguments_raw_chars` otherwise)."""
        try:
            parsed: object = json.loads(self.arguments) if self.arguments else {}
        except ValueError:
            parsed = None
        return {"id": self.id, "name": self.name, "arguments": parsed, "arguments_chars": len(self.arguments),
                "source": source}  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Exchange:
    """A parsed request or response body in a provider-neutral shape."""

    provider: str
    endpoint: EndpointKind
    model: str | None
    stream: bool
    segments: Sequence[Segment]
    tools: tuple[str, ...] = ()  # names of the tools the request offers the model
    tool_calls: tuple[ToolCall, ...] = ()  # in a response: the calls the model asks for

    @property
    def parsed(self) -> bool:
        return self.endpoint != "unparsed"


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """Something a scanner found in one segment. Never holds the matched value itself."""

    scanner: str
    kind: str
    score: float
    segment: int
    start: int
    end: int
    fingerprint: str | None = None
    threshold: float | None = None  # the scanner's own verdict line, which a policy may override

    @property
    def family(self) -> str:
        """`secret` for `secret:aws-access-token`: what policies usually match on."""
        return self.kind.split(":", 1)[0]

    @property
    def reaches_threshold(self) -> bool:
        """The scanner's own verdict: a scored segment below its threshold (kept for the policy, which may draw
        another line) is not a finding the scanner stands behind."""
        return self.threshold is None or self.score >= self.threshold

    def to_dict(self) -> dict[str, object]:
        return {
            "scanner": self.scanner,
            "kind": self.kind,
            "family": self.family,
            "score": round(self.score, 4),
            "segment": self.segment,
            "start": self.start,
            "end": self.end,
            "fingerprint": self.fingerprint,
            "threshold": self.threshold,
        }
