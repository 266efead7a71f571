"""The window judge of one response stream: sync scanners → policy (only when something was found) → mask.

Bound to its request (identity, vault); it keeps the stream's findings and writes the stream's one audit event
when the stream ends or is stopped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from wardgate.config import StreamingSettings
from wardgate.formats.streams import StreamFormat
from wardgate.models import Exchange, Finding, Segment, ToolCall
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard
from wardgate.pipeline.stream import StreamGuard, WindowVerdict
from wardgate.policy import Decision

__all__ = ["StreamJudge", "guarded_stream"]

_ALLOW = Decision(allow=True, status=200)


class StreamJudge:
    def __init__(self, guard: Guard, ctx: RequestContext, exchange: Exchange) -> None:
        self._guard, self._ctx, self._exchange = guard, ctx, exchange
        text = dataclasses.replace(exchange, segments=[Segment("assistant", "response", "", ())])
        tool = dataclasses.replace(exchange, segments=[Segment("assistant", "tool_call", "", ())])
        self._exchanges = {False: text, True: tool}  # what the policy sees: one segment, the window's kind
        self.findings: list[Finding] = []
        self.decision = _ALLOW
        self.shadowed: Decision | None = None  # the first decision shadow mode kept from changing the stream
        self._input: dict[str, Any] | None = None
        self._offset = 0  # where the next released window starts in the stream's text, for audit spans

    def window(self, text: str, context: str, *, tool: str | None, own: str | None = None) -> WindowVerdict:
        # The context (recently released text) lets a pattern match across the window's edge; what lies wholly
        # inside it was judged before. `own`: the channel's own released text, when others' came after it.
        contexts = [context] if own is None else [context, own]
        segments = [self._segment(before + text, tool) for before in contexts]
        found, error = self._guard.scan_blocking(segments, tool=tool is not None)
        self._ctx.found.add(segments, found)  # the stream's event holds spans only: the values are known here
        mine = _one_per_place(
            [
                dataclasses.replace(finding, segment=0, start=max(finding.start - shift, 0), end=finding.end - shift)
                for finding in found
                if finding.end > (shift := len(contexts[finding.segment]))
            ]
        )
        call = ToolCall("", tool, context + text) if tool is not None else None  # tool windows are whole calls
        return self._verdict(text, mine, error, tool=call)

    def full(self, text: str, *, tool: str | None, repeated: bool = False) -> WindowVerdict:
        segment = self._segment(text, tool)
        found, error = self._guard.scan_blocking([segment], tool=tool is not None)
        self._ctx.found.add([segment], found)
        # A summary event's call (`response.output_item.done`, `response.completed`) is what the openai SDK's final
        # response hands the agent, whatever its deltas said: its arguments face the tool policy too (an outside
        # review swapped them there after harmless deltas).
        call = ToolCall("", tool, text) if tool is not None else None
        return self._verdict(text, found, error, tool=call, whole=True, repeated=repeated)

    def _verdict(
        self,
        text: str,
        findings: Sequence[Finding],
        error: str | None,
        *,
        tool: ToolCall | None,
        whole: bool = False,
        repeated: bool = False,
    ) -> WindowVerdict:
        """`whole`: a text outside the channels' stream (spans are its own); `repeated`: already recorded."""
        offset = 0 if whole else self._offset
        if not whole:
            self._offset += len(text)
        if not findings and error is None and tool is None:  # a tool call is always judged (phase tool_call)
            return WindowVerdict(_ALLOW, text)
        decision, self._input = self._guard.decide_blocking(
            self._ctx, self._exchanges[tool is not None], findings, error, tool_call=tool
        )
        if self._guard.shadowed(decision):
            self.shadowed, decision = self.shadowed or decision, _ALLOW
        if not repeated:  # a summary event repeats text whose findings were already recorded
            self.findings += [dataclasses.replace(f, start=f.start + offset, end=f.end + offset) for f in findings]
        if not decision.allow:
            self.decision = decision
            return WindowVerdict(decision, text, cut=min((f.start for f in findings), default=0))
        if decision.mask:
            self.decision = decision
        return WindowVerdict(decision, self._guard.mask_window(text, findings, decision, self._ctx.vault))

    def close(self, *, released_bytes: int, unparsed_events: int, stopped: Decision | None) -> None:
        """Audit the stream: what was found, the deciding verdict, and how much reached the client."""
        shadowed = stopped is None and self.shadowed is not None
        decision = stopped or self.shadowed or self.decision
        stream = {"released_bytes": released_bytes, "stopped": stopped is not None, "unparsed_events": unparsed_events}
        self._guard.record_stream(
            self._ctx, self._exchange, self.findings, decision, self._input, stream, enforced=not shadowed
        )

    @staticmethod
    def _segment(text: str, tool: str | None) -> Segment:
        return Segment("assistant", "tool_call" if tool is not None else "response", text, ())


def _one_per_place(findings: list[Finding]) -> list[Finding]:
    """The two readings of a window (after the last released text, after its channel's own) find one thing twice,
    with edges cut differently: findings of one kind that overlap are one, over their union, at the higher score."""
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.kind, f.start, f.end)):
        last = merged[-1] if merged else None
        if last is not None and last.kind == finding.kind and finding.start < last.end:
            merged[-1] = dataclasses.replace(
                last if last.score >= finding.score else finding,
                start=last.start,
                end=max(last.end, finding.end),
            )
        else:
            merged.append(finding)
    return merged


def guarded_stream(
    guard: Guard, ctx: RequestContext, stream_format: StreamFormat, streaming: StreamingSettings
) -> tuple[StreamGuard, StreamJudge]:
    """A response stream's guard and the judge that audits it, bound to its request: a live stream's, and a buffered
    answer's judged as the stream it is (pipeline/response.py), under the same settings."""
    judge = StreamJudge(guard, ctx, Exchange(stream_format.provider, ctx.endpoint, ctx.model, True, []))
    stream_guard = StreamGuard(
        stream_format, judge, ctx.vault, hold_chars=streaming.hold_chars, overlap_chars=streaming.overlap_chars,
        max_event_bytes=streaming.max_event_bytes, decision_id=ctx.decision_id,
    )  # fmt: skip
    return stream_guard, judge
