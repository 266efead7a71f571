"""Judging a Realtime WebSocket frame by frame, with the same scanners, policy and audit as any request.

A frame is judged alone, and with the tail of what came before (a server's text deltas: on the same item; a client's
texts: all of them), so a secret split across frames is caught at the frame that completes it. While a tail's text
ends in something that could still grow into a finding (`holdback_start`, as in SSE streams), every frame of that
direction is held, in order, until the tail ends cleanly (its next text, its item's `.done`, a `response.create` or
`response.done`), or each frame's own hold runs out (`release` with `due`, which the caller calls while no frame is
being judged): the first part of a key split over two frames no longer goes out before the second is judged. A
denied frame is not passed on, nor is anything held; the session is then stopped: the client gets an `error` event
and no frame passes in either direction afterwards. Frames are audited when they are denied or rewritten (one event
each); the upgrade itself was audited as a request.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any, Literal

from wardgate.formats.base import apply_rewrites
from wardgate.formats.generic_json import KEY_MARK
from wardgate.formats.realtime import AUDIO_EVENTS, frame_exchange, function_calls
from wardgate.models import Exchange, JsonPath, Segment, ToolCall
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.guard import Guard, Verdict
from wardgate.pipeline.stream import holdback_start
from wardgate.policy import Decision
from wardgate.surrogates import json_text

__all__ = ["FrameOutcome", "RealtimeSession"]

_TAIL_CHARS = 256  # the text of earlier deltas a new one is judged with
_TAIL: JsonPath = ("$tail",)
_ENDS = frozenset({"response.create", "response.done"})  # what the client was writing, what the model wrote, is whole


@dataclasses.dataclass(frozen=True, slots=True)
class FrameOutcome:
    action: Literal["pass", "rewrite", "stop", "hold"]
    text: str = ""
    decision: Decision | None = None
    released: tuple[str, ...] = ()  # frames held before this one in its direction: sent first, in order


@dataclasses.dataclass(frozen=True, slots=True)
class _Joined:
    """A frame's text joined to its tail: which tail, what it held before, and where the frame's fields lie in it."""

    key: str = ""  # "" when the frame adds no text to a tail
    earlier: str = ""
    parts: tuple[tuple[int, int], ...] = ()  # (segment index, offset in the joined text)


class RealtimeSession:
    """One WebSocket's judge: holds the delta tails, the frames held back, and whether the session was stopped."""

    def __init__(
        self,
        guard: Guard,
        ctx: RequestContext,
        *,
        client_audio: bool = False,
        hold_s: float = 1.0,
    ) -> None:
        self._guard, self._ctx, self._client_audio, self._hold_s = guard, ctx, client_audio, hold_s
        self._tails: dict[str, str] = {}  # the client's texts (`client`), and each item's deltas: the last chars
        self._held: dict[bool, list[tuple[str, float]]] = {True: [], False: []}  # by from_client: (frame, hold ends)
        self._pending: dict[bool, set[str]] = {True: set(), False: set()}  # tails that could still grow, by direction
        self._judging = 0
        self._call_names: dict[str, str] = {}  # a function call item's name, by item id, as the server named it
        self.stopped: Decision | None = None

    def busy(self) -> bool:
        """A frame is being judged: what it becomes (a stop included) decides what happens to the held ones."""
        return self._judging > 0

    def next_release(self, *, from_client: bool) -> float | None:
        """When the first held frame's hold ends (`time.monotonic()`), or None."""
        held = self._held[from_client]
        return held[0][1] if held else None

    def release(self, *, from_client: bool, due: float | None = None) -> list[str]:
        """Held frames to send now, in order: all of them, or those whose hold has ended by `due` (none once the
        session is stopped)."""
        held = self._held[from_client]
        count = len(held) if due is None else sum(1 for _, ends in held if ends <= due)  # holds end in order
        self._held[from_client] = held[count:]
        if not self._held[from_client]:
            self._pending[from_client].clear()  # the text did not grow in time: it went out as it was
        return [frame for frame, _ in held[:count]] if self.stopped is None else []

    async def judge(self, text: str | None, *, from_client: bool) -> FrameOutcome:
        self._judging += 1
        try:
            return await self._judge(text, from_client)
        finally:
            self._judging -= 1

    async def _judge(self, text: str | None, from_client: bool) -> FrameOutcome:
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
            return self._stop(_audio_refused())
        exchange = frame_exchange(payload, from_client=from_client)
        if from_client and not self._client_audio and _carries_audio(payload):
            # Audio inside an item (`input_audio` content) is client audio too, whatever its bytes look like (an
            # outside review: a WAV header in front of it made it a file of type audio/wav, which the media policy
            # lets through).
            return self._stop(_audio_refused())
        joined = self._joined(payload, exchange.segments, from_client)
        ends = ""
        if joined.key:
            current = "".join(exchange.segments[index].text for index, _ in joined.parts)
            ends = joined.earlier + current
            joined_text = Segment("user", "prompt", ends, _TAIL)
            if not from_client:
                joined_text = Segment("assistant", "response", ends, _TAIL)
            exchange = dataclasses.replace(exchange, segments=[*exchange.segments, joined_text])
            self._tails[joined.key] = ends[-_TAIL_CHARS:]
        if not exchange.segments:
            return self._passed("pass", text, joined.key, ends, from_client, payload)
        verdict = await self._guard.judge_frame(self._ctx, "request" if from_client else "response", exchange)
        if not verdict.decision.allow:
            return self._stop(verdict.decision, audited=True)
        if not from_client and (refused := await self._calls_refused(payload, exchange)) is not None:
            return refused
        if not verdict.rewrites:
            return self._passed("pass", text, joined.key, ends, from_client, payload)
        own = {path: new for path, new in verdict.rewrites.items() if path != _TAIL}
        tail = len(exchange.segments) - 1 if joined.key else -1
        if not _masked_in_place(verdict, tail, joined) or any(KEY_MARK in path for path in own):
            message = "a value the policy masks spans several frames or fields; it cannot be masked in flight"
            return self._stop(Decision.deny("split_value", message, status=403))
        frame = json_text(apply_rewrites(payload, own))
        return self._passed("rewrite", frame, joined.key, ends, from_client, payload)

    async def _calls_refused(self, payload: Any, exchange: Exchange) -> FrameOutcome | None:
        """Each whole function call a server event hands the client faces the tool policy (agent runtimes run them:
        an outside review sent `shell_exec` past a tool policy that denied it over HTTP); a denied one stops the
        session before the frame goes out."""
        for call in function_calls(payload):
            name = call.name or self._call_names.get(call.item_id)
            if name is None:
                message = "the server sent a function call's arguments without naming its function"
                return self._stop(Decision.deny("tool_call_unnamed", message, status=502, source="fail_closed"))
            if call.item_id:
                self._call_names[call.item_id] = name
            verdict = await self._guard.judge_tool_call(
                self._ctx, exchange, ToolCall(call.call_id, name, call.arguments), "llm"
            )
            if not verdict.decision.allow:
                return self._stop(verdict.decision, audited=True)
        return None

    def _joined(self, payload: Any, segments: Sequence[Segment], from_client: bool) -> _Joined:
        """Which tail the frame's text joins: a server's text delta its item's, a client's texts the client's (a key
        split over two client events: an item, then another; instructions, then an item). Structural values (ids,
        types) join none."""
        kind = payload.get("type") if isinstance(payload, dict) else None
        if from_client:
            # Texts, not identifiers or object keys (keys are read like parameters: they join no text).
            fields = [i for i, s in enumerate(segments) if s.source != "metadata" and KEY_MARK not in s.path]
            key = "client"
        elif isinstance(kind, str) and kind.endswith(".delta") and isinstance(payload.get("delta"), str):
            key = _delta_key(payload, kind)
            fields = [i for i, segment in enumerate(segments) if segment.path == ("delta",)]
        else:
            return _Joined()
        earlier, offset, parts = self._tails.get(key, ""), 0, []
        for index in fields:
            parts.append((index, len(earlier) + offset))
            offset += len(segments[index].text)
        return _Joined(key, earlier, tuple(parts)) if offset else _Joined()

    def _passed(
        self, action: Literal["pass", "rewrite"], text: str, key: str, ends: str, from_client: bool, payload: Any
    ) -> FrameOutcome:
        """A frame the policy let through: held (behind any held before it) while a tail of its direction could
        still grow into a finding; otherwise sent, after the frames held before it."""
        pending = self._pending[from_client]
        kind = payload.get("type") if isinstance(payload, dict) else None
        if key and holdback_start(ends) < len(ends):
            pending.add(key)
        elif key:
            pending.discard(key)
        elif kind in _ENDS:
            pending.clear()
        elif isinstance(kind, str) and kind.endswith(".done"):  # an item's whole text, judged whole
            pending.discard(_delta_key(payload, kind.removesuffix(".done") + ".delta"))
        if pending:
            self._held[from_client].append((text, time.monotonic() + self._hold_s))
            return FrameOutcome("hold")
        return FrameOutcome(action, text, released=tuple(self.release(from_client=from_client)))

    def _stop(self, decision: Decision, *, audited: bool = False) -> FrameOutcome:
        if not audited:
            self._guard.refuse(self._ctx, "request", decision)
        self.stopped = decision
        self._held = {True: [], False: []}  # nothing held goes out
        self._pending = {True: set(), False: set()}
        return FrameOutcome("stop", decision=decision)


def _audio_refused() -> Decision:
    message = "audio cannot be inspected; send text, or allow client audio in the configuration"
    return Decision.deny("audio_refused", message, status=403)


def _carries_audio(value: Any) -> bool:
    """Whether a client event holds an `input_audio` content part anywhere (an item, a response's input)."""
    if isinstance(value, dict):
        return value.get("type") == "input_audio" or any(_carries_audio(item) for item in value.values())
    return isinstance(value, list) and any(_carries_audio(item) for item in value)


def _delta_key(payload: dict[str, Any], kind: str) -> str:
    """The tail of one item's deltas of one kind."""
    return f"{payload.get('item_id')}:{payload.get('content_index')}:{kind}"


def _masked_in_place(verdict: Verdict, tail: int, joined: _Joined) -> bool:
    """Every value the policy masks in the joined tail lies whole inside one of this frame's fields and is masked
    there too; one in the earlier frames was dealt with when they passed. One across the frames' boundary (its first
    part may have gone out) or across two fields of this frame cannot be masked in place."""
    masked = [found for found in verdict.findings if verdict.decision.masks(found.kind)]
    for found in masked:
        if found.segment != tail or found.end <= len(joined.earlier):
            continue
        if not any(
            other.segment == index and other.start <= found.start - offset and found.end - offset <= other.end
            for index, offset in joined.parts
            for other in masked
        ):
            return False
    return True
