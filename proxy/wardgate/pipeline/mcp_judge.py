"""Judge MCP results: `tools/list` filtered by policy, tool results and resources scanned (indirect injection).

Each message is judged on the caller's thread with the sync scanners (the injection classifier included), so the
same code serves a JSON answer (run on a worker thread) and messages inside an SSE stream (mitmproxy's stream
callable is synchronous).

The older HTTP+SSE transport answers every POST on one long GET stream of the session: `LegacySessions` carries
what the POSTs asked (id → method) and what Wardgate denied over to that stream. A denied call cannot be answered
on its POST (the Python SDK's client gives up on any non-2xx and then waits for ever): it is forwarded as a method
no server knows, and the server's "method not found" for that id is replaced on the stream by Wardgate's JSON-RPC
error. A POST refused whole (a finding, overload, a deadline) is answered the same way. A placeholder carries an id
of Wardgate's, never the caller's (which the refusal may have been about): the stream's error carries the caller's.

On a stream, what an event carries besides its data is judged too (pipeline/sse_fields.py); an event the judge
denies there becomes the JSON-RPC error of its message (or is dropped when it has none), and an event larger than
`max_event_bytes` ends the stream with an audited error for the request it answers.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cachetools import TTLCache

from wardgate.formats.base import MalformedBody, apply_rewrites
from wardgate.formats.body import strict_json
from wardgate.formats.generic_json import KEY_MARK
from wardgate.formats.mcp import answered_method, filter_tools, jsonrpc_error, parse_mcp_message, requests
from wardgate.formats.sse import SseEvent, SseEventTooLarge, SseParser, encode_event
from wardgate.models import Exchange, Segment
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard
from wardgate.pipeline.sse_fields import EventFields, FieldDenied
from wardgate.policy import Decision
from wardgate.surrogates import json_text

__all__ = ["DENIED_METHOD", "SESSION_KEYS", "LegacySession", "LegacySessions", "McpStream", "judge_mcp_message"]

DENIED_METHOD = "wardgate/denied"  # what a denied legacy call is forwarded as: no server implements it
_TEXT = "$data"  # the key a bare string is judged under
SESSION_KEYS = ("session_id", "sessionId")  # the query key naming the session: Python servers', TypeScript's
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # hex, a UUID, base64url: what servers mint


def judge_mcp_message(guard: Guard, ctx: RequestContext, message: Any) -> Any:
    """The message to pass on: as it was, filtered, masked, or replaced by a JSON-RPC error. Every message is
    judged (results, errors, notifications, the server's requests); a batch message by message."""
    if isinstance(message, list):
        return [judge_mcp_message(guard, ctx, item) for item in message]
    if isinstance(message, str):  # a bare string (or a non-JSON event's data): judged under a key, as text
        judged = judge_mcp_message(guard, ctx, {_TEXT: message})
        return judged.get(_TEXT, judged)
    answers = isinstance(message, dict) and "result" in message
    method = answered_method(ctx.mcp_methods, message) if answers else None
    exchange = parse_mcp_message(message, method)
    if not exchange.segments and not exchange.tools:
        return message
    verdict = guard.judge_blocking(ctx, "response" if method == "tools/list" else "tool_result", exchange)
    if verdict.decision.allow and any(KEY_MARK in path for path in verdict.rewrites):
        message_ = "the policy asks to mask an object key, which cannot be rewritten without changing the message"
        return jsonrpc_error(message.get("id") if isinstance(message, dict) else None, "mask_unsupported", message_)
    if verdict.decision.allow:
        message = apply_rewrites(message, verdict.rewrites)  # first: the masks' paths count the tools as listed
        if method == "tools/list":
            filter_tools(message, set(verdict.decision.tools.deny))
        return message
    reason = verdict.decision.reasons[0] if verdict.decision.reasons else None
    request_id = message.get("id") if isinstance(message, dict) else None
    return jsonrpc_error(request_id, verdict.decision.code, reason.message if reason else "denied by policy")


@dataclasses.dataclass(slots=True)
class LegacySession:
    owner: tuple[Any, ...]  # `RequestContext.caller` of the caller that opened the GET stream
    credential: str  # the digest of its credentials (RequestContext.credential)
    server: str  # the server that named it (RequestContext.server)
    endpoint: str  # the path the server named for the session's POSTs (its `endpoint` event, without the query)
    methods: dict[str, str] = dataclasses.field(default_factory=dict)
    # placeholder id → (the caller's id, code, message)
    denied: dict[str, tuple[Any, str, str]] = dataclasses.field(default_factory=dict)

    def deny(self, message: dict[str, Any], decision: Decision) -> None:
        """Turn a request into its placeholder, in place: a method no server implements, under an id of Wardgate's
        (nothing of the caller's goes on); the server's "method not found" for it is replaced on the stream by
        this refusal, under the caller's id."""
        placeholder = f"wardgate-{secrets.token_hex(8)}"
        reason = decision.reasons[0].message if decision.reasons else decision.code
        self.denied[placeholder] = (message.get("id"), decision.code, reason)
        message.clear()
        message.update({"jsonrpc": "2.0", "id": placeholder, "method": DENIED_METHOD, "params": {}})

    @staticmethod
    def answerable(body: Any) -> bool:
        """Whether a POST refused whole can be answered on the stream: JSON-RPC messages only, at least one of them
        a request. Else (not JSON-RPC, nothing to answer) it gets its refusal as an HTTP error."""
        if len(requests(body)) != (len(body) if isinstance(body, list) else 1):
            return False
        asked = _asked(body)
        return bool(asked) and all(_is_id(message["id"]) for message in asked)

    def refused(self, body: Any, decision: Decision) -> bytes:
        """An `answerable` POST refused whole, as the body to forward instead: a placeholder for each of its
        requests, whose answer the stream replaces by the refusal (notifications are dropped)."""
        placeholders: list[dict[str, Any]] = [{"id": message["id"]} for message in _asked(body)]
        for placeholder in placeholders:
            self.deny(placeholder, decision)
        return json.dumps(placeholders if isinstance(body, list) else placeholders[0]).encode()


def _asked(body: Any) -> list[dict[str, Any]]:
    """The JSON-RPC requests of a body that expect an answer (notifications have no id)."""
    return [message for message in requests(body) if "id" in message and "method" in message]


def _is_id(request_id: Any) -> bool:
    """JSON-RPC's id: a string or a number."""
    return isinstance(request_id, str | int | float) and not isinstance(request_id, bool)


class LegacySessions:
    """HTTP+SSE sessions by id (on the server that named them), dropped after a day without use."""

    def __init__(self) -> None:
        self._sessions: TTLCache[str, LegacySession] = TTLCache(maxsize=100_000, ttl=24 * 3600)
        # Streams open sessions on their judging threads while the loop reads them: cachetools is not thread-safe.
        self._lock = threading.Lock()

    def get(self, session_id: str) -> LegacySession | None:
        """The session of this id, on whichever server: another caller naming it is refused, whatever host it
        spells."""
        with self._lock:
            return self._sessions.get(session_id)

    def open(self, ctx: RequestContext, session_id: str, endpoint: str) -> LegacySession:
        """The session a stream's `endpoint` event names, on the stream's server, owned by its caller."""
        opened = LegacySession(ctx.caller, ctx.credential, ctx.server, endpoint)
        with self._lock:
            return self._sessions.setdefault(session_id, opened)

    def posted_to(self, method: str, server: str, target: str) -> tuple[str, LegacySession] | None:
        """The session a request is a POST of (to the server and path its server named), whoever sends it."""
        session_id = session_of(target) if method == "POST" else None
        session = self.get(session_id) if session_id is not None else None
        if (
            session_id is None
            or session is None
            or (server, urlsplit(target).path) != (session.server, session.endpoint)
        ):
            return None
        return session_id, session


def session_values(target: str) -> list[str]:
    """Every session id a URL's query names (`session_id` in Python servers, `sessionId` in TypeScript)."""
    query = parse_qs(urlsplit(target).query, keep_blank_values=True)
    return [value for key in SESSION_KEYS for value in query.get(key, ())]


def session_of(target: str) -> str | None:
    """The session a URL names: one id, shaped like a server's random token. None when there is none, more than one
    (a server may read another one than Wardgate did), or text: such a URL is judged and owned like any other."""
    values = session_values(target)
    return values[0] if len(values) == 1 and _SESSION_ID.fullmatch(values[0]) else None


class McpStream:
    """The stream callable for an MCP SSE answer: every event is a whole JSON-RPC message, judged as it passes.

    With `sessions`, the stream is a legacy HTTP+SSE session stream: its `endpoint` event names the session whose
    POSTs the later messages answer.
    """

    def __init__(
        self,
        guard: Guard,
        ctx: RequestContext,
        sessions: LegacySessions | None = None,
        *,
        max_event_bytes: int | None = None,
    ) -> None:
        self._guard, self._ctx, self._sessions = guard, ctx, sessions
        self._session: LegacySession | None = None
        self._parser = SseParser(max_event_bytes)
        self._fields = EventFields(self._judge_field)
        self.stopped: Decision | None = None

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        if self.stopped is not None:
            return []
        try:
            events = self._parser.feed(chunk) if chunk else self._parser.close()
        except SseEventTooLarge as exc:
            out = b"".join(map(self._judged, exc.events)) + self._stop("event_too_large", str(exc))
        else:
            out = b"".join(map(self._judged, events))
        return out if out else []

    def whole(self, body: bytes) -> bytes:
        """A buffered stream judged at once (a POST's SSE answer, on a worker thread): what the client gets."""
        parts = (self(body), self(b"")) if body else ()
        return b"".join(part for part in parts if isinstance(part, bytes))

    def _judged(self, event: SseEvent) -> bytes:
        try:
            event = self._fields.judged(event)
        except FieldDenied as denied:
            return self._denied(event.data, denied.decision)
        return self._event(event.raw, event.event, event.data)

    def _judge_field(self, text: str) -> tuple[Decision, str]:
        """Scanned first: only a text with findings is decided on (and audited), as a tool result."""
        exchange = Exchange("mcp", "mcp", None, True, [Segment("tool", "tool_result", text, ())])
        found, error = self._guard.scan_blocking(exchange.segments, tool=True)
        if not found and error is None:
            return Decision(allow=True, status=200), text
        verdict = self._guard.judge_blocking(self._ctx, "tool_result", exchange)
        return verdict.decision, verdict.rewrites.get((), text)

    def _denied(self, data: str | None, decision: Decision) -> bytes:
        """The JSON-RPC error of the event's message (its caller is waiting for it), or nothing."""
        try:
            message = json.loads(data or "")
        except ValueError:
            message = None
        if not isinstance(message, dict) or "id" not in message:
            return b""
        reason = decision.reasons[0].message if decision.reasons else "denied by policy"
        return encode_event("message", json.dumps(jsonrpc_error(message["id"], decision.code, reason)))

    def refuse(self, message: str, *, code: str = "stream_unreadable", status: int = 502) -> bytes | list[bytes]:
        """Stop a stream that cannot be judged at all, or on (fail closed)."""
        return self._stop(code, message, status) if self.stopped is None else []

    def _stop(self, code: str, message: str, status: int = 502) -> bytes:
        """The stream cannot be judged on: an audited error for the request it answers, then nothing."""
        self.stopped = Decision.deny(code, message, status=status, source="fail_closed")
        self._guard.refuse(self._ctx, "response", self.stopped)
        return encode_event("message", json.dumps(jsonrpc_error(self._ctx.mcp_request_id, code, message)))

    def _event(self, raw: bytes, name: str | None, data: str | None) -> bytes:
        if not data:
            return raw
        if name == "endpoint" and self._sessions is not None and (session_id := session_of(data)):
            self._session = self._sessions.open(self._ctx, session_id, urlsplit(data).path)
            self._ctx.mcp_methods = self._session.methods  # the POSTs fill it in as they come
            # The id is the server's name for the session, which the client must send back as it is: not text (a
            # random id can look like a licence number to the PII scanner, and a masked one ends the session).
            return self._text(raw, name, data.replace(session_id, ""))
        try:
            message, copy = strict_json(data), strict_json(data)  # judging may change its message in place
        except MalformedBody as exc:
            # A key twice: the SDKs keep its last value; judged as one text, a tools/list so spelled skipped the
            # tool filter and the poisoning rules (an outside review).
            return self._stop("stream_unreadable", f"an MCP message the clients read otherwise: {exc}")
        except ValueError:
            return self._text(raw, name, data)
        if self._session is not None and isinstance(message, dict) and str(message.get("id")) in self._session.denied:
            caller_id, code, reason = self._session.denied.pop(str(message.get("id")))
            return encode_event(name, json.dumps(jsonrpc_error(caller_id, code, reason)))
        judged = judge_mcp_message(self._guard, self._ctx, copy)
        return raw if judged == message else encode_event(name, json_text(judged))

    def _text(self, raw: bytes, name: str | None, data: str) -> bytes:
        """A `data:` that is not JSON (or an endpoint URL) is judged as text: passed, masked, or replaced by a
        JSON-RPC error."""
        judged = judge_mcp_message(self._guard, self._ctx, data)
        if not isinstance(judged, str):
            return encode_event(name, json_text(judged))
        return raw if judged == data else encode_event(name, judged)
