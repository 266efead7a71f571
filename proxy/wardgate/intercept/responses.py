"""Build the HTTP responses Wardgate itself answers with (mitmproxy-facing)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Protocol

from mitmproxy import http

from wardgate.formats import error_body
from wardgate.formats.mcp import jsonrpc_error
from wardgate.pipeline import RequestContext
from wardgate.policy import Decision

__all__ = ["CHALLENGE", "DECISION_HEADER", "JudgedStream", "decoded_stream", "refusal"]

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


class JudgedStream(Protocol):
    """A stream callable that judges what it is fed (mitmproxy's: b"" marks the end) and can stop itself."""

    @property
    def stopped(self) -> Decision | None: ...

    def __call__(self, chunk: bytes) -> bytes | list[bytes]: ...

    def refuse(self, message: str) -> bytes | list[bytes]: ...


def decoded_stream(headers: http.Headers, stream: JudgedStream) -> Callable[[bytes], bytes | list[bytes]]:
    """The stream callable for a judged SSE body: gzip/deflate decoded on the way in (the client gets it plain).

    Wardgate asks upstreams for `identity`; one that compresses anyway with an encoding zlib cannot read gets the
    stream stopped (it cannot be judged), never passed through: its client would decode what no one judged.
    """
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return stream
    headers.pop("content-encoding")
    headers.pop("content-length", None)
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return lambda chunk: stream.refuse(f"the upstream sent the stream {encoding}-encoded; it cannot be judged")
    # wbits 47: a gzip or zlib header, detected. "deflate" is zlib-wrapped (RFC 9110) or, from some servers, raw: its
    # first two bytes tell which, as clients (httpx, urllib3) decide it; until they are here nothing is decoded.
    wbits = 47
    decoder = zlib.decompressobj(wbits)
    held: bytes | None = b"" if encoding == "deflate" else None

    def decode(chunk: bytes) -> bytes | list[bytes]:
        nonlocal decoder, held, wbits
        if stream.stopped is not None:
            return _joined([stream(chunk)])  # nothing more is inflated: it answers at once (b"" still closes it)
        end = not chunk
        if held is not None:
            held += chunk
            if not end and len(held) < 2:
                return []
            wbits = zlib.MAX_WBITS if _zlib_header(held) else -zlib.MAX_WBITS
            decoder, chunk, held = zlib.decompressobj(wbits), held, None
        try:
            out = inflated(chunk) if chunk else []
            if not end:
                return _joined(out)
            rest = decoder.flush() if stream.stopped is None else b""
        except zlib.error as exc:
            return stream.refuse(f"the upstream's {encoding} stream is not valid: {exc}")
        return _joined(out, *([stream(rest)] if rest else []), stream(b""))

    def inflated(chunk: bytes) -> list[bytes | list[bytes]]:
        """Inflated a step at a time: 64 KB of a hostile gzip would otherwise become 64 MB in one call; once the
        stream is stopped (an event past its limit, a verdict) the rest is never inflated. An empty step is not
        passed on: b"" would end the stream."""
        nonlocal decoder
        out, pending = [], chunk
        while pending and stream.stopped is None:
            piece = decoder.decompress(pending, _INFLATE_STEP)
            pending = decoder.unconsumed_tail
            if piece:
                out.append(stream(piece))
            if decoder.eof and decoder.unused_data:
                if encoding == "deflate":  # one deflate stream: nothing may follow it unjudged
                    out.append(stream.refuse("the upstream sent data after the end of its deflate stream"))
                    break
                pending, decoder = decoder.unused_data, zlib.decompressobj(wbits)  # the next gzip member
        return out

    return decode


def _zlib_header(head: bytes) -> bool:
    """RFC 1950's two header bytes: method 8 (deflate), a window of at most 32 KB, a check that divides by 31."""
    return len(head) >= 2 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7 and (head[0] << 8 | head[1]) % 31 == 0


def _joined(pieces: list[bytes | list[bytes]], *more: bytes | list[bytes]) -> bytes | list[bytes]:
    """One chunk for mitmproxy, or `[]` for "nothing yet" (an empty bytes would end a chunked body)."""
    out = b"".join(part if isinstance(part, bytes) else b"".join(part) for part in (*pieces, *more))
    return out or []
