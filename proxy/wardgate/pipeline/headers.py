"""Headers are text too: every header that is neither transport nor identity reaches the model's host (a custom
`X-Note: ignore previous instructions…` on a request) or the client (any header of an answer), so it is judged.

A value is a segment at ("$header", i), `i` the header's place in the mapping (never its name: masked paths are
audited, and a name can be the secret); the judged names, one a line, are one metadata segment at ("$header",
"names", i, j, …) (one segment, not one each: a scanned segment costs ~10 µs however short). A masked value is
rewritten; a header whose name is masked is dropped (a name cannot be rewritten). A request's credential headers
(the caller's, the provider's key) are who is calling, not what is said: never scanned, so never in a finding or the
audit; an answer's are content. Framing headers are HTTP's own, parsed and checked by the proxy.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Container, Mapping, MutableMapping, Sequence

from wardgate.models import Exchange, JsonPath, Role, Segment
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard
from wardgate.pipeline.response import ResponseOutcome
from wardgate.policy import Decision
from wardgate.quoting import quoted, quoted_all

__all__ = [
    "CREDENTIALS",
    "FRAMING",
    "HEADER",
    "MAX_HEADER_FIELDS",
    "MAX_JUDGED_CHARS",
    "STRUCTURED",
    "TOKENS",
    "apply_header_rewrites",
    "header_block_problem",
    "header_segments",
    "judge_response_headers",
    "unreadable_framing",
]

HEADER = "$header"
_NAMES = "names"
# An answer's headers are judged on the event loop (before a stream starts): mitmproxy does not bound their size.
MAX_JUDGED_CHARS = 64 * 1024
# Nor their number. Read by name, mitmproxy's headers cost the square of their count, on the event loop: 10,000 of
# them on a request with no credential held every other request for 9 s (an outside fault run). Clients send tens.
MAX_HEADER_FIELDS = 256
_COOKIE = ("cookie", b"cookie")
# Who is calling, on a request: the caller's credential (or in forward mode the agent's own provider key). Never
# scanned, so never in a finding or the audit. An answer names no caller: there these are content like any other.
CREDENTIALS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"}
)  # fmt: skip
# What a credential looks like (RFC 9110 §11: a scheme and a token68 or auth-params, e.g. AWS SigV4's): anything
# else in a credential's field is text, judged as any header is. Passed unjudged, an `api-key` beside the caller's
# bearer token carried a prompt injection to the upstream (an outside review).
# Auth-params only as AWS SigV4 writes them (`Digest Ignore=all, previous=instructions` carried words: a second
# outside review).
_TOKEN68 = r"[A-Za-z0-9._~+/-]+=*"
_SIGV4_PARAM = r"(?:Credential|SignedHeaders|Signature)=[A-Za-z0-9/;._-]+"
_CREDENTIAL = re.compile(
    rf"(?:[A-Za-z][A-Za-z0-9._-]* +)?{_TOKEN68}|AWS4-HMAC-SHA256 +{_SIGV4_PARAM}(?: *, *{_SIGV4_PARAM}){{2}}"
)
_MAX_CREDENTIAL = 8192
# Browser Realtime clients send their key as a WebSocket subprotocol (`openai-insecure-api-key.…`): a credential on
# an upgrade only.
_UPGRADE_CREDENTIALS = frozenset({"sec-websocket-protocol"})
# HTTP's own framing, which the proxy parses and checks itself.
FRAMING = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "sec-websocket-key",
     "sec-websocket-version", "sec-websocket-accept"}
)  # fmt: skip
# Structured values (media types, dates, codings, cookies, challenges): read for secrets only, like other metadata
# (a language model would only misread `application/json`), but read: any of them can carry a key.
STRUCTURED = frozenset(
    {"content-type", "content-encoding", "accept-encoding", "accept", "te", "trailer", "keep-alive", "date", "cookie",
     "set-cookie", "www-authenticate", "proxy-authenticate", "sec-websocket-extensions", "sec-websocket-protocol"}
)  # fmt: skip
# Ids a server mints and a client sends back as they came (MCP's session, an SSE stream's last event) and MCP's
# protocol date: metadata (secrets only) while they have that shape, since a random id can read as a licence number
# to the PII scanner and, masked, ends the session. A minted id is a long random token of letters and digits both,
# which no SSN, card or phone number (digits only), IP address (dots), name or short national id is; any other
# value is judged as text. (Deliberately encoded data can ride in any field: this is about accidental PII.) On a
# request the MCP session id must also be one Wardgate saw a server mint (`header_segments`' `minted`).
_MINTED_ID = re.compile(r"(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9_-]{16,128}")
_PROTOCOL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TOKENS = {"mcp-session-id": _MINTED_ID, "last-event-id": _MINTED_ID, "mcp-protocol-version": _PROTOCOL_DATE}


def header_segments(
    headers: Mapping[str, str],
    role: Role,
    skip: Collection[str] = (),
    *,
    request: bool = True,
    minted: Container[str] = (),
) -> list[Segment]:
    """The judged headers as segments; `skip`: more names that are not content (a configured credential header).
    On a request the caller's credentials are not content (while they look like credentials); on an answer only the
    framing is skipped. A request's MCP session id is metadata only when it is one of the ids Wardgate saw a server
    mint (`minted`); an answer's, the server minting it, while it is shaped like one."""
    skipped = set(FRAMING)
    if request and "upgrade" in headers:
        skipped |= _UPGRADE_CREDENTIALS
    # Where credentials travel (HTTP's, and the configured identity's and upstream's): skipped while they hold one.
    # A configured location skipped whatever it held, so forward mode passed text in `x-api-key` (an outside review).
    credentials = {name.lower() for name in skip} | (CREDENTIALS if request else set())
    judged = [
        (index, name, value)
        for index, (name, value) in enumerate(headers.items())
        if name.lower() not in skipped and not (name.lower() in credentials and _credential_shaped(value))
    ]
    values = [
        Segment(
            role, "metadata" if _structured(name.lower(), value, request, minted) else "header", value, (HEADER, index)
        )
        for index, name, value in judged
        if value
    ]
    if not judged:
        return values
    names = "\n".join(name for _, name, _ in judged)
    return [*values, Segment(role, "metadata", names, (HEADER, _NAMES, *(index for index, _, _ in judged)))]


def _credential_shaped(value: str) -> bool:
    """A credential: not content. A credential's field holding anything else is judged."""
    return len(value) <= _MAX_CREDENTIAL and _CREDENTIAL.fullmatch(value.strip()) is not None


def _structured(name: str, value: str, request: bool, minted: Container[str]) -> bool:
    if request and name == "mcp-session-id":
        return value in minted
    return name in STRUCTURED or ((shape := TOKENS.get(name)) is not None and shape.fullmatch(value) is not None)


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


# What a client's HTTP library decodes by itself and Wardgate reads too: SSE is UTF-8 by its specification; a
# buffered body is read as UTF-8, or UTF-16/32 told by its bytes (formats/body.py).
_STREAM_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_BODY_CHARSETS = _STREAM_CHARSETS | {"utf-16", "utf-16le", "utf-16be", "utf-32", "utf-32le", "utf-32be"}


def unreadable_framing(headers: Mapping[str, str]) -> str | None:
    """Why an answer's bytes would reach the client other than as Wardgate reads them, or None.

    A transfer coding besides `chunked` (`gzip, chunked`) is undone by the client after mitmproxy passes it on, and a
    declared charset Wardgate does not read (`utf-7`, `cp037`, UTF-16 in an event stream) is decoded by the client
    into text no scanner saw."""
    codings = [part.strip().lower() for part in headers.get("transfer-encoding", "").split(",") if part.strip()]
    if any(coding != "chunked" for coding in codings):
        return f"the upstream sent its answer with transfer coding {quoted_all(codings)}, which is not judged"
    media, *parameters = headers.get("content-type", "").split(";")
    allowed = _STREAM_CHARSETS if media.strip().lower() == "text/event-stream" else _BODY_CHARSETS
    declared = []
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        name = name.strip().lower()
        if name.startswith("charset") and name != "charset":
            # RFC 2231 spellings (`charset*=''utf-7`, `charset*0=utf; charset*1=-7`): httpx reads them as the
            # charset, so a client decoded UTF-7 or EBCDIC that was judged as written (an outside review).
            return f"the upstream declared its answer's charset as {quoted(name)}, which is not judged"
        if name == "charset":
            declared.append(value.strip().strip('"').lower())
    if headers.get("content-type", "").lower().count("charset") > len(declared):
        # The cohere SDK takes `charset=` wherever it stands (`x-charset=utf-7`, inside a quoted parameter): it
        # decoded a stream as UTF-7 that was judged as ASCII (an outside review).
        return "the upstream's content type names a charset outside its charset parameter, which clients may read"
    if len(set(declared)) > 1:
        return f"the upstream declared its answer in more than one charset ({quoted_all(declared)})"
    if declared and declared[0] not in allowed:
        return f"the upstream declared its answer in charset {quoted(declared[0])}, which is not judged"
    return None


def header_block_problem[S: (bytes, str)](fields: Sequence[tuple[S, S]]) -> str | None:
    """Why a message's header block (its name/value lines) is too large to read, or None. Cookies count as one field:
    HTTP/2 clients send each cookie as a field of its own."""
    count = sum(1 for name, _ in fields if name.lower() not in _COOKIE) + any(n.lower() in _COOKIE for n, _ in fields)
    if count > MAX_HEADER_FIELDS:
        return f"the message has {count} header fields; the limit is {MAX_HEADER_FIELDS}"
    size = sum(len(name) + len(value) for name, value in fields)
    if size > MAX_JUDGED_CHARS:
        return f"the message's header fields hold {size} bytes; the limit is {MAX_JUDGED_CHARS}"
    return None


def judge_response_headers(
    guard: Guard, ctx: RequestContext, headers: MutableMapping[str, str], provider: str
) -> ResponseOutcome | None:
    """Judge an answer's headers before any byte of it is sent (a stream starts with them), on the caller's thread:
    the sync scanners first, and only if they find something the policy and the audit (which scans the few short
    values again). Masks are applied to `headers`; a refusal is returned (`audited` unless too large to judge)."""
    too_large = header_block_problem(getattr(headers, "fields", None) or list(headers.items()))
    if (unreadable := too_large or unreadable_framing(headers)) is not None:
        return ResponseOutcome(
            refusal=Decision.deny("response_unreadable", unreadable, status=502, source="fail_closed")
        )
    segments = header_segments(headers, "assistant", request=False)
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
