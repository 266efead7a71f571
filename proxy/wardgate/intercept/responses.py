"""Build the HTTP responses Wardgate itself answers with (mitmproxy-facing)."""

from __future__ import annotations

import json

from mitmproxy import http

from wardgate.formats import error_body
from wardgate.pipeline import RequestContext
from wardgate.policy import Decision

__all__ = ["DECISION_HEADER", "refusal"]

DECISION_HEADER = "x-wardgate-decision-id"


def refusal(ctx: RequestContext, decision: Decision) -> http.Response:
    """A deny in the provider's error shape, carrying the decision id a user can look up in the audit trail."""
    message = "; ".join(reason.message for reason in decision.reasons) or "denied by policy"
    details = {"decision_id": ctx.decision_id, "reasons": [reason.code for reason in decision.reasons]}
    body = error_body(ctx.provider, decision.status, decision.code, f"Wardgate: {message}", details)
    headers = {"content-type": "application/json", DECISION_HEADER: ctx.decision_id, **decision.headers}
    return http.Response.make(decision.status, json.dumps(body).encode(), headers)
