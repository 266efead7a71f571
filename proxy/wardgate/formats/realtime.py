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

__all__ = ["AUDIO_EVENTS", "REALTIME_PATHS", "error_event", "frame_exchange", "is_realtime"]

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


def error_event(code: str, message: str, decision_id: str | None = None) -> bytes:
    """A server `error` event, as the Realtime API sends one (the SDKs surface it as an error)."""
    error = {"type": "invalid_request_error", "code": code, "message": message, "param": None, "event_id": None}
    event = {
        "type": "error",
        "event_id": f"event_wardgate_{uuid.uuid4().hex[:16]}",
        "error": {**error, "wardgate": {"decision_id": decision_id}},
    }
    return json.dumps(event).encode()
