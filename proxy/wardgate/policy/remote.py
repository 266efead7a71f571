"""The remote engine: a real OPA server's REST Data API (`POST /v1/data/wardgate/decision`), via opa-python-client.

Queried with `strict-builtin-errors=true` so a builtin error is an error here exactly as in the embedded engine
(OPA's server default is lenient), and with `provenance=true` so every decision names the bundle revision OPA
used. An undefined result (`{}`), an HTTP error, a refused connection or a timeout is a `PolicyError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from cachetools import TTLCache
from opa_client import AsyncOpaClient

from wardgate.errors import ConfigError, PolicyError
from wardgate.policy.decision import Decision, parse_decision
from wardgate.policy.engine import DECISION_PACKAGE, DECISION_PATH, DECISION_RULE

__all__ = ["RemoteEngine"]

_QUERY = {"strict-builtin-errors": "true", "provenance": "true"}
# Fields that differ on every request; a cached decision must not depend on them.
_VOLATILE = ("now",)


def _cache_key(policy_input: Mapping[str, Any]) -> str:
    stable = {key: value for key, value in policy_input.items() if key not in _VOLATILE}
    request = stable.get("request")
    if isinstance(request, Mapping):
        stable["request"] = {key: value for key, value in request.items() if key != "id"}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()


class RemoteEngine:
    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        token: str | None = None,
        cache_ttl: float = 0.0,
        retries: int = 0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"policy.opa_url must be an http(s) URL, got {url!r}")
        self._decision_url = f"{parts.scheme}://{parts.netloc}/v1/data/{DECISION_PACKAGE}/{DECISION_RULE}"
        self._headers = {"authorization": f"Bearer {token}"} if token else {}
        self._client = AsyncOpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            token=token,
            retries=retries,
            timeout=timeout,
        )
        self._timeout, self._cache_ttl = timeout, cache_ttl
        self._revision = "unknown"
        # Bounded, and entries expire: a decision cache must not grow with every distinct input it has seen.
        self._cache: TTLCache[str, Decision] = TTLCache(maxsize=10_000, ttl=cache_ttl or 1.0)
        # One pooled client for the stream windows' synchronous calls (a connection per window cost a handshake).
        self._blocking = httpx.Client(headers=self._headers, timeout=timeout)
        self._started = False

    @property
    def revision(self) -> str:
        return self._revision

    async def start(self) -> None:
        """Open the pooled connection (the async client works only inside its context)."""
        await self._client.__aenter__()
        self._started = True

    async def close(self) -> None:
        self._blocking.close()
        if self._started:
            await self._client.__aexit__(None, None, None)
            self._started = False

    async def reload(self) -> bool:
        """OPA loads its own bundles; dropping cached decisions is all a reload means here."""
        self._cache.clear()
        return True

    async def evaluate(self, policy_input: Mapping[str, Any]) -> Decision:
        if not self._started:
            raise PolicyError("the OPA client is not started")
        key = _cache_key(policy_input) if self._cache_ttl > 0 else ""
        if key and (hit := self._cache.get(key)) is not None:
            return hit
        try:
            response = await asyncio.wait_for(
                self._client.query_rule(dict(policy_input), DECISION_PACKAGE, DECISION_RULE, query_params=_QUERY),
                self._timeout,
            )
        except TimeoutError as exc:
            raise PolicyError(f"OPA did not answer within {self._timeout * 1000:.0f} ms") from exc
        except aiohttp.ClientResponseError as exc:
            raise PolicyError(f"OPA answered HTTP {exc.status}: {exc.message}") from exc
        except aiohttp.ClientError as exc:
            raise PolicyError(f"cannot reach OPA: {exc}") from exc
        decision = self._decision(response)
        if key:
            self._cache[key] = decision
        return decision

    def evaluate_blocking(self, policy_input: Mapping[str, Any]) -> Decision:
        """One synchronous POST (a stream's window with findings; mitmproxy's stream callable cannot await)."""
        try:
            answer = self._blocking.post(self._decision_url, params=_QUERY, json={"input": dict(policy_input)})
            answer.raise_for_status()
            response = answer.json()
        except httpx.HTTPStatusError as exc:
            raise PolicyError(f"OPA answered HTTP {exc.response.status_code}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise PolicyError(f"cannot reach OPA: {exc}") from exc
        return self._decision(response)

    def _decision(self, response: Mapping[str, Any]) -> Decision:
        if "result" not in response:
            raise PolicyError(f"data.{DECISION_PATH} is undefined on the OPA server")
        self._revision = _revision(response.get("provenance")) or self._revision
        return parse_decision(response["result"])


def _revision(provenance: Any) -> str | None:
    if not isinstance(provenance, Mapping):
        return None
    bundles = provenance.get("bundles")
    if isinstance(bundles, Mapping) and bundles:
        return ",".join(f"{name}@{info.get('revision', '')}" for name, info in sorted(bundles.items()))
    return str(provenance["revision"]) if provenance.get("revision") else None
