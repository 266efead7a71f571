"""Server-sent events: an incremental parser that tolerates any chunking, and the encoder for events it rewrites.

Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR (a CR at a chunk's end waits for the next
byte), `:` starts a comment, `data` lines join with LF, a blank line ends an event. Each event keeps its raw bytes
so that an event nobody rewrites goes out exactly as it came in.
"""

from __future__ import annotations

import dataclasses

__all__ = ["SseEvent", "SseParser", "encode_event"]


@dataclasses.dataclass(frozen=True, slots=True)
class SseEvent:
    raw: bytes  # the event's bytes, its terminating blank line included
    event: str | None = None
    data: str | None = None  # data lines joined with "\n"; None when the event had none (a comment, a keep-alive)
    id: str | None = None


def encode_event(event: str | None, data: str) -> bytes:
    """A well-formed event: one `data:` line per line of `data`."""
    head = f"event: {event}\n" if event is not None else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}{body}\n".encode()


class SseParser:
    def __init__(self) -> None:
        self._pending = bytearray()  # bytes not yet split into lines
        self._raw = bytearray()  # the current event's bytes so far
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Every event completed by this chunk, in order."""
        self._pending += chunk
        events = []
        while True:
            line, consumed = self._next_line()
            if consumed == 0:
                break
            self._raw += self._pending[:consumed]
            del self._pending[:consumed]
            if line:
                self._field(line)
            else:
                events.append(self._dispatch())
        return events

    def close(self) -> list[SseEvent]:
        """At the end of the body: an unterminated last event, its bytes as they came."""
        self._raw += self._pending
        if self._pending:
            for line in bytes(self._pending).replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
                if line:
                    self._field(line)
        self._pending.clear()
        return [self._dispatch()] if self._raw else []

    def _next_line(self) -> tuple[bytes, int]:
        """(line without its terminator, bytes consumed); (b"", 0) when no full line is buffered yet."""
        buffer = self._pending
        for index, byte in enumerate(buffer):
            if byte == 0x0A:  # LF
                return bytes(buffer[:index]), index + 1
            if byte == 0x0D:  # CR, or CRLF: a CR at the end must wait to see what follows
                if index + 1 == len(buffer):
                    return b"", 0
                return bytes(buffer[:index]), index + (2 if buffer[index + 1] == 0x0A else 1)
        return b"", 0

    def _field(self, line: bytes) -> None:
        if line.startswith(b":"):
            return
        name, _, value = line.partition(b":")
        text = value[1:] if value.startswith(b" ") else value
        decoded = text.decode("utf-8", errors="replace")
        if name == b"data":
            self._data.append(decoded)
        elif name == b"event":
            self._event = decoded
        elif name == b"id":
            self._id = decoded

    def _dispatch(self) -> SseEvent:
        event = SseEvent(bytes(self._raw), self._event, "\n".join(self._data) if self._data else None, self._id)
        self._raw.clear()
        self._event, self._data, self._id = None, [], None
        return event
