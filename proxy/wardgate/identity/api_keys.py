"""API keys issued by Wardgate → tenant, subject and roles, from a file holding only SHA-256 hashes of the keys."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from wardgate.errors import ConfigError
from wardgate.identity.credentials import read_credential
from wardgate.identity.model import Identity, IdentityRejected

__all__ = ["ApiKeyValidator", "hash_key"]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyValidator:
    """File format (YAML): `keys: [{sha256: <hex>, subject: billing-agent, tenant: payments, roles: [agent]}]`."""

    source = "api_key"

    def __init__(self, file: Path, *, locations: Sequence[tuple[str, str | None]]) -> None:
        self._locations = [(header.lower(), scheme) for header, scheme in locations]
        self.headers = tuple(header for header, _ in self._locations)
        self._identities = self._load(file)

    @staticmethod
    def _load(file: Path) -> dict[str, Identity]:
        try:
            document = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read API key file {file}: {exc}") from exc
        identities: dict[str, Identity] = {}
        for number, entry in enumerate(document.get("keys") or [], start=1):
            digest = str(entry.get("sha256", "")).lower() if isinstance(entry, dict) else ""
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"API key file {file}: entry {number} needs `sha256` (64 hex digits, never the key)")
            if not entry.get("subject"):
                raise ConfigError(f"API key file {file}: entry {number} needs a `subject`")
            identities[digest] = Identity(
                subject=str(entry["subject"]),
                tenant=str(entry["tenant"]) if entry.get("tenant") else None,
                source="api_key",
                roles=tuple(str(role) for role in entry.get("roles") or ()),
            )
        return identities

    async def identify(self, headers: Mapping[str, str]) -> Identity | None:
        key = next(
            (found for header, scheme in self._locations if (found := read_credential(headers, header, scheme))), None
        )
        return None if key is None else self.lookup(key)

    def lookup(self, key: str) -> Identity:
        """The identity a key was issued to; an unknown key is rejected."""
        identity = self._identities.get(hash_key(key))
        if identity is None:
            raise IdentityRejected("invalid_api_key", "the API key is not known to Wardgate")
        return identity
