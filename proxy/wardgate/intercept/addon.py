"""The mitmproxy addon that hands each LLM request and response to the pipeline and enforces the verdict."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cachetools import TTLCache
from mitmproxy import http
from mitmproxy.proxy.mode_specs import TransparentMode

from wardgate.config import Phase, StreamingSettings
from wardgate.errors import AuditError
from wardgate.formats import MalformedBody, adapter_for, apply_rewrites, parse_unparsed, provider_for, with_every_leaf
from wardgate.formats.body import Body, dump_body, read_body
from wardgate.formats.mcp import is_jsonrpc, methods, requests, tool_call_of
from wardgate.formats.streams import stream_format_for
from wardgate.identity import IdentityRejected, IdentityResolver
from wardgate.intercept.responses import DECISION_HEADER, decoded_stream, refusal
from wardgate.limits import TokenCount, UsageStore, UsageUnavailable
from wardgate.models import Exchange, JsonPath, Segment
from wardgate.pipeline import Guard, RequestContext, StreamGuard, StreamJudge, VaultStore, Verdict
from wardgate.pipeline.destination import Destination
from wardgate.pipeline.mcp_judge import DENIED_METHOD, LegacySessions, McpStream, judge_mcp_message, session_of
from wardgate.policy import Decision

__all__ = ["GuardAddon"]

logger = logging.getLogger(__name__)
_CONTEXT = "wardgate"  # keys in flow.metadata
_REFUSED = "wardgate_refused"
_STREAM = "wardgate_stream"
MCP_SESSION_HEADER = "mcp-session-id"
# Before the credential is checked (a body refused at the headers stage) nobody is known yet.
_UNRESOLVED: Mapping[str, Any] = {"subject": None, "tenant": None, "source": "unresolved", "authenticated": False}


_QUERY = "$query"  # segment paths of the query string: ("$query", index, "key" | "value")
# Query parameter names kept in the audited path (`api-version`, `alt`); anything else could be a value in disguise.
_PARAMETER_NAME = re.compile(r"[a-z][a-z_-]{0,31}")


def _is_json(headers: http.Headers) -> bool:
    return "json" in headers.get("content-type", "").lower()


def _masked_path(request: http.Request) -> str:
    """The path as the audit and the policy see it: query values are masked (they may hold a key or an e-mail)."""
    bare = request.path.split("?", 1)[0]
    if "?" not in request.path:
        return bare
    return bare + "?" + "&".join(f"{key if _PARAMETER_NAME.fullmatch(key) else '*'}=*" for key in request.query)


def _query_segments(request: http.Request) -> list[Segment]:
    """The query string is text a model may read (some gateways forward it): judged like body text."""
    return [
        Segment("unknown", "document", text, (_QUERY, index, part))
        for index, pair in enumerate(request.query.items(multi=True))
        for part, text in zip(("key", "value"), pair, strict=True)
        if text
    ]


def _destination(flow: http.HTTPFlow) -> Destination:
    request = flow.request
    # In a transparent listener the target is the original destination address, not a name the client chose.
    transparent = isinstance(flow.client_conn.proxy_mode, TransparentMode)
    return Destination(request.host, flow.client_conn.sni, request.host_header, target_named=not transparent)


# What a hook that raised answers: exceptions are breakage, never a reason to forward (DESIGN §2).
_INTERNAL = ("internal_error", "Wardgate could not judge this {}", 500)
_AUDIT_DOWN = ("audit_unavailable", "the audit trail cannot be written, so nothing is forwarded", 503)

type _Hook = Callable[[GuardAddon, http.HTTPFlow], Awaitable[None]]


def _fails_closed(phase: Phase) -> Callable[[_Hook], _Hook]:
    """Any exception in the hook ends in an audited, provider-shaped refusal (mitmproxy would log and forward)."""

    def wrap(hook: _Hook) -> _Hook:
        @functools.wraps(hook)
        async def guarded(self: GuardAddon, flow: http.HTTPFlow) -> None:
            try:
                await hook(self, flow)
            except Exception as exc:
                self._fault(flow, phase, exc)

        return guarded

    return wrap


def _tenant(ctx: RequestContext) -> str:
    """Whose usage a flow counts against."""
    return str(ctx.identity.get("tenant") or "")


class GuardAddon:
    """Judges requests (phase `request`) and non-streamed JSON responses (phase `response`).

    Any unexpected fault while judging becomes an audited 500 refusal: mitmproxy's own policy of
    logging an addon crash and forwarding the flow would be an inspection bypass.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        inspects: Callable[[str], bool],
        identity: IdentityResolver,
        max_body_bytes: int,
        upstream_credential: tuple[str, str] | None = None,
        vaults: VaultStore | None = None,
        conversation_header: str | None = None,
        streaming: StreamingSettings | None = None,
        usage: UsageStore | None = None,
        usage_fail_closed: bool = False,
        binds_host: bool = False,
        unreadable_fails_closed: bool = True,
    ) -> None:
        """`conversation_header` names a client-chosen conversation id whose placeholders `vaults` keeps.

        `usage` counts each tenant's forwarded requests and the tokens their answers report; the policy reads it
        as `input.usage`. `binds_host` (forward and transparent modes) refuses a Host that is not the connection's
        destination; `unreadable_fails_closed` refuses bodies that are none of the kinds Wardgate reads.
        """
        self._binds_host, self._unreadable_fails_closed = binds_host, unreadable_fails_closed
        self._guard = guard
        self._inspects = inspects
        self._identity = identity
        self._max_body_bytes = max_body_bytes
        self._upstream_credential = upstream_credential
        self._vaults, self._conversation_header = vaults, conversation_header
        self._streaming = streaming or StreamingSettings()
        self._mcp_sessions: TTLCache[str, tuple[Any, Any]] = TTLCache(maxsize=100_000, ttl=24 * 3600)
        self._legacy_sessions = LegacySessions()
        self._usage, self._usage_fail_closed = usage, usage_fail_closed
        self._spending: set[asyncio.Task[None]] = set()

    def _context(self, flow: http.HTTPFlow) -> RequestContext:
        ctx = flow.metadata.get(_CONTEXT)
        if ctx is None:
            request = flow.request
            ctx = RequestContext(
                method=request.method,
                host=request.host,
                path=_masked_path(request),
                provider=provider_for(request.pretty_host, request.path),
                identity=_UNRESOLVED,
                trace_id=request.headers.get("traceparent"),
            )
            flow.metadata[_CONTEXT] = ctx
        return ctx

    def _inspected(self, flow: http.HTTPFlow) -> bool:
        """Whether this flow is Wardgate's to judge: by the connection's destination (see pipeline/destination)."""
        return bool(flow.metadata.setdefault("wardgate_inspected", _destination(flow).inspected(self._inspects)))

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        try:
            if not self._inspected(flow):
                return
            declared = flow.request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_body_bytes:
                denial = Decision.deny("body_too_large", self._too_large(int(declared)), status=413)
                self._refuse(flow, "request", denial)
        except Exception as exc:
            self._fault(flow, "request", exc)

    @_fails_closed("request")
    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or not self._inspected(flow):
            return
        await self._judge_request(flow)

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        # The upgrade was refused in `request`; a socket that still opened on an inspected host is cut at once.
        if self._inspected(flow):
            logger.error("closing an unjudged WebSocket to %s", flow.request.host)
            flow.kill()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        try:
            self._guard_response_headers(flow)
        except Exception as exc:
            # The answer is buffered instead and replaced by the refusal in `response`.
            logger.exception("guard failed on the response headers of %s %s", flow.request.method, flow.request.path)
            flow.metadata["wardgate_fault"] = exc
            if flow.response is not None:
                flow.response.stream = False

    def _guard_response_headers(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        if (ctx := flow.metadata.get(_CONTEXT)) is not None:
            flow.response.headers[DECISION_HEADER] = ctx.decision_id
        if ctx is not None and ctx.endpoint == "mcp":
            self._bind_mcp_session(flow, ctx)
        if "text/event-stream" not in flow.response.headers.get("content-type", ""):
            return
        if ctx is not None and ctx.endpoint == "mcp" and not flow.metadata.get(_REFUSED):
            flow.response.stream = McpStream(self._guard, ctx)
            return
        if ctx is not None and flow.request.method == "GET" and stream_format_for(flow.request.path) is None:
            # Maybe a legacy MCP session stream (its answers are judged once its endpoint event names the session).
            flow.response.stream = McpStream(self._guard, ctx, self._legacy_sessions)
            return
        # Never buffered (that would break time-to-first-token): guarded window by window, or passed through
        # when nothing of ours is in it (a host we do not inspect, a refused request, streaming turned off).
        stream_format = stream_format_for(flow.request.path)
        if ctx is None or flow.metadata.get(_REFUSED) or not self._streaming.enabled or stream_format is None:
            flow.response.stream = True
            return
        exchange = Exchange(stream_format.provider, ctx.endpoint, ctx.model, True, [])
        judge = StreamJudge(self._guard, ctx, exchange)
        guard = StreamGuard(
            stream_format, judge, ctx.vault, hold_chars=self._streaming.hold_chars,
            overlap_chars=self._streaming.overlap_chars,
        )  # fmt: skip
        flow.metadata[_STREAM] = (guard, judge)
        flow.response.stream = decoded_stream(flow.response.headers, guard)

    @_fails_closed("response")
    async def response(self, flow: http.HTTPFlow) -> None:
        self._close_stream(flow)
        if (fault := flow.metadata.pop("wardgate_fault", None)) is not None:
            raise fault
        response = flow.response
        ctx = flow.metadata.get(_CONTEXT)
        if ctx is None or response is None or response.stream or not _is_json(response.headers):
            return
        if flow.metadata.get(_REFUSED):
            return
        await self._judge_response(flow, ctx)

    def error(self, flow: http.HTTPFlow) -> None:
        try:
            self._close_stream(flow)  # a client or upstream that hung up mid-stream: audit what was released
            # mitmproxy's hard body cap answers by itself; make sure the refusal is audited all the same.
            message = flow.error.msg if flow.error else ""
            if "body_size_limit" in message and not flow.metadata.get(_REFUSED) and self._inspected(flow):
                self._guard.refuse(self._context(flow), "request", Decision.deny("body_too_large", message, status=413))
        except Exception:
            logger.exception("could not audit the failed flow %s %s", flow.request.method, flow.request.path)

    def _bind_mcp_session(self, flow: http.HTTPFlow, ctx: RequestContext) -> None:
        assert flow.response is not None
        session = flow.response.headers.get(MCP_SESSION_HEADER)
        if session and session not in self._mcp_sessions:
            self._mcp_sessions[session] = (ctx.identity.get("tenant"), ctx.identity.get("subject"))

    def _close_stream(self, flow: http.HTTPFlow) -> None:
        """Write a guarded stream's audit event, once (the stream ended, was stopped, or broke off)."""
        if (stream := flow.metadata.pop(_STREAM, None)) is not None:
            guard, judge = stream
            judge.close(
                released_bytes=guard.released_bytes, unparsed_events=guard.unparsed_events, stopped=guard.stopped
            )
            self._spend(self._context(flow), tokens=guard.tokens.tokens)

    async def _usage_input(self, flow: http.HTTPFlow, ctx: RequestContext) -> dict[str, Any] | None:
        """`{"usage": ...}` for the policy input; None after refusing because usage is unavailable (fail closed)."""
        if self._usage is None:
            return {}
        try:
            usage = await self._usage.today(_tenant(ctx))
        except UsageUnavailable as exc:
            if self._usage_fail_closed:
                message = f"usage cannot be read: {exc}"
                denial = Decision.deny("usage_unavailable", message, status=503, source="fail_closed")
                self._refuse(flow, "request", denial)
                return None
            logger.warning("judging without usage: %s", exc)
            return {}
        return {"usage": usage.to_input()}

    def _spend(self, ctx: RequestContext, *, tokens: int = 0, requests: int = 0) -> None:
        """Count in the background: the answer never waits for the usage store."""
        if self._usage is None or not (tokens or requests):
            return
        task = asyncio.get_running_loop().create_task(self._add_usage(ctx, tokens, requests))
        self._spending.add(task)
        task.add_done_callback(self._spending.discard)

    async def _add_usage(self, ctx: RequestContext, tokens: int, requests: int) -> None:
        assert self._usage is not None
        try:
            await self._usage.add(_tenant(ctx), tokens=tokens, requests=requests)
        except UsageUnavailable as exc:
            logger.warning("usage not counted (%d tokens, %d requests): %s", tokens, requests, exc)

    async def _judge_request(self, flow: http.HTTPFlow) -> None:
        ctx, request = self._context(flow), flow.request
        if (mismatch := _destination(flow).mismatch()) is not None and self._binds_host:
            self._refuse(flow, "request", Decision.deny("misdirected_request", mismatch, status=421))
            return
        if "upgrade" in request.headers:
            # Frames after an upgrade (WebSocket, h2c) would pass unjudged: refused on every inspected host.
            message = f"protocol upgrades ({request.headers['upgrade'][:40]}) cannot be inspected and are refused"
            self._refuse(flow, "request", Decision.deny("upgrade_refused", message, status=403))
            return
        if not await self._identify(flow, ctx):
            return
        self._join_conversation(request, ctx)
        raw = request.get_content(strict=False) or b""
        if len(raw) > self._max_body_bytes:
            self._refuse(flow, "request", Decision.deny("body_too_large", self._too_large(len(raw)), status=413))
            return
        parsed = self._parse_request(flow, ctx, raw)
        if parsed is None:
            return
        read, exchange = parsed
        body = read.value if read.kind == "json" else None
        exchange = dataclasses.replace(exchange, segments=[*exchange.segments, *_query_segments(request)])
        ctx.model, ctx.endpoint = exchange.model, exchange.endpoint
        usage = await self._usage_input(flow, ctx)
        if usage is None:
            return
        verdict = await self._guard.judge(ctx, "request", exchange, has_body=bool(raw), extra=usage)
        if not verdict.decision.allow:
            self._block(flow, verdict)
            return
        if ctx.endpoint == "mcp" and not await self._judge_mcp_request(flow, ctx, body, exchange):
            return
        adapter = adapter_for(request.method, request.path)
        stripped = adapter.strip_tools(body, set(verdict.decision.tools.deny)) if adapter and body else []
        if not self._rewrite_request(flow, read, verdict.rewrites, bool(stripped)):
            return
        if self._upstream_credential is not None:
            header, value = self._upstream_credential
            request.headers[header] = value
        # A compressed stream would have to be decoded before it can be judged: ask for it plain.
        request.headers["accept-encoding"] = "identity"
        self._spend(ctx, requests=1)

    async def _judge_mcp_request(self, flow: http.HTTPFlow, ctx: RequestContext, body: Any, exchange: Exchange) -> bool:
        """An MCP session stays with the caller that opened it; each tools/call is judged. False after refusing."""
        session = flow.request.headers.get(MCP_SESSION_HEADER)
        owner = (ctx.identity.get("tenant"), ctx.identity.get("subject"))
        legacy_id = session_of(flow.request.path)
        legacy = self._legacy_sessions.get(legacy_id) if legacy_id else None
        if (session and self._mcp_sessions.get(session, owner) != owner) or (legacy and legacy.owner != owner):
            message = "this MCP session belongs to another caller"
            self._refuse(flow, "request", Decision.deny("mcp_session_mismatch", message, status=403))
            return False
        if legacy is not None:
            legacy.methods.update(ctx.mcp_methods)
        for request in requests(body):
            call = tool_call_of(request)
            if call is None:
                continue
            verdict = await self._guard.judge_tool_call(ctx, exchange, call, "mcp")
            if verdict.decision.allow:
                continue
            if legacy is None:
                self._block(flow, verdict)
                return False
            # The answer goes out on the session's GET stream: see pipeline/mcp_judge.py.
            reason = verdict.decision.reasons[0].message if verdict.decision.reasons else verdict.decision.code
            legacy.denied[str(request.get("id"))] = (verdict.decision.code, reason)
            request["method"], request["params"] = DENIED_METHOD, {}
            flow.request.content = json.dumps(body).encode()
        return True

    def _join_conversation(self, request: http.Request, ctx: RequestContext) -> None:
        """Share the vault of the caller's named conversation (the header is Wardgate's; it is not forwarded)."""
        if self._vaults is None or self._conversation_header is None:
            return
        conversation = request.headers.pop(self._conversation_header, None)
        if conversation:
            owner = (ctx.identity.get("tenant"), ctx.identity.get("subject"))
            ctx.vault = self._vaults.vault(owner, conversation)

    async def _identify(self, flow: http.HTTPFlow, ctx: RequestContext) -> bool:
        """Resolve (and strip) the caller's credential; False after refusing a bad one with 401."""
        try:
            peer_chain = [cert.to_cryptography() for cert in flow.client_conn.certificate_list]
            ctx.identity = (await self._identity.resolve(flow.request.headers, peer_chain)).to_input()
        except IdentityRejected as rejected:
            self._refuse(flow, "request", Decision.deny(rejected.code, rejected.message, status=401))
            return False
        return True

    def _parse_request(self, flow: http.HTTPFlow, ctx: RequestContext, raw: bytes) -> tuple[Body, Exchange] | None:
        """(the body as read, Exchange); None after refusing a malformed (400) or unreadable (415) body."""
        request = flow.request
        adapter = adapter_for(request.method, request.path)
        try:
            read = read_body(raw, request.headers.get("content-type", ""))
            if read is None:
                if not self._unreadable_fails_closed:
                    return Body("empty"), Exchange(ctx.provider, "unparsed", None, False, [])
                message = "the body is not JSON, JSON Lines, multipart, a form or text, so it cannot be inspected"
                self._refuse(flow, "request", Decision.deny("unreadable_body", message, status=415))
                return None
            if read.kind != "json":
                if adapter is not None and read.kind != "empty":
                    raise MalformedBody(f"this endpoint takes a JSON object, not {read.kind}")
                segments = [Segment("unknown", "document", text, path) for path, text in read.texts]
                lines = parse_unparsed(read.value, ctx.provider).segments if read.kind == "jsonl" else []
                return read, Exchange(ctx.provider, "unparsed", None, False, [*segments, *lines])
            body = read.value
            if adapter is None and is_jsonrpc(body):
                # MCP: the request is judged for who calls what; a tools/call is judged as the tool call it is.
                ctx.provider, ctx.mcp_methods = "mcp", methods(body)
                ctx.mcp_request_id = next((r.get("id") for r in requests(body) if "id" in r), None)
                return read, with_every_leaf(Exchange("mcp", "mcp", None, False, []), body)
            exchange = adapter.parse_request(body) if adapter else parse_unparsed(body, ctx.provider)
            return read, with_every_leaf(exchange, body)
        except MalformedBody as exc:
            self._refuse(flow, "request", Decision.deny("malformed_request", str(exc), status=400))
            return None

    def _rewrite_request(
        self, flow: http.HTTPFlow, read: Body, rewrites: Mapping[JsonPath, str], tools_stripped: bool
    ) -> bool:
        """Apply masks (body and query) and stripped tools; False after refusing a mask that cannot be applied."""
        request = flow.request
        query = {path: text for path, text in rewrites.items() if path[:1] == (_QUERY,)}
        in_body = {path: text for path, text in rewrites.items() if path[:1] != (_QUERY,)}
        if in_body and not read.is_json:
            message = f"the policy asks to mask parts of a {read.kind} body, which Wardgate can only mask in JSON"
            self._refuse(flow, "request", Decision.deny("mask_unsupported", message, status=403))
            return False
        if in_body or tools_stripped:
            request.content = dump_body(dataclasses.replace(read, value=apply_rewrites(read.value, in_body)))
        if query:
            pairs = [list(pair) for pair in request.query.items(multi=True)]
            for (_, index, part), text in query.items():
                pairs[int(index)][0 if part == "key" else 1] = text
            request.query = [(key, value) for key, value in pairs]
        return True

    async def _judge_response(self, flow: http.HTTPFlow, ctx: RequestContext) -> None:
        assert flow.response is not None
        if ctx.endpoint == "mcp":
            await self._judge_mcp_response(flow, ctx)
            return
        adapter = adapter_for(flow.request.method, flow.request.path)
        try:
            body = json.loads(flow.response.get_content(strict=False) or b"null")
        except ValueError:
            return  # not JSON whatever its type says: a client cannot read it as an answer either
        try:
            exchange: Exchange = adapter.parse_response(body) if adapter else parse_unparsed(body, ctx.provider)
        except MalformedBody:
            exchange = parse_unparsed(body, ctx.provider)  # an error body or a shape we do not map: every string
        exchange = with_every_leaf(exchange, body)
        spent = TokenCount()
        spent.observe(body)
        self._spend(ctx, tokens=spent.tokens)  # spent upstream whatever the verdict on the answer
        verdict = await self._guard.judge(ctx, "response", exchange, has_body=True)
        if not verdict.decision.allow:
            self._block(flow, verdict)
            return
        # Each call the model asks for is judged on its own (phase tool_call); a denied one becomes a refusal the
        # model's caller reads instead of a call its agent would run.
        refused = {}
        for call in exchange.tool_calls:
            judged = await self._guard.judge_tool_call(ctx, exchange, call, "llm")
            if not judged.decision.allow:
                reason = judged.decision.reasons[0].message if judged.decision.reasons else judged.decision.code
                refused[call.id] = f"the call to {call.name}: {reason}"
        if verdict.rewrites or refused:
            body = apply_rewrites(body, verdict.rewrites)
            if refused and adapter is not None:
                body = adapter.refuse_tool_calls(body, refused)
            flow.response.content = json.dumps(body, ensure_ascii=False).encode()

    async def _judge_mcp_response(self, flow: http.HTTPFlow, ctx: RequestContext) -> None:
        assert flow.response is not None
        try:
            body = json.loads(flow.response.get_content(strict=False) or b"null")
        except ValueError:
            return
        messages = body if isinstance(body, list) else [body]
        copies = json.loads(json.dumps(messages))  # judging may change a message in place

        def judge_all() -> list[Any]:
            return [judge_mcp_message(self._guard, ctx, message) for message in copies]

        judged = await asyncio.to_thread(judge_all)
        if judged != messages:
            answer = judged if isinstance(body, list) else judged[0]
            flow.response.content = json.dumps(answer, ensure_ascii=False).encode()

    def _block(self, flow: http.HTTPFlow, verdict: Verdict) -> None:
        """Answer with the (already audited) deny instead of forwarding."""
        flow.metadata[_REFUSED] = True
        flow.response = refusal(self._context(flow), verdict.decision)

    def _refuse(self, flow: http.HTTPFlow, phase: Phase, decision: Decision) -> None:
        """Answer, then audit, a refusal made outside `Guard.judge`. Never raises: the answer is set first."""
        flow.metadata[_REFUSED] = True
        try:
            ctx = self._context(flow)
            flow.response = refusal(ctx, decision)
            self._guard.refuse(ctx, phase, decision)
        except Exception as exc:
            self._fault(flow, phase, exc, audit=False)

    def _fault(self, flow: http.HTTPFlow, phase: Phase, exc: Exception, *, audit: bool = True) -> None:
        """Breakage (ours, the audit sink's, anything's) on a flow: a provider-shaped refusal, audited if possible."""
        audit_down = isinstance(exc, AuditError)
        if audit_down:
            logger.error("refusing %s %s: %s", flow.request.method, flow.request.path, exc)
        else:
            logger.error("guard failed on %s %s", flow.request.method, flow.request.path, exc_info=exc)
        code, message, status = _AUDIT_DOWN if audit_down else _INTERNAL
        decision = Decision.deny(code, message.format(phase), status=status, source="fail_closed")
        flow.metadata[_REFUSED] = True
        try:
            ctx = self._context(flow)
            flow.response = refusal(ctx, decision)
        except Exception:
            body = {"error": {"message": f"Wardgate: {message.format(phase)}", "type": "server_error", "code": code}}
            flow.response = http.Response.make(status, json.dumps(body).encode(), {"content-type": "application/json"})
            return
        if audit and not audit_down:
            try:
                self._guard.refuse(ctx, phase, decision)
            except Exception as again:
                logger.error("the refusal of %s could not be audited: %s", ctx.decision_id, again)
                flow.response = refusal(ctx, Decision.deny(*_AUDIT_DOWN[:2], status=503, source="fail_closed"))

    def _too_large(self, size: int) -> str:
        return f"the request body is {size} bytes; the limit is {self._max_body_bytes}"
