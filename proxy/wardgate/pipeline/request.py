"""The request phase as an explicit list of stages over a model that does not import mitmproxy (DESIGN §2).

    bind host → canonical target → no upgrade → identify → rate limit → size → read and parse → usage → precheck
    → admit + judge → MCP → enforce

Each stage lets the call go on (None) or ends it: `Refuse` (audited here, in one place, unless the judging stage
already audited it) or, at the end, `Forward` (what to change before the request goes upstream). The cheap
refusals come first: an anonymous, misdirected, rate-limited, oversized or over-budget request never reaches a scanner.
The stages share one deadline (`deadline_s`: 503 `deadline_exceeded`), and they are cancelled when the client hangs up
(`client_closed`, audited, never forwarded): either way the scans they started are cancelled with them.
Exceptions are breakage; the caller (intercept/) turns them into an audited refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import urlencode

from cachetools import TTLCache
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from wardgate.formats import MalformedBody, TooComplex, adapter_for, apply_rewrites, parse_unparsed, with_every_leaf
from wardgate.formats.body import Body, dump_body, read_body
from wardgate.formats.decoding import DecodingError, TooLarge
from wardgate.formats.generic_json import KEY_MARK, leaf_segment, named_model, refuse_token_ids_in
from wardgate.formats.mcp import is_jsonrpc, methods, named_identifiers, requests, tool_call_of
from wardgate.formats.realtime import is_realtime
from wardgate.formats.target import canonical_target, model_in_path
from wardgate.formats.text_rewrite import Unrewritable, rewrite_texts
from wardgate.identity import ForwardIdentity, IdentityRejected, IdentityResolver
from wardgate.identity.forward import PROXY_AUTHENTICATE
from wardgate.limits import UsageUnavailable
from wardgate.models import Exchange, JsonPath, Segment
from wardgate.pipeline.admission import Admission, Overloaded
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.destination import Destination
from wardgate.pipeline.guard import Guard
from wardgate.pipeline.headers import HEADER, apply_header_rewrites, header_segments
from wardgate.pipeline.lifetime import ClientGone, until_gone
from wardgate.pipeline.mcp_judge import SESSION_KEYS, LegacySession, LegacySessions, session_values
from wardgate.pipeline.offload import decode_off_loop, read_off_loop
from wardgate.pipeline.usage import UsageMeter
from wardgate.pipeline.vault import VaultStore
from wardgate.policy import Decision
from wardgate.quoting import quoted
from wardgate.telemetry.tracing import inner_span

__all__ = [
    "MCP_SESSION_HEADER",
    "QUERY",
    "Forward",
    "IncomingRequest",
    "Refuse",
    "RequestPipeline",
    "RequestRules",
    "proxy_auth_required",
]
logger = logging.getLogger(__name__)

QUERY = "$query"  # segment paths of the query string: ("$query", index, "key" | "value")
TARGET = "$target"  # the segment path of the whole request target (path, parameters, query, fragment)
MCP_SESSION_HEADER = "mcp-session-id"
# A scan this large is worth one policy evaluation first: a deny that no finding could lift then costs no scan.
_PRECHECK_CHARS = 4096


@dataclasses.dataclass(slots=True)
class IncomingRequest:
    """One request as the pipeline sees it. `headers` is the live mapping: identity strips the credential in it."""

    method: str
    path: str
    headers: MutableMapping[str, str]
    query: list[tuple[str, str]]
    body: bytes  # as sent: still Content-Encoded (decoded by the pipeline, within the size limit)
    destination: Destination
    peer_chain: Sequence[x509.Certificate] = ()
    proxy_key: str | None = None  # forward mode: the password of the client's proxy credentials


@dataclasses.dataclass(slots=True)
class Forward:
    """What to change before forwarding: a new request target, body or query, headers to set."""

    path: str | None = None  # the canonical target (formats/target.py) when the client spelled it otherwise
    body: bytes | None = None
    query: list[tuple[str, str]] | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    bare: bool = False  # none of the caller's headers go on (besides Host): only `headers`


@dataclasses.dataclass(frozen=True, slots=True)
class Refuse:
    decision: Decision
    audited: bool = False


Outcome = Forward | Refuse


@dataclasses.dataclass(frozen=True, slots=True)
class RequestRules:
    """The request path's settings."""

    max_body_bytes: int
    max_scan_chars: int
    max_body_nodes: int  # JSON values, form fields or multipart parts in the body
    max_segments: int  # texts to judge
    deadline_s: float  # Wardgate's own part of a request: every stage, admission wait and scans included
    binds_host: bool = False
    unreadable_fails_closed: bool = True
    upstream_credential: tuple[str, str] | None = None
    conversation_header: str | None = None
    realtime: bool = True


@dataclasses.dataclass(slots=True)
class _Call:
    ctx: RequestContext
    request: IncomingRequest
    sent_target: str = ""  # the target as the client spelled it (request.path becomes the canonical one)
    body: bytes = b""  # decoded
    read: Body = dataclasses.field(default_factory=lambda: Body("empty"))
    exchange: Exchange | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    forward: Forward = dataclasses.field(default_factory=Forward)
    legacy: tuple[str, LegacySession] | None = None  # the caller's own legacy MCP session it POSTs to (`_read`)


def _query_segments(query: list[tuple[str, str]], session: str | None = None) -> list[Segment]:
    """The query string is text a model may read (some gateways forward it): judged as `parameter`s, for secrets,
    injection and personal data by pattern (NER would read `en-US` as a place). But for the `session` the server
    issued to this caller, which must go back as it came (a random id can look like a licence number to the PII
    scanner, and a masked one ends the session)."""
    return [
        Segment("unknown", "parameter", text, (QUERY, index, part))
        for index, pair in enumerate(query)
        for part, text in zip(("key", "value"), pair, strict=True)
        if text and not (part == "value" and pair[0] in SESSION_KEYS and text == session)
    ]


def _overloaded(exc: Overloaded) -> Decision:
    denial = Decision.deny("overloaded", f"Wardgate is at capacity ({exc}); retry shortly", status=503)
    return denial.model_copy(update={"headers": {"retry-after": str(int(exc.retry_after_s))}})


def proxy_auth_required(message: str) -> Decision:
    """Forward mode's 407, with the challenge that makes a client send its proxy credentials."""
    denial = Decision.deny("proxy_auth_required", message, status=407)
    return denial.model_copy(update={"headers": {"proxy-authenticate": PROXY_AUTHENTICATE}})


class RequestPipeline:
    def __init__(
        self,
        guard: Guard,
        identity: IdentityResolver,
        rules: RequestRules,
        *,
        usage: UsageMeter,
        admission: Admission,
        vaults: VaultStore | None = None,
        forward: ForwardIdentity | None = None,
    ) -> None:
        self._guard, self._identity, self._rules = guard, identity, rules
        self._usage, self._admission, self._vaults = usage, admission, vaults
        self._forward = forward  # forward mode: identity from the proxy credentials (identity/forward.py)
        self.mcp_sessions: TTLCache[str, tuple[Any, ...]] = TTLCache(maxsize=100_000, ttl=24 * 3600)
        self.legacy_sessions = LegacySessions()
        self.stages: list[Callable[[_Call], Awaitable[Outcome | None]]] = [
            self._bind_host,
            self._canonical_target,
            self._no_upgrade,
            self._identify,
            self._rate_limit,
            self._size,
            self._read,
            self._usage_input,
            self._precheck,
            self._judge,
            self._mcp,
            self._enforce,
        ]

    def overloaded(self, request: IncomingRequest) -> Decision | None:
        """The refusal for a request that would not even queue for a scan: given on its headers, so that its body is
        never decoded, parsed or identified and under overload a refusal costs as little as possible. Not for a
        POST of a legacy MCP session with the credentials that opened it: its refusal needs its body, to be answered
        on the session's stream."""
        legacy = self.legacy_sessions.posted_to(request.method, request.destination.server(), request.path)
        if legacy is not None and legacy[1].credential == self._credential(request):
            return None
        refused = self._admission.refuse_now()
        return _overloaded(refused) if refused is not None else None

    async def run(
        self, ctx: RequestContext, request: IncomingRequest, client_gone: ClientGone | None = None
    ) -> Outcome:
        """The stages in order; `client_gone` is polled while they run (and once after): a client that hung up gets
        its judgement cancelled and a `client_closed` refusal, so nothing is forwarded for it."""
        call = _Call(ctx, request, sent_target=request.path)
        ctx.server = request.destination.server()
        outcome, gone = await until_gone(self._stages(call), client_gone)
        if gone or (isinstance(outcome, Forward) and client_gone is not None and client_gone()):
            message = "the client closed the connection before its request was judged; nothing was forwarded"
            return self._refused(ctx, Refuse(Decision.deny("client_closed", message, status=499, source="fail_closed")))
        assert outcome is not None
        if isinstance(outcome, Refuse):
            self._refused(ctx, outcome)
            if client_gone is not None and client_gone():  # nobody left to answer on the stream
                return outcome
            return self._in_session(call, outcome.decision) or outcome
        return outcome

    def _refused(self, ctx: RequestContext, refuse: Refuse) -> Refuse:
        if not refuse.audited:
            self._guard.refuse(ctx, "request", refuse.decision)
        return refuse

    async def _stages(self, call: _Call) -> Outcome:
        try:
            async with asyncio.timeout(self._rules.deadline_s) as deadline:
                for stage in self.stages:
                    with inner_span(f"wardgate.{stage.__name__.strip('_')}") as span:
                        outcome = await stage(call)
                        if isinstance(outcome, Refuse):
                            span.set_attribute("wardgate.refused", outcome.decision.code)
                    if isinstance(outcome, Refuse):
                        return outcome
        except TimeoutError:
            if not deadline.expired():
                raise
            message = f"Wardgate could not judge this request within its deadline of {self._rules.deadline_s:g} s"
            return Refuse(Decision.deny("deadline_exceeded", message, status=503, source="fail_closed"))
        return call.forward

    # --- the stages, cheapest refusals first ----------------------------------------------------------------

    async def _bind_host(self, call: _Call) -> Outcome | None:
        mismatch = call.request.destination.mismatch() if self._rules.binds_host else None
        return Refuse(Decision.deny("misdirected_request", mismatch, status=421)) if mismatch else None

    async def _canonical_target(self, call: _Call) -> Outcome | None:
        """Judge, and forward, the path as the upstream's router will read it (`%63ompletions` is `completions`)."""
        canonical = canonical_target(call.request.path)
        if canonical != call.request.path:
            call.request.path = call.forward.path = canonical
        return None

    async def _no_upgrade(self, call: _Call) -> Outcome | None:
        upgrade = call.request.headers.get("upgrade")
        if upgrade is None:
            return None
        if self._rules.realtime and upgrade.lower() == "websocket" and is_realtime(call.request.path):
            return None  # judged here as a request, then frame by frame (pipeline/realtime.py)
        # Frames after any other upgrade (WebSocket, h2c) would pass unjudged: refused on every inspected host.
        message = f"protocol upgrades ({quoted(upgrade)}) cannot be inspected here and are refused"
        return Refuse(Decision.deny("upgrade_refused", message, status=403))

    async def _identify(self, call: _Call) -> Outcome | None:
        request, ctx = call.request, call.ctx
        ctx.credential = self._credential(request)  # before the resolver strips the credential headers
        try:
            if self._forward is not None:
                # An agent that cannot be changed keeps its provider key: nothing is stripped in forward mode.
                ctx.identity = (await self._forward.identify(request.proxy_key, request.headers)).to_input()
            else:
                ctx.identity = (await self._identity.resolve(request.headers, request.peer_chain)).to_input()
        except IdentityRejected as rejected:
            if rejected.code == "proxy_auth_required":
                return Refuse(proxy_auth_required(rejected.message))
            return Refuse(Decision.deny(rejected.code, rejected.message, status=401))
        header = self._rules.conversation_header
        conversation = request.headers.pop(header, None) if header else None
        if conversation and self._vaults is not None:
            # The caller's named conversation shares one vault (the header is Wardgate's; it is not forwarded).
            ctx.vault = self._vaults.vault(ctx.caller, conversation)
        return None

    async def _rate_limit(self, call: _Call) -> Outcome | None:
        """Requests and tokens per minute (limits/rate.py), before any scan; the headers go on the answer either way."""
        if self._usage.rate is None:
            return None
        try:
            check = await self._usage.rate.check(call.ctx.identity)
        except UsageUnavailable as exc:
            if self._usage.fail_closed:
                message = f"rate limits cannot be read: {exc}"
                return Refuse(Decision.deny("usage_unavailable", message, status=503, source="fail_closed"))
            logger.warning("rate limits not applied (limits.fail_closed is false): %s", exc)
            return None
        if check is None:
            return None
        call.ctx.response_headers.update(check.headers())
        if check.allowed:
            return None
        message = f"more {check.exceeded} per minute than this caller's limit; retry after the reset"
        denial = Decision.deny("rate_limited", message, status=429)
        return Refuse(denial.model_copy(update={"headers": check.headers()}))

    async def _size(self, call: _Call) -> Outcome | None:
        """Decode the body, never past the limit (a compression bomb stops at its first `max_body_bytes`)."""
        limit = self._rules.max_body_bytes
        encoding = call.request.headers.get("content-encoding", "")
        try:
            call.body = await decode_off_loop(call.request.body, encoding, limit)
        except TooLarge:
            message = f"the request body is more than {limit} bytes (decoded); the limit is {limit}"
            return Refuse(Decision.deny("body_too_large", message, status=413))
        except DecodingError as exc:
            return Refuse(Decision.deny("malformed_request", str(exc), status=400))
        return None

    async def _read(self, call: _Call) -> Outcome | None:
        """The body by its content (pipeline/../formats/body.py), then the provider's format and every other string."""
        request, ctx = call.request, call.ctx
        adapter, rules = adapter_for(request.method, request.path), self._rules

        def parse() -> tuple[Body, Exchange] | None:
            read = read_body(call.body, request.headers.get("content-type", ""), rules.max_body_nodes)
            if read is None and rules.unreadable_fails_closed:
                return None
            read = read or Body("empty")
            return read, self._exchange(ctx, adapter, read, rules.max_segments, request.path)

        try:
            parsed = await read_off_loop(len(call.body), parse)
            if parsed is None:
                message = "the body is not JSON, JSON Lines, multipart, a form or text, so it cannot be inspected"
                return Refuse(Decision.deny("unreadable_body", message, status=415))
            read, exchange = parsed
        except MalformedBody as exc:
            return Refuse(Decision.deny("malformed_request", str(exc), status=400))
        except TooComplex as exc:  # counted before the pieces were built: refused in milliseconds, before any scan
            return Refuse(Decision.deny("body_too_complex", str(exc), status=413))
        call.read = read
        # The whole request target is text too (a path or `;param` can carry a key, `#…` a fragment some servers
        # read): judged for secrets like metadata; the query's pairs again on their own, for masking. So are the
        # headers the upstream gets (pipeline/headers.py), but for credentials: the caller's, and the upstream's
        # (Wardgate's own replaces whatever the caller sent in it).
        target = Segment("unknown", "metadata", call.sent_target, (TARGET,))
        upstream = {rules.upstream_credential[0].lower()} if rules.upstream_credential else set()
        skip = self._identity.credential_headers | upstream
        headers = header_segments(request.headers, "unknown", skip=skip, minted=self.mcp_sessions)
        call.legacy = self._legacy_session(call)
        ctx.in_session = call.legacy is not None and read.kind == "json" and LegacySession.answerable(read.value)
        extra = [target, *_query_segments(request.query, call.legacy[0] if call.legacy else None), *headers]
        segments = [*exchange.segments, *extra]
        if len(segments) > rules.max_segments:
            message = f"the request holds {len(segments)} texts to judge; the limit is {rules.max_segments}"
            return Refuse(Decision.deny("body_too_complex", message, status=413))
        # A model the path names is the one that runs (Gemini's, an Azure deployment), whatever the body says.
        model = model_in_path(request.path) or exchange.model
        call.exchange = dataclasses.replace(exchange, segments=segments, model=model)
        ctx.model, ctx.endpoint = call.exchange.model, call.exchange.endpoint
        return None

    @staticmethod
    def _exchange(ctx: RequestContext, adapter: Any, read: Body, max_segments: int, path: str) -> Exchange:
        """`TooComplex` past `max_segments` (JSON bodies: before the walk over every leaf builds them all)."""
        if not path.split("?", 1)[0].rstrip("/").endswith("/detokenize"):  # ids to turn into text, for the caller
            refuse_token_ids_in(read.value if read.kind == "json" else None, read.documents)
        if read.kind != "json":
            if adapter is not None and read.kind != "empty":
                raise MalformedBody(f"this endpoint takes a JSON object, not {read.kind}")
            # A part's header pieces (`form-data`, a field name, a file name) are read like query parameters, for
            # personal data by pattern only: NER took `b.jsonl` for a name, and the mask it asked for refused every
            # batch upload; read like headers, an e-mail address in a file name went out unmasked (outside reviews).
            segments = [
                Segment("unknown", "parameter", text, path) if path in read.header_paths else leaf_segment(path, text)
                for path, text in read.texts
            ]
            # A file that is no text (a transcription's audio): its type for the policy's media rules, its printable
            # runs for the secrets scanner, and those that read as sentences for every scanner.
            for file in read.files:
                segments.append(Segment("unknown", "metadata", file.strings, file.path, opaque_media=file.media_type))
                if prose := file.prose:
                    segments.append(Segment("unknown", "document", prose, (*file.path, "$strings")))
            lines = parse_unparsed(read.value, ctx.provider).segments if read.kind == "jsonl" else []
            return Exchange(ctx.provider, "unparsed", None, False, [*segments, *lines])
        body = read.value
        if adapter is not None and is_jsonrpc(body):
            # Read as the provider's request, an MCP server's tools/call on such a path went unjudged by the tool
            # policy; read as MCP, a provider's request would skip its tool stripping (an outside review).
            raise MalformedBody("a JSON-RPC message on a provider's route: which of the two it is cannot be told")
        if adapter is None and is_jsonrpc(body):
            # MCP: the request is judged for who calls what; a tools/call is judged as the tool call it is.
            ctx.provider, ctx.mcp_methods = "mcp", methods(body)
            ctx.mcp_request_id = next((r.get("id") for r in requests(body) if "id" in r and "method" in r), None)
            # A model it names at its top is the tenant's to allow, as in any body: JSON-RPC keys added to a
            # provider's request would otherwise carry a forbidden model past the allow-list (a review's finding).
            # A tool call's arguments may name models of their own: they are the tool's business.
            model = next((item["model"] for item in requests(body) if isinstance(item.get("model"), str)), None)
            exchange = Exchange("mcp", "mcp", model, False, named_identifiers(body))
            return with_every_leaf(exchange, body, max_segments)
        if adapter is None:
            exchange = dataclasses.replace(parse_unparsed(body, ctx.provider), model=named_model(body))
        else:
            exchange = adapter.parse_request(body, path)
        return with_every_leaf(exchange, body, max_segments)

    async def _usage_input(self, call: _Call) -> Outcome | None:
        try:
            call.extra = await self._usage.policy_input(call.ctx)
        except UsageUnavailable as exc:
            if self._usage.fail_closed:
                message = f"usage cannot be read: {exc}"
                return Refuse(Decision.deny("usage_unavailable", message, status=503, source="fail_closed"))
            # Judged without usage: the policy input says so (a budget rule can refuse on it), and so does the audit
            # event's recorded input (an outside review: such decisions looked like any other).
            logger.warning("usage not read (limits.fail_closed is false): %s", exc)
            call.extra = {"usage_unavailable": True}
        return None

    async def _precheck(self, call: _Call) -> Outcome | None:
        """Ask the policy before paying for a scan when the caller is unknown or the scan is large."""
        assert call.exchange is not None
        # Metadata (ids, enums, inline data) is read by the secrets scanner only, in linear time: not budgeted.
        chars = sum(len(segment.text) for segment in call.exchange.segments if segment.source != "metadata")
        if chars > self._rules.max_scan_chars:
            message = f"the request holds {chars} characters to scan; the limit is {self._rules.max_scan_chars}"
            return Refuse(Decision.deny("scan_budget_exceeded", message, status=413))
        new_chars, expected_s = self._guard.expected_scan(call.ctx, call.exchange)
        if expected_s is not None and expected_s >= self._guard.scan_timeout:
            message = (
                f"the request's {new_chars} new characters would take ~{expected_s:.1f} s to scan at the rate recent "
                f"scans measured; the scan budget is {self._guard.scan_timeout:g} s"
            )
            return Refuse(Decision.deny("scan_budget_exceeded", message, status=413))
        if call.ctx.identity.get("authenticated") and chars <= _PRECHECK_CHARS:
            return None
        verdict = await self._guard.precheck(call.ctx, call.exchange, call.extra)
        return Refuse(verdict.decision, audited=True) if verdict is not None else None

    async def _judge(self, call: _Call) -> Outcome | None:
        assert call.exchange is not None
        try:
            # The policy alone takes well under a millisecond: only scanning work waits for a slot.
            async with self._admission.slot() if self._guard.scans else contextlib.nullcontext():
                verdict = await self._guard.judge(
                    call.ctx, "request", call.exchange, has_body=bool(call.body), extra=call.extra
                )
        except Overloaded as exc:
            return Refuse(_overloaded(exc))
        if not verdict.decision.allow:
            return Refuse(verdict.decision, audited=True)
        adapter = adapter_for(call.request.method, call.request.path)
        body = call.read.value if call.read.kind == "json" else None
        stripped = adapter.strip_tools(body, set(verdict.decision.tools.deny)) if adapter and body else []
        return await self._rewrite(call, verdict.rewrites, bool(stripped))

    async def _rewrite(self, call: _Call, rewrites: Mapping[JsonPath, str], tools_stripped: bool) -> Outcome | None:
        """Masks (body and query) and stripped tools into `Forward`; a mask that cannot be applied refuses."""
        query = {path: text for path, text in rewrites.items() if path[:1] == (QUERY,)}
        in_body = {path: text for path, text in rewrites.items() if path[:1] not in ((QUERY,), (HEADER,))}
        read = call.read
        if any(KEY_MARK in path for path in in_body) or (TARGET,) in in_body:
            message = "the policy asks to mask an object key, which cannot be rewritten without changing the request"
            return Refuse(Decision.deny("mask_unsupported", message, status=403))
        if in_body and not read.is_json:
            content_type = call.request.headers.get("content-type", "")
            try:
                # Read off the loop: a multipart body is parsed again to check the rewrite.
                rewrite = functools.partial(
                    rewrite_texts, call.body, content_type, read, in_body, self._rules.max_body_nodes
                )
                call.forward.body = await read_off_loop(len(call.body), rewrite)
            except Unrewritable as exc:
                message = f"the policy asks to mask parts of a {read.kind} body that cannot be rewritten exactly: {exc}"
                return Refuse(Decision.deny("mask_unsupported", message, status=403))
        apply_header_rewrites(call.request.headers, rewrites)  # the live headers: what goes upstream
        if (in_body and read.is_json) or tools_stripped:
            call.forward.body = dump_body(dataclasses.replace(read, value=apply_rewrites(read.value, in_body)))
        if query:
            pairs = [list(pair) for pair in call.request.query]
            for (_, index, part), text in query.items():
                pairs[int(index)][0 if part == "key" else 1] = text
            call.forward.query = [(key, value) for key, value in pairs]
        return None

    async def _mcp(self, call: _Call) -> Outcome | None:
        """An MCP session stays with the caller that opened it; each tools/call is judged."""
        ctx, request = call.ctx, call.request
        if ctx.endpoint != "mcp" or call.exchange is None:
            return None
        session = request.headers.get(MCP_SESSION_HEADER)
        owner = ctx.caller
        named = session_values(request.path)
        if len(named) > 1:  # Wardgate would check one, and the server may read another
            message = "the request names more than one MCP session"
            return Refuse(Decision.deny("mcp_session_ambiguous", message, status=400))
        legacy = self.legacy_sessions.get(named[0]) if named else None  # on any server: the owner is checked
        if (session and self.mcp_sessions.get(session, owner) != owner) or (legacy and legacy.owner != owner):
            message = "this MCP session belongs to another caller"
            return Refuse(Decision.deny("mcp_session_mismatch", message, status=403))
        if legacy is not None:
            legacy.methods.update(ctx.mcp_methods)
        body = call.read.value
        for message_ in requests(body):
            tool_call = tool_call_of(message_)
            if tool_call is None:
                continue
            verdict = await self._guard.judge_tool_call(ctx, call.exchange, tool_call, "mcp")
            if verdict.decision.allow:
                continue
            if legacy is None:
                return Refuse(verdict.decision, audited=True)
            legacy.deny(message_, verdict.decision)  # answered on the session's GET stream (pipeline/mcp_judge.py)
            call.forward.body = json.dumps(body).encode()
        return None

    async def _enforce(self, call: _Call) -> Outcome | None:
        call.forward.headers.update(self._upstream_headers())
        self._usage.spend(call.ctx, requests=1)
        return None

    def _upstream_headers(self) -> dict[str, str]:
        """What Wardgate adds to every request it forwards."""
        headers = dict([self._rules.upstream_credential]) if self._rules.upstream_credential is not None else {}
        # A compressed stream would have to be decoded before it can be judged: ask for it plain.
        return headers | {"accept-encoding": "identity"}

    def _credential(self, request: IncomingRequest) -> str:
        """A digest of every credential the request presents (headers, proxy key, client certificate), known on
        its headers alone: the same caller before its identity is resolved."""
        digest = hashlib.sha256()
        names = self._identity.credential_headers | (self._forward.credential_headers if self._forward else set())
        for name in sorted(names):
            digest.update(f"{name}\0{request.headers.get(name, '')}\0".encode())
        digest.update(f"{request.proxy_key or ''}\0".encode())
        digest.update(request.peer_chain[0].fingerprint(hashes.SHA256()) if request.peer_chain else b"")
        return digest.hexdigest()

    def _in_session(self, call: _Call, decision: Decision) -> Forward | None:
        """A refused POST of a legacy MCP session, answered on its session's stream (pipeline/mcp_judge.py): only
        Wardgate's placeholders are forwarded, to the path the server named with the session's id and none of the
        caller's headers, path, query or ids."""
        if call.legacy is None or not call.ctx.answered_in_session(decision):
            return None
        legacy_id, legacy = call.legacy
        body = legacy.refused(call.read.value, decision)
        call.ctx.placeholder = True
        self._usage.spend(call.ctx, requests=1)  # it reaches the upstream: counted like any forwarded request
        key = next(key for key, _ in call.request.query if key in SESSION_KEYS)
        headers = self._upstream_headers() | {"content-type": "application/json"}
        return Forward(f"{legacy.endpoint}?{urlencode([(key, legacy_id)])}", body, None, headers, bare=True)

    def _legacy_session(self, call: _Call) -> tuple[str, LegacySession] | None:
        """The legacy MCP session a POST is sent to, when it is the caller's own."""
        request = call.request
        session = self.legacy_sessions.posted_to(request.method, call.ctx.server, request.path)
        return session if session is not None and session[1].owner == call.ctx.caller else None
