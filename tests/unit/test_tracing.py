"""Which exporter the OTEL_* variables and the config choose (telemetry/tracing.py)."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from wardgate.config import TracingSettings
from wardgate.errors import ConfigError
from wardgate.telemetry import tracing
from wardgate.telemetry.tracing import _exporter, inner_span

OTEL = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")  # fmt: skip


@pytest.fixture(autouse=True)
def no_otel(monkeypatch):
    for name in OTEL:
        monkeypatch.delenv(name, raising=False)


def test_nothing_is_exported_unless_asked():
    assert _exporter(TracingSettings()) is None


def test_an_endpoint_alone_chooses_otlp(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    exporter = _exporter(TracingSettings())
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://collector:4318/v1/traces"


def test_the_config_file_is_the_fallback_and_the_variables_win(monkeypatch):
    exporter = _exporter(TracingSettings(endpoint="http://from-config:4318/"))
    assert exporter._endpoint == "http://from-config:4318/v1/traces"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert isinstance(_exporter(TracingSettings(exporter="otlp")), ConsoleSpanExporter)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert _exporter(TracingSettings(exporter="otlp")) is None


@pytest.mark.parametrize(
    ("name", "value"), [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_TRACES_EXPORTER", "zipkin")]
)
def test_what_is_not_shipped_is_refused_at_start(monkeypatch, name, value):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError):
        _exporter(TracingSettings())


def test_without_an_exporter_an_inner_span_is_a_no_op_and_the_request_span_stays_current(monkeypatch):
    monkeypatch.setattr(tracing, "_exporting", False)
    request = TracerProvider().get_tracer("test").start_span("POST /v1/chat/completions")
    with trace.use_span(request, end_on_exit=True):
        with inner_span("wardgate.judge", attributes={"wardgate.phase": "request"}) as span:
            span.set_attribute("wardgate.refused", "secret_detected")
            assert not span.is_recording()
            assert trace.get_current_span() is request  # log lines keep the request's trace and span ids
        assert "wardgate.refused" not in request.attributes
