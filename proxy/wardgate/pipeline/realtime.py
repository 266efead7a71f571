"""Judging a Realtime WebSocket frame by frame, with the same scanners, policy and audit as any request.

A frame is judged alone, and a server's text deltas also with the tail of what came before on the same item, so a
secret split across deltas is caught at the delta that completes it. A denied frame is not passed on; the session
is then stopped: the client gets an `error` event and no frame passes in either direction afterwards. Frames are
audited when they are denied or rewritten (one event each); the upgrade itself was audited as a request.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

from wardgate.formats.base import apply_rewrites
from wardgate.formats.generic_json import KEY_MARK
from wardgate.formats.realtime import AUDIO_EVENTS, frame_exchange
from wardgate.models import JsonPath, Segment
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard
from wardgate.policy import Decision
from wardgate.surrogates import json_text

__all__ = ["FrameOutcome", "RealtimeSession"]

_TAIL_CHARS = 256  # the text of earlier deltas a new one is judged with
_TAIL: JsonPath = ("$tail",)


@dataclasses.dataclass(frozen=True, slots=True)
class FrameOutcome:
    action: Literal["pass", "rewrite", "stop"]
    text: str = ""
    decision: Decision | None = None


class RealtimeSession:
    """One WebSocket's judge: holds the delta tails and whether the session was stopped."""

    def __init__(self, guard: Guard, ctx: RequestContext, *, client_audio: bool = False) -> None:
        self._guard, self._ctx, self._client_audio = guard, ctx, client_audio
        self._tails: dict[str, str] = {}
        self._client_tail = ""
        self.stopped: Decision | None = None

    async def judge(self, text: str | None, *, from_client: bool) -> FrameOutcome:
        if self.stopped is not None:
            return FrameOutcome("stop", decision=self.stopped)
        if text is None:
            return self._stop(
                Decision.deny("frame_unreadable", "binary WebSocket frames cannot be inspected", status=415)
            )
        try:
            payload = json.loads(text)
        except ValueError:
            return self._stop(Decision.deny("frame_unreadable", "a WebSocket frame that is not JSON", status=400))
        kind = payload.get("type") if isinstance(payload, dict) else None
        if from_client and kind in AUDIO_EVENTS and not self._client_audio:
            message = "audio cannot be inspected; send text, or allow client audio in the configuration"
            return self._stop(Decision.deny("audio_refused", message, status=403))
        exchange = frame_exchange(payload, from_client=from_client)
        delta = payload.get("delta") if isinstance(payload, dict) else None
        if not from_client and isinstance(kind, str) and kind.endswith(".delta") and isinstance(delta, str):
            exchange = dataclasses.replace(exchange, segments=[*exchange.segments, self._tail(payload, delta)])
        elif from_client:
            # A key split over two client events (an item, then another; instructions, then an item).
            texts = "".join(segment.text for segment in exchange.segments if segment.source != "metadata")
            if texts:
                joined = Segment("user", "prompt", self._client_tail + texts, _TAIL)
                self._client_tail = (self._client_tail + texts)[-_TAIL_CHARS:]
                exchange = dataclasses.replace(exchange, segments=[*exchange.segments, joined])
        if not exchange.segments:
            return FrameOutcome("pass", text)
        verdict = await self._guard.judge_frame(self._ctx, "request" if from_client else "response", exchange)
        if not verdict.decision.allow:
            return self._stop(verdict.decision, audited=True)
        if not verdict.rewrites:
            return FrameOutcome("pass", text)
        if _TAIL in verdict.rewrites or any(KEY_MARK in path for path in verdict.rewrites):
            # What the policy masks spans this delta and earlier ones that already went out: stop instead.
            message = "a value the policy masks spans several frames; it cannot be masked in flight"
            return self._stop(Decision.deny("split_value", message, status=403))
        return FrameOutcome("rewrite", json_text(apply_rewrites(payload, verdict.rewrites)))

    def _tail(self, payload: dict[str, Any], delta: str) -> Segment:
        """A text delta joined to the tail of the same item's earlier deltas (a key split across frames)."""
        item = f"{payload.get('item_id')}:{payload.get('content_index')}:{payload.get('type')}"
        tail = self._tails.get(item, "")
        self._tails[item] = (tail + delta)[-_TAIL_CHARS:]
        return Segment("assistant", "response", tail + delta, _TAIL)

    def _stop(self, decision: Decision, *, audited: bool = False) -> FrameOutcome:
        if not audited:
            self._guard.refuse(self._ctx, "request", decision)
        self.stopped = decision
        return FrameOutcome("stop", decision=decision)
