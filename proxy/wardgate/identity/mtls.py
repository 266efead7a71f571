"""The mTLS peer: a client certificate verified against a trust bundle; its SPIFFE ID (URI SAN) names the caller.

mitmproxy's `request_client_cert` asks for a certificate but accepts any, so the chain is verified here with
`cryptography`'s X.509 client verifier; an unverified certificate never becomes an identity.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from wardgate.errors import ConfigError
from wardgate.identity.model import Identity, IdentityRejected

__all__ = ["MtlsValidator", "spiffe_workload"]

# The Kubernetes convention (SPIRE, Istio): spiffe://<trust domain>/ns/<namespace>/sa/<service account>
_K8S_SPIFFE = re.compile(r"^spiffe://[^/]+/ns/(?P<namespace>[^/]+)/sa/(?P<service_account>[^/]+)$")


def spiffe_workload(spiffe_id: str) -> dict[str, str]:
    match = _K8S_SPIFFE.match(spiffe_id)
    return dict(match.groupdict()) if match else {}


class MtlsValidator:
    source = "mtls"

    def __init__(self, trust_bundle: Path) -> None:
        try:
            roots = x509.load_pem_x509_certificates(trust_bundle.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the mTLS trust bundle {trust_bundle}: {exc}") from exc
        self._store = Store(roots)

    def identify(self, chain: Sequence[x509.Certificate]) -> Identity | None:
        """None without a client certificate; `IdentityRejected` when it does not chain to the trust bundle."""
        if not chain:
            return None
        verifier = PolicyBuilder().store(self._store).time(datetime.datetime.now(datetime.UTC)).build_client_verifier()
        try:
            verified = verifier.verify(chain[0], list(chain[1:]))
        except VerificationError as exc:
            raise IdentityRejected("invalid_client_certificate", "the client certificate is not trusted") from exc
        uris = [name.value for name in verified.subjects or [] if isinstance(name, x509.UniformResourceIdentifier)]
        spiffe = next((uri for uri in uris if uri.startswith("spiffe://")), None)
        if spiffe is not None:
            return Identity(subject=spiffe, tenant=None, source=self.source, workload=spiffe_workload(spiffe))
        names = chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        subject = str(names[0].value) if names else chain[0].subject.rfc4514_string()
        return Identity(subject=subject, tenant=None, source=self.source)
