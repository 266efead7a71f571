"""The OpenAI Realtime API over WebSocket: which text each JSON event carries, and its error event.

Client events carry instructions (`session.update`, `response.create`), conversation items (`conversation.item.create`:
input text, function call output) and audio; server events carry text and transcript deltas and whole items. Every
string of an event is judged (structural values such as `type` and ids only for secrets, like any body), except
base64 audio, which no scanner can read: client audio is refused (see `AUDIO_EVENTS`), server audio is judged by
its transcript events.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from wardgate.formats.generic_json import with_every_leaf
from wardgate.models import Exchange, Role, Source

__all__ = [
    "AUDIO_EVENTS",
    "REALTIME_PATHS",
    "RealtimeCall",
    "error_event",
    "frame_exchange",
    "function_calls",
    "is_realtime",
]

REALTIME_PATHS = ("/v1/realtime", "/openai/realtime")
# (event type, the field holding base64 audio)
AUDIO_EVENTS = {
    "input_audio_buffer.append": "audio",
    "response.audio.delta": "delta",
    "response.output_audio.delta": "delta",
}


def is_realtime(path: str) -> bool:
    return path.split("?", 1)[0].rstrip("/").endswith(REALTIME_PATHS)


def frame_exchange(payload: Any, *, from_client: bool) -> Exchange:
    """The event's texts as an Exchange (client text is a prompt, server text a response); audio left out."""
    audio_field = AUDIO_EVENTS.get(str(payload.get("type"))) if isinstance(payload, dict) else None
    body = {key: value for key, value in payload.items() if key != audio_field} if audio_field else payload
    exchange = with_every_leaf(Exchange("openai", "unparsed", None, True, []), body)
    role: Role = "user" if from_client else "assistant"
    source: Source = "prompt" if from_client else "response"
    segments = [
        dataclasses.replace(segment, role=role, source=source) if segment.source == "document" else segment
        for segment in exchange.segments
    ]
    return Exchange("openai", "unparsed", None, True, segments)


@dataclasses.dataclass(frozen=True, slots=True)
class RealtimeCall:
    """A function call a server event hands the client whole (the SDKs and agent runtimes run these): its item, id,
    name (None where the event names none: the item's earlier event did) and JSON arguments."""

    item_id: str
    call_id: str
    name: str | None
    arguments: str


def function_calls(payload: Any) -> list[RealtimeCall]:
    """The whole function calls a server event carries: `response.function_call_arguments.done`, and the
    `function_call` items of `response.output_item.*`, `conversation.item.*` and `response.done`'s output."""
    if not isinstance(payload, dict):
        return []
    if payload.get("type") == "response.function_call_arguments.done":
        return [_call(payload, str(payload.get("item_id", "")))]
    response = payload.get("response")
    items = [payload.get("item"), *(response.get("output") or [] if isinstance(response, dict) else [])]
    return [
        _call(item, str(item.get("id", "")))
        for item in items
        if isinstance(item, dict) and item.get("type") == "function_call"
    ]


def _call(value: dict[str, Any], item_id: str) -> RealtimeCall:
    name = value.get("name")
    arguments = value.get("arguments")
    return RealtimeCall(item_id, str(value.get("call_id", "")), name if isinstance(name, str) else None,
                        arguments if isinstance(arguments, str) else json.dumps(arguments))  # fmt: skip


def error_event(code: str, message: str, decision_id: str | None = None) -> bytes:
    """A server `error` event, as the Realtime API sends one (the SDKs surface it as an error)."""
    error = {"type": "invalid_request_error", "code": code, "message": message, "param": None, "event_id": None}
    event = {
        "type": "error",
        "event_id": f"event_wardgate_{uuid.uuid4().hex[:16]}",
        "error": {**error, "wardgate": {"decision_id": decision_id}},
    }
    return json.dumps(event).encode()
