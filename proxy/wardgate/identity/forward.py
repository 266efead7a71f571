"""Forward mode's caller, for agents that cannot be changed: the Wardgate API key in the standard proxy credentials
(`HTTPS_PROXY=http://name:KEY@host:port` → `Proxy-Authorization: Basic`), else a provider key the agent already
sends that the operator mapped to an identity. Either way the agent's own provider key travels on unchanged."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping

from wardgate.identity.api_keys import ApiKeyValidator
from wardgate.identity.model import Identity, IdentityRejected

__all__ = ["PROXY_AUTHENTICATE", "ForwardIdentity", "proxy_key"]

PROXY_AUTHENTICATE = 'Basic realm="wardgate"'


def proxy_key(header: str | None) -> str | None:
    """The password of a `Proxy-Authorization: Basic` header (the user name is free), or None."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, _, password = decoded.partition(":")
    return password or name or None


class ForwardIdentity:
    def __init__(
        self,
        *,
        api_keys: ApiKeyValidator | None,
        provider_keys: ApiKeyValidator | None,
        default_tenant: str | None,
    ) -> None:
        self._api_keys, self._provider_keys, self._default_tenant = api_keys, provider_keys, default_tenant

    @property
    def credential_headers(self) -> frozenset[str]:
        """The headers a provider key is read from (besides the proxy credentials)."""
        return frozenset(h.lower() for h in self._provider_keys.headers) if self._provider_keys else frozenset()

    @property
    def needs_proxy_credentials(self) -> bool:
        """Without a provider-key map, only proxy credentials can name the caller: ask for them at CONNECT."""
        return self._provider_keys is None

    async def identify(self, key: str | None, headers: Mapping[str, str]) -> Identity:
        identity: Identity | None = None
        if key is not None and self._api_keys is not None:
            identity = self._api_keys.lookup(key)
        elif self._provider_keys is not None:
            identity = await self._provider_keys.identify(headers)
        if identity is None:
            raise IdentityRejected(
                "proxy_auth_required",
                "forward mode needs proxy credentials: HTTPS_PROXY=http://NAME:WARDGATE_KEY@HOST:PORT",
            )
        return identity if identity.tenant else dataclasses.replace(identity, tenant=self._default_tenant)
