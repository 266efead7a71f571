"""Results per text, kept across requests: a chat resends its whole history every turn, and only the new turn should
cost a scan.

The key is a 32-byte BLAKE2b digest of the exact text the scanner reads: no near matches, and no collision an
attacker could craft to have a hostile text take a benign text's result (2^128 work at 32 bytes; 2^64 at 16 would be
within reach of a determined attacker who writes both texts). A memo belongs to one scanner instance, which holds one
model or rule set and its settings (a new model or rule set is a new scanner with an empty memo), so a remembered
result is the result that this configuration computes for this text. Bounded (least recently used out); a lock
guards it, since some scanners fill it from worker threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

from cachetools import LRUCache

__all__ = ["TextMemo"]


class TextMemo[V]:
    """`maxsize` 0 remembers nothing."""

    def __init__(self, maxsize: int) -> None:
        self._cache: LRUCache[bytes, V] | None = LRUCache(maxsize) if maxsize else None
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=32).digest()

    def get(self, key: bytes) -> V | None:
        if self._cache is None:
            return None
        with self._lock:
            return self._cache.get(key)

    def put(self, key: bytes, value: V) -> None:
        if self._cache is not None:
            with self._lock:
                self._cache[key] = value

    def recall(self, text: str, compute: Callable[[str], V]) -> V:
        """`compute(text)`, remembered: computed only when this text is not in the memo."""
        key = self.key(text)
        value = self.get(key)
        if value is None:
            value = compute(text)
            self.put(key, value)
        return value
