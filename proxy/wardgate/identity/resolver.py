"""Resolve a request's identity from the configured sources, in order; strip the credential it used."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Protocol

from cryptography import x509

from wardgate.identity.model import Identity
from wardgate.identity.mtls import MtlsValidator

__all__ = ["IdentityResolver", "Validator", "pod_workload"]


class Validator(Protocol):
    headers: tuple[str, ...]  # where its credential travels; stripped before forwarding
    source: str

    async def identify(self, headers: Mapping[str, str]) -> Identity | None:
        """None when this source's credential is absent; raises `IdentityRejected` when it is present but bad."""
        ...


def pod_workload(namespace_env: str, service_account_env: str) -> dict[str, str]:
    """The sidecar's own pod identity from the downward API (empty outside Kubernetes)."""
    namespace, account = os.environ.get(namespace_env), os.environ.get(service_account_env)
    return {"namespace": namespace, "service_account": account} if namespace and account else {}


class IdentityResolver:
    def __init__(
        self,
        validators: Sequence[Validator],
        *,
        default_tenant: str | None,
        workload: Mapping[str, str],
        strip_credentials: bool,
        peer: MtlsValidator | None = None,
    ) -> None:
        self._validators = validators
        self._peer = peer
        self._default_tenant = default_tenant
        self._workload = dict(workload)
        self._strip = strip_credentials

    @property
    def anonymous(self) -> Identity:
        """No credential at all. In a sidecar the pod's own service account still says which workload calls."""
        if self._workload:
            subject = f"system:serviceaccount:{self._workload['namespace']}:{self._workload['service_account']}"
            return Identity(subject, self._default_tenant, "pod", workload=self._workload)
        return Identity("anonymous", self._default_tenant, "anonymous", authenticated=False)

    @property
    def credential_headers(self) -> frozenset[str]:
        """Every header a credential may travel in, stripped or not: who calls, never content to scan."""
        return frozenset(header.lower() for validator in self._validators for header in validator.headers)

    @property
    def requests_client_certificates(self) -> bool:
        return self._peer is not None

    async def resolve(self, headers: MutableMapping[str, str], peer_chain: Sequence[x509.Certificate] = ()) -> Identity:
        """A header credential names the caller; a verified client certificate names the workload it runs as."""
        peer = self._peer.identify(peer_chain) if self._peer is not None else None
        workload = dict(peer.workload) if peer is not None and peer.workload else self._workload
        identity = peer
        for validator in self._validators:
            found = await validator.identify(headers)
            if found is None:
                continue
            if self._strip:
                for header in validator.headers:
                    headers.pop(header, None)
            identity = found
            break
        if identity is None:
            return self.anonymous
        if workload and not identity.workload:
            identity = dataclasses.replace(identity, workload=workload)
        if identity.tenant is None:
            identity = dataclasses.replace(identity, tenant=self._default_tenant)
        return identity
