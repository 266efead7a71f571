"""Traces with the OpenTelemetry SDK: the provider set up from OTEL_* variables or the config file, and one request's
spans across mitmproxy's hooks.

Each mitmproxy hook runs as a task of its own, so the OTel context does not flow from one hook to the next:
`RequestTrace` keeps the request's server span and the hooks make it current (`active`) while they run. Everything
below them (pipeline stages, scanners, policy) uses the plain API (`trace.get_tracer`) and nests by context.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from wardgate.config import TracingSettings
from wardgate.errors import ConfigError

__all__ = ["RequestTrace", "configure_tracing", "inner_span", "tracer"]

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


_tracer: tuple[trace.TracerProvider, trace.Tracer] | None = None
# Whether `configure_tracing` set up an exporter: without one, a request's inner spans are not made.
_exporting = False


def tracer() -> trace.Tracer:
    """Wardgate's tracer from the global provider (a no-op until `configure_tracing` sets one). Kept while the
    provider stays: `get_tracer` builds a new tracer (and warns about a deprecated argument) on every call, ~17 times a
    request, ~0.5 ms of its CPU."""
    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, trace.get_tracer("wardgate", tracer_provider=provider))
    return _tracer[1]


def inner_span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> AbstractContextManager[Span]:
    """A span inside a request (a stage, a scan, a policy call), made current, when spans are exported. With no
    exporter nobody reads it (the fifteen of a request cost ~0.4 ms of its CPU): a no-op span then, and the request's
    span stays current, so log lines keep its ids (audit events read them from the request's context anyway)."""
    if not _exporting:
        return nullcontext(trace.INVALID_SPAN)
    return tracer().start_as_current_span(name, attributes=attributes)


def _exporter(settings: TracingSettings) -> SpanExporter | None:
    endpoint_in_env = any(os.environ.get(name) for name in _ENDPOINT_VARIABLES)
    default = "otlp" if endpoint_in_env or settings.endpoint else "none"
    name = os.environ.get("OTEL_TRACES_EXPORTER") or settings.exporter or default
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter(out=sys.stderr)  # stdout may be the audit stream (audit.stdout)
    if name != "otlp":
        raise ConfigError(f"OTEL_TRACES_EXPORTER={name}: Wardgate exports traces with otlp, console or none")
    protocol = next((os.environ[v] for v in _PROTOCOL_VARIABLES if os.environ.get(v)), "http/protobuf")
    if protocol != "http/protobuf":
        raise ConfigError(f"OTLP protocol {protocol}: Wardgate ships the OTLP/HTTP exporter (http/protobuf) only")
    # The exporter reads the endpoint, headers, timeout and compression variables itself; the config's endpoint is
    # the fallback when no variable names one.
    endpoint = None if endpoint_in_env or not settings.endpoint else settings.endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint)


def configure_tracing(settings: TracingSettings) -> TracerProvider:
    """Set the global tracer provider. Spans are always made (their ids go into audit events and logs, and are
    passed upstream); they are exported only when an exporter is configured. Sampling follows OTEL_TRACES_SAMPLER
    (default: parent-based, always on)."""
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: settings.service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    global _exporting
    exporter = _exporter(settings)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    _exporting = exporter is not None
    trace.set_tracer_provider(provider)
    return provider


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class RequestTrace:
    """The server span of one intercepted request (joined to the caller's `traceparent`, else a new trace), the
    client span of its upstream call, and the timings the access log reports."""

    def __init__(self, method: str, path: str, headers: MutableMapping[str, str]) -> None:
        """`path`: as recorded (audit/redaction.py), never the raw one. Only the caller's `traceparent` is joined:
        its `tracestate` is text the caller chose, which the span would export and the upstream call's context would
        put back in place of the judged header (an outside review found a key in it reaching both, masked or not)."""
        parent = propagate.extract({"traceparent": value} if (value := headers.get("traceparent")) else {})
        self.span = tracer().start_span(
            f"{method} {path.split('?', 1)[0]}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path.split("?", 1)[0]},
        )
        self._started = time.perf_counter()
        self._upstream: Span | None = None
        self._upstream_started: float | None = None
        self.upstream_ms: float | None = None
        self._ended = False
        context = self.span.get_span_context()
        self.trace_id = format(context.trace_id, "032x") if context.is_valid else None
        self.span_id = format(context.span_id, "016x") if context.is_valid else None

    @contextmanager
    def active(self) -> Iterator[Span]:
        """The request span as the current span (what stage spans nest under and log lines read their ids from)."""
        with trace.use_span(self.span, end_on_exit=False):
            yield self.span

    def child(self, name: str) -> Span:
        """A span under the request that outlives one hook (a guarded stream)."""
        return tracer().start_span(name, context=trace.set_span_in_context(self.span))

    def start_upstream(self, headers: MutableMapping[str, str], host: str) -> None:
        """The upstream call's client span; its context replaces the caller's `traceparent` on the way out."""
        self._upstream = tracer().start_span(
            f"upstream {host}",
            context=trace.set_span_in_context(self.span),
            kind=SpanKind.CLIENT,
            attributes={"server.address": host},
        )
        self._upstream_started = time.perf_counter()
        propagate.inject(headers, context=trace.set_span_in_context(self._upstream))

    def end_upstream(self, status: int | None, error: str | None = None) -> None:
        if self._upstream is None:
            return
        if status is not None:
            self._upstream.set_attribute("http.response.status_code", status)
        if error is not None or (status is not None and status >= 500):
            self._upstream.set_status(Status(StatusCode.ERROR, error))
        self._upstream.end()
        assert self._upstream_started is not None
        self.upstream_ms = _ms(time.perf_counter() - self._upstream_started)
        self._upstream = None

    def end(self, status: int | None, error: str | None = None) -> float:
        """End the request (once); returns its duration in ms."""
        duration = _ms(time.perf_counter() - self._started)
        if self._ended:
            return duration
        self._ended = True
        self.end_upstream(status, error)
        if status is not None:
            self.span.set_attribute("http.response.status_code", status)
        if error is not None or (status is not None and status >= 500):
            self.span.set_status(Status(StatusCode.ERROR, error))
        self.span.end()
        return duration
