"""Answers of APIs whose tool calls Wardgate does not read as calls yet: Cohere's v1 chat, Mistral's Conversations,
OpenAI's Assistants runs and Gemini's Interactions.

Their text is judged like any unmapped answer's, but a call in them would reach an agent (the cohere SDK hands it
back, mistralai's `RunContext` runs it) never judged by the tool policy: an outside review sent `send_email` to an
attacker through Mistral's. Until they have formats of their own, an answer, a JSON line or a stream event that
carries a call is refused instead. (Cohere's v2 chat has its format: `formats/cohere.py`.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wardgate.formats.base import as_list
from wardgate.formats.target import route_path

__all__ = ["unread_api", "unread_call"]

# Cohere v1 streams JSON lines; each names its kind in `event_type`.
_COHERE_V1_CALL_EVENTS = frozenset(("tool-calls-generation", "tool-calls-chunk"))
_MISTRAL_CALL_EVENTS = frozenset(("function.call", "function.call.delta"))
# Gemini Interactions: a step the client runs, and the streamed pieces of its arguments.
_INTERACTION_CALLS = frozenset(("function_call", "arguments_delta"))
# A run step in one of these states has run: its calls are history (a step delta, or a step in progress, is not).
_SETTLED = frozenset(("completed", "cancelled", "expired", "failed"))


def unread_call(path: str, payload: Any) -> str | None:
    """The API whose call this answer (or stream event, or list of JSON lines) carries, when Wardgate cannot judge it
    as one; else None."""
    if isinstance(payload, list):
        return next((api for line in payload if (api := unread_call(path, line)) is not None), None)
    api = unread_api(path)
    if api is None or not isinstance(payload, Mapping):
        return None
    return api if _CARRIES_CALLS[api](payload) else None


def unread_api(path: str) -> str | None:
    """Which of these APIs a path is (its answers' events are then read strictly, as a mapped stream's)."""
    bare = route_path(path).rstrip("/")
    if bare.endswith("/v1/chat"):
        return "Cohere v1 chat"
    if "/threads" in bare:
        return "OpenAI Assistants"
    if "/interactions" in bare:
        return "Gemini Interactions"
    if "/v1/conversations" in bare:
        return "Mistral conversations"
    return None


def _cohere_v1_call(payload: Mapping[str, Any]) -> bool:
    """An answer's calls, a stream's call events, and the calls its `stream-end` repeats in `response`."""
    response = payload.get("response")
    ended = response.get("tool_calls") if isinstance(response, Mapping) else None
    return str(payload.get("event_type")) in _COHERE_V1_CALL_EVENTS or bool(payload.get("tool_calls") or ended)


def _mistral_call(payload: Mapping[str, Any]) -> bool:
    outputs = payload.get("outputs")
    entries = outputs if isinstance(outputs, list) else []
    return str(payload.get("type")) in _MISTRAL_CALL_EVENTS or any(
        isinstance(entry, Mapping) and str(entry.get("type")) in _MISTRAL_CALL_EVENTS for entry in entries
    )


def _assistant_call(value: Mapping[str, Any]) -> bool:
    """A run that waits for the client to run functions (`required_action`, what `runs.create_and_poll` and the
    streaming helpers hand the app), or a run step's function calls (`step_details`, whole or as a delta)."""
    if value.get("required_action"):
        return True
    details = value.get("step_details")
    calls = details.get("tool_calls") if isinstance(details, Mapping) else None
    if value.get("object") == "thread.run.step" and str(value.get("status")) in _SETTLED:
        return False  # a listing of steps already run: history
    return any(isinstance(call, Mapping) and call.get("type") == "function" for call in as_list(calls))


def _holds(value: Any, found: Callable[[Mapping[str, Any]], bool]) -> bool:
    """Whether any object in a JSON value (already bounded in depth when it was read) is `found`."""
    if isinstance(value, Mapping):
        return found(value) or any(_holds(item, found) for item in value.values())
    return isinstance(value, list) and any(_holds(item, found) for item in value)


_CARRIES_CALLS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "Cohere v1 chat": _cohere_v1_call,
    "OpenAI Assistants": lambda payload: _holds(payload, _assistant_call),
    "Gemini Interactions": lambda payload: _holds(payload, lambda value: str(value.get("type")) in _INTERACTION_CALLS),
    "Mistral conversations": _mistral_call,
}
