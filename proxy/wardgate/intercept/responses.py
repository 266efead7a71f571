"""Build the HTTP responses Wardgate itself answers with (mitmproxy-facing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from mitmproxy import http

from wardgate.formats import error_body
from wardgate.formats.decoding import DecodingError, TooLarge
from wardgate.formats.mcp import jsonrpc_error
from wardgate.formats.stream_decoding import stream_decoder
from wardgate.pipeline import RequestContext
from wardgate.policy import Decision
from wardgate.scanners import deadline

__all__ = ["CHALLENGE", "DECISION_HEADER", "JudgedStream", "decoded_stream", "refusal"]

DECISION_HEADER = "x-wardgate-decision-id"
# RFC 9110 §11.6.1: a 401 names how to authenticate. MCP clients read it to decide to send a bearer token.
CHALLENGE = 'Bearer realm="wardgate"'


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


class JudgedStream(Protocol):
    """A stream callable that judges what it is fed (mitmproxy's: b"" marks the end) and can stop itself."""

    @property
    def stopped(self) -> Decision | None: ...

    def __call__(self, chunk: bytes) -> bytes | list[bytes]: ...

    def refuse(self, message: str, *, code: str = ..., status: int = ...) -> bytes | list[bytes]: ...


def decoded_stream(headers: http.Headers, stream: JudgedStream) -> Callable[[bytes], bytes | list[bytes]]:
    """The stream callable for a judged SSE body: gzip, deflate, br or zstd decoded on the way in, a step at a time
    (formats/stream_decoding.py), and judged; the client gets it plain.

    Wardgate asks upstreams for `identity`; one that compresses anyway in an encoding Wardgate does not read (or
    more than one) gets the stream stopped (it cannot be judged), never passed through: its client would decode
    what no one judged. Once the stream is stopped (a verdict, an event past its limit) nothing more is decoded.
    """
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return stream
    headers.pop("content-encoding")
    headers.pop("content-length", None)
    decoder = stream_decoder(encoding)
    if decoder is None:
        return lambda chunk: stream.refuse(f"the upstream sent the stream {encoding}-encoded; it cannot be judged")

    def decode(chunk: bytes) -> bytes | list[bytes]:
        if stream.stopped is not None:
            return _joined([stream(chunk)])  # nothing more is decoded: it answers at once (b"" still closes it)
        out: list[bytes | list[bytes]] = []
        try:
            for piece in decoder.feed(chunk):
                out.append(stream(piece))
                if _stopped(stream):
                    return _joined(out)
                if deadline.spent():  # what it decodes to may cost the judge more than any scan would
                    return _joined(out, stream.refuse(f"judging the upstream's {encoding} stream took its budget"))
            if chunk:
                return _joined(out)
            rest = decoder.end()
        except DecodingError as exc:
            return _joined(out, stream.refuse(f"the upstream's {encoding} stream is not valid: {exc}"))
        except TooLarge as exc:
            return _joined(out, stream.refuse(f"the upstream's {encoding} stream {exc}"))
        return _joined(out, *([stream(rest)] if rest else []), stream(b""))

    return decode


def _stopped(stream: JudgedStream) -> bool:
    return stream.stopped is not None  # a call: the stream stops itself while it is fed


def _joined(pieces: list[bytes | list[bytes]], *more: bytes | list[bytes]) -> bytes | list[bytes]:
    """One chunk for mitmproxy, or `[]` for "nothing yet" (an empty bytes would end a chunked body)."""
    out = b"".join(part if isinstance(part, bytes) else b"".join(part) for part in (*pieces, *more))
    return out or []
