"""The mitmproxy addon that hands each LLM request and response to the pipeline and enforces the verdict."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from cachetools import TTLCache
from mitmproxy import http

from wardgate.config import Phase, StreamingSettings
from wardgate.formats import MalformedBody, adapter_for, apply_rewrites, parse_unparsed, provider_for
from wardgate.formats.mcp import is_jsonrpc, methods, requests, tool_call_of
from wardgate.formats.streams import stream_format_for
from wardgate.identity import IdentityRejected, IdentityResolver
from wardgate.intercept.responses import DECISION_HEADER, decoded_stream, refusal
from wardgate.limits import TokenCount, UsageStore, UsageUnavailable
from wardgate.models import Exchange
from wardgate.pipeline import Guard, RequestContext, StreamGuard, StreamJudge, VaultStore, Verdict
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


def _is_json(headers: http.Headers) -> bool:
    return "json" in headers.get("content-type", "").lower()


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
    ) -> None:
        """`conversation_header` names a client-chosen conversation id whose placeholders `vaults` keeps.

        `usage` counts each tenant's forwarded requests and the tokens their answers report; the policy reads it
        as `input.usage`.
        """
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
                host=request.pretty_host,
                path=request.path,
                provider=provider_for(request.pretty_host, request.path),
                identity=_UNRESOLVED,
                trace_id=request.headers.get("traceparent"),
            )
            flow.metadata[_CONTEXT] = ctx
        return ctx

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not self._inspects(flow.request.pretty_host):
            return
        declared = flow.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body_bytes:
            self._refuse(flow, "request", Decision.deny("body_too_large", self._too_large(int(declared)), status=413))

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or not self._inspects(flow.request.pretty_host):
            return
        try:
            await self._judge_request(flow)
        except Exception:
            logger.exception("guard failed on %s %s", flow.request.method, flow.request.path)
            self._refuse(
                flow, "request", Decision.deny("internal_error", "Wardgate could not judge this request", status=500)
            )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
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

    async def response(self, flow: http.HTTPFlow) -> None:
        self._close_stream(flow)
        response = flow.response
        ctx = flow.metadata.get(_CONTEXT)
        if ctx is None or response is None or response.stream or not _is_json(response.headers):
            return
        if flow.metadata.get(_REFUSED):
            return
        try:
            await self._judge_response(flow, ctx)
        except Exception:
            logger.exception("guard failed on the response to %s %s", flow.request.method, flow.request.path)
            self._refuse(
                flow, "response", Decision.deny("internal_error", "Wardgate could not judge this response", status=500)
            )

    def error(self, flow: http.HTTPFlow) -> None:
        self._close_stream(flow)  # a client or upstream that hung up mid-stream: audit what was released
        # mitmproxy's hard body cap answers by itself; make sure the refusal is audited all the same.
        message = flow.error.msg if flow.error else ""
        if (
            "body_size_limit" in message
            and not flow.metadata.get(_REFUSED)
            and self._inspects(flow.request.pretty_host)
        ):
            self._guard.refuse(self._context(flow), "request", Decision.deny("body_too_large", message, status=413))

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
        body, exchange = parsed
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
        if verdict.rewrites or stripped:
            request.content = json.dumps(apply_rewrites(body, verdict.rewrites), ensure_ascii=False).encode()
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

    def _parse_request(self, flow: http.HTTPFlow, ctx: RequestContext, raw: bytes) -> tuple[Any, Exchange] | None:
        """(JSON body, Exchange); None after refusing a malformed body with 400."""
        adapter = adapter_for(flow.request.method, flow.request.path)
        try:
            body = json.loads(raw) if raw and (adapter is not None or _is_json(flow.request.headers)) else None
            if adapter is None and is_jsonrpc(body):
                # MCP: the request is judged for who calls what; a tools/call is judged as the tool call it is.
                ctx.provider, ctx.mcp_methods = "mcp", methods(body)
                ctx.mcp_request_id = next((r.get("id") for r in requests(body) if "id" in r), None)
                return body, Exchange("mcp", "mcp", None, False, [])
            return body, (adapter.parse_request(body) if adapter else parse_unparsed(body, ctx.provider))
        except (ValueError, MalformedBody) as exc:
            detail = str(exc) if isinstance(exc, MalformedBody) else f"the body is not valid JSON ({exc})"
            self._refuse(flow, "request", Decision.deny("malformed_request", detail, status=400))
            return None

    async def _judge_response(self, flow: http.HTTPFlow, ctx: RequestContext) -> None:
        assert flow.response is not None
        if ctx.endpoint == "mcp":
            await self._judge_mcp_response(flow, ctx)
            return
        adapter = adapter_for(flow.request.method, flow.request.path)
        try:
            body = json.loads(flow.response.get_content(strict=False) or b"null")
            exchange: Exchange = adapter.parse_response(body) if adapter else parse_unparsed(body, ctx.provider)
        except (ValueError, MalformedBody):
            return  # an upstream error page or odd body: nothing of ours to judge, pass it on
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
        """Audit and answer a refusal made before the pipeline could judge the flow."""
        self._guard.refuse(self._context(flow), phase, decision)
        flow.metadata[_REFUSED] = True
        flow.response = refusal(self._context(flow), decision)

    def _too_large(self, size: int) -> str:
        return f"the request body is {size} bytes; the limit is {self._max_body_bytes}"
