"""The placeholder vault: masked values become `<PERSON_1>`-style placeholders and come back in the answer.

A vault belongs to one flow, or to one conversation of one caller (a client-chosen conversation id, kept for a
TTL), never to anything wider: it holds the raw values, so it lives only in this process's memory.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Hashable

from cachetools import TTLCache

__all__ = ["PLACEHOLDER", "Vault", "VaultStore"]

# What a placeholder looks like: an entity type in capitals and a counter.
PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*?)_(\d+)>")


class Vault:
    """Same value → same placeholder; placeholders numbered per entity type. Safe to share between threads."""

    def __init__(self) -> None:
        self._placeholders: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._values)

    def placeholder(self, entity: str, value: str) -> str:
        with self._lock:
            known = self._placeholders.get((entity, value))
            if known is None:
                self._counts[entity] = self._counts.get(entity, 0) + 1
                known = f"<{entity}_{self._counts[entity]}>"
                self._placeholders[(entity, value)] = known
                self._values[known] = value
            return known

    def knows(self, placeholder: str) -> bool:
        return placeholder in self._values

    def restore(self, text: str) -> str:
        """`text` with every placeholder this vault issued replaced by its value; other look-alikes stay."""
        if not self._values or "<" not in text:
            return text
        return PLACEHOLDER.sub(lambda match: self._values.get(match.group(0), match.group(0)), text)


class VaultStore:
    """Conversation vaults, keyed by caller and conversation id, dropped after `ttl` seconds without use."""

    def __init__(self, *, ttl: float, max_conversations: int) -> None:
        self._vaults: TTLCache[Hashable, Vault] = TTLCache(maxsize=max_conversations, ttl=ttl)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._vaults)

    def vault(self, owner: Hashable, conversation: str) -> Vault:
        key = (owner, conversation)
        with self._lock:
            vault = self._vaults.get(key)
            if vault is None:
                vault = Vault()
            self._vaults[key] = vault  # (re)setting the item restarts its TTL: a live conversation stays
            return vault
