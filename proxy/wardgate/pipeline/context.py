"""What the pipeline knows about one intercepted request, independent of mitmproxy."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wardgate.audit.redaction import FoundValues
from wardgate.models import EndpointKind
from wardgate.pipeline.vault import Vault

if TYPE_CHECKING:
    from wardgate.policy import Decision

__all__ = ["RequestContext"]

# Refusals of the caller rather than of its request: who it is, how often or how much it calls, its usage unknown,
# it hung up; and Wardgate's own fault. By status and by any reason's code (a policy may combine reasons).
_CALLER_STATUSES = frozenset({401, 402, 407, 429, 499, 500})
_CALLER_CODES = frozenset(
    {"unauthenticated", "proxy_auth_required", "unknown_tenant", "rate_limited", "budget_exceeded",
     "quota_exceeded", "usage_unavailable", "client_closed", "internal_error", "audit_unavailable"}
)  # fmt: skip


@dataclasses.dataclass(slots=True)
class RequestContext:
    method: str
    host: str
    path: str
    provider: str
    identity: Mapping[str, Any]
    decision_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str | None = None  # 32 hex: the request's trace (the caller's, joined, or a new one)
    span_id: str | None = None  # 16 hex: Wardgate's server span for this request
    model: str | None = None  # from the parsed request, for the response phases
    endpoint: EndpointKind = "unparsed"
    # The request phase's findings: a later tool call in the same turn is judged knowing them.
    turn_findings: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    mcp_methods: dict[str, str] = dataclasses.field(default_factory=dict)  # JSON-RPC id → method, for MCP results
    mcp_request_id: Any = None  # the id a JSON-RPC error answering this request carries
    started: float = dataclasses.field(default_factory=time.perf_counter)
    # Placeholders issued while masking this flow's request (or its conversation's, when the caller names one).
    vault: Vault = dataclasses.field(default_factory=Vault)
    # Secret and personal values found in this flow: none of its audit events quotes them (audit/redaction.py).
    found: FoundValues = dataclasses.field(default_factory=FoundValues)
    # Headers Wardgate adds to the answer, forwarded or refused (the rate-limit state).
    response_headers: dict[str, str] = dataclasses.field(default_factory=dict)
    decision: str | None = None  # the last audited decision's code, for the access log
    # The name of the server the request reaches (Destination.server): what a legacy MCP session is bound to.
    server: str = ""
    # A digest of the credentials the caller presented (pipeline/request.py): what binds a legacy MCP session to
    # its opener before a request's identity is resolved.
    credential: str = ""
    # A POST of the caller's own legacy MCP session (pipeline/mcp_judge.py): a refusal is answered on its stream.
    in_session: bool = False
    # Refused, and answered in a legacy MCP session: only Wardgate's placeholder went upstream (pipeline/mcp_judge.py)
    placeholder: bool = False

    @property
    def caller(self) -> tuple[Any, ...]:
        """(tenant, subject, how it was identified, by whom): who owns what this request opens (an MCP session, a
        conversation's vault). A subject alone is no one: a JWT whose `sub` is an API key's subject read that key's
        holder's restored values in a shared conversation (an outside review)."""
        claims = self.identity.get("claims")
        issuer = claims.get("iss") if isinstance(claims, Mapping) else None
        return (self.identity.get("tenant"), self.identity.get("subject"), self.identity.get("source"), issuer)

    def answered_in_session(self, decision: Decision) -> bool:
        """Whether this refusal is answered on the caller's legacy MCP session, a placeholder going upstream. Not
        a refusal of the caller rather than of the request (who it is, its rate or budget, its usage unknown, it hung
        up) nor our own fault: the upstream must not hear from such a caller, who gets the HTTP error."""
        return (
            self.in_session
            and not decision.allow
            and decision.status not in _CALLER_STATUSES
            and not any(reason.code in _CALLER_CODES for reason in decision.reasons)
        )

    def as_input(self) -> dict[str, Any]:
        return {"id": self.decision_id, "method": self.method, "host": self.host, "path": self.path}
