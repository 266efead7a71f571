"""Headers are text too: every header that is neither transport nor identity reaches the model's host (a custom
`X-Note: ignore previous instructions…` on a request) or the client (any header of an answer), so it is judged.

A value is a segment at ("$header", i), `i` the header's place in the mapping (never its name: masked paths are
audited, and a name can be the secret); the judged names, one a line, are one metadata segment at ("$header",
"names", i, j, …) (one segment, not one each: a scanned segment costs ~10 µs however short). A masked value is
rewritten; a header whose name is masked is dropped (a name cannot be rewritten). Identity headers (the caller's
credential, the provider's key) are who is calling, not what is said: never scanned, so never in a finding or the
audit. Transport headers are HTTP's own framing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, MutableMapping

from wardgate.models import Exchange, JsonPath, Role, Segment
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard
from wardgate.pipeline.response import ResponseOutcome
from wardgate.policy import Decision

__all__ = [
    "HEADER",
    "IDENTITY",
    "MAX_JUDGED_CHARS",
    "TRANSPORT",
    "apply_header_rewrites",
    "header_segments",
    "judge_response_headers",
]

HEADER = "$header"
_NAMES = "names"
# An answer's headers are judged on the event loop (before a stream starts): mitmproxy does not bound their size.
MAX_JUDGED_CHARS = 64 * 1024
IDENTITY = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "set-cookie",
     "www-authenticate", "proxy-authenticate",
     "sec-websocket-protocol"}  # browser Realtime clients send their key here (`openai-insecure-api-key.…`)
)  # fmt: skip
TRANSPORT = frozenset(
    {"host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection", "keep-alive",
     "te", "trailer", "upgrade", "accept-encoding", "date", "sec-websocket-key", "sec-websocket-version",
     "sec-websocket-extensions", "sec-websocket-accept"}
)  # fmt: skip


def header_segments(headers: Mapping[str, str], role: Role, skip: Collection[str] = ()) -> list[Segment]:
    """The judged headers as segments; `skip`: more names that are not content (a configured credential header)."""
    judged = [
        (index, name, value)
        for index, (name, value) in enumerate(headers.items())
        if (lowered := name.lower()) not in IDENTITY and lowered not in TRANSPORT and lowered not in skip
    ]
    values = [Segment(role, "header", value, (HEADER, index)) for index, _, value in judged if value]
    if not judged:
        return values
    names = "\n".join(name for _, name, _ in judged)
    return [*values, Segment(role, "metadata", names, (HEADER, _NAMES, *(index for index, _, _ in judged)))]


def apply_header_rewrites(headers: MutableMapping[str, str], rewrites: Mapping[JsonPath, str]) -> None:
    """Masked values rewritten in place; a header whose name is masked is dropped. `headers` is the mapping the
    segments were made from, unchanged since."""
    names = list(headers)
    drop: set[str] = set()
    for path, text in rewrites.items():
        if path[:2] == (HEADER, _NAMES):
            indices = [int(index) for index in path[2:]]
            lines = text.split("\n")
            if len(lines) != len(indices):  # a mask that changed the lines: which name it hid is unknown
                drop.update(names[index] for index in indices)
            else:
                drop.update(names[index] for index, line in zip(indices, lines, strict=True) if line != names[index])
        elif path[:1] == (HEADER,):
            headers[names[int(path[1])]] = text
    for name in drop:
        headers.pop(name, None)


def judge_response_headers(
    guard: Guard, ctx: RequestContext, headers: MutableMapping[str, str], provider: str
) -> ResponseOutcome | None:
    """Judge an answer's headers before any byte of it is sent (a stream starts with them), on the caller's thread:
    the sync scanners first, and only if they find something the policy and the audit (which scans the few short
    values again). Masks are applied to `headers`; a refusal is returned (`audited` unless too large to judge)."""
    segments = header_segments(headers, "assistant")
    if sum(len(segment.text) for segment in segments) > MAX_JUDGED_CHARS:
        message = f"the answer's headers hold more than {MAX_JUDGED_CHARS} characters; they are not judged or sent"
        return ResponseOutcome(refusal=Decision.deny("response_unreadable", message, status=502, source="fail_closed"))
    findings, error = guard.scan_blocking(segments, tool=False)
    if not findings and error is None:
        return None
    verdict = guard.judge_blocking(ctx, "response", Exchange(provider, "unparsed", None, False, segments))
    if not verdict.decision.allow:
        return ResponseOutcome(refusal=verdict.decision, audited=True)
    apply_header_rewrites(headers, verdict.rewrites)
    return None
