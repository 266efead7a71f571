"""The response phase of a buffered (non-streamed) JSON answer, over bytes and a context: no mitmproxy here.

parse (the provider's format, every other string too) → count the spend → judge (scan, decide, audit) → judge each
tool call the model asks for → rewrite (masks restored or applied, refused calls replaced by a refusal text). MCP
answers are judged message by message on a worker thread (the same judge serves MCP messages inside SSE streams),
a POST's SSE answer too when `streaming.mcp_post_answers` buffers it: each event as a live stream would judge it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.message
import json
from typing import Any

from wardgate.config import StreamingSettings
from wardgate.formats import MalformedBody, TooComplex, adapter_for, apply_rewrites, parse_unparsed, with_every_leaf
from wardgate.formats.base import AmbiguousBody, drop_stale_logprobs
from wardgate.formats.body import Body, dump_body, printable_runs, read_body
from wardgate.formats.decoding import DecodingError, TooLarge
from wardgate.formats.generic_json import KEY_MARK
from wardgate.formats.mcp import answer_read_as
from wardgate.formats.sse import is_event_stream
from wardgate.formats.streams import StreamFormat, stream_format_for
from wardgate.formats.unread_calls import unread_call
from wardgate.limits import TokenCount
from wardgate.models import Exchange, Segment
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard
from wardgate.pipeline.mcp_judge import McpStream, judge_mcp_message
from wardgate.pipeline.offload import decode_off_loop, read_off_loop
from wardgate.pipeline.stream_judge import guarded_stream
from wardgate.policy import Decision
from wardgate.scanners import deadline
from wardgate.surrogates import json_text

__all__ = ["ResponseJudge", "ResponseOutcome"]


def _as_a_client_reads_it(content: bytes, content_type: str) -> str | None:
    """The text a client would decode from bytes that formats/body.py does not take as text (a control character in
    UTF-16/32): by the charset the answer declares (httpx's `.text`), or as UTF-32 that JSON's encoding detection
    finds (`.json()`, the SDKs). Binary bytes almost never decode strictly as UTF-32 (a code point past U+10FFFF or
    a surrogate stops them); UTF-16 is tried only when declared."""
    header = email.message.Message()
    header["content-type"] = content_type
    declared = str(header.get_param("charset") or "").lower()
    detected = json.detect_encoding(content)
    candidates = [declared] if declared.startswith(("utf-16", "utf-32")) else []
    candidates += [detected] if detected.startswith("utf-32") else []
    for encoding in candidates:
        try:
            return content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def _unreadable(exc: Exception) -> ResponseOutcome:
    message = f"the answer cannot be judged: {exc}"
    return ResponseOutcome(refusal=Decision.deny("response_unreadable", message, status=502, source="fail_closed"))


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseOutcome:
    """What to do with the answer: replace its body, or refuse it (`audited`: Guard.judge already wrote it)."""

    body: bytes | None = None
    refusal: Decision | None = None
    audited: bool = False
    spent: TokenCount = dataclasses.field(default_factory=TokenCount)  # the usage the answer reports, to count


class ResponseJudge:
    def __init__(self, guard: Guard, *, max_bytes: int, streaming: StreamingSettings | None = None) -> None:
        self._guard, self._max_bytes = guard, max_bytes
        self._streaming = streaming or StreamingSettings()

    async def judge(
        self, ctx: RequestContext, method: str, path: str, content: bytes, content_type: str = "", encoding: str = ""
    ) -> ResponseOutcome:
        """`content` as it came (`encoding` still applied); judged by what it is, not by its Content-Type."""
        try:
            content = await decode_off_loop(content, encoding, self._max_bytes)
            # An MCP client reads an answer as events unless it says JSON, so it is judged as the events it is.
            legacy_post = ctx.in_session and not is_event_stream(content_type)  # answered on its session stream
            if ctx.endpoint == "mcp" and answer_read_as(content_type) == "events" and not legacy_post:
                return await self._mcp_events(ctx, content)
            read = await read_off_loop(len(content), lambda: read_body(content, content_type))
        except (DecodingError, TooLarge, MalformedBody, TooComplex) as exc:
            return _unreadable(exc)
        stream_format = stream_format_for(path)
        if stream_format is not None and (read is None or read.kind not in ("json", "jsonl")) and b"data:" in content:
            # SSE bytes under another label (text, a form, bytes): the route's SDKs read them as its stream
            # (openai-python, anthropic and google-genai parse a stream whatever its Content-Type), so they are judged
            # as that stream, which stops at any line an SSE reader would skip over (an outside review's finding).
            return await self._as_stream(ctx, stream_format, content)
        adapter = adapter_for(method, path)
        if read is None and (adapter is not None or stream_format is not None):
            # Not UTF-8 text where a provider answers JSON: clients decode it anyway (httpx replaces a bad byte), and
            # the calls in it would go out judged as bytes (an outside review's finding). Refused.
            return _unreadable(ValueError("a provider's answer that is not UTF-8 text"))
        if read is None:
            return await self._binary(ctx, content, content_type)
        if adapter is None and read.kind in ("json", "jsonl") and (api := unread_call(path, read.value)) is not None:
            message = f"the answer holds a tool call of {api}, which Wardgate cannot judge yet"
            return ResponseOutcome(
                refusal=Decision.deny("tool_call_unjudged", message, status=502, source="fail_closed")
            )
        # JSON Lines a format streams (Ollama's answers) are its answers, one per line.
        if read.kind != "json" and not (read.kind == "jsonl" and adapter is not None):
            return await self._text(ctx, read)
        body = read.value
        if ctx.endpoint == "mcp":
            return await self._mcp(ctx, body)

        def parse() -> Exchange:
            try:
                exchange = adapter.parse_response(body) if adapter else parse_unparsed(body, ctx.provider)
            except AmbiguousBody:
                raise
            except MalformedBody:
                exchange = parse_unparsed(body, ctx.provider)  # an error body or a shape we do not map: every string
            return with_every_leaf(exchange, body)

        try:
            exchange = await read_off_loop(len(content), parse)
        except AmbiguousBody as exc:
            return _unreadable(exc)
        spent = TokenCount()  # spent upstream whatever the verdict on the answer
        spent.observe(body)
        verdict = await self._guard.judge(ctx, "response", exchange, has_body=True)
        if not verdict.decision.allow:
            return ResponseOutcome(refusal=verdict.decision, audited=True, spent=spent)
        if any(KEY_MARK in path for path in verdict.rewrites):
            message = "the answer has an object key the policy masks; it cannot be rewritten, so it is withheld"
            return ResponseOutcome(refusal=Decision.deny("mask_unsupported", message, status=502), spent=spent)
        # Each call the model asks for is judged on its own (phase tool_call); a denied one becomes a refusal the
        # model's caller reads instead of a call its agent would run.
        refused = {}
        for call in exchange.tool_calls:
            judged = await self._guard.judge_tool_call(ctx, exchange, call, "llm")
            if not judged.decision.allow:
                reason = judged.decision.reasons[0].message if judged.decision.reasons else judged.decision.code
                refused[call.id] = f"the call to {call.name}: {reason}"
        if not verdict.rewrites and not refused:
            return ResponseOutcome(spent=spent)
        body = drop_stale_logprobs(apply_rewrites(body, verdict.rewrites), verdict.rewrites)
        if refused and adapter is not None:
            body = adapter.refuse_tool_calls(body, refused)
        return ResponseOutcome(body=dump_body(Body(read.kind, body)), spent=spent)

    async def _as_stream(self, ctx: RequestContext, stream_format: StreamFormat, content: bytes) -> ResponseOutcome:
        """A buffered answer judged at once as the stream it is, on a worker thread; audited as a stream."""
        guard, judge = guarded_stream(self._guard, ctx, stream_format, self._streaming)

        def judge_whole() -> bytes:
            with deadline.budget(self._guard.scan_timeout):
                return guard.feed(content) + guard.finish()

        fault = False
        try:
            judged = await asyncio.to_thread(judge_whole)
        except Exception:
            fault = True  # refused and audited by the caller (`internal_error`), not also recorded as a stream
            raise
        finally:
            if not fault:
                judge.close(released_bytes=guard.released_bytes, unparsed_events=guard.unparsed_events,
                            stopped=guard.stopped)  # fmt: skip
        return (
            ResponseOutcome(spent=guard.tokens)
            if judged == content
            else ResponseOutcome(body=judged, spent=guard.tokens)
        )

    async def _text(self, ctx: RequestContext, read: Body) -> ResponseOutcome:
        """A text answer (plain, HTML, JSON Lines, broken JSON): judged as the assistant's text; masks rewrite it."""
        segments = [Segment("assistant", "response", text, path) for path, text in read.texts]
        if read.kind == "jsonl":
            segments = list(with_every_leaf(Exchange(ctx.provider, "unparsed", None, False, []), read.value).segments)
        verdict = await self._guard.judge(ctx, "response", Exchange(ctx.provider, "unparsed", None, False, segments),
                                          has_body=True)  # fmt: skip
        if not verdict.decision.allow:
            return ResponseOutcome(refusal=verdict.decision, audited=True)
        if not verdict.rewrites:
            return ResponseOutcome()
        if read.kind == "text":
            return ResponseOutcome(body=verdict.rewrites[("$text",)].encode())
        if read.kind == "jsonl":
            return ResponseOutcome(body=dump_body(Body("jsonl", apply_rewrites(read.value, verdict.rewrites))))
        message = f"the policy masks part of a {read.kind} answer, which Wardgate cannot rewrite; it is withheld"
        return ResponseOutcome(refusal=Decision.deny("mask_unsupported", message, status=502))

    async def _binary(self, ctx: RequestContext, content: bytes, content_type: str) -> ResponseOutcome:
        """An answer no text reader takes (audio, an image, an unknown format): its printable runs are read for
        secrets, as `strings` would find them, and the text a client would decode from it (`_as_a_client_reads_it`)
        is judged as the assistant's text. It cannot be masked in place, so a mask withholds it. Judged, and audited,
        even with no text in it."""
        runs = printable_runs(content)
        segments = [Segment("assistant", "metadata", "\n".join(runs), ("$strings",))] if runs else []
        if (text := _as_a_client_reads_it(content, content_type)) is not None:
            segments.append(Segment("assistant", "response", text, ("$text",)))
        exchange = Exchange(ctx.provider, "unparsed", None, False, segments)
        verdict = await self._guard.judge(ctx, "response", exchange, has_body=True)
        if not verdict.decision.allow:
            return ResponseOutcome(refusal=verdict.decision, audited=True)
        if verdict.rewrites:
            message = "a binary answer carries text the policy masks, which Wardgate cannot rewrite; it is withheld"
            return ResponseOutcome(refusal=Decision.deny("mask_unsupported", message, status=502))
        return ResponseOutcome()

    async def _mcp_events(self, ctx: RequestContext, content: bytes) -> ResponseOutcome:
        """An MCP answer sent as SSE: each event's message judged as on a live stream, off the event loop."""
        stream = McpStream(self._guard, ctx, max_event_bytes=self._streaming.max_event_bytes)

        def judge_whole() -> bytes:
            with deadline.budget(self._guard.scan_timeout):  # one budget for the answer, as for a request's scans
                return stream.whole(content)

        judged = await asyncio.to_thread(judge_whole)
        return ResponseOutcome() if judged == content else ResponseOutcome(body=judged)

    async def _mcp(self, ctx: RequestContext, body: Any) -> ResponseOutcome:
        messages = body if isinstance(body, list) else [body]
        copies = json.loads(json.dumps(messages))  # judging may change a message in place

        def judge_all() -> list[Any]:
            with deadline.budget(self._guard.scan_timeout):  # one budget for the batch, as for a request's scans
                return [judge_mcp_message(self._guard, ctx, message) for message in copies]

        judged = await asyncio.to_thread(judge_all)
        if judged == messages:
            return ResponseOutcome()
        answer = judged if isinstance(body, list) else judged[0]
        return ResponseOutcome(body=json_text(answer).encode())
