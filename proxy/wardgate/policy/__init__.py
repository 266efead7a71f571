"""Policy: the `input` document, engines that answer it, and the typed `Decision`."""

from __future__ import annotations

from wardgate.config import PolicySettings
from wardgate.errors import ConfigError, PolicyError
from wardgate.policy.decision import Decision, Reason, parse_decision
from wardgate.policy.engine import EmbeddedEngine, PolicyEngine
from wardgate.policy.remote import RemoteEngine

__all__ = ["Decision", "EmbeddedEngine", "PolicyEngine", "Reason", "RemoteEngine", "build_engine", "parse_decision"]


def build_engine(settings: PolicySettings) -> PolicyEngine:
    """The configured engine; the embedded one compiles its bundle now, so a broken bundle stops the start."""
    timeout = settings.timeout_ms / 1000
    if settings.engine == "opa":
        return RemoteEngine(
            settings.opa_url,
            timeout=timeout,
            token=settings.opa_token,
            cache_ttl=settings.cache_ttl_ms / 1000,
            retries=settings.opa_retries,
        )
    engine = EmbeddedEngine(settings.dir, timeout=timeout)
    try:
        engine.load()
    except PolicyError as exc:
        raise ConfigError(str(exc)) from exc
    return engine
