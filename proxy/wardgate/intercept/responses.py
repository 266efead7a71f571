"""Build the HTTP responses Wardgate itself answers with (mitmproxy-facing)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable

from mitmproxy import http

from wardgate.formats import error_body
from wardgate.formats.mcp import jsonrpc_error
from wardgate.pipeline import RequestContext, StreamGuard
from wardgate.policy import Decision

__all__ = ["CHALLENGE", "DECISION_HEADER", "decoded_stream", "refusal"]

DECISION_HEADER = "x-wardgate-decision-id"
# RFC 9110 §11.6.1: a 401 names how to authenticate. MCP clients read it to decide to send a bearer token.
CHALLENGE = 'Bearer realm="wardgate"'
_INFLATE_STEP = 256 * 1024  # bytes a compressed stream chunk is inflated to per step


def _headers(ctx: RequestContext, decision: Decision, status: int) -> dict[str, str]:
    """Ours, then the policy's (`Retry-After`, its own challenge), names lower-cased so none is sent twice."""
    headers = {"content-type": "application/json", DECISION_HEADER: ctx.decision_id, **ctx.response_headers}
    if status == 401:
        headers["www-authenticate"] = CHALLENGE
    return headers | {name.lower(): value for name, value in decision.headers.items()}


def refusal(ctx: RequestContext, decision: Decision) -> http.Response:
    """A deny in the provider's error shape, carrying the decision id a user can look up in the audit trail."""
    message = "; ".join(reason.message for reason in decision.reasons) or "denied by policy"
    if ctx.provider == "mcp":
        # A JSON-RPC error the MCP SDKs raise as McpError; HTTP 200 unless the caller itself was refused (401).
        rpc = jsonrpc_error(ctx.mcp_request_id, decision.code, message)
        rpc["error"]["data"]["decision_id"] = ctx.decision_id
        status = decision.status if decision.status in (401, 413) else 200
        return http.Response.make(status, json.dumps(rpc).encode(), _headers(ctx, decision, status))
    details = {"decision_id": ctx.decision_id, "reasons": [reason.code for reason in decision.reasons]}
    body = error_body(ctx.provider, decision.status, decision.code, f"Wardgate: {message}", details)
    return http.Response.make(decision.status, json.dumps(body).encode(), _headers(ctx, decision, decision.status))


def decoded_stream(headers: http.Headers, guard: StreamGuard) -> Callable[[bytes], bytes | list[bytes]]:
    """The stream callable for a guarded SSE body: gzip/deflate decoded on the way in (the client gets it plain).

    Wardgate asks upstreams for `identity`; one that compresses anyway with an encoding zlib cannot read gets the
    stream stopped (it cannot be judged), never passed through.
    """
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return guard
    headers.pop("content-encoding")
    headers.pop("content-length", None)
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return lambda chunk: guard.refuse(f"the upstream sent the stream {encoding}-encoded; it cannot be judged")
    # wbits 47: gzip or zlib header, detected; raw deflate is what some servers send as "deflate".
    decoder = zlib.decompressobj(47 if encoding != "deflate" else -zlib.MAX_WBITS)

    def decode(chunk: bytes) -> bytes | list[bytes]:
        if not chunk:
            return guard.feed(decoder.flush()) + guard.finish() or []
        # Inflated a step at a time: 64 KB of a hostile gzip would otherwise become 64 MB in one call; once the
        # stream is stopped (an event past its limit, a verdict) the rest is never inflated.
        out, pending = [], chunk
        while pending and guard.stopped is None:
            out.append(guard.feed(decoder.decompress(pending, _INFLATE_STEP)))
            pending = decoder.unconsumed_tail
        return b"".join(out) or []

    return decode
