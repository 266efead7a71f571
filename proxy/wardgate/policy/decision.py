"""The policy's answer (`data.wardgate.decision`), validated into a typed `Decision`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from wardgate.errors import PolicyError

__all__ = ["Decision", "DecisionSource", "Reason", "ToolsDecision", "parse_decision"]

# How a decision came about: the policy itself, or Wardgate's fail-closed / fail-open rules.
DecisionSource = Literal["policy", "fail_closed", "fail_open"]


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class ToolsDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deny: list[str] = []


class Decision(BaseModel):
    # Strict: a misspelt key ("maks") is an engine error (fail-closed), never an allow that silently masks nothing.
    model_config = ConfigDict(extra="forbid")

    allow: StrictBool  # never coerce: "yes" or "false" from a buggy policy must not become an allow
    status: StrictInt = Field(403, ge=200, le=599, description="HTTP status sent to the client on a deny.")
    reasons: list[Reason] = []
    mask: list[str] = Field([], description="Finding kinds or families whose spans are rewritten before forwarding.")
    redact: list[str] = []
    annotate: list[str] = Field([], description="Finding kinds or families whose segments get a warning in front.")
    tools: ToolsDecision = ToolsDecision()
    headers: dict[str, str] = {}
    source: DecisionSource = "policy"
    # Roll-out: a decision marked `shadow` is audited as decided (`"enforced": false`) but traffic passes unchanged.
    shadow: StrictBool = False

    @field_validator("reasons", mode="before")
    @classmethod
    def _plain_strings_are_reasons(cls, value: Any) -> Any:
        # `deny contains "message"` is idiomatic Rego; give such reasons a generic code.
        if isinstance(value, list):
            return [{"code": "policy_denied", "message": r} if isinstance(r, str) else r for r in value]
        return value

    @field_validator("headers")
    @classmethod
    def _headers_are_sendable(cls, value: dict[str, str]) -> dict[str, str]:
        # A policy's header values may carry request fields (the model name): a CR/LF there split the refusal's
        # head and set a header of the caller's choosing (an outside review); a name that is no HTTP token broke the
        # answer. Framing is Wardgate's own.
        for name, text in value.items():
            if not _TOKEN.fullmatch(name) or name.lower() in _FRAMING:
                raise ValueError(f"header {name!r} is not a header a policy may set")
            if not _FIELD_VALUE.fullmatch(text):
                raise ValueError(f"header {name!r}: its value holds a control or non-ASCII character")
        return value

    @model_validator(mode="after")
    def _a_deny_is_an_error_status(self) -> Decision:
        # A 204 or 304 carries no body: the refusal's JSON error would be lost.
        if not self.allow and not 400 <= self.status <= 599:
            raise ValueError(f"a deny's status must be 4xx or 5xx, not {self.status}")
        return self

    @property
    def changes_traffic(self) -> bool:
        """Whether applying this decision would refuse or rewrite anything (what shadow mode holds back)."""
        return not self.allow or bool(self.mask or self.redact or self.annotate or self.tools.deny)

    @property
    def code(self) -> str:
        return self.reasons[0].code if self.reasons else ("allowed" if self.allow else "policy_denied")

    def masks(self, kind: str) -> bool:
        """True when `kind` (e.g. `secret:aws-access-token`) or its family (`secret`) is to be masked or redacted."""
        return _names(kind, self.mask) or self.redacts(kind)

    def redacts(self, kind: str) -> bool:
        """True when `kind` or its family is to be replaced by a marker that is never restored."""
        return _names(kind, self.redact)

    def annotates(self, kind: str) -> bool:
        return _names(kind, self.annotate)

    @classmethod
    def deny(cls, code: str, message: str, *, status: int = 403, source: DecisionSource = "policy") -> Decision:
        return cls(allow=False, status=status, reasons=[Reason(code=code, message=message)], source=source)


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Framing, and what says what the refusal is (its JSON body, its decision): Wardgate's own.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
                      "content-type", "content-encoding", "x-wardgate-decision-id"})  # fmt: skip


def _names(kind: str, listed: list[str]) -> bool:
    return kind in listed or kind.split(":", 1)[0] in listed


def parse_decision(value: Any) -> Decision:
    try:
        return Decision.model_validate(value)
    except ValidationError as exc:
        raise PolicyError(f"policy returned a malformed decision: {exc.errors()[0]['msg']}") from exc
