"""Server-sent events: an incremental parser that tolerates any chunking, and the encoder for events it rewrites.

Follows the WHATWG event-stream rules: one leading UTF-8 byte-order mark is skipped, lines end in CRLF, LF or CR (a
CR at a chunk's end waits for the next byte), `:` starts a comment, `data` lines join with LF, a blank line ends an
event. Each event keeps its raw bytes so that an event nobody rewrites goes out exactly as it came in, and every text
its lines carry besides the data (comments, unknown fields, overwritten names) so that those can be judged too.

Parsing is linear in the bytes received: a line in progress is searched for its end only from where the last search
stopped, and an event may grow only up to `max_event_bytes`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "SSE",
    "EventParser",
    "Framing",
    "SseEvent",
    "SseEventTooLarge",
    "SseParser",
    "encode_event",
    "is_event_stream",
]

_LINE_END = re.compile(rb"[\r\n]")
_BOM = b"\xef\xbb\xbf"
_CR = 0x0D
_LF = 0x0A


@dataclasses.dataclass(frozen=True, slots=True)
class SseEvent:
    raw: bytes  # the event's bytes, its terminating blank line included
    event: str | None = None
    data: str | None = None  # data lines joined with "\n"; None when the event had none (a comment, a keep-alive)
    id: str | None = None
    # Every other line's text: comments, `retry` and unknown fields (whole lines), an `event`/`id` a later line
    # replaced. Clients ignore them, but they reach the client in `raw`. The SSE parser gives them as one text, a line
    # each, judged as one: an event of millions of comment lines is not millions of strings (8 MiB of `:a` lines took
    # +186 MB and 2.6 s: an outside review's finding).
    others: tuple[str, ...] = ()
    unknown: bool = False  # a line named no SSE field (`data`, `event`, `id`, `retry`) nor a comment


class SseEventTooLarge(ValueError):
    """An event grew past the parser's limit; `events` are the ones completed before it."""

    def __init__(self, limit: int, events: Sequence[SseEvent]) -> None:
        super().__init__(f"an event of the stream is larger than {limit} bytes")
        self.events = list(events)


def is_event_stream(content_type: str) -> bool:
    """The media type itself, not a substring: `application/json; profile="text/event-stream"` is JSON to a client."""
    return content_type.split(";", 1)[0].strip().lower() == "text/event-stream"


def encode_event(event: str | None, data: str | None, event_id: str | None = None) -> bytes:
    """A well-formed event: its name, its id, one `data:` line per line of `data`; b"" when it has none of them."""
    head = (f"event: {event}\n" if event is not None else "") + (f"id: {event_id}\n" if event_id is not None else "")
    body = "".join(f"data: {line}\n" for line in data.split("\n")) if data is not None else ""
    return f"{head}{body}\n".encode() if head or body else b""


class SseParser:
    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()  # the current event's bytes: its complete lines, then the line in progress
        self._line = 0  # where the line in progress starts in the buffer
        self._searched = 0  # up to where the line in progress has been searched for its end
        self._started = False  # the leading byte-order mark has been looked for
        self._event: str | None = None
        self._data: bytearray | None = None  # the data lines' values, joined with "\n" as they come
        self._id: str | None = None
        self._others = bytearray()  # the other lines, joined with "\n"
        self._unknown = False

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Every event completed by this chunk, in order. Raises SseEventTooLarge past the limit."""
        self._buffer += chunk
        if not self._started and not self._skip_bom():
            return []
        events = []
        start = 0  # where the current event starts in the buffer (the ones before it were dispatched)
        while (line := self._next_line()) is not None:
            if line:
                self._field(line)
            else:
                events.append(self._dispatch(start, self._line))
                start = self._line
            if self._max is not None and self._line - start > self._max:
                raise SseEventTooLarge(self._max, events)
        if start:  # drop the dispatched events' bytes; the rest arrived with this chunk (linear overall)
            del self._buffer[:start]
            self._line -= start
            self._searched -= start
        if self._max is not None and len(self._buffer) > self._max:
            raise SseEventTooLarge(self._max, events)
        return events

    def close(self) -> list[SseEvent]:
        """At the end of the body: an unterminated last event, its bytes as they came."""
        if not self._buffer:
            return []
        rest = bytes(self._buffer[self._line :])
        for line in rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
            if line:
                self._field(line)
        return [self._dispatch(0, len(self._buffer))]

    def _skip_bom(self) -> bool:
        """Whether parsing may start: a buffer that could still be the start of a BOM waits for more bytes."""
        if len(self._buffer) < len(_BOM) and _BOM.startswith(self._buffer):
            return False
        self._started = True
        if self._buffer.startswith(_BOM):
            self._line = self._searched = len(_BOM)  # skipped for parsing; the raw bytes keep it
        return True

    def _next_line(self) -> bytes | None:
        """The next complete line without its terminator (the buffer positions move past it); None: none yet."""
        buffer = self._buffer
        found = _LINE_END.search(buffer, self._searched)
        if found is None:
            self._searched = len(buffer)
            return None
        end = found.start()
        if buffer[end] == _CR:
            if end + 1 == len(buffer):  # a CR at the end: CRLF or CR alone, the next byte says
                self._searched = end
                return None
            after = end + (2 if buffer[end + 1] == _LF else 1)
        else:
            after = end + 1
        line = bytes(buffer[self._line : end])
        self._line = self._searched = after
        return line

    def _field(self, line: bytes) -> None:
        if line.startswith(b":"):
            self._other(line)
            return
        name, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if name == b"data":
            if self._data is None:
                self._data = bytearray(value)
            else:
                self._data += b"\n" + value
            return
        decoded = value.decode("utf-8", errors="replace")
        if name == b"event":
            if self._event is not None:
                self._other(self._event.encode())
            self._event = decoded
        elif name == b"id":
            if self._id is not None:
                self._other(self._id.encode())
            self._id = decoded
        else:
            self._unknown = self._unknown or name != b"retry"
            self._other(line)

    def _other(self, line: bytes) -> None:
        if self._others:
            self._others += b"\n"
        self._others += line

    def _dispatch(self, start: int, end: int) -> SseEvent:
        # Decoded whole: a line break never falls inside a UTF-8 sequence, so this is each line decoded, joined.
        data = self._data.decode("utf-8", errors="replace") if self._data is not None else None
        others = (self._others.decode("utf-8", errors="replace"),) if self._others else ()
        event = SseEvent(bytes(self._buffer[start:end]), self._event, data, self._id, others, self._unknown)
        self._event, self._data, self._id, self._others, self._unknown = None, None, None, bytearray(), False
        return event


class EventParser(Protocol):
    def feed(self, chunk: bytes) -> list[SseEvent]: ...

    def close(self) -> list[SseEvent]: ...


class Framing(Protocol):
    """How a stream's bytes become events and a rewritten event becomes bytes: SSE, or AWS's event stream."""

    def parser(self, max_event_bytes: int | None) -> EventParser: ...

    def encode(self, event: str | None, data: str | None, event_id: str | None, others: tuple[str, ...]) -> bytes:
        """A rewritten event (`others`: what the parser kept besides; SSE drops its comments)."""
        ...


class _SseFraming:
    def parser(self, max_event_bytes: int | None) -> EventParser:
        return SseParser(max_event_bytes)

    def encode(self, event: str | None, data: str | None, event_id: str | None, others: tuple[str, ...]) -> bytes:
        return encode_event(event, data, event_id)


SSE: Framing = _SseFraming()
