"""JWT / OIDC bearer tokens (and Kubernetes service-account tokens), verified with PyJWT against a JWKS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from wardgate.identity.credentials import read_credential
from wardgate.identity.jwks import KeySet, UnknownKey
from wardgate.identity.model import Identity, IdentityRejected
from wardgate.quoting import quoted

__all__ = ["JwtValidator", "claim"]

# Only asymmetric algorithms: a verifier holding public keys must never accept an HMAC token (HS/RS confusion).
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by dotted path (`kubernetes.io.namespace` tries the literal key first, as Kubernetes nests it)."""
    if path in claims:
        return claims[path]
    node: Any = claims
    parts = path.split(".")
    index = 0
    while index < len(parts):
        if not isinstance(node, Mapping):
            return None
        # Keys may themselves contain dots ("kubernetes.io"): take the longest key that matches.
        for end in range(len(parts), index, -1):
            key = ".".join(parts[index:end])
            if key in node:
                node, index = node[key], end
                break
        else:
            return None
    return node


class JwtValidator:
    def __init__(
        self,
        keys: KeySet,
        *,
        issuer: str,
        audience: str | Sequence[str],
        algorithms: Sequence[str],
        leeway: float,
        header: str,
        scheme: str | None,
        mapping: Mapping[str, str],
        source: str = "jwt",
        default_tenant: str | None = None,
    ) -> None:
        self._keys = keys
        self._issuer, self._audience = issuer, audience
        self._algorithms = [alg for alg in algorithms if alg in ASYMMETRIC]
        self._leeway = leeway
        self.header, self._scheme = header, scheme
        self.headers: tuple[str, ...] = (header,)
        self._mapping = mapping
        self.source = source
        self._default_tenant = default_tenant

    async def identify(self, headers: Mapping[str, str]) -> Identity | None:
        token = read_credential(headers, self.header, self._scheme)
        if token is None or token.count(".") != 2:
            return None  # absent, or not JWT-shaped (e.g. a Wardgate API key sharing `Authorization: Bearer`)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise IdentityRejected("invalid_token", "the bearer token is not a JWT") from exc
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise IdentityRejected("invalid_token", f"token algorithm {quoted(algorithm)} is not accepted")
        try:
            key = await self._keys.key(header.get("kid"))
        except UnknownKey as exc:
            raise IdentityRejected("invalid_token", "the token was signed with an unknown key") from exc
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise IdentityRejected("token_expired", "the bearer token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise IdentityRejected("invalid_token", "the token is not meant for this audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise IdentityRejected("invalid_token", "the token comes from an untrusted issuer") from exc
        except (jwt.InvalidTokenError, jwt.InvalidKeyError) as exc:
            raise IdentityRejected("invalid_token", f"the bearer token is invalid: {exc}") from exc
        return self._identity(claims)

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        def field(name: str) -> Any:
            path = self._mapping.get(name)
            return claim(claims, path) if path else None

        roles = field("roles")
        roles = tuple(str(r) for r in roles) if isinstance(roles, list) else ((str(roles),) if roles else ())
        workload = {key: str(value) for key in ("namespace", "service_account") if (value := field(key)) is not None}
        subject = str(field("subject") or claims["sub"])
        tenant = field("tenant")
        kept = {name: claims[name] for name in ("iss", "aud", "exp", "iat") if name in claims}
        return Identity(
            subject=subject,
            tenant=str(tenant) if tenant is not None else self._default_tenant,
            source=self.source,
            roles=roles,
            claims=kept,
            workload=workload,
        )
