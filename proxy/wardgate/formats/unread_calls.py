"""Answers of APIs whose tool calls Wardgate does not read as calls yet: Cohere's v2 chat and Mistral's Conversations.

Their text is judged like any unmapped answer's, but a call in them would reach an agent (the cohere SDK hands it
back, mistralai's `RunContext` runs it) never judged by the tool policy: an outside review sent `send_email` to an
attacker through both. Until they have formats of their own, an answer or a stream event that carries a call is
refused instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wardgate.formats.target import route_path

__all__ = ["unread_call"]

_COHERE_CALL_EVENTS = frozenset(("tool-call-start", "tool-call-delta", "tool-call-end"))
_MISTRAL_CALL_EVENTS = frozenset(("function.call", "function.call.delta"))


def unread_call(path: str, payload: Any) -> str | None:
    """The API whose call this answer (or stream event) carries, when Wardgate cannot judge it as one; else None."""
    if not isinstance(payload, Mapping):
        return None
    bare = route_path(path).rstrip("/")
    if bare.endswith("/v2/chat"):
        message = payload.get("message")
        calls = message.get("tool_calls") if isinstance(message, Mapping) else None
        if str(payload.get("type")) in _COHERE_CALL_EVENTS or calls:
            return "Cohere v2 chat"
    if "/v1/conversations" in bare:
        outputs = payload.get("outputs")
        entries = outputs if isinstance(outputs, list) else []
        if str(payload.get("type")) in _MISTRAL_CALL_EVENTS or any(
            isinstance(entry, Mapping) and str(entry.get("type")) in _MISTRAL_CALL_EVENTS for entry in entries
        ):
            return "Mistral conversations"
    return None
