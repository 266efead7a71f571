"""A JSON Web Key Set fetched over HTTPS (or read from a file), cached, and refreshed on key rotation.

PyJWT's own `PyJWKClient` fetches with blocking urllib; on the proxy's event loop that would stall every flow,
so the set is fetched with aiohttp and handed to PyJWT as a `PyJWKSet`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import aiohttp
import jwt

from wardgate.errors import ConfigError
from wardgate.quoting import quoted

__all__ = ["KeySet", "UnknownKey"]

logger = logging.getLogger(__name__)


class UnknownKey(LookupError):
    """No key with this `kid`, even after refetching the set."""


class KeySet:
    def __init__(
        self, *, url: str | None = None, file: Path | None = None, ttl: float = 300.0, min_refetch: float = 30.0
    ) -> None:
        if (url is None) == (file is None):
            raise ConfigError("a JWKS needs exactly one of `jwks_url` or `jwks_file`")
        self._url, self._file = url, file
        self._ttl, self._min_refetch = ttl, min_refetch
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        # Unknown-kid refetches are limited among themselves, so a flood of random kids cannot become a fetch
        # storm, while the first token signed with a freshly rotated key still triggers an immediate refetch.
        self._forced_at = float("-inf")
        self._lock = asyncio.Lock()

    def _parse(self, document: object, where: str) -> dict[str, jwt.PyJWK]:
        try:
            keys = jwt.PyJWKSet.from_dict(document).keys  # type: ignore[arg-type]
        except (jwt.PyJWKSetError, jwt.InvalidKeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"JWKS from {where} is not usable: {exc}") from exc
        return {key.key_id or "": key for key in keys}

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        if self._file is not None:
            try:
                document = json.loads(await asyncio.to_thread(self._file.read_text, encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"cannot read JWKS file {self._file}: {exc}") from exc
            return self._parse(document, str(self._file))
        assert self._url is not None
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self._url) as response:
            response.raise_for_status()
            return self._parse(await response.json(content_type=None), self._url)

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            now = time.monotonic()
            if force:
                if now - self._forced_at < self._min_refetch:
                    return
                self._forced_at = now
            elif now - self._fetched_at < self._ttl:
                return
            try:
                self._keys = await self._fetch()
            except (aiohttp.ClientError, TimeoutError, ValueError, ConfigError) as exc:
                # Unreachable, not JSON, or not a key set: keep serving the keys we have (a verification needing a
                # new key fails closed) and wait out the interval, so a broken endpoint is not fetched per request.
                logger.warning("JWKS refresh from %s failed: %s", self._url or self._file, exc)
            self._fetched_at = time.monotonic()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key for `kid`; an unknown `kid` refetches the set once (rotation), rate-limited."""
        await self.refresh()
        key = self._lookup(kid)
        if key is None:
            await self.refresh(force=True)
            key = self._lookup(kid)
        if key is None:
            raise UnknownKey(f"no key with kid {quoted(kid)}")
        return key

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)
