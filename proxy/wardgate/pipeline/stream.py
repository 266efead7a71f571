"""Guard one SSE response stream: hold back only what might still become a finding, judge, re-emit in order.

Events wait in one queue, in arrival order. Each text channel (a choice, a content block, an output item) holds
its events only while its text ends in something that could still grow into a finding: the start of a
placeholder (`<PERS`) or a token that looks like a secret in the making (digits, `_-/+=.:` inside, long runs),
at most `hold_chars` of it. When the channel's text reaches a clean point, its events are judged together: the
caller's placeholder values come back, then the window judge (sync scanners + policy) may mask the text or stop
the stream, in which case the clean prefix goes out, then a provider-shaped error event, then nothing more.

Events whose text is unchanged go out as the exact bytes that came in, so a clean stream is byte for byte what
the upstream sent. What an event carries besides its data (name, id, comments) is judged as it passes
(pipeline/sse_fields.py); an event larger than `max_event_bytes` stops the stream.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections import deque
from typing import Any, Protocol

from wardgate.formats.base import MalformedBody, apply_rewrites, value_at
from wardgate.formats.body import strict_json
from wardgate.formats.generic_json import KEY_MARK, byte_leaves, string_leaves
from wardgate.formats.media import BYTES_MARK, byte_text
from wardgate.formats.sse import SseEvent, SseEventTooLarge
from wardgate.formats.streams import Location, StreamFormat, StreamUnreadable
from wardgate.limits.tokens import TokenCount
from wardgate.models import JsonPath
from wardgate.pipeline.sse_fields import EventFields, FieldDenied
from wardgate.pipeline.vault import Vault
from wardgate.policy import Decision
from wardgate.scanners import deadline
from wardgate.surrogates import json_text

__all__ = ["StreamGuard", "WindowJudge", "WindowVerdict", "holdback_start"]

_PLACEHOLDER_START = re.compile(r"<[A-Z0-9_]*")
_MAX_PLACEHOLDER = 48
_SECRET_LIKE = re.compile(r"[0-9_\-/+=:]|^[A-Z]{3,}|\.\S")
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""
_RAW = "$data"  # the key a non-JSON data payload is judged under
_UNNAMED = ""  # a call's channel no event has named yet
_PLACES = re.compile(r"\d+")  # the indices in a channel's name
_LEAF_MIN_CHARS = 8  # shorter strings (a role, a finish reason, an index) cannot hold a key or a sentence
_TOOL_HOLD_FACTOR = 64  # tool-call arguments are held whole, up to this many times hold_chars
# While more events than this, or more bytes, wait in the queue, a held call is judged as it is and a held text stops
# the stream: a call's start with no arguments held the answer's every other event to its end (a second review's
# finding), and a text ending in `<PERS` followed by empty deltas held all of them, every event re-reading the whole
# queue (10,000: 98 s of CPU), or held another choice's megabytes (an outside review's findings). An event costs what
# it adds, so the bounds are about memory (a full queue of tiny events: ~16 MB of parsed JSON), set past what an honest
# answer queues: a chat answer's text ending in a held token (`config_v2.yaml`:) then a tool call of ~30 KB of
# arguments, token by token, queues ~8,000 events behind the text until the choice ends.
_MAX_QUEUED = 8192
_MAX_QUEUED_BYTES = 4 * 1024 * 1024
# A stream opens a channel per choice, content block, call or (unmapped) string place; past this many it is refused.
_MAX_CHANNELS = 10_000
# Unmapped strings and keys judged clean, kept per stream so each is judged once: at most this many, this long.
_MAX_CLEAN_LEAVES, _MEMO_CHARS = 4096, 256


def holdback_start(text: str) -> int:
    """Index from which `text` may still grow into a finding: a placeholder start or a secret-like last token."""
    start = len(text)
    lt = text.rfind("<")
    if lt != -1 and len(text) - lt <= _MAX_PLACEHOLDER and _PLACEHOLDER_START.fullmatch(text, lt):
        start = lt
    token = _trailing_token(text)
    if token:
        word = token.rstrip(_TRAILING_PUNCTUATION)
        if len(word) >= 12 or _SECRET_LIKE.search(word):
            start = min(start, len(text.removesuffix("\n")) - len(token))
    return start


def _trailing_token(text: str) -> str:
    """The run of non-space characters `text` ends with (before one final newline), found in linear time: a regex
    search for `\\S+$` retries at every start, quadratic in a long token followed by a space (40 KB: 5 s)."""
    body = text.removesuffix("\n")
    if not body or body[-1].isspace():
        return ""
    return body.rsplit(None, 1)[-1]


@dataclasses.dataclass(frozen=True, slots=True)
class WindowVerdict:
    decision: Decision
    text: str  # the window as it may be released (masked where the decision said so)
    cut: int | None = None  # on a deny: how much of the window is clean and may still go out


class WindowJudge(Protocol):
    def window(self, text: str, context: str, *, tool: str | None, own: str | None = None) -> WindowVerdict:
        """Judge `text` (about to be released) after `context`, the text released last, and after `own`, the
        channel's own last released text, when another channel's came after it."""
        ...

    def full(self, text: str, *, tool: str | None, repeated: bool = False) -> WindowVerdict:
        """Judge a complete text: one no channel carries (a field, a name, an id), or with `repeated` one a summary
        event repeats (its findings were recorded when its deltas went out)."""
        ...


@dataclasses.dataclass(slots=True)
class _Queued:
    event: SseEvent
    payload: Any
    # channel → where this event carries its next text: one place, or several in order (a Gemini candidate's text
    # parts, two choices that claim one index), each judged as the channel's: only the last was, until an outside
    # review's probe.
    deltas: dict[str, list[JsonPath]]
    seq: int  # its place in the stream: the queue is in this order
    rewrites: dict[JsonPath, str] = dataclasses.field(default_factory=dict)
    raw_text: bool = False  # the data is not JSON: `payload` is {_RAW: the data}


@dataclasses.dataclass(slots=True)
class _Channel:
    held: list[_Queued] = dataclasses.field(default_factory=list)  # queued events carrying this channel's text
    texts: list[str] = dataclasses.field(default_factory=list)  # the text each held event carries, read once
    settled: bool = False  # nothing changed since it was last judged: judging it again would hold the same events
    released_tail: str = ""  # the end of what this channel released so far
    tool: str | None = None
    given: str = ""  # a call that came whole: its arguments, judged with whatever deltas follow
    came_whole: bool = False  # arguments were given whole (even once judged): deltas after them stop the stream
    ended: bool = False
    judged: bool = False  # a tool call's arguments were judged under its name
    mirror: bool = False  # another reading of a text (logprob tokens): judged in its own context, waits for none

    @property
    def own_context(self) -> bool:
        return self.tool is not None or self.mirror


def _name(channel: _Channel, name: str) -> None:
    """Name a tool call's channel ("" when the event does not name it). A call named twice differently is refused:
    SDKs disagree on which name they act on (openai-python joins the pieces of a chat delta's name, openai-node keeps
    the last, a Responses client reads the final item's), so Wardgate cannot know which one to judge (a second
    review's finding: `x` then `shell_exec` was judged as `xshell_exec`)."""
    if not name or name == channel.tool:
        channel.tool = channel.tool or _UNNAMED
        return
    if channel.tool in (None, _UNNAMED) and not channel.judged:
        channel.tool = name
        return
    message = "the upstream named one tool call twice, differently"  # its names are not judged text: not echoed
    raise _Stopped(_fail_closed("tool_name_ambiguous", message), None, None, "")


def _named_call(channel: _Channel) -> str:
    """The name a call's arguments are judged under. One no event named stops the stream: judged under a made-up
    name, it passed a policy that denies tools by name, while a client may act on it under another (an outside
    review's finding)."""
    if channel.tool == _UNNAMED:
        message = "the upstream streamed a tool call's arguments under no name"
        raise _Stopped(_fail_closed("tool_call_unnamed", message), None, None, "")
    return str(channel.tool)


class _Stopped(Exception):
    def __init__(self, decision: Decision, carrier: _Queued | None, path: JsonPath | None, clean: str) -> None:
        self.decision, self.carrier, self.path, self.clean = decision, carrier, path, clean


class StreamGuard:
    def __init__(
        self,
        stream_format: StreamFormat,
        judge: WindowJudge,
        vault: Vault,
        *,
        hold_chars: int = 512,
        overlap_chars: int = 128,
        max_event_bytes: int | None = None,
        decision_id: str | None = None,
    ) -> None:
        self._format, self._judge, self._vault = stream_format, judge, vault
        self._hold, self._overlap = hold_chars, overlap_chars
        self.decision_id = decision_id  # named in the error event a stopped stream ends with
        self._parser = stream_format.framing.parser(max_event_bytes)
        self._fields = EventFields(self._judge_field, stream_format.framing)
        self._queue: deque[_Queued] = deque()
        self._queued_bytes = 0
        self._seq = 0
        self._channels: dict[str, _Channel] = {}
        self._holding: dict[str, _Channel] = {}  # the channels holding events
        self._named: dict[str, list[_Channel]] = {}  # a channel under its name and each name it is inside of
        self._released_text = ""  # the end of what the text channels released, in order (the next window's context)
        self._family_tails: dict[str, str] = {}  # the same, per kind of channel (text blocks, thinking blocks, ...)
        self._clean_leaves: set[str] = set()  # unmapped strings and keys judged clean, whole
        self.stopped: Decision | None = None
        self.released_bytes = 0  # bytes sent to the client
        self.unparsed_events = 0
        self.tokens = TokenCount()  # the provider's usage report, for budgets
        self.completed = False  # the format's end event was seen

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        """mitmproxy's `flow.response.stream` callable: b"" marks the end of the body."""
        out = self.feed(chunk) if chunk else self.finish()
        # An empty bytes mid-stream would end an HTTP/1.1 chunked body (DESIGN §7): say "nothing yet" instead.
        return out if out else []

    def break_event(self, decision: Decision) -> bytes:
        """The error event a stream its upstream broke off ends with for the client (written by the proxy layer,
        after whatever was released): the stream says why it stopped instead of merely stopping."""
        message = decision.reasons[0].message if decision.reasons else decision.code
        return self._format.error_event(decision.code, message, self.decision_id)

    def refuse(self, message: str, *, code: str = "stream_unreadable", status: int = 502) -> bytes | list[bytes]:
        """Stop a stream that cannot be judged at all, or on (fail closed): one error event, then nothing."""
        return self._fail(code, message, status) or []

    def _fail(self, code: str, message: str, status: int = 502) -> bytes:
        if self.stopped is not None:
            return b""
        self.stopped = _fail_closed(code, message, status)
        return self._emit([self._format.error_event(code, message, self.decision_id)])

    def feed(self, chunk: bytes) -> bytes:
        if self.stopped is not None:
            return b""
        try:
            events = self._parser.feed(chunk)
        except SseEventTooLarge as exc:
            # Judged text before it still goes out; the event itself is never buffered whole, nor passed.
            return self._run(exc.events, end=False) + self._fail("event_too_large", str(exc))
        return self._run(events, end=False)

    def finish(self) -> bytes:
        if self.stopped is not None:
            return b""
        out = self._run(self._parser.close(), end=True)
        if self.stopped is None and self._format.has_end_event and not self.completed:
            # The upstream hung up before its stream's end event: say so, so the client cannot take a cut-off
            # answer for a whole one (and the audit records it as stopped).
            message = "the upstream ended the stream before it was complete"
            self.stopped = _fail_closed("upstream_incomplete", message)
            out += self._emit([self._format.error_event(self.stopped.code, message, self.decision_id)])
        return out

    def _run(self, events: list[SseEvent], *, end: bool) -> bytes:
        out: list[bytes] = []
        try:
            for event in events:
                if deadline.spent():  # the events alone (no scanner ran) may take it, however the upstream made them
                    message = "judging the stream's events took past the scan budget"
                    raise _Stopped(_fail_closed("scanner_error", message), None, None, "")
                self._enqueue(event)
                out += self._release()
            if end:
                for channel in self._channels.values():
                    _end(channel)
                out += self._release()
        except _Stopped as stop:
            out += self._stop(stop)
        return self._emit(out)

    def _emit(self, pieces: list[bytes]) -> bytes:
        out = b"".join(pieces)
        self.released_bytes += len(out)
        return out

    def _judge_field(self, text: str) -> tuple[Decision, str]:
        verdict = self._judge.full(self._vault.restore(text), tool=None)
        return verdict.decision, verdict.text

    def _enqueue(self, event: SseEvent) -> None:
        try:
            event = self._fields.judged(event)
        except FieldDenied as denied:
            raise _Stopped(denied.decision, None, None, "") from None
        payload: Any = None
        raw_text = False
        if event.unknown and self._format.strict:
            raise _Stopped(_fail_closed("stream_unreadable", "a line of the stream names no SSE field"), None, None, "")
        if event.data is not None and event.data.strip() != "[DONE]":
            try:
                payload = strict_json(event.data)
            except MalformedBody as exc:
                # JSON that clients read otherwise than Wardgate (a key twice: the SDKs keep its last value), on any
                # stream: read as text, an unmapped API's event hid the call in it from the check for calls (an
                # outside review ran `send_email` through Mistral's Conversations that way).
                raise _Stopped(_fail_closed("stream_unreadable", str(exc)), None, None, "") from None
            except ValueError:
                if self._format.strict:
                    decision = _fail_closed("stream_unreadable", "an event of the stream is not one JSON value")
                    raise _Stopped(decision, None, None, "") from None
                self.unparsed_events += 1
                payload, raw_text = {_RAW: event.data}, True  # judged as the text it is
        self.tokens.observe(None if raw_text else payload)
        self._seq += 1
        queued = _Queued(event, payload, {}, self._seq, raw_text=raw_text)
        try:
            ends = self._format.ends(event, payload) if not raw_text else []
            locations = self._format.locations(event, payload) if payload is not None else []
        except StreamUnreadable as exc:
            raise _Stopped(_fail_closed("stream_unreadable", str(exc)), None, None, "") from None
        self.completed = self.completed or ends is None
        wholes: dict[str, list[JsonPath]] = {}
        for location in locations:
            self._locate(queued, location, wholes)
        for name, paths in wholes.items():
            self._judge_whole(queued, self._channels[name], paths)
        if payload is not None:
            self._judge_the_rest(queued, {location.path for location in locations})
        self._queue.append(queued)
        self._queued_bytes += len(event.raw)
        # Ending "choice:0" also ends the tool calls inside it ("choice:0:tool:1").
        ended = self._channels.values() if ends is None else [c for end in ends for c in self._named.get(end, ())]
        for channel in ended:
            _end(channel)

    def _judge_the_rest(self, queued: _Queued, located: set[JsonPath]) -> None:
        """Every other string of the event (an error message, a nested or new field, a tool's input, an id, an object
        key) is judged whole as it passes: what the format does not map is still never released unjudged. A key the
        verdict would change stops the stream: it cannot be rewritten (an outside review: keys were never read)."""
        leaves = itertools.chain(string_leaves(queued.payload, (), keys=True), byte_leaves(queued.payload, ()))
        for path, text in leaves:
            if path in located or len(text) < _LEAF_MIN_CHARS or text in self._clean_leaves:
                continue
            verdict = self._judge.full(self._vault.restore(text), tool=None)
            if not verdict.decision.allow:
                raise _Stopped(verdict.decision, None, None, "")
            if verdict.text == text:
                # Every event repeats its keys and ids: each distinct one is judged once per stream (a text judged
                # clean alone is clean alone again; long ones are not kept, whole events among them).
                if len(text) <= _MEMO_CHARS and len(self._clean_leaves) < _MAX_CLEAN_LEAVES:
                    self._clean_leaves.add(text)
                continue
            if KEY_MARK in path:
                message = "an object key in the stream holds what the policy masks; a key cannot be rewritten"
                raise _Stopped(Decision.deny("mask_unsupported", message, status=502), None, None, "")
            queued.rewrites[path] = verdict.text

    def _locate(self, queued: _Queued, location: Location, wholes: dict[str, list[JsonPath]]) -> None:
        if location.opens and location.channel in self._channels:
            message = "the upstream started one content block, part or call twice"
            raise _Stopped(_fail_closed("stream_unreadable", message), None, None, "")
        channel = self._channels.get(location.channel) or self._open(location.channel)
        channel.mirror = channel.mirror or location.mirror
        if location.tool is not None:
            _name(channel, location.tool)
        if not location.path:
            if location.arguments is not None:
                channel.given += location.arguments
                channel.came_whole = True
            if location.tool is not None and (not channel.held or channel.held[-1] is not queued):
                # A tool call's start is held with its arguments and judged with them: a call that comes with no
                # argument deltas at all (a tool without parameters, or its input in the start block) was never
                # judged, and reached the client whatever the tool policy said (found by an outside review).
                self._keep(location.channel, channel, queued)
            channel.settled = False
            return
        if location.kind == "delta":
            if channel.came_whole and channel.tool is not None:
                # The anthropic SDK acts on the deltas alone, the openai SDK on the start's arguments and the deltas
                # joined: judged joined, such a call is neither (its JSON does not parse, and the policy saw none).
                message = "the upstream gave a tool call's arguments whole, then streamed more of them"
                raise _Stopped(_fail_closed("tool_input_ambiguous", message), None, None, "")
            places = queued.deltas.setdefault(location.channel, [])
            if not places:
                self._keep(location.channel, channel, queued)
            places.append(location.path)
            return
        wholes.setdefault(location.channel, []).append(location.path)

    def _judge_whole(self, queued: _Queued, channel: _Channel, paths: list[JsonPath]) -> None:
        """A summary event's complete texts of one channel, judged joined (a text's logprob tokens, one by one, are
        each too short to hold what the text masked); a changed text rides in the first place."""
        text = "".join(_get(queued.payload, path) for path in paths)
        tool = _named_call(channel) if channel.tool is not None else None
        verdict = self._judge.full(self._vault.restore(text), tool=tool, repeated=True)
        if not verdict.decision.allow:
            raise _Stopped(verdict.decision, None, None, "")
        # A hosted call's input object is judged as its JSON but masked string by string (`_judge_the_rest`), as
        # it would be in a buffered answer: an object cannot take the judged text back.
        objects = any(not isinstance(value_at(queued.payload, p), str) for p in paths if p[-1:] != (BYTES_MARK,))
        if verdict.text != text and not objects:
            for index, path in enumerate(paths):
                queued.rewrites[path] = verdict.text if index == 0 else ""

    def _open(self, name: str) -> _Channel:
        if len(self._channels) >= _MAX_CHANNELS:
            message = f"the stream opened more than {_MAX_CHANNELS} channels (choices, blocks, calls, places)"
            raise _Stopped(_fail_closed("stream_unreadable", message), None, None, "")
        channel = self._channels[name] = _Channel()
        parts = name.split(":")
        for length in range(1, len(parts) + 1):
            self._named.setdefault(":".join(parts[:length]), []).append(channel)
        return channel

    def _keep(self, name: str, channel: _Channel, queued: _Queued) -> None:
        channel.held.append(queued)
        channel.settled = False
        self._holding[name] = channel

    def _release(self) -> list[bytes]:
        """Judge every channel that reached a clean point, then send the queue's head while nothing holds it."""
        # Past the queue's bounds a held call is judged as it is and a held text stops the stream (`_settle`).
        forced = len(self._queue) > _MAX_QUEUED or self._queued_bytes > _MAX_QUEUED_BYTES
        blocked_at: int | None = None  # the first event a channel still holds
        for name, channel in sorted(self._holding.items(), key=lambda item: item[1].held[0].seq):
            if not channel.own_context and blocked_at is not None and channel.held[0].seq > blocked_at:
                keep = channel.held  # judged once what comes before it is released: that text is its context
            elif channel.settled and not forced:
                keep = channel.held  # nothing new: it would hold the same events
            else:
                keep = self._settle(name, channel, forced=forced)
            if keep:
                blocked_at = keep[0].seq if blocked_at is None else min(blocked_at, keep[0].seq)
            else:
                del self._holding[name]
        out = []
        while self._queue and (blocked_at is None or self._queue[0].seq < blocked_at):
            out.append(self._encode(self._dequeue()))
        return out

    def _dequeue(self) -> _Queued:
        queued = self._queue.popleft()
        self._queued_bytes -= len(queued.event.raw)
        return queued

    def _settle(self, name: str, channel: _Channel, *, forced: bool) -> list[_Queued]:
        """Judge the channel's held events up to its last clean point; returns the ones still held."""
        channel.settled = True
        texts = channel.texts
        for queued in channel.held[len(texts) :]:  # an event's places are all known once it is queued
            texts.append("".join(_get(queued.payload, path) for path in queued.deltas.get(name, ())))
        given = channel.given
        whole = given + "".join(texts)
        if channel.tool is not None:
            # A tool call (its start too) is held and its arguments judged once, whole: SDKs assemble them before
            # anything acts on them.
            if not channel.ended and len(whole) <= self._hold * _TOOL_HOLD_FACTOR and not forced:
                return channel.held
            cut = len(whole)
            _named_call(channel)
            channel.judged = True
        else:
            cut = len(whole) if channel.ended else holdback_start(whole)
            if len(whole) - cut > self._hold:
                cut = len(whole)  # bounded: past hold_chars the tail is judged as it is
            elif forced and cut < len(whole):
                # Released now, a key in the making would go out half-written and its rest be judged without it (a
                # second outside review's finding): past the queue's bounds a held text stops the stream instead.
                # An honest stream's hold ends at the next space; only a stream built to hold one gets here.
                bound = f"{_MAX_QUEUED} events or {_MAX_QUEUED_BYTES // 2**20} MiB"
                message = f"a text was held while more than {bound} queued behind it"
                raise _Stopped(_fail_closed("stream_unreadable", message), None, None, "")
        # Release whole events only: those whose text ends at or before the cut.
        release, consumed = 0, 0
        for text in texts:
            if consumed + len(text) > cut:
                break
            consumed += len(text)
            release += 1
        if release == 0:
            return channel.held
        ready, channel.held = channel.held[:release], channel.held[release:]
        original = "".join(texts[:release])
        del texts[:release]
        # A whole call's arguments are judged with the call; their strings were judged, and masked, in place as
        # they passed (`_judge_the_rest`), since an object cannot take the judged text back.
        channel.given = ""
        restored = self._vault.restore(given + original)
        # A text's context is what any text channel released last, not only its own: clients show a choice's content
        # and refusal, or a message's text blocks, one after another, so a key split between two channels reaches
        # them whole (an outside review's finding). A tool call's arguments are their own.
        context = channel.released_tail if channel.own_context else self._released_text
        # Clients join a channel's pieces: when another channel released text since this one last did, a key split
        # around it reached them whole, judged only after the other's text (an outside review's finding).
        # A channel's first text joins the last text of its kind, too: clients join a message's text blocks and leave
        # out the thinking between them, so a key split around a thinking block reached them whole (an outside review).
        own = None
        tail = channel.released_tail or self._family_tails.get(_family(name), "")
        if not channel.own_context and tail and not context.endswith(tail):
            own = tail
        verdict = self._judge.window(restored, context, tool=channel.tool, own=own)
        if not verdict.decision.allow:
            first = next(iter(ready[0].deltas.get(name, ())), None)
            raise _Stopped(verdict.decision, ready[0], first, restored[: verdict.cut or 0])
        channel.released_tail = (channel.released_tail + verdict.text)[-self._overlap :]
        if not channel.own_context:
            self._released_text = (self._released_text + verdict.text)[-self._overlap :]
            family = _family(name)
            self._family_tails[family] = (self._family_tails.get(family, "") + verdict.text)[-self._overlap :]
        if verdict.text != given + original and not given:
            # The changed text rides in the first event that carries this channel's text; the others carry nothing.
            places = [(queued, path) for queued in ready for path in queued.deltas.get(name, ())]
            for index, (queued, path) in enumerate(places):
                queued.rewrites[path] = verdict.text if index == 0 else ""
        return channel.held

    def _stop(self, stop: _Stopped) -> list[bytes]:
        """Everything judged clean before the violation, then the error event; nothing after."""
        self.stopped = stop.decision
        pieces = []
        carrier = stop.carrier
        held = min((channel.held[0].seq for channel in self._holding.values() if channel.held), default=None)
        while self._queue and self._queue[0] is not carrier and (held is None or self._queue[0].seq < held):
            pieces.append(self._encode(self._dequeue()))
        if carrier is not None and stop.path is not None and stop.clean:
            emptied = dict.fromkeys((path for paths in carrier.deltas.values() for path in paths), "")
            carrier.rewrites = {**emptied, stop.path: stop.clean}
            pieces.append(self._encode(carrier))
        reason = stop.decision.reasons[0] if stop.decision.reasons else None
        message = reason.message if reason else "the response was stopped by policy"
        pieces.append(self._format.error_event(stop.decision.code, message, self.decision_id))
        self._queue.clear()
        return pieces

    def _encode(self, queued: _Queued) -> bytes:
        if not queued.rewrites:
            return queued.event.raw
        payload = apply_rewrites(json.loads(json.dumps(queued.payload)), queued.rewrites)
        data = payload[_RAW] if queued.raw_text else json_text(payload)
        return self._format.framing.encode(queued.event.event, data, queued.event.id, queued.event.others)


def _end(channel: _Channel) -> None:
    if not channel.ended:
        channel.ended, channel.settled = True, False


def _family(channel: str) -> str:
    """A channel's kind: its name without the places in it (`block:2` and `block:0` are text blocks alike,
    `block:1:thinking` a thinking block)."""
    return _PLACES.sub("#", channel)


def _fail_closed(code: str, message: str, status: int = 502) -> Decision:
    """A stream Wardgate cannot judge as it came stops: the upstream's fault, not the caller's (502; 504 when it went
    quiet)."""
    return Decision.deny(code, message, status=status, source="fail_closed")


def _get(payload: Any, path: JsonPath) -> str:
    if path[-1:] == (BYTES_MARK,) and isinstance(numbers := value_at(payload, path[:-1]), list):
        return byte_text(numbers) or ""
    value = value_at(payload, path)
    return value if isinstance(value, str) else json_text(value)  # a hosted call's input object, as JSON
