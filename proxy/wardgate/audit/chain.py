"""The hash chain: each event's `hash` is SHA-256 over its canonical JSON without `hash`."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, MutableMapping
from typing import Any

from wardgate.surrogates import json_text

__all__ = ["GENESIS", "HashChain", "canonical_json", "event_hash"]

GENESIS = "0" * 64


def canonical_json(event: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8: the same bytes for the same event, on any machine (ASCII with escapes when
    the event holds a lone surrogate, which UTF-8 cannot carry)."""
    return json_text(event, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(event: Mapping[str, Any]) -> str:
    body = {key: value for key, value in event.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


class HashChain:
    """structlog's renderer: links each event to the one before it (`seq`, `prev_hash`, `hash`) and returns its line,
    the canonical JSON the hash covers with `hash` added last."""

    def __init__(self, prev_hash: str = GENESIS, next_seq: int = 0) -> None:
        self._prev_hash = prev_hash
        self._next_seq = next_seq
        self._lock = threading.Lock()

    @property
    def link(self) -> tuple[str, int]:
        """(hash of the last event, next seq): saved before a write so a failed one can be taken back."""
        return self._prev_hash, self._next_seq

    def rewind(self, link: tuple[str, int]) -> None:
        """Undo the events chained after `link` (their lines never reached the sink)."""
        with self._lock:
            self._prev_hash, self._next_seq = link

    def __call__(self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
        with self._lock:
            event_dict["seq"] = self._next_seq
            event_dict["prev_hash"] = self._prev_hash
            # Round-trip through JSON first so the hash covers exactly what the line holds (`default=str` turns
            # objects into strings, integer keys into strings sorted as such), as `audit verify` reads it back.
            text = canonical_json(json.loads(canonical_json(event_dict)))
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            self._prev_hash, self._next_seq = digest, self._next_seq + 1
        return f'{text[:-1]},"hash":"{digest}"}}'
