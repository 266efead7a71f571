"""AWS's binary event stream (`application/vnd.amazon.eventstream`: Bedrock's `converse-stream`), read and written
as the events the stream guard judges.

A message is a prelude (total length, headers length, their CRC32), typed headers (`:event-type`, `:message-type`,
`:content-type`, `:exception-type`), a payload (JSON) and a CRC32 of everything before it. Each message becomes an
`SseEvent` whose name is its event (or exception) type and whose data is its payload; its raw bytes go out untouched
unless the guard rewrites it, when it is written again with fresh checksums. A message whose lengths or checksums do
not hold, or whose headers Wardgate cannot read, stops the stream (its `unknown` flag): the SDKs would refuse it too,
and it cannot be judged.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib

from wardgate.formats.body import strict_json
from wardgate.formats.sse import EventParser, Framing, SseEvent, SseEventTooLarge

__all__ = [
    "BEDROCK_CHUNKS",
    "EVENT_STREAM",
    "EventStreamParser",
    "aws_exception",
    "encode_message",
    "is_aws_event_stream",
]

_PRELUDE = 12
_CRC = 4
_STRING = 7  # the header value types AWS sends: 7 is a string with a 2-byte length (the others are skipped by size)
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}  # bool true/false, byte, short, int, long, time, uuid
_SIZED = frozenset((6, _STRING))  # byte array, string: a 2-byte length first
# The header that names a message, by its `:message-type` (an event's is `:event-type`).
_NAME_HEADERS = {"exception": ":exception-type", "error": ":error-code"}


def is_aws_event_stream(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/vnd.amazon.eventstream"


class EventStreamParser:
    """Incremental: any chunking gives the same messages; a message may be at most `max_event_bytes` long."""

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        events: list[SseEvent] = []
        while len(self._buffer) >= _PRELUDE:
            total = int.from_bytes(self._buffer[:4], "big")
            if self._max is not None and total > self._max:
                raise SseEventTooLarge(self._max, events)
            if total < _PRELUDE + _CRC:
                events.append(_broken(bytes(self._buffer)))
                self._buffer.clear()
                break
            if len(self._buffer) < total:
                break
            message = bytes(self._buffer[:total])
            del self._buffer[:total]
            events.append(_event(message))
        return events

    def close(self) -> list[SseEvent]:
        """A message cut off by the end of the body cannot be judged: it stops the stream."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return [_broken(rest)] if rest else []


def _broken(raw: bytes) -> SseEvent:
    return SseEvent(raw, unknown=True)


def _event(message: bytes) -> SseEvent:
    headers_length = int.from_bytes(message[4:8], "big")
    valid = (
        zlib.crc32(message[:8]) == int.from_bytes(message[8:12], "big")
        and zlib.crc32(message[:-_CRC]) == int.from_bytes(message[-_CRC:], "big")
        and _PRELUDE + headers_length <= len(message) - _CRC
    )
    headers = _headers(message[_PRELUDE : _PRELUDE + headers_length]) if valid else None
    if headers is None:
        return _broken(message)
    payload = message[_PRELUDE + headers_length : -_CRC]
    try:
        data = payload.decode("utf-8")
    except UnicodeDecodeError:
        return _broken(message)
    # Named as botocore names it: an event by `:event-type` whatever else it carries (an `:exception-type` beside it
    # named it for Wardgate, and the guard judged a chunk or a call's start as something else: a fourth review's
    # finding), an error or exception by its code.
    kind = headers.get(":message-type")
    name_header = _NAME_HEADERS.get(kind or "", ":event-type")
    name = headers.get(name_header) or (kind if kind in _NAME_HEADERS else None)
    # Every other header value is text that reaches the client too (botocore puts `:error-message` in its error):
    # judged like an SSE comment.
    others = tuple(f"{key}: {value}" for key, value in headers.items() if key != name_header)
    return SseEvent(message, name, data, None, others)


def _headers(raw: bytes) -> dict[str, str] | None:
    """String headers by name (others skipped by their size); None when they do not parse or a name repeats (botocore
    refuses that: which of two `:event-type`s a reader takes is not Wardgate's to guess)."""
    headers: dict[str, str] = {}
    seen: set[str] = set()
    at = 0
    try:
        while at < len(raw):
            name_length = raw[at]
            name = raw[at + 1 : at + 1 + name_length].decode("utf-8")
            if name in seen:
                return None
            seen.add(name)
            at += 1 + name_length
            kind = raw[at]
            at += 1
            if kind in _SIZED:
                size = int.from_bytes(raw[at : at + 2], "big")
                value = raw[at + 2 : at + 2 + size]
                at += 2 + size
                # A byte array's text is read too: botocore hands an `:error-message` of bytes to the application.
                headers[name] = value.decode("utf-8", errors="replace") if kind != _STRING else value.decode("utf-8")
            elif kind in _FIXED:
                at += _FIXED[kind]
            else:
                return None
    except (IndexError, UnicodeDecodeError):
        return None
    return headers if at == len(raw) else None


def encode_message(headers: dict[str, str], payload: str) -> bytes:
    """One message with string headers, in the order given, and both checksums."""
    encoded = b"".join(
        bytes([len(name.encode())]) + name.encode() + bytes([_STRING]) + struct.pack(">H", len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )  # fmt: skip
    body = payload.encode()
    total = _PRELUDE + len(encoded) + len(body) + _CRC
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + body
    return message + struct.pack(">I", zlib.crc32(message))


class _EventStreamFraming:
    def parser(self, max_event_bytes: int | None) -> EventParser:
        return EventStreamParser(max_event_bytes)

    def encode(self, event: str | None, data: str | None, event_id: str | None, others: tuple[str, ...]) -> bytes:
        """The message again, its other headers as they came (an exception or an error stays one)."""
        kept = dict(other.split(": ", 1) for other in others if ": " in other)
        kind = _NAME_HEADERS.get(kept.get(":message-type", ""), ":event-type")
        headers = {kind: event or "", ":content-type": "application/json", ":message-type": "event", **kept}
        return encode_message(headers, data or "")


EVENT_STREAM: Framing = _EventStreamFraming()


_CHUNK = "chunk"
# An exception or error, as botocore reads one: by the exact message type (`exceptionally` is an event's chunk to it).
_ERRORS = frozenset(f":message-type: {kind}" for kind in _NAME_HEADERS)


class _ChunkFraming:
    """InvokeModelWithResponseStream: each `chunk` message carries one event of the model's own stream, base64 in
    `{"bytes": …}`; that event is what is judged, and a rewritten one goes back in a chunk. Other messages (an
    exception) are read as AWS's event stream."""

    def parser(self, max_event_bytes: int | None) -> EventParser:
        return _ChunkParser(max_event_bytes)

    def encode(self, event: str | None, data: str | None, event_id: str | None, others: tuple[str, ...]) -> bytes:
        if event != _CHUNK:
            return EVENT_STREAM.encode(event, data, event_id, others)
        chunk = json.dumps({"bytes": base64.b64encode((data or "").encode()).decode()})
        return encode_message({":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
                              chunk)  # fmt: skip


class _ChunkParser:
    def __init__(self, max_event_bytes: int | None) -> None:
        self._messages = EventStreamParser(max_event_bytes)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        return [_unwrapped(event) for event in self._messages.feed(chunk)]

    def close(self) -> list[SseEvent]:
        return [_unwrapped(event) for event in self._messages.close()]


def _unwrapped(event: SseEvent) -> SseEvent:
    """A chunk as the model's event it carries; a chunk that does not decode cannot be judged and stops the stream.
    Its base64 is read as botocore reads it (`b64decode`, characters outside the alphabet dropped), and its other
    fields (Bedrock's `p` padding) are judged like headers. An event of another type stops the stream too: botocore
    drops it, and its payload, read by its shape as the model's event, shifted the blocks Wardgate judged against the
    ones the SDK built (an outside review sent a call's start that way)."""
    if event.unknown or any(field in _ERRORS for field in event.others):
        return event
    if event.event != _CHUNK:
        return _broken(event.raw)
    try:
        outer = strict_json(event.data or "")  # nesting bounded: a deep one raised RecursionError past this
        inner = base64.b64decode(outer["bytes"]).decode("utf-8")
    except (ValueError, KeyError, TypeError):
        return _broken(event.raw)
    fields = tuple(f"{key}: {value}" for key, value in outer.items() if key != "bytes" and isinstance(value, str))
    return SseEvent(event.raw, _CHUNK, inner, None, event.others + fields)


BEDROCK_CHUNKS: Framing = _ChunkFraming()


def aws_exception(code: str, message: str, decision_id: str | None) -> bytes:
    """A refusal as an `exception` message, which boto3 raises as an EventStreamError."""
    headers = {":exception-type": "validationException", ":content-type": "application/json",
               ":message-type": "exception"}  # fmt: skip
    return encode_message(
        headers, json.dumps({"message": message, "wardgate": {"code": code, "decision_id": decision_id}})
    )
