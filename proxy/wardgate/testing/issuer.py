"""A fake OIDC issuer on 127.0.0.1: real RSA keys, a JWKS endpoint, token minting, key rotation.

Serves `GET /jwks.json` (and counts fetches, so tests can see a rotation refetch) and signs RS256 tokens, including
the malformed and hostile ones a verifier must refuse.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wardgate.testing._server import BackgroundServer

__all__ = ["FakeIssuer"]


class FakeIssuer(BackgroundServer):
    name = "fake-issuer"

    def __init__(self, *, issuer: str = "https://issuer.test", audience: str = "wardgate") -> None:
        super().__init__()
        self.issuer, self.audience = issuer, audience
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.jwks_fetches = 0
        self.rotate()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks.json"

    def rotate(self) -> str:
        """Add a new signing key (the old ones stay published) and make it current; returns its kid."""
        kid = uuid.uuid4().hex[:8]
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**public, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def token(self, *, kid: str | None = None, ttl: float = 300, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "sub": "user-1", "iat": now, "exp": now + int(ttl), **claims}
        kid = kid or self.current
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def unsigned_token(self, **claims: Any) -> str:
        """`alg: none`: a token with no signature at all."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "sub": "user-1", "exp": now + 300, **claims}
        return jwt.encode(body, "", algorithm="none", headers={"kid": self.current})

    def hmac_with_public_key(self, **claims: Any) -> str:
        """HS256 'signed' with the issuer's public key: the RS/HS confusion attack."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "sub": "user-1", "exp": now + 300, **claims}
        public = (
            self.keys[self.current]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        header = {"alg": "HS256", "kid": self.current, "typ": "JWT"}
        signing_input = ".".join(
            jwt.utils.base64url_encode(json.dumps(part).encode()).decode() for part in (header, body)
        )
        signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{jwt.utils.base64url_encode(signature).decode()}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/jwks.json", self._serve_jwks)

    async def _serve_jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response(self.jwks())
