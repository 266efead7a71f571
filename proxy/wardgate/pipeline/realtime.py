"""Judging a Realtime WebSocket frame by frame, with the same scanners, policy and audit as any request.

A frame is judged alone, and with the tail of what came before (a server's text deltas: on the same item; a client's
texts: all of them), so a secret split across frames is caught at the frame that completes it. A frame whose text
ends in something that could still grow into a finding (`holdback_start`, as in SSE streams) is held, with every
frame after it in that direction, until a frame ends it cleanly, or the caller's hold runs out (`release`): the first
part of a key split over two frames no longer goes out before the second is judged. A denied frame is not passed
on, nor is anything held; the session is then stopped: the client gets an `error` event and no frame passes in
either direction afterwards. Frames are audited when they are denied or rewritten (one event each); the upgrade
itself was audited as a request.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Literal

from wardgate.formats.base import apply_rewrites
from wardgate.formats.generic_json import KEY_MARK
from wardgate.formats.realtime import AUDIO_EVENTS, frame_exchange
from wardgate.models import JsonPath, Segment
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard
from wardgate.pipeline.stream import holdback_start
from wardgate.policy import Decision
from wardgate.surrogates import json_text

__all__ = ["FrameOutcome", "RealtimeSession"]

_TAIL_CHARS = 256  # the text of earlier deltas a new one is judged with
_TAIL: JsonPath = ("$tail",)


@dataclasses.dataclass(frozen=True, slots=True)
class FrameOutcome:
    action: Literal["pass", "rewrite", "stop", "hold"]
    text: str = ""
    decision: Decision | None = None
    released: tuple[str, ...] = ()  # frames held before this one in its direction: sent first, in order


class RealtimeSession:
    """One WebSocket's judge: holds the delta tails and whether the session was stopped."""

    def __init__(self, guard: Guard, ctx: RequestContext, *, client_audio: bool = False, hold_chars: int = 512) -> None:
        self._guard, self._ctx, self._client_audio, self._hold_chars = guard, ctx, client_audio, hold_chars
        self._tails: dict[str, str] = {}  # the client's texts (`client`), and each item's deltas: the last chars
        self._held: dict[bool, list[str]] = {True: [], False: []}  # by from_client
        self.stopped: Decision | None = None

    def release(self, *, from_client: bool) -> list[str]:
        """The frames held in a direction, to be sent now in order (none once the session is stopped)."""
        held, self._held[from_client] = self._held[from_client], []
        return held if self.stopped is None else []

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
        texts = "".join(segment.text for segment in exchange.segments if segment.source != "metadata")
        key, earlier = "", ""  # which tail the frame's text joins (`_tails`), and that tail before it
        if not from_client and isinstance(kind, str) and kind.endswith(".delta") and isinstance(delta, str):
            key = f"{payload.get('item_id')}:{payload.get('content_index')}:{kind}"  # one item's deltas
            earlier = self._tails.get(key, "")
            joined = Segment("assistant", "response", earlier + delta, _TAIL)
        elif from_client and texts:
            # A key split over two client events (an item, then another; instructions, then an item).
            key, earlier = "client", self._tails.get("client", "")
            joined = Segment("user", "prompt", earlier + texts, _TAIL)
        if key:
            exchange = dataclasses.replace(exchange, segments=[*exchange.segments, joined])
            self._tails[key] = joined.text[-_TAIL_CHARS:]
        ends = joined.text if key else ""
        if not exchange.segments:
            return self._passed("pass", text, ends, from_client)
        verdict = await self._guard.judge_frame(self._ctx, "request" if from_client else "response", exchange)
        if not verdict.decision.allow:
            return self._stop(verdict.decision, audited=True)
        if not verdict.rewrites:
            return self._passed("pass", text, ends, from_client)
        own = {path: new for path, new in verdict.rewrites.items() if path != _TAIL}
        # Where the tail's masked values lie: one across the frames' boundary is split (its first part was judged
        # with its own frame, and may have gone out); one inside this frame must be in its own fields to mask; one
        # inside the earlier frames was dealt with when they passed. (The tail keeps the text as it was sent: a
        # key's first part masked as something else must not hide the key from the next frame.)
        tail = len(exchange.segments) - 1
        masked = [f for f in verdict.findings if key and f.segment == tail and verdict.decision.masks(f.kind)]
        split = any(f.start < len(earlier) < f.end for f in masked)
        unplaced = any(f.start >= len(earlier) for f in masked) and not own
        if split or unplaced or any(KEY_MARK in path for path in own):
            message = "a value the policy masks spans several frames; it cannot be masked in flight"
            return self._stop(Decision.deny("split_value", message, status=403))
        return self._passed("rewrite", json_text(apply_rewrites(payload, own)), ends, from_client)

    def _passed(self, action: Literal["pass", "rewrite"], text: str, ends: str, from_client: bool) -> FrameOutcome:
        """A frame the policy let through: held (behind any held before it) while the text it ends could still grow
        into a finding, within `hold_chars`; otherwise sent, after the frames held before it."""
        start = holdback_start(ends)
        if start < len(ends) and len(ends) - start <= self._hold_chars:
            self._held[from_client].append(text)
            return FrameOutcome("hold")
        return FrameOutcome(action, text, released=tuple(self.release(from_client=from_client)))

    def _stop(self, decision: Decision, *, audited: bool = False) -> FrameOutcome:
        if not audited:
            self._guard.refuse(self._ctx, "request", decision)
        self.stopped = decision
        self._held = {True: [], False: []}  # nothing held goes out
        return FrameOutcome("stop", decision=decision)
