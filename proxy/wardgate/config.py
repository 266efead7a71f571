"""Configuration: one YAML file + `WARDGATE_*` environment overrides + CLI flags, validated at start-up.

Priority, highest first: CLI flags, environment (`WARDGATE_PORT=9000`, nested with `__`:
`WARDGATE_POLICY__TIMEOUT_MS=100`), the YAML file, defaults. Any invalid value is a `ConfigError`
naming the field, raised before a socket is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from wardgate.errors import ConfigError

__all__ = [
    "AuditSettings",
    "FailClosedSettings",
    "Phase",
    "PolicySettings",
    "ScannerSettings",
    "SecretsSettings",
    "Settings",
    "load_settings",
]

Phase = Literal["request", "response"]
_ALL_PHASES: list[Phase] = ["request", "response"]
# The hosts whose traffic forward mode decrypts and inspects; all other TLS passes through untouched.
DEFAULT_LLM_HOSTS = [
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "api.mistral.ai",
    "api.groq.com",
    "api.together.xyz",
    "openrouter.ai",
    "api.deepseek.com",
    "api.x.ai",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicySettings(_Section):
    engine: Literal["embedded"] = "embedded"
    dir: Path = Path("policies")
    timeout_ms: int = Field(500, gt=0, description="Per-decision budget; past it the decision is an engine error.")
    watch: bool = Field(True, description="Reload the bundle when a file under `dir` changes (SIGHUP always reloads).")


class AuditSettings(_Section):
    file: Path | None = Path("wardgate-audit.jsonl")
    stdout: bool = Field(False, description="Also write audit events to stdout (Kubernetes log pipelines).")
    max_bytes: int = Field(50 * 1024 * 1024, gt=0, description="Rotate the audit file past this size.")


class SecretsSettings(_Section):
    enabled: bool = True
    rules: Path | None = Field(None, description="A gitleaks-format TOML rule file; default: the bundled rules.")


class ScannerSettings(_Section):
    secrets: SecretsSettings = SecretsSettings()
    timeout_ms: int = Field(2000, gt=0)


class FailClosedSettings(_Section):
    """Where Wardgate refuses traffic it cannot judge. A phase left out of a list fails open."""

    unparsed: bool = Field(
        False, description="Deny JSON bodies on an LLM host that no format adapter understands (else forward, audited)."
    )
    policy_error: list[Phase] = Field(default_factory=lambda: list(_ALL_PHASES))
    scanner_error: list[Phase] = Field(default_factory=lambda: list(_ALL_PHASES))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDGATE_", env_nested_delimiter="__", extra="forbid")

    mode: Literal["reverse", "forward"] = "reverse"
    upstream: str | None = Field(None, description="Reverse mode: the API base URL, e.g. https://api.openai.com.")
    listen_host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    admin_port: int | None = Field(8081, ge=0, le=65535, description="Serves /healthz and /readyz; null disables.")
    llm_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_LLM_HOSTS))
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Larger request bodies get 413, never forwarded.")
    confdir: Path = Field(Path("~/.wardgate"), description="Where the CA for forward mode lives.")
    upstream_ca: Path | None = Field(None, description="PEM bundle to verify upstream TLS with (internal CAs).")
    tenant: str = Field("default", description="Tenant for callers until identity sources are configured.")
    policy: PolicySettings = PolicySettings()
    audit: AuditSettings = AuditSettings()
    scanners: ScannerSettings = ScannerSettings()
    fail_closed: FailClosedSettings = FailClosedSettings()

    @field_validator("upstream")
    @classmethod
    def _upstream_is_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://api.openai.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _mode_needs_upstream(self) -> Settings:
        if self.mode == "reverse" and self.upstream is None:
            raise ValueError("reverse mode needs `upstream` (or --upstream URL)")
        return self


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return loaded


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from a YAML file, the environment and explicit overrides (CLI flags)."""
    file_values = _read_yaml(path) if path is not None else {}

    class _WithFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=file_values)

    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return _WithFile(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
