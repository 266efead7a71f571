"""Who is calling: JWT/OIDC, Wardgate API keys, Kubernetes service accounts, the sidecar's pod; one `Identity`."""

from __future__ import annotations

from wardgate.config import IdentitySettings, JwtSettings, UpstreamCredentialSettings, read_secret
from wardgate.identity.api_keys import ApiKeyValidator, hash_key
from wardgate.identity.forward import ForwardIdentity
from wardgate.identity.jwks import KeySet
from wardgate.identity.jwt_bearer import JwtValidator
from wardgate.identity.model import Identity, IdentityRejected
from wardgate.identity.mtls import MtlsValidator
from wardgate.identity.resolver import IdentityResolver, Validator, pod_workload

__all__ = [
    "ForwardIdentity",
    "Identity",
    "IdentityRejected",
    "IdentityResolver",
    "build_forward_identity",
    "build_resolver",
    "hash_key",
    "upstream_credential",
]


def _jwt(settings: JwtSettings, source: str, default_tenant: str) -> JwtValidator:
    # Both are checked by the settings model when the source is enabled.
    assert settings.issuer is not None
    assert settings.audience is not None
    return JwtValidator(
        KeySet(url=settings.jwks_url, file=settings.jwks_file, ttl=settings.jwks_ttl_s),
        issuer=settings.issuer,
        audience=settings.audience,
        algorithms=settings.algorithms,
        leeway=settings.leeway_s,
        header=settings.header.lower(),
        scheme=settings.scheme,
        mapping=settings.claims,
        source=source,
        default_tenant=default_tenant,
    )


def build_forward_identity(settings: IdentitySettings, default_tenant: str) -> ForwardIdentity:
    """Forward mode's identity: the API key file answers proxy passwords, the provider-key map provider keys."""
    api_keys = settings.api_keys.file if settings.api_keys.enabled and settings.forward.proxy_credentials else None
    provider_keys = settings.forward.provider_keys
    provider_locations = [("authorization", "Bearer"), ("x-api-key", None)]
    return ForwardIdentity(
        api_keys=ApiKeyValidator(api_keys, locations=[]) if api_keys is not None else None,
        provider_keys=ApiKeyValidator(provider_keys, locations=provider_locations) if provider_keys else None,
        default_tenant=default_tenant,
    )


def build_resolver(settings: IdentitySettings, default_tenant: str) -> IdentityResolver:
    """Validators in a fixed order: Kubernetes service account, then JWT/OIDC, then Wardgate API keys."""
    validators: list[Validator] = []
    if settings.kubernetes.enabled:
        validators.append(_jwt(settings.kubernetes, "kubernetes", default_tenant))
    if settings.jwt.enabled:
        validators.append(_jwt(settings.jwt, "jwt", default_tenant))
    if settings.api_keys.enabled:
        assert settings.api_keys.file is not None
        locations = [(location.header, location.scheme) for location in settings.api_keys.locations]
        validators.append(ApiKeyValidator(settings.api_keys.file, locations=locations))
    workload = pod_workload(settings.pod_namespace_env, settings.pod_service_account_env)
    peer = None
    if settings.mtls.enabled:
        assert settings.mtls.trust_bundle is not None  # checked by the settings model
        peer = MtlsValidator(settings.mtls.trust_bundle)
    return IdentityResolver(
        validators,
        default_tenant=default_tenant,
        workload=workload,
        strip_credentials=settings.strip_credentials,
        peer=peer,
    )


def upstream_credential(settings: UpstreamCredentialSettings | None) -> tuple[str, str] | None:
    """(header, value) to set on forwarded requests, read once at start-up from a file or the environment."""
    if settings is None:
        return None
    secret = read_secret(settings.value_file, settings.value_env, "the upstream credential")
    return settings.header.lower(), f"{settings.scheme} {secret}" if settings.scheme else secret
